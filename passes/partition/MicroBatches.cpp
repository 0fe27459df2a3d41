//===- MicroBatches.cpp - gradient accumulation over micro-batches --------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A training step split into `parts` slices of the batch (splitBatch with
// reduceOverBatch) computes one slice and sums what reduces over the batch -
// the loss, the gradients, a token count - over the slices with
// tsr.replica_sum. Gradient accumulation runs m of those slices one after the
// other on the same rank: the function takes m slices' worth of batch, and
//  - ops that do not depend on the batch (weights, constants) run once;
//  - ops that do (the forward and backward passes) run once per micro-batch,
//    on its slice of the inputs;
//  - a tsr.replica_sum adds its operand's m copies, as each micro-batch
//    finishes (one running sum, not m partial gradients kept), then sums over
//    the data-parallel replicas if there are any (dp > 1);
//  - ops that depend on such sums (clipping, the optimizer) run once.
// Micro-batch after micro-batch, so that one micro-batch's activations are
// dead before the next one's are made: each op runs at the latest phase its
// users allow, a phase being what lies between two rounds of sums (a loss
// normalised by the batch's token count needs the count summed over every
// micro-batch before any backward pass: phase 0 counts, phase 1 runs the
// forward and backward passes, phase 2 the optimizer).
//
//===----------------------------------------------------------------------===//

#include "passes/partition/BatchSplit.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <limits>

using namespace mlir;

namespace tessera::partition {

FailureOr<MicroBatchPhases> microBatchPhases(func::FuncOp func) {
  using Kind = MicroBatchPhases::Kind;
  MicroBatchPhases out;
  Block &body = func.getBody().front();
  std::vector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);

  // What each value is: computed once, per micro-batch, or a sum over them,
  // and the first phase it can be ready in (a sum is taken at the start of
  // the phase after its operand's).
  llvm::DenseMap<Value, Kind> kind;
  for (BlockArgument arg : body.getArguments())
    kind[arg] = Kind::PerPart;
  llvm::DenseMap<Value, int> ready;
  llvm::DenseMap<Operation *, int> earliest;
  int last = 0;
  for (Operation *op : ops) {
    int phase = 0;
    bool perPart = false;
    for (Value v : op->getOperands()) {
      phase = std::max(phase, ready.lookup(v));
      perPart |= kind.lookup(v) == Kind::PerPart;
    }
    Kind k = isa<tsr::ReplicaSumOp>(op) ? Kind::Sum : perPart ? Kind::PerPart : Kind::Once;
    if (k == Kind::Sum && !perPart)
      return op->emitError("a sum over the micro-batches of a value that does not depend on "
                           "the batch");
    if (k == Kind::Sum)
      ++phase;
    out.kind[op] = k;
    earliest[op] = phase;
    last = std::max(last, phase);
    for (Value r : op->getResults()) {
      kind[r] = k == Kind::Sum ? Kind::Once : k;
      ready[r] = phase;
    }
  }
  // Every op runs in the latest phase its users allow (an operand of a sum
  // in the phase before the sum is taken): a forward pass whose loss is
  // summed and whose activations the backward pass reads runs with the
  // backward pass, micro-batch by micro-batch, not all micro-batches first.
  for (Operation *op : llvm::reverse(ops)) {
    int latest = last;
    for (Operation *user : op->getUsers())
      if (!isa<func::ReturnOp>(user))
        latest = std::min(latest, out.phase[user] - (out.kind[user] == Kind::Sum ? 1 : 0));
    if (latest < earliest[op])
      return op->emitError("micro-batch phases out of order");
    out.phase[op] = latest;
  }
  out.phases = last + 1;
  return out;
}

