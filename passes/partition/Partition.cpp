//===- Partition.cpp - tensor-parallel search and SPMD programs -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/Partition.h"
#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"
#include "passes/partition/ShardingProblem.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/GlobPattern.h"

#include <chrono>
#include <cmath>

using namespace mlir;
using namespace tessera;
using namespace tessera::partition;

namespace {

//===----------------------------------------------------------------------===//
// Fused projections
//===----------------------------------------------------------------------===//

/// A block of `weight` (itself possibly a block) of type `type`, starting
/// `shift` further along dimension `dim`.
Value weightBlock(OpBuilder &b, tsr::WeightOp weight, RankedTensorType type, int64_t dim,
                  int64_t shift) {
  auto whole = cast<RankedTensorType>(weight.getResult().getType());
  SmallVector<int64_t> offsets(whole.getRank(), 0);
  if (auto old = weight.getOffsets())
    offsets.assign(old->begin(), old->end());
  offsets[size_t(dim)] += shift;
  return tsr::WeightOp::create(b, weight.getLoc(), type, weight.getNameAttr(),
                               b.getDenseI64ArrayAttr(offsets), weight.getZerosAttr());
}

/// `v` restricted to columns [begin, begin + size) of its last dimension,
/// rebuilt from the weight up; null when the chain is not one we can cut.
Value sliceColumns(OpBuilder &b, Value v, int64_t begin, int64_t size,
                   bool &sawMatmul) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<int64_t> shape(type.getShape());
  if (shape.empty())
    return {};
  shape.back() = size;
  auto sliced = RankedTensorType::get(shape, type.getElementType());
  Operation *def = v.getDefiningOp();
  if (!def)
    return {};
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfter(def);
  if (auto w = dyn_cast<tsr::WeightOp>(def))
    return weightBlock(b, w, sliced, type.getRank() - 1, begin);
  if (!v.hasOneUse())
    return {};
  if (auto mm = dyn_cast<tsr::MatmulOp>(def)) {
    if (mm.getTransposeRhs() || !mm.getRhs().getDefiningOp<tsr::WeightOp>())
      return {};
    Value rhs = sliceColumns(b, mm.getRhs(), begin, size, sawMatmul);
    if (!rhs)
      return {};
    sawMatmul = true;
    b.setInsertionPointAfter(def);
    return tsr::MatmulOp::create(b, mm.getLoc(), sliced, mm.getLhs(), rhs,
                                 mm.getTransposeLhsAttr(), mm.getTransposeRhsAttr());
  }
  if (auto add = dyn_cast<tsr::AddOp>(def)) {
    SmallVector<Value> operands;
    for (Value operand : add->getOperands()) {
      auto t = cast<RankedTensorType>(operand.getType());
      if (t.getRank() == 0 || t.getShape().back() == 1) {
        operands.push_back(operand);
        continue;
      }
      Value s = sliceColumns(b, operand, begin, size, sawMatmul);
      if (!s)
        return {};
      operands.push_back(s);
    }
    b.setInsertionPointAfter(def);
    return tsr::AddOp::create(b, add.getLoc(), sliced, operands[0], operands[1]);
  }
  if (auto reshape = dyn_cast<tsr::ReshapeOp>(def)) {
    auto in = cast<RankedTensorType>(reshape.getInput().getType());
    if (in.getRank() == 0 || in.getShape().back() != type.getShape().back())
      return {};
    Value s = sliceColumns(b, reshape.getInput(), begin, size, sawMatmul);
    if (!s)
      return {};
    b.setInsertionPointAfter(def);
    return tsr::ReshapeOp::create(b, reshape.getLoc(), sliced, s);
  }
  return {};
}

