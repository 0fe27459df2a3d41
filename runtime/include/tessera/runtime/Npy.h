//===- Npy.h - NumPy .npy files for inputs and outputs ----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Reads and writes NumPy's .npy format (versions 1.0-3.0, little-endian,
// C order), the format `tessera-run --input/--output` exchanges with Python.
// Hostile files (absurd shapes, truncated data, headers that lie) are refused
// with a message that names the file and the fault.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_NPY_H
#define TESSERA_RUNTIME_NPY_H

#include "tessera/runtime/DType.h"
#include "tessera/runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::rt {

/// A dense tensor in host memory, C order.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  /// Number of elements (1 for a scalar).
  int64_t numElements() const;
};

/// The shape as "4x128" ("scalar" for rank 0).
std::string formatShape(const std::vector<int64_t> &shape);

/// Parses an in-memory .npy image; `name` is used in messages.
Status parseNpy(const std::vector<uint8_t> &bytes, const std::string &name,
                HostTensor &out);

/// Reads the .npy file at `path` into `out`.
Status readNpy(const std::string &path, HostTensor &out);

/// Serialises `tensor` as a version 1.0 .npy image.
std::vector<uint8_t> serializeNpy(const HostTensor &tensor);

/// Writes `tensor` to `path`.
Status writeNpy(const std::string &path, const HostTensor &tensor);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_NPY_H
