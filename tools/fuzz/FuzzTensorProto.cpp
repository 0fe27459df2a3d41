//===- FuzzTensorProto.cpp - fuzz target: ONNX TensorProto .pb files ------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "FuzzInput.h"

#include "tessera/runtime/TensorProto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = tessera::fuzz::asFile(data, size, ".pb");
  tessera::rt::HostTensor t;
  std::string name;
  (void)tessera::rt::readTensorProto(path, t, name);
  return 0;
}
