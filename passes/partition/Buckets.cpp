//===- Buckets.cpp - the replicas' gradients summed in buckets ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A training step's data-parallel gradient sums (shard.all_reduce over the
// grid's first axis) come one per gradient, in the order the backward pass
// makes them. Each collective pays a latency, so they are grouped, in that
// order, into buckets of about `bucket-bytes` (PyTorch DDP's default is 25
// MiB): the members' operands are flattened and concatenated, summed by one
// all-reduce placed where the bucket's last gradient is ready, and sliced
// back. A bucket is closed early where an op reads the sum of one of its
// members, so every sum is ready before its first reader. The runtime starts
// data-parallel all-reduces asynchronously and waits where their sum is
// first read: a bucket is summed while the backward pass goes on.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/Passes.h"

#include "passes/cost/CostModel.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"

namespace tessera::partition {
#define GEN_PASS_DEF_BUCKETGRADIENTSPASS
#include "passes/partition/Passes.h.inc"
} // namespace tessera::partition

using namespace mlir;
using namespace tessera;

namespace {

/// A sum over the data-parallel replicas that a bucket may take: a float
/// tensor (not a scalar: the loss's sums are read at once) of static shape
/// summed over the grid's first axis alone.
bool bucketable(Operation *op) {
  auto reduce = dyn_cast<shard::AllReduceOp>(op);
  if (!reduce || reduce.getGridAxes().size() != 1 ||
      reduce.getGridAxes()[0] != 0 ||
      reduce.getReduction() != shard::ReductionKind::Sum)
    return false;
  auto type = dyn_cast<RankedTensorType>(reduce.getResult().getType());
  return type && type.getRank() > 0 && type.hasStaticShape() &&
         isa<FloatType>(type.getElementType()) &&
         reduce.getInput().getType() == type;
}

/// Replaces the members of `bucket` by one all-reduce of their operands
/// concatenated, after the last member.
void sumTogether(ArrayRef<shard::AllReduceOp> bucket) {
  if (bucket.size() < 2)
    return;
  shard::AllReduceOp last = bucket.back();
  OpBuilder b(last);
  b.setInsertionPointAfter(last);
  Location loc = last.getLoc();
  Type element =
      cast<RankedTensorType>(last.getResult().getType()).getElementType();
  SmallVector<Value> flat;
  for (shard::AllReduceOp member : bucket) {
    int64_t n =
        cast<RankedTensorType>(member.getResult().getType()).getNumElements();
    flat.push_back(tsr::ReshapeOp::create(
        b, loc, RankedTensorType::get({n}, element), member.getInput()));
  }
  Value joined =
      tsr::ConcatOp::create(b, loc, ValueRange(flat), b.getI64IntegerAttr(0));
  auto sum = shard::AllReduceOp::create(
      b, loc, joined.getType(), last.getGridAttr(), last.getGridAxesAttr(),
      joined, last.getReductionAttr());
  // Each member's sum is sliced out just before its first reader, so that
  // the all-reduce (which the runtime waits for at its first reader) runs
  // while the ops in between do.
  int64_t offset = 0;
  for (shard::AllReduceOp member : bucket) {
    auto type = cast<RankedTensorType>(member.getResult().getType());
    int64_t n = type.getNumElements();
    Operation *first = nullptr;
    for (Operation *user : member.getResult().getUsers())
      if (!first || user->isBeforeInBlock(first))
        first = user;
    if (first) {
      b.setInsertionPoint(first);
      Value piece = tsr::SliceOp::create(
          b, loc, RankedTensorType::get({n}, element), sum.getResult(),
          b.getDenseI64ArrayAttr({offset}),
          b.getDenseI64ArrayAttr({offset + n}), nullptr);
      member.getResult().replaceAllUsesWith(
          tsr::ReshapeOp::create(b, loc, type, piece));
    }
    offset += n;
  }
  for (shard::AllReduceOp member : bucket)
    member.erase();
}

struct BucketGradientsPass
    : tessera::partition::impl::BucketGradientsPassBase<BucketGradientsPass> {
  using BucketGradientsPassBase::BucketGradientsPassBase;
  void runOnOperation() override {
    if (bucketBytes <= 0) {
      getOperation().emitError("bucket-bytes must be positive, not ")
          << int64_t(bucketBytes);
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      SmallVector<shard::AllReduceOp> bucket;
      llvm::DenseSet<Value> sums; // the bucket's members' results
      int64_t bytes = 0;          // the bucket's
      auto close = [&] {
        sumTogether(bucket);
        bucket.clear();
        sums.clear();
        bytes = 0;
      };
      SmallVector<Operation *> ops;
      for (Operation &op : func.getBody().front())
        ops.push_back(&op);
      for (Operation *op : ops) {
        // An op that reads a member's sum needs it now.
        if (llvm::any_of(op->getOperands(),
                         [&](Value v) { return sums.contains(v); }))
          close();
        if (!bucketable(op))
          continue;
        auto reduce = cast<shard::AllReduceOp>(op);
        Type element = cast<RankedTensorType>(reduce.getResult().getType())
                           .getElementType();
        if (!bucket.empty() &&
            (cast<RankedTensorType>(bucket.back().getResult().getType())
                     .getElementType() != element ||
             bucket.back().getGridAttr() != reduce.getGridAttr()))
          close();
        bucket.push_back(reduce);
        sums.insert(reduce.getResult());
        bytes += int64_t(bytesOf(reduce.getResult()));
        if (bytes >= bucketBytes)
          close();
      }
      close();
    }
  }
};

} // namespace
