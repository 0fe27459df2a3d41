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

/// Graph-level passes on imported tsr: canonicalize and CSE (folds, dead
/// shape arithmetic), then tsr-graph-fuse (gelu, silu, layer_norm, rms_norm,
/// attention, rotary) and a final cleanup.
void buildGraphPipeline(mlir::OpPassManager &pm,
                        const GraphPipelineOptions &options);

/// Registers the pipelines with tessera-opt (`--tsr-graph-pipeline`).
void registerPipelines();

} // namespace tessera

#endif // TESSERA_COMPILER_PIPELINES_H
