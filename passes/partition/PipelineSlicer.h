//===- PipelineSlicer.h - cutting a model into pipeline stages --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Pipeline parallelism cuts a replica's function into consecutive stages,
// each a function of its own: its arguments are the values that cross the
// cut before it (the residual stream, masks, rotary tables), its results the
// values that cross the cut after it. Cuts are only considered at layer
// boundaries - the positions where the fewest activation bytes cross - and
// chosen by dynamic programming (PipeDream, Alpa's inter-op pass) to
// minimise the slowest stage (its ops' predicted time from the tensor-
// parallel search plus sending its results on), with each stage's weights
// under the device memory.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_PIPELINESLICER_H
#define TESSERA_PASSES_PARTITION_PIPELINESLICER_H

#include "passes/partition/Partition.h"

#include <cstdint>

namespace tessera::partition {

struct PipelineStages {
  /// Index (into the body's ops, the terminator excluded) of each stage's
  /// first op, then the number of ops.
  std::vector<size_t> bounds;
  std::vector<double> stageSeconds; ///< ops of the stage
  std::vector<double> sendSeconds;  ///< its results to the next stage
  std::vector<double> sendBytes;    ///< what crosses to the next stage
  std::vector<double> weightBytes;  ///< per rank
  /// The slowest stage's time plus its send: one pipeline step.
  double stepSeconds = 0;
};

/// Positions where a stage may start: layer boundaries.
std::vector<size_t> candidateCuts(mlir::func::FuncOp func);

/// Cuts `func` into `pp` stages under `plan`'s per-op times: balanced by
/// dynamic programming, or, with `even`, Megatron's way (the same number of
/// layer boundaries in every stage), for comparison. A training step is cut
/// in its forward pass, the ops before `forwardEnd` (trainingForwardEnd).
/// With `given` bounds (pp + 1 of them, from a mesh plan) the cut is those,
/// with their figures.
mlir::FailureOr<PipelineStages> sliceStages(mlir::func::FuncOp func,
                                            const ShardingPlan &plan, int64_t pp,
                                            const CostModel &cost, double memoryCap,
                                            std::string &error, bool even = false,
                                            size_t forwardEnd = SIZE_MAX,
                                            llvm::ArrayRef<size_t> given = {});

/// The module of ops [begin, end) of `func`: a `main` taking the values that
/// cross `begin` (all of `func`'s arguments for the first stage) and
/// returning those that cross `end` (`func`'s results for the last).
/// Weights and constants used are cloned in.
mlir::OwningOpRef<mlir::ModuleOp> extractStage(mlir::func::FuncOp func, size_t begin,
                                               size_t end);

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_PIPELINESLICER_H