/// Erases `op` and the producers that become dead.
void eraseDead(Operation *op) {
  SmallVector<Operation *> work{op};
  while (!work.empty()) {
    Operation *o = work.pop_back_val();
    if (!o->use_empty() || isa<func::ReturnOp>(o))
      continue;
    SmallVector<Operation *> producers;
    for (Value operand : o->getOperands())
      if (Operation *def = operand.getDefiningOp())
        producers.push_back(def);
    o->erase();
    for (Operation *p : producers)
      work.push_back(p);
  }
}

//===----------------------------------------------------------------------===//
// The search
//===----------------------------------------------------------------------===//

/// Seconds to move `value` from layout `from` to `to` on the tp axis.
double reshardSeconds(Value value, Layout from, Layout to, int64_t tp,
                      const CostModel &cost) {
  if (from == to)
    return 0;
  if (to == kPartial || to == kPartialMax)
    return kInfeasible;
  double bytes = bytesOf(value);
  bool across = cost.cluster().spansNodes(tp);
  double copy = bytes / double(tp) / cost.cluster().device.memoryBandwidth;
  int group = int(tp);
  if (from == kReplicated)
    return copy; // a local slice
  if (from == kPartial)
    return to == kReplicated
               ? cost.collectiveSeconds(Collective::AllReduce, bytes, group, across)
               : cost.collectiveSeconds(Collective::ReduceScatter, bytes, group, across);
  if (from == kPartialMax) // an all-reduce (max), then a slice
    return cost.collectiveSeconds(Collective::AllReduce, bytes, group, across) +
           (to == kReplicated ? 0 : copy);
  double gather = cost.collectiveSeconds(Collective::AllGather, bytes, group, across);
  return to == kReplicated ? gather : gather + copy;
}

} // namespace

unsigned tessera::partition::splitFusedProjections(func::FuncOp func) {
  SmallVector<tsr::SplitOp> splits;
  func.walk([&](tsr::SplitOp s) { splits.push_back(s); });
  unsigned rewritten = 0;
  OpBuilder b(func.getContext());
  for (tsr::SplitOp split : splits) {
    auto type = cast<RankedTensorType>(split.getInput().getType());
    if (split.getAxis() != type.getRank() - 1 &&
        split.getAxis() != -1)
      continue;
    SmallVector<Value> pieces;
    int64_t begin = 0;
    bool ok = true;
    // Only when the split is the sole user: otherwise the fused value stays.
    if (!split.getInput().hasOneUse())
      continue;
    for (int64_t size : split.getSizes()) {
      bool sawMatmul = false;
      Value piece = sliceColumns(b, split.getInput(), begin, size, sawMatmul);
      // sliceColumns refuses values with other uses; the input's one use is
      // the split itself, which is why the check above comes first.
      if (!piece || !sawMatmul) {
        ok = false;
        if (piece)
          eraseDead(piece.getDefiningOp());
        break;
      }
      pieces.push_back(piece);
      begin += size;
    }
    if (!ok) {
      for (Value p : pieces)
        eraseDead(p.getDefiningOp());
      continue;
    }
    for (auto [result, piece] : llvm::zip(split.getResults(), pieces))
      result.replaceAllUsesWith(piece);
    eraseDead(split);
    ++rewritten;
  }
  return rewritten;
}

/// Whether the weight-layout hint `pattern` (a weight's name or a glob
/// pattern of names) covers the weight `name`.
static bool hintMatches(StringRef pattern, StringRef name) {
  if (pattern == name)
    return true;
  llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
  if (!glob) {
    llvm::consumeError(glob.takeError());
    return false;
  }
  return glob->match(name);
}

