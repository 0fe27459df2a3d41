//===- GradientRules.h - the reverse-mode rule of every tsr op --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// One rule per tsr op: given the gradient of each result, the gradient of
// each operand, written in tsr ops (JAX's transpose rules; Enzyme's
// AutoDiffOpInterface). Rules are grouped by op family in
// GradientRules{Elementwise,Linalg,Shape,Transformer}.cpp, each checked
// against finite differences (test/passes/train).
//
// Fused ops are differentiated through their formulas, not through extra
// backward kernels: attention recomputes its probabilities from Q, K and the
// mask (the forward keeps no score matrix), the norms recompute their
// statistics. What a rule cannot differentiate (a strided slice, a
// vocabulary-parallel gather) is refused by name.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_TRAIN_GRADIENTRULES_H
#define TESSERA_PASSES_TRAIN_GRADIENTRULES_H

#include "passes/train/GradBuilder.h"

#include "llvm/ADT/StringMap.h"

namespace tessera::train {

/// Fills `operandGrads` (one per operand; null where an operand has no
/// gradient, e.g. indices or conditions) from `resultGrads` (one per result;
/// never all null). Emits an error on `op` and fails when there is no rule.
using GradientRule = mlir::LogicalResult (*)(GradBuilder &g, mlir::Operation *op,
                                             llvm::ArrayRef<mlir::Value> resultGrads,
                                             llvm::SmallVectorImpl<mlir::Value> &operandGrads);

/// The rules by op name ("tsr.matmul").
const llvm::StringMap<GradientRule> &gradientRules();

void addElementwiseRules(llvm::StringMap<GradientRule> &rules);
void addLinalgRules(llvm::StringMap<GradientRule> &rules);
void addShapeRules(llvm::StringMap<GradientRule> &rules);
void addTransformerRules(llvm::StringMap<GradientRule> &rules);

} // namespace tessera::train

#endif // TESSERA_PASSES_TRAIN_GRADIENTRULES_H
