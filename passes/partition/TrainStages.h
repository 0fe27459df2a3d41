//===- TrainStages.h - a training step cut into pipeline passes -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Pipeline training runs one replica's training step - one micro-batch's
// slice of it, split by splitBatch with reduceOverBatch - on pp stages,
// micro-batch after micro-batch, in the order a schedule (GPipe, 1F1B) says.
// The step is cut into *segments*, one function each, that the runtime runs
// per stage:
//  - the forward pass of a stage (ops the loss depends on, cut at layer
//    boundaries by the pipeline slicer) and its backward pass (the other
//    per-micro-batch ops, each on a stage where every activation and weight
//    it reads is made or read by the forward pass, else with the earliest
//    gradient it reads): run once per micro-batch; with recomputation the
//    backward pass makes again what its forward pass made;
//  - what runs once per step (clipping, the optimizer): on the stage of its
//    largest operand, in levels (a level waits only for lower ones);
//  - a sum over the micro-batches (tsr.replica_sum) becomes a running sum
//    kept as state ("pipe.acc:N", zeroed by the runtime before each step)
//    that each micro-batch adds its share to, read once after the last one
//    (and summed over the data-parallel replicas);
//  - phases as in gradient accumulation (MicroBatchPhases): a loss over the
//    batch's tokens counts them all before any backward pass.
// Weights, constants and what depends on them alone are cloned where read;
// a weight read on several stages (a tied embedding) is updated on each.
// Values between segments are named "x:N": the runtime keeps them on the
// rank or sends them to the stage that reads them.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_TRAINSTAGES_H
#define TESSERA_PASSES_PARTITION_TRAINSTAGES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace tessera::partition {

/// One past the last op of the forward pass of a training step (the
/// per-micro-batch ops its loss depends on): where the pipeline slicer cuts.
mlir::FailureOr<size_t> trainingForwardEnd(mlir::func::FuncOp func);

/// Replaces `main` of `module` (a planned training step, see above) by its
/// segments `stage<s>.<k>`, given the first forward op of each stage
/// (`bounds`, pp + 1 entries, the last the forward pass's end). Each
/// segment function carries `tsr.stage` and `tsr.segment`, the runtime's
/// role of its program: "train:<phase>:<once|forward|backward>:<level>".
/// `recompute`: "none" (the backward pass reads the activations the forward
/// pass kept), "selective" (it recomputes what the forward pass made but
/// products - matmul, attention - from what it kept) or "full" (it
/// recomputes its stage's whole forward pass from the stage's inputs: only
/// those are kept per micro-batch).
mlir::LogicalResult cutTrainingStages(mlir::ModuleOp module, mlir::func::FuncOp main,
                                      const std::vector<size_t> &bounds, int64_t pp,
                                      int64_t dp, llvm::StringRef recompute = "none");

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_TRAINSTAGES_H