FailureOr<ShardingPlan>
tessera::partition::searchSharding(func::FuncOp func, const CostModel &cost,
                                   const PartitionOptions &options) {
  auto start = std::chrono::steady_clock::now();
  ShardingPlan plan;
  plan.dp = options.dp;
  plan.tp = options.tp;
  plan.grid = {options.dp, options.tp};
  plan.tpAxis = 1;
  RuleOptions rules{options.tp, options.splitWeights};
  Block &body = func.getBody().front();

  // Nodes: block arguments (replicated), ops, and the return (replicated).
  ShardingProblem problem;
  problem.memoryCap = options.memoryCap;
  std::vector<Operation *> ops, owners; // owner: the op a node's costs belong to
  std::vector<std::vector<Strategy>> strategies;
  llvm::DenseMap<Value, std::pair<unsigned, unsigned>> producer;
  for (BlockArgument arg : body.getArguments()) {
    producer[arg] = {unsigned(problem.nodes.size()), 0};
    problem.nodes.push_back({{0.0}, {0.0}});
    Strategy s;
    s.results = {kReplicated};
    ops.push_back(nullptr);
    owners.push_back(nullptr);
    strategies.push_back({s});
  }
  for (Operation &op : body) {
    unsigned node = unsigned(problem.nodes.size());
    std::vector<Strategy> list;
    if (isa<func::ReturnOp>(op)) {
      Strategy s;
      s.operands.assign(op.getNumOperands(), kReplicated);
      list.push_back(s);
    } else {
      list = strategiesFor(&op, rules);
    }
    ShardingProblem::Node n;
    OpWork work = workOf(&op);
    std::string dtype = computeTypeOf(&op);
    if (auto weight = dyn_cast<tsr::WeightOp>(op)) {
      // Hints name a weight or a glob pattern of names ("*.mlp.fc.weight"):
      // the exact name first, else the first pattern that matches.
      auto hint = options.hints.find(weight.getName().str());
      if (hint == options.hints.end())
        hint = llvm::find_if(options.hints, [&](const auto &h) {
          return hintMatches(h.first, weight.getName());
        });
      if (hint != options.hints.end()) {
        std::vector<Strategy> kept;
        for (const Strategy &s : list)
          if (layoutName(s.results[0]) == hint->second)
            kept.push_back(s);
        // Replicated is always a layout of a weight (the search leaves it out
        // of a matrix's choices when splits exist; a hint may ask for it).
        if (kept.empty() && hint->second == layoutName(kReplicated)) {
          Strategy whole;
          whole.results = {kReplicated};
          kept.push_back(whole);
        }
        if (kept.empty())
          return weight.emitError("hint '")
                     << hint->first << "=" << hint->second << "' is not a layout of "
                     << weight.getResult().getType() << " at tp=" << options.tp
                     << " (a split dimension must divide by tp)",
                 failure();
        list = kept;
      }
      for (const Strategy &s : list) {
        double bytes = bytesOf(weight.getResult());
        n.time.push_back(0);
        n.memory.push_back(s.results[0] >= 0 ? bytes / double(options.tp) : bytes);
      }
    } else {
      for (const Strategy &s : list) {
        OpWork local{work.flops * s.share, work.bytes * s.share};
        n.time.push_back(isa<func::ReturnOp>(op) ? 0 : cost.computeSeconds(local, dtype));
        n.memory.push_back(0);
      }
    }
    for (auto [i, result] : llvm::enumerate(op.getResults()))
      producer[result] = {node, unsigned(i)};
    // Edges from each operand's producer.
    for (auto [j, operand] : llvm::enumerate(op.getOperands())) {
      auto [from, index] = producer.lookup(operand);
      ShardingProblem::Edge e;
      e.from = from;
      e.to = node;
      const std::vector<Strategy> &src = strategies[from];
      e.cost.assign(src.size(), std::vector<double>(list.size()));
      for (size_t s = 0; s < src.size(); ++s)
        for (size_t t = 0; t < list.size(); ++t)
          e.cost[s][t] = reshardSeconds(operand, src[s].results[index],
                                        list[t].operands[j], options.tp, cost);
      problem.edges.push_back(std::move(e));
    }
    problem.nodes.push_back(std::move(n));
    ops.push_back(&op);
    owners.push_back(&op);
    strategies.push_back(std::move(list));
    // A value with several users is converted once: a layout node between
    // the producer and its users chooses the layout it is delivered in, so
    // that an all-reduce feeding three users is paid once, not three times.
    for (auto [i, result] : llvm::enumerate(op.getResults())) {
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || result.hasOneUse() || result.use_empty() || options.tp == 1)
        continue;
      std::vector<Strategy> layouts;
      auto addLayout = [&](Layout l) {
        Strategy st;
        st.operands = {l};
        st.results = {l};
        layouts.push_back(st);
      };
      addLayout(kReplicated);
      if (isa<FloatType>(type.getElementType()))
        addLayout(kPartial);
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.getShape()[size_t(d)] >= options.tp &&
            type.getShape()[size_t(d)] % options.tp == 0)
          addLayout(Layout(d));
      unsigned layoutNode = unsigned(problem.nodes.size());
      ShardingProblem::Edge e;
      e.from = node;
      e.to = layoutNode;
      const std::vector<Strategy> &src = strategies[node];
      e.cost.assign(src.size(), std::vector<double>(layouts.size()));
      for (size_t s = 0; s < src.size(); ++s)
        for (size_t t = 0; t < layouts.size(); ++t)
          e.cost[s][t] = reshardSeconds(result, src[s].results[i], layouts[t].results[0],
                                        options.tp, cost);
      problem.edges.push_back(std::move(e));
      problem.nodes.push_back({std::vector<double>(layouts.size(), 0.0),
                               std::vector<double>(layouts.size(), 0.0)});
      ops.push_back(nullptr);
      owners.push_back(&op);
      strategies.push_back(std::move(layouts));
      producer[result] = {layoutNode, 0};
    }
  }

  std::string error = "more assignments than enumeration allows";
  std::optional<ShardingSolution> solution =
      options.exhaustive ? solveShardingByEnumeration(problem)
                         : solveSharding(problem, error);
  if (!solution)
    return func.emitError("no tensor-parallel plan for tp=")
               << options.tp << ": " << error,
           failure();
  for (size_t n = 0; n < ops.size(); ++n) {
    if (!ops[n])
      continue;
    const Strategy &s = strategies[n][solution->choice[n]];
    plan.chosen[ops[n]] = s;
    plan.computeSeconds += problem.nodes[n].time[solution->choice[n]];
    plan.weightBytesPerRank += problem.nodes[n].memory[solution->choice[n]];
  }
  plan.commSeconds = solution->time - plan.computeSeconds;
  for (size_t n = 0; n < ops.size(); ++n)
    if (owners[n]) {
      plan.opSeconds[owners[n]] += problem.nodes[n].time[solution->choice[n]];
      plan.opWeightBytes[owners[n]] += problem.nodes[n].memory[solution->choice[n]];
    }
  for (const ShardingProblem::Edge &e : problem.edges)
    if (Operation *owner = owners[e.to] ? owners[e.to] : owners[e.from])
      plan.opSeconds[owner] += e.cost[solution->choice[e.from]][solution->choice[e.to]];
  plan.variables = solution->variables;
  plan.constraints = solution->constraints;
  plan.ops = unsigned(ops.size());
  plan.searchSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return plan;
}

