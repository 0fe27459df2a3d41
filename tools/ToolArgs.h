//===- ToolArgs.h - command lines of the runtime-side tools -----*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// tessera-run and tessera-inspect link no LLVM (a cluster node gets only the
// runtime), so they cannot use llvm::cl. This header gives them the same
// conventions as the compiler-side tools: `--flag value` and `--flag=value`,
// `--help` (usage on stdout, exit 0), `--version`, and errors that name the
// flag and the form it accepts.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TOOLARGS_H
#define TESSERA_TOOLS_TOOLARGS_H

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace tessera::tools {

/// argv[1..] with every "--flag=value" split into "--flag" "value".
inline std::vector<std::string> expandArgs(int argc, char **argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      args.push_back(a.substr(0, eq));
      args.push_back(a.substr(eq + 1));
    } else {
      args.push_back(a);
    }
  }
  return args;
}

/// Answers --help / -h and --version; returns the exit code when it did.
inline std::optional<int> helpOrVersion(const std::vector<std::string> &args, const char *tool,
                                        const char *usage, unsigned packageFormat) {
  for (const std::string &a : args) {
    if (a == "--help" || a == "-h") {
      std::printf("%s", usage);
      return 0;
    }
    if (a == "--version") {
      std::printf("%s %s (Tessera runtime, package format %u)\n", tool, TESSERA_VERSION,
                  packageFormat);
      return 0;
    }
  }
  return std::nullopt;
}

/// `text` as an integer in [min, max], or an error naming `flag`.
inline bool parseInt(const std::string &flag, const std::string &text, long long min,
                     long long max, long long &out) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end || errno || v < min || v > max) {
    std::fprintf(stderr, "error: %s expects an integer in [%lld, %lld], not '%s'\n",
                 flag.c_str(), min, max, text.c_str());
    return false;
  }
  out = v;
  return true;
}

/// `text` as a number >= min, or an error naming `flag`.
inline bool parseNumber(const std::string &flag, const std::string &text, double min,
                        double &out) {
  char *end = nullptr;
  errno = 0;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || errno || !(v >= min)) {
    std::fprintf(stderr, "error: %s expects a number >= %g, not '%s'\n", flag.c_str(), min,
                 text.c_str());
    return false;
  }
  out = v;
  return true;
}

} // namespace tessera::tools

#endif // TESSERA_TOOLS_TOOLARGS_H
