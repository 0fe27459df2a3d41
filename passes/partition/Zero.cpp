//===- Zero.cpp - sharded optimizer state, gradients and parameters -------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// ZeRO (Rajbhandari et al., SC'20), the modern parameter server: the
// data-parallel replicas of a training step stop keeping the same optimizer
// state. On one replica's SPMD program (after tsr-partition-spmd), each
// gradient summed over the replicas (a shard.all_reduce over the grid's
// first axis) is cut along its first dimension the replica count divides,
// and what the optimizer computes from it elementwise runs on the replica's
// block only:
//  - stage 1: the optimizer state (AdamW's moments, SGD's momentum) is a
//    block per replica; the gradient is all-reduced, then sliced; the new
//    weight block is all-gathered back whole;
//  - stage 2: the gradient is reduce-scattered instead (no replica holds it
//    whole after the sum);
//  - stage 3: the parameters too are a block per replica, all-gathered
//    before each op that reads them (gathered again for the backward pass,
//    freed after, as FSDP does) and updated in place as blocks.
// Reductions over a block (the gradient norm's sum of squares) are summed
// over the replicas; what is not elementwise reads the block gathered whole.
// Blocks of state carry their offsets (`tsr.weight "adamw.m:w" offsets =
// [...]`), so a checkpoint assembles them and resumes on any mesh.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/Passes.h"
#include "tessera/runtime/Roles.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace tessera::partition {
#define GEN_PASS_DEF_ZEROPASS
#include "passes/partition/Passes.h.inc"
} // namespace tessera::partition

using namespace mlir;
using namespace tessera;

namespace {

constexpr const char *kGrid = "mesh";

bool isDpAllReduce(Operation *op) {
  auto reduce = dyn_cast<shard::AllReduceOp>(op);
  return reduce && reduce.getGridAxes().size() == 1 && reduce.getGridAxes()[0] == 0;
}

/// The first dimension of `type` that `parts` divides, or -1.
int splitAxis(Type type, int64_t parts) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || !isa<FloatType>(t.getElementType()))
    return -1;
  for (int64_t d = 0; d < t.getRank(); ++d)
    if (t.getShape()[size_t(d)] >= parts && t.getShape()[size_t(d)] % parts == 0)
      return int(d);
  return -1;
}

RankedTensorType blockType(Type type, int axis, int64_t parts) {
  auto t = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(t.getShape());
  shape[size_t(axis)] /= parts;
  return t.clone(shape);
}

/// Rewrites one function for replica `rank` of `dp`.
class Sharder {
public:
  /// `params`: the parameters some function of the module updates (a
  /// pipeline's forward and backward segments read the weights its
  /// optimizer segment updates).
  Sharder(func::FuncOp func, int64_t stage, int64_t rank, int64_t dp,
          const llvm::StringSet<> &params)
      : func(func), stage(stage), rank(rank), dp(dp), params(params),
        b(func.getContext()) {}

  LogicalResult run();

private:
  func::FuncOp func;
  int64_t stage, rank, dp;
  const llvm::StringSet<> &params;
  OpBuilder b;
  /// Values held as this replica's block along an axis, by whole value.
  llvm::DenseMap<Value, std::pair<Value, int>> blocks;
  /// Zero-initialised state weights read as blocks: name -> block op.
  llvm::StringMap<Value> stateBlocks;
  /// State kept as blocks (optimizer state; stage 3: parameters): its axis.
  llvm::StringMap<int> blockAxis;
  int16_t dpAxis[1] = {0};

