//===- Matchers.h - matching helpers for the fusion patterns ----*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_GRAPH_MATCHERS_H
#define TESSERA_PASSES_GRAPH_MATCHERS_H

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace tessera::graph {

/// The value of a constant whose elements are all equal (any shape).
std::optional<double> splatValue(mlir::Value v);

/// Whether `v` is a constant splat equal to `expected` (relative tolerance).
bool isSplat(mlir::Value v, double expected, double tolerance = 1e-4);

/// The factors of a product: `v` itself, or the leaves of nested tsr.mul.
void mulFactors(mlir::Value v, llvm::SmallVectorImpl<mlir::Value> &factors,
                int depth = 3);

/// The terms of a sum: `v` itself, or the leaves of nested tsr.add.
void addTerms(mlir::Value v, llvm::SmallVectorImpl<mlir::Value> &terms,
              int depth = 4);

/// Splits factors into constant splats (multiplied together) and the rest.
double splitConstantFactors(llvm::ArrayRef<mlir::Value> factors,
                            llvm::SmallVectorImpl<mlir::Value> &rest);

/// `v` as constant * product(rest): the operands of `v` if it is a mul,
/// with every mul-by-constant among them peeled (x * 0.5 -> x, 0.5).
/// Products of two non-constants below the top stay whole.
double scaledFactors(mlir::Value v, llvm::SmallVectorImpl<mlir::Value> &rest);

/// For reductions over a trailing run of axes with kept dims: the first axis.
std::optional<int64_t> trailingAxesStart(mlir::Operation *reduction);

/// Reshapes/broadcasts a parameter to exactly `shape` when it broadcasts to
/// it; null otherwise.
mlir::Value fitToShape(mlir::PatternRewriter &rewriter, mlir::Location loc,
                       mlir::Value param, llvm::ArrayRef<int64_t> shape);

/// The other operand of a binary op.
inline mlir::Value otherOperand(mlir::Operation *op, mlir::Value v) {
  return op->getOperand(0) == v ? op->getOperand(1) : op->getOperand(0);
}

inline llvm::ArrayRef<int64_t> shapeOf(mlir::Value v) {
  return llvm::cast<mlir::RankedTensorType>(v.getType()).getShape();
}

} // namespace tessera::graph

#endif // TESSERA_PASSES_GRAPH_MATCHERS_H