//===----------------------------------------------------------------------===//
// SPMD programs
//===----------------------------------------------------------------------===//

namespace {

constexpr const char *kGrid = "mesh";

struct RankWriter {
  RankWriter(const ShardingPlan &plan, int64_t rank, OpBuilder &b)
      : plan(plan), rank(rank), b(b) {}
  const ShardingPlan &plan;
  int64_t rank;
  OpBuilder &b;
  /// Old value -> (layout, new value) it has been materialised in.
  llvm::DenseMap<Value, llvm::SmallDenseMap<Layout, Value, 4>> values;
  llvm::DenseMap<Value, Layout> produced;

  Value slice(Location loc, Value v, int64_t d) {
    auto type = cast<RankedTensorType>(v.getType());
    SmallVector<int64_t> start(type.getRank(), 0), limit(type.getShape());
    int64_t block = type.getShape()[size_t(d)] / plan.tp;
    start[size_t(d)] = rank * block;
    limit[size_t(d)] = (rank + 1) * block;
    return tsr::SliceOp::create(b, loc, localType(type, Layout(d), plan.tp), v,
                                b.getDenseI64ArrayAttr(start),
                                b.getDenseI64ArrayAttr(limit), nullptr);
  }

  /// `old` in layout `to`, converting from the layout it was produced in.
  Value get(Value old, Layout to) {
    if (auto it = values[old].find(to); it != values[old].end())
      return it->second;
    Layout from = produced.lookup(old);
    Value v = values[old].lookup(from);
    auto global = cast<RankedTensorType>(old.getType());
    Location loc = old.getLoc();
    int16_t tpAxis[] = {plan.tpAxis}; // [dp, tp] or [dp, pp, tp]
    ArrayRef<int16_t> axes(tpAxis);
    Value result;
    if (from == kReplicated && to == kPartial) {
      // A whole value as a partial sum (a pipeline segment's input read by
      // a row-parallel op): tp index 0 holds it, the others zeros.
      auto type = cast<RankedTensorType>(v.getType());
      result = rank == 0 ? v
                         : tsr::ConstantOp::create(b, loc, type,
                                                   DenseElementsAttr::get(
                                                       type, b.getZeroAttr(type.getElementType())))
                               .getResult();
    } else if (from == kReplicated) {
      result = slice(loc, v, to);
    } else if (from == kPartialMax) {
      // Each rank's maximum over its block: the maximum of them all.
      Value whole = shard::AllReduceOp::create(
          b, loc, Type(global), kGrid, axes, v, shard::ReductionKind::Max);
      result = to == kReplicated ? whole : slice(loc, whole, to);
    } else if (from == kPartial) {
      if (to == kReplicated)
        result = shard::AllReduceOp::create(b, loc, Type(global), kGrid, axes, v,
                                            shard::ReductionKind::Sum);
      else
        result = shard::ReduceScatterOp::create(
            b, loc, Type(localType(global, to, plan.tp)), kGrid, axes, v,
            shard::ReductionKind::Sum, APInt(64, uint64_t(to)));
    } else if (to == kReplicated) {
      result = shard::AllGatherOp::create(b, loc, Type(global), kGrid, axes, v,
                                          APInt(64, uint64_t(from)));
    } else {
      result = slice(loc, get(old, kReplicated), to); // all-to-all as gather + slice
    }
    values[old][to] = result; // re-looked up: get() above may grow the map
    return result;
  }
};

} // namespace

