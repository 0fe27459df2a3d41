//===- FuseTransformerOps.cpp - the tsr-graph-fuse pass -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/graph/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tessera::graph {
#define GEN_PASS_DEF_FUSETRANSFORMEROPSPASS
#include "passes/graph/Passes.h.inc"
} // namespace tessera::graph

using namespace mlir;

namespace {

struct FuseTransformerOpsPass
    : tessera::graph::impl::FuseTransformerOpsPassBase<FuseTransformerOpsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    RewritePatternSet patterns(context);
    tessera::graph::populateActivationFusionPatterns(patterns);
    tessera::graph::populateNormFusionPatterns(patterns);
    tessera::graph::populateAttentionFusionPatterns(patterns);
    tessera::graph::populateRotaryFusionPatterns(patterns);
    // The fusions expose folds (transposes that compose, dead reductions)
    // and rely on them (repeat_kv only shows once K's transposes fold).
    for (RegisteredOperationName op : context->getRegisteredOperations())
      if (op.getDialectNamespace() == "tsr")
        op.getCanonicalizationPatterns(patterns, context);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
