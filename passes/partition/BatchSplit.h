//===- BatchSplit.h - data parallelism as a split of the batch --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Data parallelism and micro-batching run the same function on slices of the
// batch. Instead of importing the model again at a smaller batch (which fails
// for exports whose batch is fixed in the file, and costs an import per
// size), the function is rewritten in `tsr`: every graph input is split along
// its first dimension, the split is propagated op by op with the sharding
// rules (ShardingRules.h, the same rules the tensor-parallel search uses,
// with the replica count in place of tp), and each op is rebuilt on its local
// shapes. An op that would need the whole batch - a reduction over it, an op
// with no rule that keeps the split, a partial sum - mixes samples and is
// refused by name. Batch-independent values (weights, constants, masks built
// from them) stay whole; where an op meets one of batch size (an expanded
// mask, a constant tiled over the batch) it is cut to the local batch if its
// blocks are all equal, and refused otherwise.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_BATCHSPLIT_H
#define TESSERA_PASSES_PARTITION_BATCHSPLIT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/DenseMap.h"

namespace tessera::partition {

/// Rewrites `func` in place to compute one of `parts` equal slices of its
/// batch: arguments and results are split along their first dimension.
/// Emits an error naming the input, op or result that prevents it.
/// With `reduceOverBatch` the parts are data-parallel replicas: an op that
/// reduces over the batch yields its replica's partial result, summed over
/// the replicas by tsr.replica_sum, and results that do not follow the
/// batch are returned whole (marked `tsr.replicated`).
mlir::LogicalResult splitBatch(mlir::func::FuncOp func, int64_t parts,
                               bool reduceOverBatch = false);

/// Gradient accumulation: rewrites `func`, a step split by splitBatch with
/// reduceOverBatch, to run `m` of its slices one after the other (its inputs
/// become m slices long): what does not depend on the batch runs once, the
/// rest once per micro-batch, each tsr.replica_sum adds its operand's m
/// copies as they come (then sums over the replicas, with `replicaSums`),
/// and what depends on the sums runs once after them. MicroBatches.cpp.
/// How a step split by splitBatch with reduceOverBatch runs over
/// micro-batches: each op once, once per micro-batch, or as a sum over them
/// (a tsr.replica_sum), and its phase - the sums finished before it (a
/// loss normalised by the batch's token count: phase 0 counts, phase 1 runs
/// the forward and backward passes, phase 2 the optimizer), each op in the
/// latest phase its users allow. Accumulation and pipeline training share it.
struct MicroBatchPhases {
  enum class Kind { Once, PerPart, Sum };
  llvm::DenseMap<mlir::Operation *, Kind> kind;
  llvm::DenseMap<mlir::Operation *, int> phase;
  int phases = 1;
};
mlir::FailureOr<MicroBatchPhases> microBatchPhases(mlir::func::FuncOp func);

mlir::LogicalResult accumulateMicroBatches(mlir::func::FuncOp func, int64_t m,
                                           bool replicaSums);

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_BATCHSPLIT_H