  Value slice(Location loc, Value whole, int axis) {
    auto type = cast<RankedTensorType>(whole.getType());
    SmallVector<int64_t> start(size_t(type.getRank()), 0), limit(type.getShape());
    int64_t size = type.getShape()[size_t(axis)] / dp;
    start[size_t(axis)] = rank * size;
    limit[size_t(axis)] = (rank + 1) * size;
    return tsr::SliceOp::create(b, loc, blockType(type, axis, dp), whole,
                                b.getDenseI64ArrayAttr(start), b.getDenseI64ArrayAttr(limit),
                                nullptr);
  }
  Value gather(Location loc, Value block, int axis, Type whole) {
    return shard::AllGatherOp::create(b, loc, whole, kGrid, ArrayRef<int16_t>(dpAxis), block,
                                      APInt(64, uint64_t(axis)));
  }
  /// A block of weight `w` (its offsets moved to this replica's block).
  Value weightBlock(tsr::WeightOp w, int axis) {
    auto type = cast<RankedTensorType>(w.getResult().getType());
    SmallVector<int64_t> offsets(size_t(type.getRank()), 0);
    if (auto o = w.getOffsets())
      offsets.assign(o->begin(), o->end());
    offsets[size_t(axis)] += rank * (type.getShape()[size_t(axis)] / dp);
    return tsr::WeightOp::create(b, w.getLoc(), blockType(type, axis, dp), w.getNameAttr(),
                                 b.getDenseI64ArrayAttr(offsets), w.getZerosAttr())
        .getResult();
  }
  /// `v` as this replica's block along `axis`.
  Value blockOf(Value v, int axis) {
    if (auto it = blocks.find(v); it != blocks.end() && it->second.second == axis)
      return it->second.first;
    // A parameter gathered from its block (stage 3): the block itself.
    if (auto g = v.getDefiningOp<shard::AllGatherOp>();
        g && g.getGridAxes().size() == 1 && g.getGridAxes()[0] == 0 &&
        g.getGatherAxis().getZExtValue() == uint64_t(axis))
      return g.getInput();
    if (auto w = v.getDefiningOp<tsr::WeightOp>(); w && w.getZeros()) {
      // Optimizer state: each replica keeps its block only.
      Value &block = stateBlocks[w.getName()];
      blockAxis[w.getName()] = axis;
      if (!block) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(w);
        block = weightBlock(w, axis);
      }
      blocks[v] = {block, axis};
      return block;
    }
    Value block = slice(v.getLoc(), v, axis);
    blocks[v] = {block, axis};
    return block;
  }
  /// Whether `operand` broadcasts along `axis` of a result of rank `rank`.
  static bool broadcastsAlong(Value operand, int axis, int64_t rank) {
    auto t = cast<RankedTensorType>(operand.getType());
    int64_t d = int64_t(axis) - (rank - t.getRank());
    return d < 0 || t.getShape()[size_t(d)] == 1;
  }
};

