//===- ReplayMain.cpp - run a fuzz target over files, without libFuzzer ---===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The regular build links every fuzz target with this main: it feeds each
// file (or every file of each folder) given on the command line to the
// target once, so the test command replays the seed corpora and the inputs
// that once crashed (test/fuzz/regressions) under any compiler, with or
// without sanitizers. Exits non-zero only if the target crashes.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  namespace fs = std::filesystem;
  size_t count = 0;
  auto replay = [&](const fs::path &file) {
    std::ifstream in(file, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    ++count;
  };
  for (int i = 1; i < argc; ++i) {
    fs::path p(argv[i]);
    if (fs::is_directory(p)) {
      std::vector<fs::path> files;
      for (const auto &e : fs::recursive_directory_iterator(p))
        if (e.is_regular_file())
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const fs::path &f : files)
        replay(f);
    } else {
      replay(p);
    }
  }
  std::printf("replayed %zu input(s)\n", count);
  return 0;
}
