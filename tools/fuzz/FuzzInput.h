//===- FuzzInput.h - the bytes of a fuzz input as a file -------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Tessera's readers open files (they map them, resolve external data beside
// them), so each fuzz input is written to one file of a per-process folder
// in /dev/shm (or $TMPDIR) and read from there: the fuzzers exercise the
// same code paths as tessera-compile and tessera-run.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_FUZZ_FUZZINPUT_H
#define TESSERA_TOOLS_FUZZ_FUZZINPUT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace tessera::fuzz {

/// Writes `data` to `<folder>/input<suffix>` and returns that path.
inline std::string asFile(const uint8_t *data, size_t size, const char *suffix) {
  static const std::string folder = [] {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::getenv("TMPDIR");
    std::string f = std::string(base ? base : "/tmp") + "/tessera-fuzz-" + std::to_string(getpid());
    mkdir(f.c_str(), 0700);
    return f;
  }();
  std::string path = folder + "/input" + suffix;
  FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    std::abort();
  if (size)
    std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

} // namespace tessera::fuzz

#endif // TESSERA_TOOLS_FUZZ_FUZZINPUT_H