LogicalResult Sharder::run() {
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  // The weights the step updates, and whether each is optimizer state.
  llvm::StringMap<bool> updated;
  for (unsigned i = 0; i < ret.getNumOperands(); ++i)
    if (auto name = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kUpdatesAttr))
      updated[name.getValue()] = true;

  // Stage 3: parameters live as blocks, gathered before each op reading them
  // (in every function of the module: a pipeline's forward and backward
  // segments read what its optimizer segment updates as blocks).
  if (stage >= 3) {
    SmallVector<tsr::WeightOp> read;
    for (Operation &op : body)
      if (auto w = dyn_cast<tsr::WeightOp>(op);
          w && !w.getZeros() && params.contains(w.getName()) &&
          splitAxis(w.getResult().getType(), dp) >= 0)
        read.push_back(w);
    for (tsr::WeightOp w : read) {
      int axis = splitAxis(w.getResult().getType(), dp);
      b.setInsertionPoint(w);
      Value block = weightBlock(w, axis);
      blockAxis[w.getName()] = axis;
      for (OpOperand &use : llvm::make_early_inc_range(w.getResult().getUses())) {
        Operation *user = use.getOwner();
        // (Returned as the weight's new value: kept as the block below.)
        if (isa<func::ReturnOp>(user) &&
            func.getResultAttrOfType<StringAttr>(
                use.getOperandNumber(), mlir::tsr::kUpdatesAttr) == w.getNameAttr())
          continue;
        b.setInsertionPoint(user);
        use.set(gather(w.getLoc(), block, axis, w.getResult().getType()));
      }
      blocks[w.getResult()] = {block, axis};
    }
  }
  // Optimizer state (zero-initialised weights the step updates) is a block
  // per replica from the start: what is computed from it elementwise (the
  // moments' decay) runs on the block.
  llvm::DenseSet<Value> onBlocks; // values the rewrite made on blocks
  for (Operation &op : body)
    if (auto w = dyn_cast<tsr::WeightOp>(op); w && w.getZeros() && updated.count(w.getName()) &&
                                              !roles::isAccumulator(w.getName().str())) {
      // (A pipeline's running sums over micro-batches stay whole: they are
      // reduce-scattered once the last micro-batch has added to them.)
      int axis = splitAxis(w.getResult().getType(), dp);
      if (axis < 0)
        continue;
      blockOf(w.getResult(), axis);
      onBlocks.insert(w.getResult());
    }
  if (stage >= 3)
    for (Operation &op : body)
      if (auto g = dyn_cast<shard::AllGatherOp>(op);
          g && g.getGridAxes().size() == 1 && g.getGridAxes()[0] == 0) {
        blocks[g.getResult()] = {g.getInput(), int(g.getGatherAxis().getZExtValue())};
        onBlocks.insert(g.getResult());
      }

  // The sums over the replicas, then what the optimizer computes from them.
  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  llvm::DenseSet<Operation *> erasedOps;
  for (Operation *op : ops) {
    if (isDpAllReduce(op)) {
      int axis = splitAxis(op->getResult(0).getType(), dp);
      if (axis < 0)
        continue;
      b.setInsertionPointAfter(op);
      Value block;
      if (stage >= 2) {
        block = shard::ReduceScatterOp::create(
            b, op->getLoc(), Type(blockType(op->getResult(0).getType(), axis, dp)), kGrid,
            ArrayRef<int16_t>(dpAxis), op->getOperand(0), shard::ReductionKind::Sum,
            APInt(64, uint64_t(axis)));
      } else {
        block = slice(op->getLoc(), op->getResult(0), axis);
      }
      blocks[op->getResult(0)] = {block, axis};
      onBlocks.insert(op->getResult(0));
      continue;
    }
    bool elementwise = op->hasTrait<OpTrait::Elementwise>() ||
                       op->hasTrait<OpTrait::ResultsBroadcastableShape>();
    // The operand on a block this op follows, if any.
    int axis = -1;
    Value lead;
    for (Value v : op->getOperands())
      if (onBlocks.contains(v) && v.getType() == op->getResult(0).getType()) {
        axis = blocks[v].second;
        lead = v;
        break;
      }
    if (elementwise && axis >= 0 && op->getNumResults() == 1) {
      int64_t rank = cast<RankedTensorType>(op->getResult(0).getType()).getRank();
      auto resultType = cast<RankedTensorType>(op->getResult(0).getType());
      b.setInsertionPoint(op);
      IRMapping map;
      bool ok = true;
      for (Value v : op->getOperands()) {
        auto t = cast<RankedTensorType>(v.getType());
        if (broadcastsAlong(v, axis, rank))
          continue; // a scalar or a broadcast: the same on every block
        if (t.getShape() != resultType.getShape()) {
          ok = false;
          break;
        }
        map.map(v, blockOf(v, axis));
      }
      if (ok) {
        Operation *made = b.clone(*op, map);
        made->getResult(0).setType(blockType(resultType, axis, dp));
        blocks[op->getResult(0)] = {made->getResult(0), axis};
        onBlocks.insert(op->getResult(0));
        continue;
      }
    }
    if (auto sum = dyn_cast<tsr::ReduceSumOp>(op); sum && onBlocks.contains(sum.getInput())) {
      // A block's share of a sum (the gradient norm's squares): summed over
      // the replicas.
      axis = blocks[sum.getInput()].second;
      if (llvm::is_contained(sum.getAxes(), int64_t(axis))) {
        b.setInsertionPoint(op);
        IRMapping map;
        map.map(sum.getInput(), blocks[sum.getInput()].first);
        Operation *partial = b.clone(*op, map);
        Value total = shard::AllReduceOp::create(
            b, op->getLoc(), op->getResult(0).getType(), kGrid, ArrayRef<int16_t>(dpAxis),
            partial->getResult(0), shard::ReductionKind::Sum);
        op->getResult(0).replaceAllUsesWith(total);
        op->erase();
        erasedOps.insert(op);
        continue;
      }
    }
  }
  // What reads a value made on blocks whole (a tensor-parallel gather, a
  // transpose) reads the blocks gathered, so that the whole computation (and
  // a whole read of the state) goes; a gradient all-reduced whole (stage 1)
  // is read as it is.
  for (Operation *op : ops) {
    if (erasedOps.contains(op) || isa<shard::AllGatherOp>(op) ||
        (stage < 2 && isDpAllReduce(op)))
      continue;
    for (Value r : op->getResults()) {
      if (!onBlocks.contains(r))
        continue;
      auto [block, axis] = blocks[r];
      for (OpOperand &use : llvm::make_early_inc_range(r.getUses())) {
        Operation *user = use.getOwner();
        if (isa<func::ReturnOp>(user) || user == block.getDefiningOp())
          continue;
        b.setInsertionPoint(user);
        use.set(gather(r.getLoc(), block, axis, r.getType()));
      }
    }
  }
  // Results: optimizer state stays a block, parameters are gathered back
  // whole (stage 3: kept as blocks); what no longer has readers goes.
  b.setInsertionPoint(ret);
  SmallVector<Value> results;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    auto it = blocks.find(v);
    auto name = func.getResultAttrOfType<StringAttr>(unsigned(i), mlir::tsr::kUpdatesAttr);
    auto kept = name ? blockAxis.find(name.getValue()) : blockAxis.end();
    if (kept != blockAxis.end()) {
      // State kept as blocks: the new value's block (sliced if it was
      // computed whole).
      results.push_back(blockOf(v, kept->second));
      continue;
    }
    if (it == blocks.end() || !onBlocks.contains(v)) {
      results.push_back(v);
      continue;
    }
    auto [block, axis] = it->second;
    results.push_back(gather(ret.getLoc(), block, axis, v.getType()));
  }
  ret->setOperands(results);
  func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                 ValueRange(results).getTypes()));
  // Whole computations no op reads any more (the optimizer's on whole
  // tensors, the state's whole weights) are dropped.
  for (bool erased = true; erased;) {
    erased = false;
    SmallVector<Operation *> all;
    for (Operation &op : body.without_terminator())
      all.push_back(&op);
    // (A weight op stays while it is the only one of its name: a program
    // that writes a weight it receives keeps it so.)
    llvm::StringMap<int> weightOps;
    for (Operation *op : all)
      if (auto w = dyn_cast<tsr::WeightOp>(op))
        ++weightOps[w.getName()];
    for (Operation *op : llvm::reverse(all)) {
      auto w = dyn_cast<tsr::WeightOp>(op);
      if (w && weightOps[w.getName()] < 2)
        continue;
      if (op->use_empty() &&
          (isMemoryEffectFree(op) || w || isa<shard::AllGatherOp>(op) || isDpAllReduce(op))) {
        if (w)
          --weightOps[w.getName()];
        op->erase();
        erased = true;
      }
    }
  }
  return success();
}

