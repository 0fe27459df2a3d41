//===- OnnxImporter.h - ONNX model to the tsr dialect -----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Imports an ONNX ModelProto into a module holding `func.func @main` in the
// tsr dialect, fully static: symbolic dimensions are bound from the options
// and all shape arithmetic is folded during import. Weights become
// `tsr.weight` references into the ModelFile's WeightStore.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_ONNXIMPORTER_H
#define TESSERA_FRONTENDS_ONNX_ONNXIMPORTER_H

#include "frontends/onnx/ModelFile.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace tessera::onnx {

struct ImportOptions {
  /// Full shapes of graph inputs by name (`--input-shape ids=4x128`).
  std::map<std::string, std::vector<int64_t>> inputShapes;
  /// Values of symbolic dimensions by name (`--dim batch_size=4`).
  std::map<std::string, int64_t> dims;
  /// Convenience: a symbolic first / second input dimension.
  std::optional<int64_t> batch, seq;
  /// Integer initializers up to this many elements (and scalars of any type)
  /// are read and folded as constants; the rest stay weight references.
  /// Integer tensors are index tables and masks (GatherND indices of static
  /// exports: batch x seq x 2), which ops need as constants; 64 Ki elements
  /// (512 KiB of int64) covers them at real batch and sequence sizes.
  int64_t maxFoldedInitializerElements = 1 << 16;
  /// A model importing a default-domain opset newer than kMaxKnownOpset is
  /// refused (an op's meaning may have changed); with this set, imported
  /// with a warning, as the newest known opset.
  bool allowNewerOpset = false;
  /// A float initializer whose slices along its first dimension are all
  /// equal (an export folded a value computed once per sample of a fixed
  /// batch: position embeddings, a position bias plus a causal mask) is read
  /// as one slice, folded, broadcast along that dimension: the same values,
  /// and data parallelism can cut it. Off for training, where each of its
  /// elements stays a parameter.
  bool foldRepeatedInitializers = true;
  /// Training: Dropout nodes with training_mode true and ratio > 0 become
  /// real dropout (tsr.dropout) seeded with `dropoutSeed`; otherwise every
  /// Dropout is the identity (inference).
  bool trainingDropout = false;
  int64_t dropoutSeed = 0;
  /// Generation: an export with past keys and values (float inputs of rank
  /// 3 or more with symbolic dimensions beyond the first, Optimum's
  /// `past_key_values.*`) is imported with those dimensions 0 that --dim
  /// does not bind: an empty past, the whole sequence computed (the decode
  /// pass makes the caches).
  bool emptyPast = false;
};

/// The newest default-domain (ai.onnx) opset whose operators the importer
/// knows (opset 23: Attention, RMSNormalization, RotaryEmbedding).
constexpr int64_t kMaxKnownOpset = 23;

/// Imports `model`; on failure the diagnostics name the node, op and opset.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ModelFile &model,
                                              const ImportOptions &options);

/// The op types (and their lowest supported opset) the importer handles.
std::vector<std::pair<std::string, int>> supportedOps();

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_ONNXIMPORTER_H
