//===- FuzzTokenizer.cpp - fuzz target: tokenizer.json and text -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The input's first line (up to a newline) is text to encode, the rest a
// tokenizer.json: a file from a user's download and a user's prompt, both
// untrusted. Encoding, then decoding what was encoded, must not crash.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Tokenizer.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string all(reinterpret_cast<const char *>(data), size);
  size_t newline = all.find('\n');
  std::string text = newline == std::string::npos ? "" : all.substr(0, newline);
  std::string json = newline == std::string::npos ? all : all.substr(newline + 1);
  std::unique_ptr<tessera::rt::Tokenizer> tok;
  if (!tessera::rt::Tokenizer::parse(json, "fuzz.json", tok).ok())
    return 0;
  std::vector<int64_t> ids;
  if (tok->encode(text, ids).ok())
    (void)tok->decode(ids);
  (void)tok->decode({0, 1, 2, -1, 1 << 30, tok->vocabSize() - 1});
  return 0;
}
