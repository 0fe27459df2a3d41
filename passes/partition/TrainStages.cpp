//===- TrainStages.cpp - a training step cut into pipeline passes ---------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/TrainStages.h"
#include "tessera/runtime/Roles.h"
#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"

#include "passes/cost/CostModel.h"
#include "dialects/tsr/IR/TsrOps.h"
#include "passes/partition/BatchSplit.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

#include <climits>
#include <functional>
#include <map>
#include <set>
#include <tuple>

using namespace mlir;

namespace tessera::partition {

namespace {

using Kind = MicroBatchPhases::Kind;

bool isSource(Operation *op) {
  return isa<tsr::WeightOp, tsr::ConstantOp>(op) || op->getNumOperands() == 0;
}

/// What the step's ops are: once or per micro-batch (and in which phase),
/// computable anywhere (weights, constants and what needs only them), live,
/// and part of the forward pass (per-micro-batch ops the loss needs).
struct Analysis {
  std::vector<Operation *> ops;
  llvm::DenseMap<Operation *, size_t> index;
  MicroBatchPhases phases;
  llvm::DenseSet<Operation *> stageless, forward, live;
};

void ancestors(Value root, llvm::DenseSet<Operation *> &into) {
  SmallVector<Operation *> work;
  if (Operation *d = root.getDefiningOp())
    work.push_back(d);
  while (!work.empty()) {
    Operation *op = work.pop_back_val();
    if (!into.insert(op).second)
      continue;
    for (Value v : op->getOperands())
      if (Operation *d = v.getDefiningOp())
        work.push_back(d);
  }
}

FailureOr<Analysis> analyze(func::FuncOp func) {
  Analysis a;
  Block &body = func.getBody().front();
  for (Operation &op : body.without_terminator()) {
    a.index[&op] = a.ops.size();
    a.ops.push_back(&op);
  }
  FailureOr<MicroBatchPhases> phases = microBatchPhases(func);
  if (failed(phases))
    return failure();
  a.phases = std::move(*phases);
  for (Operation *op : a.ops) {
    if (isSource(op)) {
      a.stageless.insert(op);
      continue;
    }
    if (a.phases.kind[op] == Kind::Once &&
        llvm::all_of(op->getOperands(), [&](Value v) {
          Operation *d = v.getDefiningOp();
          return d && a.stageless.contains(d);
        }))
      a.stageless.insert(op);
  }
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (Value v : ret.getOperands())
    ancestors(v, a.live);
  int lossIndex = 0;
  for (unsigned i = 0; i < ret.getNumOperands(); ++i)
    if (auto name = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr); name && name == "loss")
      lossIndex = int(i);
  if (ret.getNumOperands() == 0)
    return func.emitError("pipeline training needs a loss: the step returns nothing"),
           failure();
  llvm::DenseSet<Operation *> lossNeeds;
  ancestors(ret.getOperand(unsigned(lossIndex)), lossNeeds);
  for (Operation *op : lossNeeds)
    if (a.phases.kind[op] == Kind::PerPart)
      a.forward.insert(op);
  if (a.forward.empty())
    return func.emitError("pipeline training: the loss depends on no per-sample op (split "
                          "the batch first: tsr-partition-split-batch)"),
           failure();
  return a;
}

enum Cls { Once = 0, Forward = 1, Backward = 2 };

/// A rank runs its segments by phase; within one, the once segments by
/// level, then the micro-batches' forward and backward passes.
struct SegKey {
  int stage, phase, cls, level;
  bool operator<(const SegKey &o) const {
    return std::tie(stage, phase, cls, level) < std::tie(o.stage, o.phase, o.cls, o.level);
  }
};

struct Segment {
  SegKey key;
  std::vector<Operation *> ops;            ///< its own ops, in program order
  llvm::SetVector<Operation *> cloned;     ///< weights, constants and the like it reads
  llvm::SetVector<Value> inputs;           ///< step inputs and other segments' values
  llvm::SetVector<Value> sent;             ///< its values other segments read
  std::vector<std::pair<Value, unsigned>> results; ///< step results (index into main's)
  std::vector<std::pair<int, Value>> accumulates;  ///< (sum, share): running sums
  llvm::StringSet<> weights;               ///< weights it reads
};

std::string roleOf(const SegKey &k) {
  static const roles::SegmentRole::Kind kinds[] = {roles::SegmentRole::Kind::Once,
                                                    roles::SegmentRole::Kind::Forward,
                                                    roles::SegmentRole::Kind::Backward};
  return roles::SegmentRole{k.phase, kinds[k.cls], k.level}.str();
}

tsr::ShardingAttr sharding(Builder &b, ArrayRef<int64_t> operands, ArrayRef<int64_t> results) {
  return tsr::ShardingAttr::get(b.getContext(), operands, results, 0.0, 0.0, 1.0, false);
}

} // namespace

