//===- TensorProto.h - ONNX TensorProto files without protobuf --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Reads the `.pb` tensors of ONNX's test data (input_0.pb, output_0.pb) with a
// small bounds-checked wire-format reader, so that the runtime needs neither
// protobuf nor ONNX.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_TENSORPROTO_H
#define TESSERA_RUNTIME_TENSORPROTO_H

#include "tessera/runtime/Npy.h"

#include <string>

namespace tessera::rt {

/// Reads a serialized onnx.TensorProto; `name` receives its name field.
Status readTensorProto(const std::string &path, HostTensor &out,
                       std::string &name);

/// Reads `.npy` or `.pb` by extension.
Status readTensorFile(const std::string &path, HostTensor &out);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_TENSORPROTO_H
