//===- FuzzNpy.cpp - fuzz target: .npy files ------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Npy.h"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  tessera::rt::HostTensor t;
  (void)tessera::rt::parseNpy(bytes, "fuzz.npy", t);
  return 0;
}
