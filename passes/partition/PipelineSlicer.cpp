//===- PipelineSlicer.cpp - cutting a model into pipeline stages ----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/PipelineSlicer.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace tessera;
using namespace tessera::partition;

namespace {

bool isSource(Operation *op) {
  return op && (isa<tsr::WeightOp, tsr::ConstantOp>(op) || op->getNumOperands() == 0);
}

/// The body's ops without the terminator, and each value's definition and
/// last use positions (arguments are defined at -1, the return uses at N).
struct Positions {
  std::vector<Operation *> ops;
  llvm::DenseMap<Operation *, size_t> index;
  mutable func::FuncOp func;
  /// A training step is cut in its forward pass, ops [0, limit): uses
  /// after it (the backward pass's reads, kept by the stage) do not cross.
  bool limited = false;
  explicit Positions(func::FuncOp func, size_t limit = SIZE_MAX) : func(func) {
    for (Operation &op : func.getBody().front().without_terminator()) {
      if (ops.size() >= limit) {
        limited = true;
        break;
      }
      index[&op] = ops.size();
      ops.push_back(&op);
    }
  }
  /// Whether result `i` updates state (a KV cache, optimizer state): the
  /// stage that computes it keeps it; it never travels to the last stage.
  bool isStateResult(unsigned i) const {
    return bool(func.getResultAttr(i, mlir::tsr::kUpdatesAttr));
  }
  size_t size() const { return ops.size(); }
  int64_t defined(Value v) const {
    Operation *def = v.getDefiningOp();
    return def ? int64_t(index.lookup(def)) : -1;
  }
  int64_t lastUse(Value v) const {
    int64_t last = -1;
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (isa<func::ReturnOp>(user) && isStateResult(use.getOperandNumber()))
        continue;
      if (limited && (isa<func::ReturnOp>(user) || !index.count(user)))
        continue;
      last = std::max<int64_t>(last, isa<func::ReturnOp>(user) ? int64_t(ops.size())
                                                               : int64_t(index.lookup(user)));
    }
    return last;
  }
};

/// Values defined before `c` and used at or after it, in definition order;
/// weights and constants are cloned instead of sent.
std::vector<Value> crossing(func::FuncOp func, const Positions &p, size_t c) {
  std::vector<Value> values;
  for (BlockArgument arg : func.getArguments())
    if (p.lastUse(arg) >= int64_t(c))
      values.push_back(arg);
  for (size_t i = 0; i < c && i < p.size(); ++i) {
    if (isSource(p.ops[i]))
      continue;
    for (Value r : p.ops[i]->getResults())
      if (p.lastUse(r) >= int64_t(c))
        values.push_back(r);
  }
  return values;
}

/// Bytes crossing every position 0..N (a difference array over live ranges).
std::vector<double> crossingBytes(func::FuncOp func, const Positions &p) {
  std::vector<double> delta(p.size() + 2, 0.0);
  auto add = [&](Value v) {
    int64_t from = p.defined(v) + 1, to = p.lastUse(v); // crosses c in [from, to]
    if (to < from || !isa<RankedTensorType>(v.getType()))
      return;
    delta[size_t(from)] += bytesOf(v);
    delta[size_t(to) + 1] -= bytesOf(v);
  };
  for (BlockArgument arg : func.getArguments())
    add(arg);
  for (Operation *op : p.ops)
    if (!isSource(op))
      for (Value r : op->getResults())
        add(r);
  std::vector<double> bytes(p.size() + 1, 0.0);
  double running = 0;
  for (size_t c = 0; c <= p.size(); ++c) {
    running += delta[c];
    bytes[c] = running;
  }
  return bytes;
}

/// Layer boundaries among the positions, given the bytes crossing each.
std::vector<size_t> boundaries(const Positions &p, const std::vector<double> &bytes) {
  size_t n = p.size();
  if (n < 4)
    return {};
  // Layer boundaries carry the least: the minimum over the middle half is
  // what crosses between two layers (the residual stream and the masks).
  double least = std::numeric_limits<double>::infinity();
  for (size_t c = n / 4; c <= 3 * n / 4; ++c)
    least = std::min(least, bytes[c]);
  std::vector<size_t> cuts;
  for (size_t c = 1; c < n; ++c) {
    if (bytes[c] > least * 1.001 || isSource(p.ops[c]))
      continue;
    // Weights are cloned into the stages that use them, so a cut never
    // sits before one: each layer boundary gives one position.
    cuts.push_back(c);
  }
  return cuts;
}

} // namespace

std::vector<size_t> tessera::partition::candidateCuts(func::FuncOp func) {
  Positions p(func);
  return boundaries(p, crossingBytes(func, p));
}