OwningOpRef<ModuleOp> tessera::partition::partitionForRank(func::FuncOp func,
                                                           const ShardingPlan &plan,
                                                           int64_t tpRank) {
  MLIRContext *ctx = func.getContext();
  ctx->getOrLoadDialect<shard::ShardDialect>();
  OpBuilder b(ctx);
  auto parent = func->getParentOfType<ModuleOp>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(func.getLoc());
  if (parent)
    for (NamedAttribute a : parent->getAttrs())
      if (a.getName() != SymbolTable::getSymbolAttrName())
        (*module)->setAttr(a.getName(), a.getValue());
  (*module)->setAttr(mlir::tsr::kTpRankAttr, b.getI64IntegerAttr(tpRank));
  b.setInsertionPointToEnd(module->getBody());
  std::vector<int64_t> grid = plan.grid.empty() ? std::vector<int64_t>{plan.dp, plan.tp}
                                                : plan.grid;
  shard::GridOp::create(b, func.getLoc(), kGrid, ArrayRef<int64_t>(grid));
  auto main = func::FuncOp::create(b, func.getLoc(), func.getName(),
                                   func.getFunctionType());
  if (auto args = func.getArgAttrs())
    main.setAllArgAttrs(*args);
  if (auto results = func.getResAttrs())
    main.setAllResultAttrs(*results);
  Block *entry = main.addEntryBlock();
  b.setInsertionPointToEnd(entry);

  RankWriter w(plan, tpRank, b);
  Block &body = func.getBody().front();
  for (auto [old, arg] : llvm::zip(body.getArguments(), entry->getArguments())) {
    w.values[old][kReplicated] = arg;
    w.produced[old] = kReplicated;
  }
  // The layout each rank holds a weight in, by name: state updates (trained
  // weights, optimizer state, a KV cache) return their block in it.
  // A weight read in several layouts (a KV cache sliced to the local batch
  // beside its whole) keeps the layout the new value was computed in.
  llvm::StringMap<Layout> weightLayouts;
  llvm::StringSet<> severalLayouts;
  for (Operation &op : body)
    if (auto weight = dyn_cast<tsr::WeightOp>(op)) {
      Layout l = plan.chosen.lookup(&op).results[0];
      auto [it, fresh] = weightLayouts.try_emplace(weight.getName(), l);
      if (!fresh && it->second != l)
        severalLayouts.insert(weight.getName());
    }
  for (llvm::StringRef name : severalLayouts.keys())
    weightLayouts.erase(name);
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      // Results are whole, but for state updates: each rank keeps its block
      // of the state, in the layout it reads the state in (or, for state no
      // op reads, the one the new value was computed in).
      SmallVector<Value> results;
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        Layout l = kReplicated;
        if (auto updates = func.getResultAttrOfType<StringAttr>(unsigned(i), mlir::tsr::kUpdatesAttr)) {
          // (A weight read in several layouts is not in the map: see above.)
          if (auto it = weightLayouts.find(updates.getValue()); it != weightLayouts.end())
            l = it->second;
          else if (w.produced.lookup(v) >= 0)
            l = w.produced.lookup(v);
        }
        results.push_back(w.get(v, l));
      }
      func::ReturnOp::create(b, ret.getLoc(), results);
      continue;
    }
    const Strategy &s = plan.chosen.lookup(&op);
    Operation *created = nullptr;
    if (auto weight = dyn_cast<tsr::WeightOp>(op)) {
      auto type = cast<RankedTensorType>(weight.getResult().getType());
      Layout l = s.results[0];
      // A split weight is this rank's block (rank 0's starts at 0 but is still
      // a block); a replicated one stays as it was.
      created = l >= 0 ? weightBlock(b, weight, localType(type, l, plan.tp), l,
                                     tpRank * (type.getShape()[size_t(l)] / plan.tp))
                             .getDefiningOp()
                       : b.clone(op);
      created->removeAttr(mlir::tsr::kShardingAttr);
    } else {
      IRMapping mapping;
      for (auto [j, operand] : llvm::enumerate(op.getOperands())) {
        Value v = w.get(operand, s.operands[j]);
        mapping.map(operand, v);
      }
      if (isa<tsr::ReplicaSumOp>(op)) {
        // The sum over the data-parallel replicas: the mesh's first axis.
        int16_t dpAxis[] = {0};
        Value local = mapping.lookup(op.getOperand(0));
        created = shard::AllReduceOp::create(b, op.getLoc(), local.getType(), kGrid,
                                             ArrayRef<int16_t>(dpAxis), local,
                                             shard::ReductionKind::Sum)
                      .getOperation();
      } else {
        created = b.clone(op, mapping);
      }
      created->removeAttr(mlir::tsr::kShardingAttr);
      for (auto [i, result] : llvm::enumerate(created->getResults()))
        result.setType(localType(cast<RankedTensorType>(op.getResult(i).getType()),
                                 s.results[i], plan.tp));
      coverSplitSlice(created, s.results.empty() ? kReplicated : s.results[0]);
      if (auto dropout = dyn_cast<tsr::DropoutOp>(created); dropout && s.results[0] >= 0) {
        // This rank's block of the dropout's whole tensor.
        SmallVector<int64_t> origin(dropout.getOrigin());
        int64_t d = s.results[0];
        origin[size_t(d)] += tpRank * cast<RankedTensorType>(dropout.getResult().getType()).getShape()[size_t(d)];
        dropout.setOrigin(origin);
      }
      if (s.vocabParallel) {
        auto gather = cast<tsr::GatherOp>(created);
        auto table = cast<RankedTensorType>(gather.getInput().getType());
        gather.setRowOffset(tpRank * table.getShape()[size_t(gather.getAxis())]);
      }
    }
    for (auto [i, result] : llvm::enumerate(op.getResults())) {
      w.values[result][s.results[i]] = created->getResult(i);
      w.produced[result] = s.results[i];
    }
  }
  // State results may be blocks (above): the type follows the return.
  auto ret = cast<func::ReturnOp>(entry->getTerminator());
  main.setType(FunctionType::get(main.getContext(), entry->getArgumentTypes(),
                                 ret.getOperandTypes()));
  return module;
}