LogicalResult accumulateMicroBatches(func::FuncOp func, int64_t m, bool replicaSums) {
  using Kind = MicroBatchPhases::Kind;
  if (m == 1)
    return success();
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  std::vector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  FailureOr<MicroBatchPhases> analysis = microBatchPhases(func);
  if (failed(analysis))
    return failure();
  llvm::DenseMap<Operation *, Kind> &opKind = analysis->kind;
  llvm::DenseMap<Operation *, int> &phaseOf = analysis->phase;
  int phases = analysis->phases;
  llvm::DenseMap<Value, Kind> kind;
  for (BlockArgument arg : body.getArguments())
    kind[arg] = Kind::PerPart;
  for (Operation *op : ops)
    for (Value r : op->getResults())
      kind[r] = opKind[op] == Kind::Sum ? Kind::Once : opKind[op];

  // The new body: the arguments hold m slices each.
  OpBuilder b(func.getContext());
  Block *entry = new Block();
  SmallVector<Type> argTypes;
  for (BlockArgument arg : body.getArguments()) {
    auto type = cast<RankedTensorType>(arg.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[0] *= m;
    argTypes.push_back(type.clone(shape));
    entry->addArgument(argTypes.back(), arg.getLoc());
  }
  b.setInsertionPointToEnd(entry);
  IRMapping once;
  std::vector<IRMapping> part(static_cast<size_t>(m));
  for (auto [arg, whole] : llvm::zip(body.getArguments(), entry->getArguments())) {
    auto type = cast<RankedTensorType>(arg.getType());
    for (int64_t k = 0; k < m; ++k) {
      SmallVector<int64_t> start(size_t(type.getRank()), 0);
      SmallVector<int64_t> limit(type.getShape());
      start[0] = k * type.getShape()[0];
      limit[0] = start[0] + type.getShape()[0];
      Value slice = tsr::SliceOp::create(b, arg.getLoc(), whole, b.getDenseI64ArrayAttr(start),
                                         b.getDenseI64ArrayAttr(limit), nullptr);
      part[size_t(k)].map(arg, slice);
    }
  }
  // The mapping of an operand for micro-batch k.
  auto mapped = [&](IRMapping &mapping, Value v) {
    return mapping.contains(v) ? mapping.lookup(v) : once.lookup(v);
  };
  // Running sums of the replica sums' operands, by sum.
  llvm::DenseMap<Operation *, Value> running;
  for (int phase = 0; phase < phases; ++phase) {
    // Sums finished in the phase before, and what needs only them.
    for (Operation *op : ops) {
      Kind k = opKind[op];
      if (k == Kind::PerPart || phaseOf[op] != phase)
        continue;
      if (k == Kind::Sum) {
        Value total = running.lookup(op);
        if (replicaSums)
          total = tsr::ReplicaSumOp::create(b, op->getLoc(), total);
        once.map(op->getResult(0), total);
      } else {
        b.clone(*op, once);
      }
    }
    // Then the micro-batches, one after the other; each adds its share to
    // the sums of the next phase as soon as it has it.
    for (int64_t k = 0; k < m; ++k) {
      IRMapping &mapping = part[size_t(k)];
      for (Operation *op : ops) {
        if (opKind[op] != Kind::PerPart || phaseOf[op] != phase)
          continue;
        IRMapping local;
        for (Value v : op->getOperands())
          local.map(v, mapped(mapping, v));
        Operation *made = b.clone(*op, local);
        for (auto [r, v] : llvm::zip(op->getResults(), made->getResults()))
          mapping.map(r, v);
        for (Operation *user : op->getUsers())
          if (opKind.lookup(user) == Kind::Sum) {
            Value share = mapping.lookup(user->getOperand(0));
            Value &sum = running[user];
            sum = sum ? tsr::AddOp::create(b, user->getLoc(), sum.getType(), sum, share)
                            .getResult()
                      : share;
          }
      }
    }
  }
  // Results: per-micro-batch ones joined along the batch, the others whole.
  SmallVector<Value> results;
  for (Value v : ret.getOperands()) {
    if (kind.lookup(v) != Kind::PerPart) {
      results.push_back(once.lookup(v));
      continue;
    }
    SmallVector<Value> parts;
    for (int64_t k = 0; k < m; ++k)
      parts.push_back(part[size_t(k)].lookup(v));
    results.push_back(tsr::ConcatOp::create(b, ret.getLoc(), ValueRange(parts),
                                            b.getI64IntegerAttr(0)));
  }
  func::ReturnOp::create(b, ret.getLoc(), results);
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  body.dropAllDefinedValueUses();
  func.getBody().push_back(entry);
  body.erase();
  func.setType(FunctionType::get(func.getContext(), argTypes, resultTypes));
  return success();
}

} // namespace tessera::partition