struct ZeroPass : tessera::partition::impl::ZeroPassBase<ZeroPass> {
  using ZeroPassBase::ZeroPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Not given: the mesh plan's stage.
    int64_t stage = this->stage;
    if (stage == -1)
      if (auto meshPlan = module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr))
        stage = meshPlan.getZero();
    if (stage < 0 || stage > 3) {
      module.emitError("ZeRO stage must be 0, 1, 2 or 3, not ") << int64_t(stage);
      return signalPassFailure();
    }
    if (stage == 0)
      return;
    auto grid = module.lookupSymbol<shard::GridOp>(kGrid);
    if (!grid) {
      module.emitError("ZeRO shards over the data-parallel replicas: partition the step first "
                       "(tsr-partition-spmd)");
      return signalPassFailure();
    }
    int64_t dp = grid.getShape()[0];
    // The replica tsr-partition-ranks gave this module, unless given.
    int64_t rank = this->rank;
    if (rank < 0) {
      auto replica = module->getAttrOfType<IntegerAttr>(tsr::kReplicaAttr);
      rank = replica ? replica.getInt() : 0;
    }
    if (rank < 0 || rank >= dp) {
      module.emitError("replica ") << rank << " is not one of dp=" << dp;
      return signalPassFailure();
    }
    if (dp == 1)
      return;
    // The parameters the step updates (in any of its functions: a pipeline
    // stage's optimizer segment updates what its other segments read).
    llvm::StringSet<> params;
    for (auto func : module.getOps<func::FuncOp>())
      for (unsigned i = 0; i < func.getNumResults(); ++i)
        if (auto name = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kUpdatesAttr))
          params.insert(name.getValue());
    for (auto func : llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (failed(Sharder(func, stage, rank, dp, params).run()))
        return signalPassFailure();
  }
};

} // namespace