//===----------------------------------------------------------------------===//
// The plan on the IR
//===----------------------------------------------------------------------===//

namespace {

constexpr llvm::StringLiteral kOpAttr = mlir::tsr::kShardingAttr;
constexpr llvm::StringLiteral kFuncAttr = mlir::tsr::kPlanAttr;

/// The layouts of `what` (operand or result) in `attr`, `expected` of them.
FailureOr<std::vector<Layout>> layoutsOf(Operation *op, ArrayRef<int64_t> attr, StringRef what,
                                         size_t expected) {
  if (attr.size() != expected)
    return op->emitError("'") << kOpAttr << "' needs " << expected << " " << what
                              << " layouts",
           failure();
  return std::vector<Layout>(attr.begin(), attr.end());
}

double number(DictionaryAttr dict, StringRef name) {
  if (auto f = dict.getAs<FloatAttr>(name))
    return f.getValueAsDouble();
  if (auto i = dict.getAs<IntegerAttr>(name))
    return double(i.getInt());
  return 0;
}

} // namespace

LogicalResult
tessera::partition::checkHintsNameWeights(Operation *op,
                                          const std::map<std::string, std::string> &hints) {
  std::vector<std::string> names;
  op->walk([&](tsr::WeightOp w) { names.push_back(w.getName().str()); });
  for (const auto &[pattern, layout] : hints)
    if (llvm::none_of(names, [&](const std::string &n) { return hintMatches(pattern, n); }))
      return op->emitError("shard hint '")
                 << pattern << "=" << layout << "': no weight is named '" << pattern
                 << "' or matches it (weights are named as the model's initializers, e.g. '"
                 << (names.empty() ? std::string("?") : names.front()) << "')",
             failure();
  return success();
}

