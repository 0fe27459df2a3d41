//===- FuzzPackage.cpp - fuzz target: packages up to a session ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Opens the bytes as a .tpkg (header, checksum, FlatBuffer verification),
// then creates a session for every rank it declares, which validates every
// tensor, kernel and training-state reference. Packages are checksummed, so
// the fuzzer also gets a variant with the checksum recomputed: it reaches
// the plan's validation, not only the checksum test.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "tessera/runtime/Package.h"
#include "tessera/runtime/Session.h"

#include <cstring>
#include <memory>
#include <vector>

namespace {

void openAndBind(const uint8_t *data, size_t size) {
  using namespace tessera::rt;
  std::string path = tessera::fuzz::asFile(data, size, ".tpkg");
  std::shared_ptr<Package> package;
  if (!Package::open(path, package).ok())
    return;
  // The fuzzer's memory budget: a package may declare any arena, and the
  // session refuses what exceeds the limit before allocating.
  SessionOptions options;
  options.maxMemoryBytes = uint64_t(256) << 20;
  int ranks = package->meshSize();
  for (int r = 0; r < ranks && r < 4; ++r) {
    std::unique_ptr<Session> session;
    (void)Session::create(package, r, session, options);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace tessera::rt;
  openAndBind(data, size);
  if (size >= sizeof(PackageHeader)) {
    std::vector<uint8_t> fixed(data, data + size);
    PackageHeader h;
    std::memcpy(&h, fixed.data(), sizeof h);
    if (h.headerSize >= sizeof(PackageHeader) && h.headerSize <= size) {
      h.checksum = packageChecksum(fixed.data() + h.headerSize, size - h.headerSize);
      std::memcpy(fixed.data(), &h, sizeof h);
      openAndBind(fixed.data(), fixed.size());
    }
  }
  return 0;
}
