//===- Pipelines.h - the compiler's pass pipelines --------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_PIPELINES_H
#define TESSERA_COMPILER_PIPELINES_H

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace tessera {

struct GraphPipelineOptions {};

/// Graph-level cleanup on imported tsr: canonicalize (folds) and CSE. The
/// fusion passes (layer_norm, gelu, attention, rms_norm, rotary) join here.
void buildGraphPipeline(mlir::OpPassManager &pm,
                        const GraphPipelineOptions &options);

/// Registers the pipelines with tessera-opt (`--tsr-graph-pipeline`).
void registerPipelines();

} // namespace tessera

#endif // TESSERA_COMPILER_PIPELINES_H
