//===- GradBuilder.h - building tsr arithmetic for gradients ----*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Gradient rules, the loss and the optimizers are written in tsr's primitive
// ops (so that every backend, the partitioner and the fusions see ordinary
// ops). This builder keeps those formulas short: scalar constants, NumPy-
// broadcasting arithmetic with the result type computed here, reductions,
// and `reduceTo`, which sums a broadcast gradient back to an operand's shape.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_TRAIN_GRADBUILDER_H
#define TESSERA_PASSES_TRAIN_GRADBUILDER_H

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace tessera::train {

class GradBuilder {
public:
  explicit GradBuilder(mlir::ImplicitLocOpBuilder &b) : b(b) {}
  mlir::ImplicitLocOpBuilder &builder() { return b; }

  static mlir::RankedTensorType typeOf(mlir::Value v) {
    return mlir::cast<mlir::RankedTensorType>(v.getType());
  }
  /// A scalar (rank-0) constant of `like`'s element type.
  mlir::Value scalar(double value, mlir::Value like);
  mlir::Value scalarOf(double value, mlir::Type elementType);
  /// A constant of `type` filled with `value`.
  mlir::Value splat(double value, mlir::RankedTensorType type);

  mlir::Value add(mlir::Value a, mlir::Value b);
  mlir::Value sub(mlir::Value a, mlir::Value b);
  mlir::Value mul(mlir::Value a, mlir::Value b);
  mlir::Value div(mlir::Value a, mlir::Value b);
  mlir::Value max(mlir::Value a, mlir::Value b);
  mlir::Value min(mlir::Value a, mlir::Value b);
  mlir::Value pow(mlir::Value a, mlir::Value b);
  mlir::Value neg(mlir::Value a);
  mlir::Value exp(mlir::Value a);
  mlir::Value log(mlir::Value a);
  mlir::Value sqrt(mlir::Value a);
  mlir::Value rsqrt(mlir::Value a);
  mlir::Value tanh(mlir::Value a);
  mlir::Value erf(mlir::Value a);
  mlir::Value sigmoid(mlir::Value a);
  mlir::Value cos(mlir::Value a);
  mlir::Value sin(mlir::Value a);
  mlir::Value compare(mlir::tsr::ComparePredicate predicate, mlir::Value a, mlir::Value b);
  mlir::Value select(mlir::Value condition, mlir::Value a, mlir::Value b);
  mlir::Value cast(mlir::Value a, mlir::Type elementType);

  /// Sum over `axes` (normalised, sorted here).
  mlir::Value reduceSum(mlir::Value a, llvm::ArrayRef<int64_t> axes, bool keepDims);
  mlir::Value reduceMean(mlir::Value a, llvm::ArrayRef<int64_t> axes, bool keepDims);
  mlir::Value reduceMax(mlir::Value a, llvm::ArrayRef<int64_t> axes, bool keepDims);
  mlir::Value reshape(mlir::Value a, llvm::ArrayRef<int64_t> shape);
  mlir::Value broadcastTo(mlir::Value a, llvm::ArrayRef<int64_t> shape);
  mlir::Value transpose(mlir::Value a, llvm::ArrayRef<int64_t> permutation);
  mlir::Value matmul(mlir::Value a, mlir::Value b, bool transposeA, bool transposeB);
  mlir::Value slice(mlir::Value a, llvm::ArrayRef<int64_t> start, llvm::ArrayRef<int64_t> limit);
  mlir::Value concat(llvm::ArrayRef<mlir::Value> parts, int64_t axis);
  /// `grad` (the gradient of a value `type` was broadcast into) summed back
  /// to `type`'s shape.
  mlir::Value reduceTo(mlir::Value grad, mlir::RankedTensorType type);

  /// Makes `results` (with `attrs`, one dictionary each) the function's
  /// results: a new return before the old one, which is erased, and the
  /// function's type.
  void setResults(mlir::func::FuncOp func, mlir::ValueRange results,
                  llvm::ArrayRef<mlir::Attribute> attrs);

private:
  mlir::RankedTensorType broadcastType(mlir::Value a, mlir::Value b, mlir::Type element);
  mlir::ImplicitLocOpBuilder &b;
};

} // namespace tessera::train

#endif // TESSERA_PASSES_TRAIN_GRADBUILDER_H