FailureOr<PipelineStages>
tessera::partition::sliceStages(func::FuncOp func, const ShardingPlan &plan, int64_t pp,
                                const CostModel &cost, double memoryCap,
                                std::string &error, bool even, size_t forwardEnd,
                                llvm::ArrayRef<size_t> given) {
  Positions p(func, forwardEnd);
  size_t n = p.size();
  if (!given.empty()) {
    bool fits = int64_t(given.size()) == pp + 1 && given.front() == 0 && given.back() == n;
    for (size_t i = 1; fits && i < given.size(); ++i)
      fits = given[i] > given[i - 1];
    if (!fits) {
      error = "the plan's " + std::to_string(given.size()) + " stage bounds do not cut the " +
              std::to_string(n) + " ops of @" + func.getName().str() + " into " +
              std::to_string(pp) + " stages";
      return failure();
    }
  }
  std::vector<double> bytes = crossingBytes(func, p);
  std::vector<size_t> points = {0};
  for (size_t c : boundaries(p, bytes))
    points.push_back(c);
  points.push_back(n);
  if (int64_t(points.size()) - 1 < pp) {
    error = "the model has " + std::to_string(points.size() - 1) +
            " layer boundaries, too few for " + std::to_string(pp) + " stages";
    return failure();
  }
  // Prefix sums of op time and weight bytes.
  std::vector<double> time(n + 1, 0.0), weights(n + 1, 0.0);
  std::vector<size_t> work(n + 1, 0); // ops that compute (a stage needs one)
  for (size_t i = 0; i < n; ++i) {
    time[i + 1] = time[i] + plan.opSeconds.lookup(p.ops[i]);
    weights[i + 1] = weights[i] + plan.opWeightBytes.lookup(p.ops[i]);
    work[i + 1] = work[i] + (isSource(p.ops[i]) ? 0 : 1);
  }
  // Sources used by a stage are cloned into it: count a weight in every
  // stage that uses it (embeddings tied to the LM head are in two).
  auto stageWeights = [&](size_t begin, size_t end) {
    double bytes = 0;
    llvm::SmallPtrSet<Operation *, 16> seen;
    for (size_t i = begin; i < end; ++i)
      for (Value operand : p.ops[i]->getOperands())
        if (Operation *def = operand.getDefiningOp();
            def && isSource(def) && p.index.lookup(def) < begin && seen.insert(def).second)
          bytes += plan.opWeightBytes.lookup(def);
    return weights[end] - weights[begin] + bytes;
  };
  int64_t perReplica = plan.tp * pp;
  bool across = cost.cluster().spansNodes(perReplica);
  auto send = [&](size_t c) {
    return c >= n ? 0.0
                  : cost.collectiveSeconds(Collective::SendRecv, bytes[c], 2, across);
  };
  // best[k][j]: the least bottleneck of k stages covering ops [0, points[j]).
  size_t m = points.size();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(size_t(pp) + 1, std::vector<double>(m, inf));
  std::vector<std::vector<size_t>> from(size_t(pp) + 1, std::vector<size_t>(m, 0));
  best[0][0] = 0;
  for (int64_t k = 1; k <= pp && given.empty(); ++k)
    for (size_t j = 1; j < m; ++j)
      for (size_t i = 0; i < j; ++i) {
        if (!std::isfinite(best[size_t(k - 1)][i]))
          continue;
        // Prefix sums keep the program quadratic; a weight a stage clones
        // from an earlier one (a tied embedding) is added in the report.
        if (weights[points[j]] - weights[points[i]] > memoryCap ||
            work[points[j]] == work[points[i]])
          continue;
        double step = std::max(best[size_t(k - 1)][i],
                               time[points[j]] - time[points[i]] + send(points[j]));
        if (step < best[size_t(k)][j]) {
          best[size_t(k)][j] = step;
          from[size_t(k)][j] = i;
        }
      }
  std::vector<size_t> bounds(given.begin(), given.end());
  if (bounds.empty() && even) {
    // Megatron: boundaries spread evenly, whatever the stages cost.
    for (int64_t k = 1; k <= pp; ++k) {
      size_t j = size_t(std::llround(double(k) * double(m - 1) / double(pp)));
      size_t i = size_t(std::llround(double(k - 1) * double(m - 1) / double(pp)));
      from[size_t(k)][j] = i;
      best[size_t(k)][j] = std::max(k == 1 ? 0.0 : best[size_t(k - 1)][i],
                                    time[points[j]] - time[points[i]] + send(points[j]));
    }
  }
  PipelineStages stages;
  if (bounds.empty()) {
    if (!std::isfinite(best[size_t(pp)][m - 1])) {
      error = "no cut into " + std::to_string(pp) +
              " stages fits every stage's weights in the device memory";
      return failure();
    }
    bounds = {n};
    for (size_t k = size_t(pp), j = m - 1; k > 0; --k) {
      j = from[k][j];
      bounds.push_back(points[j]);
    }
    std::reverse(bounds.begin(), bounds.end());
  }
  // The slowest stage with its send: one pipeline step (what the dynamic
  // programme minimised; for given bounds, their figure).
  stages.bounds = bounds;
  for (int64_t s = 0; s < pp; ++s) {
    size_t b = bounds[size_t(s)], e = bounds[size_t(s) + 1];
    stages.stepSeconds = std::max(stages.stepSeconds, time[e] - time[b] + send(e));
    stages.stageSeconds.push_back(time[e] - time[b]);
    stages.sendSeconds.push_back(send(e));
    stages.sendBytes.push_back(e < n ? bytes[e] : 0.0);
    stages.weightBytes.push_back(stageWeights(b, e));
  }
  return stages;
}

