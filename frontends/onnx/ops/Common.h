//===- Common.h - helpers shared by the ONNX op handlers --------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_OPS_COMMON_H
#define TESSERA_FRONTENDS_ONNX_OPS_COMMON_H

#include "frontends/onnx/OpBinder.h"

#include "dialects/tsr/IR/ShapeUtils.h"

namespace tessera::onnx {

/// Constants above this many elements are not folded at import (the op is
/// emitted instead), which bounds import time and IR size.
constexpr int64_t kMaxFoldElements = 1 << 16;

inline mlir::RankedTensorType tensorType(mlir::Value v) {
  return llvm::cast<mlir::RankedTensorType>(v.getType());
}
inline std::vector<int64_t> shapeOf(mlir::Value v) {
  auto shape = tensorType(v).getShape();
  return {shape.begin(), shape.end()};
}
inline mlir::Type elementTypeOf(mlir::Value v) {
  return tensorType(v).getElementType();
}

/// Maps an ONNX axis (negative counts from the end) into [0, rank).
inline mlir::FailureOr<int64_t> normalizeAxis(OpBinder &b, int64_t axis,
                                              int64_t rank,
                                              llvm::StringRef what = "axis") {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank)
    return b.error() << what << " " << axis << " out of range for rank "
                     << rank,
           mlir::failure();
  return normalized;
}

/// Elementwise fold of constant operands with NumPy broadcasting. `fn`
/// receives the operands' elements at one position and writes the result.
mlir::FailureOr<ConstTensor> foldBroadcast(
    OpBinder &b, const std::vector<const ConstTensor *> &operands,
    mlir::Type resultType,
    const std::function<void(const std::vector<const ConstTensor *> &,
                             const std::vector<int64_t> &, ConstTensor &)> &fn);

/// All inputs as constants when every one is a small constant.
std::optional<std::vector<ConstTensor>> allConstant(OpBinder &b, int count);

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_OPS_COMMON_H
