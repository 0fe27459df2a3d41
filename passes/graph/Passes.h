//===- Passes.h - graph-level passes on tsr ---------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_GRAPH_PASSES_H
#define TESSERA_PASSES_GRAPH_PASSES_H

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
} // namespace mlir

namespace tessera::graph {

#define GEN_PASS_DECL
#include "passes/graph/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/graph/Passes.h.inc"

/// Pattern sets, one per family (also used by tests and other pipelines).
void populateActivationFusionPatterns(mlir::RewritePatternSet &patterns);
void populateNormFusionPatterns(mlir::RewritePatternSet &patterns);
void populateAttentionFusionPatterns(mlir::RewritePatternSet &patterns);
void populateRotaryFusionPatterns(mlir::RewritePatternSet &patterns);

} // namespace tessera::graph

#endif // TESSERA_PASSES_GRAPH_PASSES_H
