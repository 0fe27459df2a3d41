//===- tessera-tokenize.cpp - encode and decode with tokenizer.json -------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
//   tessera-tokenize tokenizer.json FILE        one "ids: ..." line per line of FILE
//   tessera-tokenize tokenizer.json --text "T"  the ids of T
//   tessera-tokenize tokenizer.json --decode 1,2,3
//
// With --roundtrip, each ids line is followed by "text: " and the decoded
// text (escaped: \n, \t, \\). Exit 1 on an unsupported or broken file.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

using namespace tessera::rt;

namespace {

const char *kUsage =
    "usage: tessera-tokenize tokenizer.json (FILE | --text TEXT | --decode ID,ID,...) "
    "[--roundtrip]\n"
    "  Encodes each line of FILE (or TEXT) with a Hugging Face tokenizer.json (BPE:\n"
    "  byte-level as GPT-2, SentencePiece-style as Llama 2), no special tokens added.\n";

std::string escaped(const std::string &s) {
  std::string out;
  for (char c : s)
    out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\\' ? "\\\\" : std::string(1, c);
  return out;
}

int encodeLine(const Tokenizer &tok, const std::string &line, bool roundtrip) {
  std::vector<int64_t> ids;
  if (Status s = tok.encode(line, ids); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  std::printf("ids:");
  for (int64_t id : ids)
    std::printf(" %lld", (long long)id);
  std::printf("\n");
  if (roundtrip)
    std::printf("text: %s\n", escaped(tok.decode(ids)).c_str());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  std::string path = args[0], file, text, decode;
  bool roundtrip = false, haveText = false;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--roundtrip") {
      roundtrip = true;
    } else if ((args[i] == "--text" || args[i] == "--decode") && i + 1 < args.size()) {
      (args[i] == "--text" ? text : decode) = args[i + 1];
      haveText |= args[i] == "--text";
      ++i;
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "error: unknown option '%s'\n%s", args[i].c_str(), kUsage);
      return 2;
    } else {
      file = args[i];
    }
  }
  std::unique_ptr<Tokenizer> tok;
  if (Status s = Tokenizer::load(path, tok); !s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
    return 1;
  }
  if (!decode.empty()) {
    std::vector<int64_t> ids;
    for (size_t at = 0; at < decode.size();) {
      size_t end = decode.find(',', at);
      if (end == std::string::npos)
        end = decode.size();
      ids.push_back(std::atoll(decode.substr(at, end - at).c_str()));
      at = end + 1;
    }
    std::printf("text: %s\n", escaped(tok->decode(ids)).c_str());
    return 0;
  }
  if (haveText)
    return encodeLine(*tok, text, roundtrip);
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: %s: cannot open\n%s", file.c_str(), kUsage);
    return 1;
  }
  std::string line;
  while (std::getline(in, line))
    if (int rc = encodeLine(*tok, line, roundtrip))
      return rc;
  return 0;
}
