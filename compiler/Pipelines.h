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

/// The phases of the pipeline, in order.
enum class Phase { Graph, Train, Decode, Plan, Partition };

/// What the pipeline needs beyond the options, found by the import: the
/// weights not trained (--frozen and the rotary tables found in the model)
/// and the tied pairs (--tie A=B).
struct PipelineInputs {
  llvm::ArrayRef<std::string> frozen, ties;
  /// An encoder-decoder's decode step: its inputs fed by the encoder (its
  /// output and mask), the same at every step.
  llvm::ArrayRef<std::string> encoderInputs = {};
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

/// The pipeline of a prompt program (--generate with --prefill: the model
/// imported at one prompt length): the graph phase, tsr-generate-prefill in
/// place of the decode step and, with `partitioned`, the plan and partition
/// phases of `options` (the driver's for prompt programs: the decode step's
/// mesh, every cache in the layout the decode step reads it in).
void buildPromptPipeline(mlir::OpPassManager &pm, const CompileOptions &options,
                         const PipelineInputs &inputs, bool partitioned);

/// The whole pipeline in MLIR's textual pass-pipeline syntax
/// (--print-pipeline); with `prompt`, a prompt program's (buildPromptPipeline
/// with `partitioned`).
void printCompilePipeline(const CompileOptions &options, const PipelineInputs &inputs,
                          llvm::raw_ostream &os, bool prompt = false,
                          bool partitioned = false);

/// Registers the pipelines with tessera-opt (`--tsr-graph-pipeline`).
void registerPipelines();

} // namespace tessera

#endif // TESSERA_COMPILER_PIPELINES_H