void tessera::partition::annotateSharding(func::FuncOp func, const ShardingPlan &plan) {
  Builder b(func.getContext());
  for (Operation &op : func.getBody().front().without_terminator()) {
    auto it = plan.chosen.find(&op);
    if (it == plan.chosen.end())
      continue;
    const Strategy &s = it->second;
    SmallVector<int64_t> operands(s.operands.begin(), s.operands.end());
    SmallVector<int64_t> results(s.results.begin(), s.results.end());
    op.setAttr(kOpAttr, tsr::ShardingAttr::get(func.getContext(), operands, results,
                                               plan.opSeconds.lookup(&op),
                                               plan.opWeightBytes.lookup(&op), s.share,
                                               s.vocabParallel));
  }
  std::vector<int64_t> grid = plan.grid.empty() ? std::vector<int64_t>{plan.dp, plan.tp}
                                                : plan.grid;
  func->setAttr(kFuncAttr,
                b.getDictionaryAttr({
                    b.getNamedAttr("grid", b.getDenseI64ArrayAttr(grid)),
                    b.getNamedAttr("tp_axis", b.getI64IntegerAttr(plan.tpAxis)),
                    b.getNamedAttr("dp", b.getI64IntegerAttr(plan.dp)),
                    b.getNamedAttr("tp", b.getI64IntegerAttr(plan.tp)),
                    b.getNamedAttr("compute_seconds", b.getF64FloatAttr(plan.computeSeconds)),
                    b.getNamedAttr("comm_seconds", b.getF64FloatAttr(plan.commSeconds)),
                    b.getNamedAttr("weight_bytes_per_rank",
                                   b.getF64FloatAttr(plan.weightBytesPerRank)),
                }));
}