FailureOr<size_t> trainingForwardEnd(func::FuncOp func) {
  FailureOr<Analysis> a = analyze(func);
  if (failed(a))
    return failure();
  size_t end = 0;
  for (Operation *op : a->forward)
    end = std::max(end, a->index[op] + 1);
  return end;
}

LogicalResult cutTrainingStages(ModuleOp module, func::FuncOp main,
                                const std::vector<size_t> &bounds, int64_t pp, int64_t dp,
                                StringRef recompute) {
  if (recompute != "none" && recompute != "selective" && recompute != "full")
    return main.emitError("recompute must be none, selective or full, not '") << recompute
                                                                               << "'",
           failure();
  FailureOr<Analysis> analysis = analyze(main);
  if (failed(analysis))
    return failure();
  Analysis &a = *analysis;
  if (bounds.size() != size_t(pp) + 1)
    return main.emitError("pipeline training: ") << bounds.size() << " stage bounds for pp=" << pp,
           failure();
  auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
  const int lastPhase = a.phases.phases - 1;

  // The stage of every op that is not computable anywhere.
  llvm::DenseMap<Operation *, int> stageOf;
  auto stageAt = [&](size_t i) {
    int s = 0;
    while (s + 1 < pp && bounds[size_t(s) + 1] <= i)
      ++s;
    return s;
  };
  auto stageOfValue = [&](Value v) {
    Operation *d = v.getDefiningOp();
    auto it = d ? stageOf.find(d) : stageOf.end();
    return it == stageOf.end() ? -1 : it->second;
  };
  // The forward pass first: by position, between the slicer's cuts.
  for (Operation *op : a.ops)
    if (a.forward.contains(op))
      stageOf[op] = stageAt(a.index[op]);
  // The stages where a forward value is made or read by the forward pass.
  auto forwardStages = [&](Value v) {
    std::set<int> stages;
    if (int t = stageOfValue(v); t >= 0)
      stages.insert(t);
    for (Operation *user : v.getUsers())
      if (a.forward.contains(user))
        stages.insert(stageOf[user]);
    return stages;
  };
  // Weights and what is computed from them alone (a transposed weight).
  llvm::DenseSet<Operation *> fromWeight;
  for (Operation *op : a.ops)
    if (isa<tsr::WeightOp>(op) ||
        (a.stageless.contains(op) && llvm::any_of(op->getOperands(), [&](Value v) {
           return fromWeight.contains(v.getDefiningOp());
         })))
      fromWeight.insert(op);
  for (Operation *op : a.ops) {
    if (a.stageless.contains(op) || !a.live.contains(op) || a.forward.contains(op))
      continue;
    Kind k = a.phases.kind[op];
    int s = -1;
    if (k == Kind::Sum) {
      s = stageOfValue(op->getOperand(0));
    } else if (k == Kind::PerPart) {
      // The backward pass: with the forward op it differentiates, on a stage
      // where every activation and weight it reads is made or read by the
      // forward pass (the latest such: a layer's input crosses from the
      // stage before); else by the earliest gradient it reads.
      std::set<int> common;
      bool any = false;
      int earliest = INT_MAX;
      for (Value v : op->getOperands()) {
        Operation *d = v.getDefiningOp();
        if (!d)
          continue;
        if (!a.forward.contains(d) && !fromWeight.contains(d)) {
          // (What runs once - a token count's reciprocal - goes anywhere.)
          if (int t = stageOfValue(v); t >= 0 && a.phases.kind[d] == Kind::PerPart)
            earliest = std::min(earliest, t);
          continue;
        }
        std::set<int> here = forwardStages(v);
        if (here.empty())
          continue;
        if (!any) {
          common = here;
        } else {
          std::set<int> both;
          for (int x : common)
            if (here.count(x))
              both.insert(x);
          common = both;
        }
        any = true;
      }
      // (Never after the stage of a gradient it reads: the backward passes
      // run from the last stage to the first. A weight every stage reads -
      // a rotary table - leaves the choice to the gradient.)
      if (earliest != INT_MAX)
        common.erase(common.upper_bound(earliest), common.end());
      s = !common.empty() ? *common.rbegin() : earliest != INT_MAX ? earliest : -1;
    } else {
      // Once per step (clipping, the optimizer): where its largest operand is.
      double largest = -1;
      for (Value v : op->getOperands()) {
        int t = stageOfValue(v);
        if (t < 0)
          continue;
        double bytes = bytesOf(v);
        if (bytes > largest || (bytes == largest && t > s)) {
          largest = bytes;
          s = t;
        }
      }
    }
    stageOf[op] = s;
  }
  // What reads only step inputs and weights goes with its first reader.
  for (Operation *op : llvm::reverse(a.ops)) {
    auto it = stageOf.find(op);
    if (it == stageOf.end() || it->second >= 0)
      continue;
    int s = INT_MAX;
    for (Operation *user : op->getUsers())
      if (auto j = stageOf.find(user); j != stageOf.end() && j->second >= 0)
        s = std::min(s, j->second);
    it->second = s == INT_MAX ? 0 : s;
  }
  // A running sum lives where its shares are made.
  for (Operation *op : a.ops)
    if (stageOf.count(op) && a.phases.kind[op] == Kind::Sum)
      stageOf[op] = stageOfValue(op->getOperand(0));

  // Segments.
  llvm::DenseMap<Operation *, SegKey> keyOf;
  llvm::DenseMap<Operation *, int> level;
  for (Operation *op : a.ops) {
    auto it = stageOf.find(op);
    if (it == stageOf.end())
      continue;
    int s = it->second, phase = a.phases.phase[op];
    Kind k = a.phases.kind[op];
    if (k == Kind::PerPart) {
      keyOf[op] = {s, phase, a.forward.contains(op) ? Forward : Backward, 0};
      continue;
    }
    int l = 0;
    if (k != Kind::Sum)
      for (Value v : op->getOperands()) {
        Operation *d = v.getDefiningOp();
        if (!d || !keyOf.count(d) || keyOf[d].cls != Once || keyOf[d].phase != phase)
          continue;
        l = std::max(l, level[d] + (keyOf[d].stage != s ? 1 : 0));
      }
    level[op] = l;
    keyOf[op] = {s, phase, Once, l};
  }
  // A pipeline runs micro-batch k's forward passes stage after stage, then
  // its backward passes from the last stage back: what an op reads must come
  // before it in that order.
  for (Operation *op : a.ops) {
    if (!keyOf.count(op) || keyOf[op].cls == Once)
      continue;
    SegKey k = keyOf[op];
    for (Value v : op->getOperands()) {
      Operation *d = v.getDefiningOp();
      if (!d || !keyOf.count(d) || keyOf[d].cls == Once || keyOf[d].phase != k.phase)
        continue;
      SegKey e = keyOf[d];
      bool ok = k.cls == Forward ? e.cls == Forward && e.stage <= k.stage
                                 : e.cls == Forward || e.stage >= k.stage;
      if (!ok)
        return op->emitError("pipeline training: this op of stage ")
                   << k.stage << "'s " << (k.cls == Forward ? "forward" : "backward")
                   << " pass reads a value of stage " << e.stage << "'s "
                   << (e.cls == Forward ? "forward" : "backward")
                   << " pass, which a pipeline runs after it",
               failure();
    }
  }
  std::map<SegKey, Segment> segments;
  llvm::DenseMap<Operation *, Segment *> segmentOf;
  for (Operation *op : a.ops)
    if (keyOf.count(op)) {
      Segment &sg = segments[keyOf[op]];
      sg.key = keyOf[op];
      sg.ops.push_back(op);
      segmentOf[op] = &sg;
    }

  // What each segment reads: weights and the like cloned, the rest given.
  std::function<void(Segment &, Value)> need = [&](Segment &sg, Value v) {
    Operation *d = v.getDefiningOp();
    if (!d) {
      sg.inputs.insert(v);
      return;
    }
    if (segmentOf.lookup(d) == &sg || sg.cloned.contains(d))
      return;
    // Recomputation: the backward pass makes again what its stage's forward
    // pass made (all of it, or all but products) instead of keeping it.
    if (Segment *owner = segmentOf.lookup(d);
        owner && recompute != "none" && sg.key.cls == Backward && owner->key.cls == Forward &&
        owner->key.stage == sg.key.stage && owner->key.phase == sg.key.phase &&
        (recompute == "full" || !isa<tsr::MatmulOp, tsr::AttentionOp>(d))) {
      for (Value operand : d->getOperands())
        need(sg, operand);
      sg.cloned.insert(d);
      return;
    }
    if (a.stageless.contains(d)) {
      for (Value operand : d->getOperands())
        need(sg, operand);
      sg.cloned.insert(d);
      if (auto w = dyn_cast<tsr::WeightOp>(d))
        sg.weights.insert(w.getName());
      return;
    }
    sg.inputs.insert(v);
  };
  std::vector<Operation *> sums;
  for (auto &[key, sg] : segments)
    for (Operation *op : sg.ops) {
      if (a.phases.kind[op] == Kind::Sum) {
        Value share = op->getOperand(0);
        segmentOf[share.getDefiningOp()]->accumulates.push_back({int(sums.size()), share});
        sums.push_back(op);
        continue;
      }
      for (Value v : op->getOperands())
        need(sg, v);
    }
  auto applySegment = [&](int stage) -> Segment & {
    SegKey key{stage, lastPhase, Once, 1 << 20};
    Segment &sg = segments[key];
    sg.key = key;
    return sg;
  };
  // Results: what the step returns comes from the segment that computes it.
  std::vector<unsigned> updates;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    if (main.getResultAttr(unsigned(i), mlir::tsr::kUpdatesAttr)) {
      updates.push_back(unsigned(i));
      continue;
    }
    Operation *d = v.getDefiningOp();
    Segment *target = d ? segmentOf.lookup(d) : nullptr;
    if (target && target->key.cls != Once)
      return main.emitError("pipeline training: result ")
                 << i << " is computed per micro-batch (a training step returns its loss "
                    "and what is updated)",
             failure();
    if (!target)
      target = &applySegment(0);
    target->results.push_back({v, unsigned(i)});
    need(*target, v);
  }
  // State: each stage that reads a weight (or computes its new value) keeps
  // it and writes the new value once every segment that reads it has run.
  std::set<std::pair<unsigned, int>> placed;
  for (bool changed = true; changed;) {
    changed = false;
    for (unsigned i : updates) {
      StringRef name = main.getResultAttrOfType<StringAttr>(i, mlir::tsr::kUpdatesAttr).getValue();
      Value v = ret.getOperand(i);
      Operation *d = v.getDefiningOp();
      std::set<int> holders;
      for (auto &[key, sg] : segments)
        if (sg.weights.contains(name))
          holders.insert(key.stage);
      Segment *producer = d ? segmentOf.lookup(d) : nullptr;
      if (producer)
        holders.insert(producer->key.stage);
      for (int h : holders) {
        if (!placed.insert({i, h}).second)
          continue;
        changed = true;
        // The segment that computes it, if no later one on the stage reads
        // the weight; else a segment that runs last.
        Segment *target = producer && producer->key.stage == h && producer->key.cls == Once &&
                                  producer->key.phase == lastPhase
                              ? producer
                              : nullptr;
        if (!target && !producer)
          for (auto &[key, sg] : segments)
            if (key.stage == h && key.cls == Once && key.phase == lastPhase)
              target = &sg;
        if (target)
          for (auto &[key, sg] : segments)
            if (key.stage == h && target->key < key && sg.weights.contains(name))
              target = nullptr;
        if (!target)
          target = &applySegment(h);
        target->results.push_back({v, i});
        need(*target, v);
      }
    }
  }
  // Values that cross segments are named and sent.
  llvm::DenseMap<Value, int> crossId;
  for (auto &[key, sg] : segments)
    for (Value v : sg.inputs)
      if (Operation *d = v.getDefiningOp()) {
        segmentOf[d]->sent.insert(v);
        crossId.try_emplace(v, int(crossId.size()));
      }

  // The functions.
  llvm::StringMap<Operation *> weightOps;
  for (Operation *op : a.ops)
    if (auto w = dyn_cast<tsr::WeightOp>(op); w && !w.getOffsets())
      weightOps.try_emplace(w.getName(), op);
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  auto plan = main->getAttrOfType<DictionaryAttr>(mlir::tsr::kPlanAttr);
  if (!plan)
    return main.emitError("pipeline training cuts a planned step (run tsr-partition-search "
                          "first)"),
           failure();
  int64_t tp = 1;
  if (auto t = plan.getAs<IntegerAttr>("tp"))
    tp = t.getInt();
  NamedAttrList planFields(plan);
  planFields.set("grid", b.getDenseI64ArrayAttr({dp, pp, tp}));
  planFields.set("tp_axis", b.getI64IntegerAttr(2));
  DictionaryAttr stagePlan = planFields.getDictionary(ctx);
  auto argName = [&](Value v) -> StringAttr {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (auto n = main.getArgAttrOfType<StringAttr>(arg.getArgNumber(), mlir::tsr::kNameAttr))
        return n;
      return b.getStringAttr("input" + std::to_string(arg.getArgNumber()));
    }
    return b.getStringAttr(roles::valueName(crossId.lookup(v)));
  };
  auto accLayout = [&](Operation *sum) -> int64_t {
    auto layouts = sum->getAttrOfType<tsr::ShardingAttr>(mlir::tsr::kShardingAttr);
    if (!layouts || layouts.getResults().size() != 1 ||
        layouts.getResults()[0] == tsr::ShardingAttr::kPartial)
      return tsr::ShardingAttr::kReplicated;
    return layouts.getResults()[0];
  };
  b.setInsertionPoint(main);
  std::map<int, int> perStage;
  for (auto &[key, sg] : segments) {
    SmallVector<Type> inTypes;
    for (Value v : sg.inputs)
      inTypes.push_back(v.getType());
    std::string name =
        "stage" + std::to_string(key.stage) + "." + std::to_string(perStage[key.stage]++);
    auto func = func::FuncOp::create(b, main.getLoc(), name, b.getFunctionType(inTypes, {}));
    Block *entry = func.addEntryBlock();
    IRMapping map;
    for (auto [i, v] : llvm::enumerate(sg.inputs)) {
      map.map(v, entry->getArgument(unsigned(i)));
      func.setArgAttr(unsigned(i), mlir::tsr::kNameAttr, argName(v));
      if (auto arg = dyn_cast<BlockArgument>(v)) // a batch-sized constant the package holds
        if (Attribute held = main.getArgAttr(arg.getArgNumber(), mlir::tsr::kHeldAttr))
          func.setArgAttr(unsigned(i), mlir::tsr::kHeldAttr, held);
    }
    OpBuilder body = OpBuilder::atBlockEnd(entry);
    for (Operation *op : sg.cloned)
      body.clone(*op, map);
    auto accumulator = [&](Operation *sum, int index) {
      auto w = tsr::WeightOp::create(body, sum->getLoc(), sum->getResult(0).getType(),
                                     body.getStringAttr(roles::accumulatorName(index)),
                                     nullptr, body.getUnitAttr());
      w->setAttr(mlir::tsr::kShardingAttr, sharding(body, {}, {accLayout(sum)}));
      return w.getResult();
    };
    for (Operation *op : sg.ops) {
      if (a.phases.kind[op] != Kind::Sum) {
        body.clone(*op, map);
        continue;
      }
      int index = int(llvm::find(sums, op) - sums.begin());
      Value total = accumulator(op, index);
      if (dp > 1) {
        // The sum over the data-parallel replicas.
        auto all = tsr::ReplicaSumOp::create(body, op->getLoc(), total);
        all->setAttr(mlir::tsr::kShardingAttr, sharding(body, {accLayout(op)}, {accLayout(op)}));
        total = all.getResult();
      }
      map.map(op->getResult(0), total);
    }
    // A segment that writes a weight holds it (received values need a home).
    for (auto [v, i] : sg.results)
      if (auto name = main.getResultAttrOfType<StringAttr>(i, mlir::tsr::kUpdatesAttr);
          name && !sg.weights.contains(name.getValue()))
        if (Operation *w = weightOps.lookup(name.getValue())) {
          body.clone(*w);
          sg.weights.insert(name.getValue());
        }
    SmallVector<Value> results;
    SmallVector<DictionaryAttr> resultAttrs;
    for (Value v : sg.sent) {
      results.push_back(map.lookup(v));
      resultAttrs.push_back(
          b.getDictionaryAttr(b.getNamedAttr(mlir::tsr::kNameAttr, argName(v))));
    }
    for (auto [v, i] : sg.results) {
      results.push_back(map.lookup(v));
      resultAttrs.push_back(main.getResultAttrDict(i) ? main.getResultAttrDict(i)
                                                      : b.getDictionaryAttr({}));
    }
    for (auto [index, share] : sg.accumulates) {
      Operation *sum = sums[size_t(index)];
      Value acc = accumulator(sum, index);
      int64_t l = accLayout(sum);
      auto add = tsr::AddOp::create(body, sum->getLoc(), acc.getType(), acc, map.lookup(share));
      add->setAttr(mlir::tsr::kShardingAttr, sharding(body, {l, l}, {l}));
      std::string state = roles::accumulatorName(index);
      results.push_back(add.getResult());
      resultAttrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr(roles::updateName(state))),
           b.getNamedAttr(mlir::tsr::kUpdatesAttr, b.getStringAttr(state))}));
    }
    func::ReturnOp::create(body, main.getLoc(), results);
    SmallVector<Type> outTypes;
    for (Value v : results)
      outTypes.push_back(v.getType());
    func.setType(b.getFunctionType(inTypes, outTypes));
    for (auto [i, attrs] : llvm::enumerate(resultAttrs))
      func.setResultAttrs(unsigned(i), attrs);
    func->setAttr(mlir::tsr::kPlanAttr, stagePlan);
    func->setAttr(mlir::tsr::kStageAttr, b.getI64IntegerAttr(key.stage));
    func->setAttr(mlir::tsr::kSegmentAttr, b.getStringAttr(roleOf(key)));
  }
  main.erase();
  module->setAttr(mlir::tsr::kPipelineStagesAttr, b.getI64IntegerAttr(pp));
  return success();
}

} // namespace tessera::partition
