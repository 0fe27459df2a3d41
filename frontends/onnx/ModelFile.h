//===- ModelFile.h - reading an ONNX file without its weights ---*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// An ONNX file is mostly weights. ModelFile maps the file, walks the protobuf
// wire format to cut every initializer's `raw_data` out (recording where it
// lies), and parses only the rest with protobuf. Importing a 500 MB model so
// costs a few MB. It also resolves external data safely: locations must stay
// inside the model's folder, also through symlinks, and inside their files.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_MODELFILE_H
#define TESSERA_FRONTENDS_ONNX_MODELFILE_H

#include "frontends/onnx/WeightStore.h"

#include "onnx/onnx_pb.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace tessera::onnx {

/// A parsed model whose initializers carry no data, plus where the data is.
struct ModelFile {
  std::string path;      ///< as given
  std::string directory; ///< canonical folder external data resolves against
  ::onnx::ModelProto proto;
  WeightStore weights;   ///< one record per initializer of the main graph

  /// Maps and parses `path`; rejects truncated or hostile files.
  /// With `allowAbsentWeights` (plan-only compiles), external data files that
  /// do not exist are accepted: their records are marked `absent`.
  static llvm::Expected<std::unique_ptr<ModelFile>>
  open(const std::string &path, bool allowAbsentWeights = false);

  /// Reads the bytes of a weight (for small tensors the importer folds), or
  /// its first `maxBytes`.
  llvm::Expected<std::vector<uint8_t>> readWeight(const WeightRecord &record,
                                                  uint64_t maxBytes = UINT64_MAX) const;
};

/// Bytes per element of an ONNX data type, 0 when unsupported.
size_t onnxTypeSize(int32_t onnxType);

/// The ONNX name of a data type ("FLOAT", "INT64", ...).
const char *onnxTypeName(int32_t onnxType);

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_MODELFILE_H