FailureOr<ShardingPlan> tessera::partition::readSharding(func::FuncOp func) {
  auto top = func->getAttrOfType<DictionaryAttr>(kFuncAttr);
  if (!top)
    return func.emitError("no '") << kFuncAttr
                                  << "' on the function: run the sharding search "
                                     "(--tsr-partition-search) first",
           failure();
  ShardingPlan plan;
  auto grid = top.getAs<DenseI64ArrayAttr>("grid");
  auto tp = top.getAs<IntegerAttr>("tp");
  if (!grid || !tp || tp.getInt() < 1)
    return func.emitError("'") << kFuncAttr << "' needs a 'grid' and 'tp' >= 1", failure();
  plan.grid.assign(grid.asArrayRef().begin(), grid.asArrayRef().end());
  plan.tp = tp.getInt();
  if (auto dp = top.getAs<IntegerAttr>("dp"))
    plan.dp = dp.getInt();
  if (auto axis = top.getAs<IntegerAttr>("tp_axis"))
    plan.tpAxis = int16_t(axis.getInt());
  if (plan.tpAxis < 0 || plan.tpAxis >= int64_t(plan.grid.size()) ||
      plan.grid[size_t(plan.tpAxis)] != plan.tp)
    return func.emitError("'") << kFuncAttr << "': tp_axis " << plan.tpAxis
                               << " of the grid is not of size tp=" << plan.tp,
           failure();
  plan.computeSeconds = number(top, "compute_seconds");
  plan.commSeconds = number(top, "comm_seconds");
  plan.weightBytesPerRank = number(top, "weight_bytes_per_rank");
  for (Operation &op : func.getBody().front().without_terminator()) {
    auto sharding = op.getAttrOfType<tsr::ShardingAttr>(kOpAttr);
    if (!sharding)
      return op.emitError("no '") << kOpAttr << "' annotation: every op of a planned "
                                                "function needs its layout",
             failure();
    Strategy s;
    FailureOr<std::vector<Layout>> operands =
        layoutsOf(&op, sharding.getOperands(), "operand", op.getNumOperands());
    FailureOr<std::vector<Layout>> results =
        layoutsOf(&op, sharding.getResults(), "result", op.getNumResults());
    if (failed(operands) || failed(results))
      return failure();
    for (auto [v, l] : llvm::zip(op.getResults(), *results))
      if (auto t = dyn_cast<RankedTensorType>(v.getType());
          l >= 0 && (!t || l >= t.getRank() || t.getShape()[size_t(l)] % plan.tp))
        return op.emitError("'") << kOpAttr << "': result " << v.getType()
                                 << " cannot be split " << plan.tp << " ways along dimension "
                                 << l,
               failure();
    s.operands = *operands;
    s.results = *results;
    s.share = sharding.share();
    s.vocabParallel = sharding.getVocabParallel();
    plan.chosen[&op] = s;
    plan.opSeconds[&op] = sharding.seconds();
    plan.opWeightBytes[&op] = sharding.weightBytes();
    ++plan.ops;
  }
  return plan;
}

void tessera::partition::clearSharding(func::FuncOp func) {
  func->removeAttr(kFuncAttr);
  func.walk([](Operation *op) { op->removeAttr(kOpAttr); });
}