OwningOpRef<ModuleOp> tessera::partition::extractStage(func::FuncOp func, size_t begin,
                                                       size_t end) {
  Positions p(func);
  MLIRContext *ctx = func.getContext();
  OpBuilder b(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(func.getLoc());
  if (auto parent = func->getParentOfType<ModuleOp>())
    for (NamedAttribute a : parent->getAttrs())
      if (a.getName() != SymbolTable::getSymbolAttrName())
        (*module)->setAttr(a.getName(), a.getValue());
  auto name = [&](Value v) -> StringAttr {
    if (auto arg = dyn_cast<BlockArgument>(v))
      if (auto n = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), mlir::tsr::kNameAttr))
        return n;
    if (auto arg = dyn_cast<BlockArgument>(v))
      return b.getStringAttr("input" + std::to_string(arg.getArgNumber()));
    auto result = cast<OpResult>(v);
    return b.getStringAttr("pipe." + std::to_string(p.index.lookup(result.getOwner())) +
                           "." + std::to_string(result.getResultNumber()));
  };
  std::vector<Value> inputs;
  if (begin == 0)
    for (BlockArgument arg : func.getArguments())
      inputs.push_back(arg);
  else
    inputs = crossing(func, p, begin);
  std::vector<Value> outputs;
  std::vector<int> resultOf; // the main result each output is, or -1 (sent on)
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  if (end < p.size())
    for (Value v : crossing(func, p, end)) {
      outputs.push_back(v);
      resultOf.push_back(-1);
    }
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    // The last stage returns the results; state updates come from the
    // stage that computes them.
    int64_t at = p.defined(v);
    bool mine = p.isStateResult(unsigned(i))
                    ? at >= int64_t(begin) && (at < int64_t(end) || end >= p.size())
                    : end >= p.size();
    if (mine) {
      outputs.push_back(v);
      resultOf.push_back(int(i));
    }
  }
  SmallVector<Type> inTypes, outTypes;
  for (Value v : inputs)
    inTypes.push_back(v.getType());
  for (Value v : outputs)
    outTypes.push_back(v.getType());
  b.setInsertionPointToEnd(module->getBody());
  auto main = func::FuncOp::create(b, func.getLoc(), "main",
                                   b.getFunctionType(inTypes, outTypes));
  Block *entry = main.addEntryBlock();
  IRMapping map;
  for (auto [i, v] : llvm::enumerate(inputs)) {
    map.map(v, entry->getArgument(unsigned(i)));
    main.setArgAttr(unsigned(i), mlir::tsr::kNameAttr, name(v));
    // A batch-sized constant the package holds, at the first stage (later
    // stages receive it like any value).
    if (auto arg = dyn_cast<BlockArgument>(v); arg && begin == 0)
      if (Attribute held = func.getArgAttr(arg.getArgNumber(), mlir::tsr::kHeldAttr))
        main.setArgAttr(unsigned(i), mlir::tsr::kHeldAttr, held);
  }
  b.setInsertionPointToEnd(entry);
  auto clone = [&](Operation *op) {
    for (Value operand : op->getOperands())
      if (!map.contains(operand)) {
        Operation *def = operand.getDefiningOp();
        if (def && isSource(def)) // a weight or constant of another stage
          b.clone(*def, map);
      }
    b.clone(*op, map);
  };
  for (size_t i = begin; i < end && i < p.size(); ++i)
    if (!isSource(p.ops[i]))
      clone(p.ops[i]);
  SmallVector<Value> results;
  for (auto [i, v] : llvm::enumerate(outputs)) {
    if (!map.contains(v) && v.getDefiningOp() && isSource(v.getDefiningOp()))
      b.clone(*v.getDefiningOp(), map);
    results.push_back(map.lookup(v));
    if (resultOf[i] >= 0) {
      for (StringRef attr : {mlir::tsr::kNameAttr, mlir::tsr::kUpdatesAttr})
        if (auto n = func.getResultAttrOfType<StringAttr>(unsigned(resultOf[i]), attr))
          main.setResultAttr(unsigned(i), attr, n);
    } else {
      main.setResultAttr(unsigned(i), mlir::tsr::kNameAttr, name(v));
    }
  }
  func::ReturnOp::create(b, func.getLoc(), results);
  return module;
}
