//===- Generation.cpp - the prompt lengths of --generate ------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Generation.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"

#include <algorithm>

bool tessera::parsePrefillLengths(const std::string &text, int64_t maxSeq,
                                  std::vector<int64_t> &out, std::string &error) {
  out.clear();
  if (text == "none" || text == "0")
    return true;
  for (llvm::StringRef item : llvm::split(llvm::StringRef(text), ',')) {
    int64_t n;
    if (item.trim().getAsInteger(10, n) || n < 1) {
      error = "--prefill '" + text + "' is not a list of prompt lengths (16,64) or none";
      return false;
    }
    n = std::min(n, maxSeq);
    if (std::find(out.begin(), out.end(), n) == out.end())
      out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return true;
}
