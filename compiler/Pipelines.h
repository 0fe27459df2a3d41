//===- Pipelines.h - the compiler's pass pipelines --------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The compile's pass pipeline, built from its options once: graph -> train |
// decode -> plan -> partition, on the module the ONNX importer writes
// (--emit=tsr). tessera-compile runs it phase by phase (the driver reads the
// module between phases: generation info, the plan's summary);
// --print-pipeline prints it whole in MLIR's textual syntax, and tessera-opt
// runs that text on --emit=tsr's output to the same IR.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_PIPELINES_H
#define TESSERA_COMPILER_PIPELINES_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace tessera {

struct CompileOptions;
struct MeshPlanReport;

struct GraphPipelineOptions {};

/// Graph-level passes on imported tsr: canonicalize and CSE (folds, dead
/// shape arithmetic), then tsr-graph-fuse (gelu, silu, layer_norm, rms_norm,
/// attention, rotary) and a final cleanup.
void buildGraphPipeline(mlir::OpPassManager &pm,
                        const GraphPipelineOptions &options);

/// The phases of the pipeline, in order. Prefill is the prompt programs'
/// step (--generate with --prefill: the model imported at each prompt
/// length, tsr-generate-prefill in place of the decode step); it is not part
/// of the model's own pipeline and is built only when asked for alone.
enum class Phase { Graph, Train, Decode, Plan, Partition, Prefill };

/// What the pipeline needs beyond the options, found by the import: the
/// weights not trained (--frozen and the rotary tables found in the model)
/// and the tied pairs (--tie A=B).
struct PipelineInputs {
  llvm::ArrayRef<std::string> frozen, ties;
};

/// Adds phases `first` to `last` of `options`' compile to `pm` (a pass
/// manager on builtin.module): graph fusion (unless --no-graph-fusion), the
/// training step (--train: loss, autodiff, optimizer), the decode step
/// (--generate), the plan (tsr-partition-plan-mesh, stage cuts) and the
/// partition (rank modules, SPMD, ZeRO, gradient buckets; with
/// --emit=partitioned, tsr-partition-select-rank of --rank). `report`, when
/// given, receives the plan's figures.
void buildCompilePipeline(mlir::OpPassManager &pm, const CompileOptions &options,
                          const PipelineInputs &inputs, Phase first, Phase last,
                          MeshPlanReport *report = nullptr);

/// The whole pipeline in MLIR's textual pass-pipeline syntax
/// (--print-pipeline).
void printCompilePipeline(const CompileOptions &options, const PipelineInputs &inputs,
                          llvm::raw_ostream &os);

/// Registers the pipelines with tessera-opt (`--tsr-graph-pipeline`).
void registerPipelines();

} // namespace tessera

#endif // TESSERA_COMPILER_PIPELINES_H
