//===- ConstTensor.h - compile-time tensors the importer folds --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Exporters compute shapes in the graph (Shape -> Gather -> Concat ->
// Reshape). With static input shapes all of that is known at import time;
// ConstTensor holds such small values exactly (int64 as int64, floats as
// double) so handlers can fold them instead of emitting ops.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_FRONTENDS_ONNX_CONSTTENSOR_H
#define TESSERA_FRONTENDS_ONNX_CONSTTENSOR_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace tessera::onnx {

struct ConstTensor {
  mlir::Type elementType;
  std::vector<int64_t> shape;
  std::vector<int64_t> ints;   ///< integer and i1 elements
  std::vector<double> floats;  ///< float elements

  bool isFloat() const { return llvm::isa<mlir::FloatType>(elementType); }
  int64_t numElements() const;
  /// Element i as a double / an integer, whatever the storage.
  double asDouble(int64_t i) const { return isFloat() ? floats[i] : double(ints[i]); }
  int64_t asInt(int64_t i) const { return isFloat() ? int64_t(floats[i]) : ints[i]; }

  static ConstTensor ofInts(mlir::Type elementType, std::vector<int64_t> shape,
                            std::vector<int64_t> values);
  static ConstTensor ofFloats(mlir::Type elementType, std::vector<int64_t> shape,
                              std::vector<double> values);
  static std::optional<ConstTensor> fromAttr(mlir::DenseElementsAttr attr);
  mlir::DenseElementsAttr toAttr() const;

  /// The same data with another shape of the same size.
  ConstTensor reshaped(std::vector<int64_t> newShape) const;
  /// Converts the elements to another type (ONNX Cast semantics).
  ConstTensor cast(mlir::Type to) const;
};

/// Row-major strides of `shape`.
std::vector<int64_t> stridesOf(const std::vector<int64_t> &shape);

/// For each element of the broadcast `result` shape, calls `fn(outIndex,
/// operandIndex...)` with the linear index into each operand.
void forEachBroadcast(const std::vector<int64_t> &result,
                      const std::vector<std::vector<int64_t>> &operands,
                      const std::function<void(int64_t, const std::vector<int64_t> &)> &fn);

} // namespace tessera::onnx

#endif // TESSERA_FRONTENDS_ONNX_CONSTTENSOR_H
