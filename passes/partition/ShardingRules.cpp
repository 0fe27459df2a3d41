//===- ShardingRules.cpp - how each tsr op can be split -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/ShardingRules.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

using namespace mlir;
using namespace tessera::partition;

namespace {

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

bool isFloat(Value v) {
  return isa<FloatType>(cast<RankedTensorType>(v.getType()).getElementType());
}

/// The layout of an operand of shape `shape` broadcasting to a result of
/// rank `rank` that is split along result dimension `d`.
Layout aligned(ArrayRef<int64_t> shape, int64_t rank, int64_t d,
               ArrayRef<int64_t> resultShape) {
  int64_t od = d - (rank - int64_t(shape.size()));
  if (od < 0 || shape[size_t(od)] == 1 || shape[size_t(od)] != resultShape[size_t(d)])
    return kReplicated;
  return Layout(od);
}

int64_t normalize(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

/// The dimension of a gather's result (of a scatter_add's updates) that
/// dimension d != axis of the indexed tensor becomes: the index's
/// dimensions take the axis's place.
int64_t gatheredDim(int64_t d, int64_t axis, int64_t indexRank) {
  return d < axis ? d : d - 1 + indexRank;
}

struct StrategyList {
  Operation *op;
  int64_t tp;
  std::vector<Strategy> list;

  bool divisible(int64_t n) const { return n >= tp && n % tp == 0; }
  void add(std::vector<Layout> operands, std::vector<Layout> results,
           bool vocab = false) {
    Strategy s;
    s.operands = std::move(operands);
    s.results = std::move(results);
    s.share = 1.0 / double(tp);
    s.vocabParallel = vocab;
    list.push_back(std::move(s));
  }
  /// Splits along every divisible result dimension, each operand aligned.
  void broadcasting() {
    Value result = op->getResult(0);
    ArrayRef<int64_t> out = shapeOf(result);
    for (int64_t d = 0; d < int64_t(out.size()); ++d) {
      if (!divisible(out[size_t(d)]))
        continue;
      std::vector<Layout> operands;
      for (Value v : op->getOperands())
        operands.push_back(aligned(shapeOf(v), int64_t(out.size()), d, out));
      add(operands, std::vector<Layout>(op->getNumResults(), Layout(d)));
    }
  }
};

} // namespace

std::string tessera::partition::layoutName(Layout layout) {
  if (layout == kReplicated)
    return "R";
  if (layout == kPartial)
    return "P";
  if (layout == kPartialMax)
    return "M";
  return "S" + std::to_string(layout);
}

RankedTensorType tessera::partition::localType(RankedTensorType global,
                                               Layout layout, int64_t tp) {
  if (layout < 0)
    return global;
  SmallVector<int64_t> shape(global.getShape());
  shape[size_t(layout)] /= tp;
  return RankedTensorType::get(shape, global.getElementType());
}

int tessera::partition::mapSplitThroughReshape(ArrayRef<int64_t> in,
                                               ArrayRef<int64_t> out, int dim,
                                               int64_t tp) {
  if (in[size_t(dim)] % tp != 0 || in[size_t(dim)] < tp)
    return -1;
  // Dimensions of size 1 do not take part in the grouping.
  SmallVector<std::pair<int64_t, int>> a, b;
  for (auto [i, n] : llvm::enumerate(in))
    if (n != 1)
      a.push_back({n, int(i)});
  for (auto [i, n] : llvm::enumerate(out))
    if (n != 1)
      b.push_back({n, int(i)});
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    size_t gi = i, gj = j;
    int64_t pa = a[i++].first, pb = b[j++].first;
    while (pa != pb) {
      if (pa < pb) {
        if (i == a.size())
          return -1;
        pa *= a[i++].first;
      } else {
        if (j == b.size())
          return -1;
        pb *= b[j++].first;
      }
    }
    for (size_t k = gi; k < i; ++k)
      if (a[k].second == dim)
        // A block split of the group's leading dimension is a block split
        // of the flattened group, hence of the other side's leading one.
        return k == gi && b[gj].first % tp == 0 ? b[gj].second : -1;
  }
  return -1;
}

std::vector<Strategy> tessera::partition::strategiesFor(Operation *op,
                                                        const RuleOptions &options) {
  StrategyList b{op, options.tp, {}};
  Strategy replicated;
  replicated.operands.assign(op->getNumOperands(), kReplicated);
  replicated.results.assign(op->getNumResults(), kReplicated);
  auto ranked = [](Type t) { return isa<RankedTensorType>(t); };
  if (!llvm::all_of(op->getOperandTypes(), ranked) ||
      !llvm::all_of(op->getResultTypes(), ranked) || options.tp == 1)
    return {replicated};

  if (auto weight = dyn_cast<tsr::WeightOp>(op)) {
    ArrayRef<int64_t> shape = shapeOf(weight.getResult());
    for (int64_t d = 0; d < int64_t(shape.size()); ++d)
      if (b.divisible(shape[size_t(d)]))
        b.add({}, {Layout(d)});
    if (!options.splitWeights || shape.size() < 2 || b.list.empty())
      b.list.insert(b.list.begin(), replicated);
    return b.list;
  }
  b.list.push_back(replicated);
  if (op->getNumResults() == 0 || op->getNumOperands() == 0)
    return b.list;
  Value result = op->getResult(0);
  ArrayRef<int64_t> out = shapeOf(result);
  int64_t rank = int64_t(out.size());

  if (op->hasTrait<OpTrait::Elementwise>() ||
      op->hasTrait<OpTrait::ResultsBroadcastableShape>() ||
      isa<tsr::BroadcastOp, tsr::CastOp, tsr::ReplicaSumOp>(op)) {
    b.broadcasting();
    if (!isFloat(result))
      return b.list;
    // Linear ops pass partial sums through.
    if (isa<tsr::AddOp, tsr::SubOp>(op))
      b.add({kPartial, kPartial}, {kPartial});
    else if (isa<tsr::MulOp>(op)) {
      b.add({kPartial, kReplicated}, {kPartial});
      b.add({kReplicated, kPartial}, {kPartial});
    } else if (isa<tsr::DivOp>(op))
      b.add({kPartial, kReplicated}, {kPartial});
    else if (isa<tsr::NegOp, tsr::BroadcastOp>(op))
      b.add({kPartial}, {kPartial});
    return b.list;
  }

  if (isa<tsr::DropoutOp>(op)) {
    // Elementwise on its input (each block draws its own elements: the
    // partitioners move its origin), linear: partial sums pass through.
    std::vector<Layout> operands(op->getNumOperands(), kReplicated);
    for (int64_t d = 0; d < rank; ++d)
      if (b.divisible(out[size_t(d)])) {
        operands[0] = Layout(d);
        b.add(operands, {Layout(d)});
      }
    operands[0] = kPartial;
    b.add(operands, {kPartial});
    return b.list;
  }

  if (auto mm = dyn_cast<tsr::MatmulOp>(op)) {
    ArrayRef<int64_t> l = shapeOf(mm.getLhs()), r = shapeOf(mm.getRhs());
    int64_t rl = int64_t(l.size()), rr = int64_t(r.size());
    int64_t lm = mm.getTransposeLhs() ? rl - 1 : rl - 2;
    int64_t lk = mm.getTransposeLhs() ? rl - 2 : rl - 1;
    int64_t rk = mm.getTransposeRhs() ? rr - 1 : rr - 2;
    int64_t rn = mm.getTransposeRhs() ? rr - 2 : rr - 1;
    for (int64_t d = 0; d < rank - 2; ++d) {
      if (!b.divisible(out[size_t(d)]))
        continue;
      auto batch = [&](ArrayRef<int64_t> s) {
        int64_t od = d - (rank - int64_t(s.size()));
        return od < 0 || s[size_t(od)] == 1 ? kReplicated : Layout(od);
      };
      b.add({batch(l), batch(r)}, {Layout(d)});
    }
    if (b.divisible(out[size_t(rank - 2)]))
      b.add({Layout(lm), kReplicated}, {Layout(rank - 2)}); // rows of lhs
    if (b.divisible(out[size_t(rank - 1)]))
      b.add({kReplicated, Layout(rn)}, {Layout(rank - 1)}); // columns
    if (b.divisible(l[size_t(lk)]) && isFloat(result))
      b.add({Layout(lk), Layout(rk)}, {kPartial}); // the contraction
    if (isFloat(result)) {
      // Linear in each operand: a partial sum stays one (expert-parallel
      // gathers of weights multiply before their partial sums meet).
      b.add({kPartial, kReplicated}, {kPartial});
      b.add({kReplicated, kPartial}, {kPartial});
    }
    return b.list;
  }

  if (isa<tsr::ReduceSumOp, tsr::ReduceMeanOp, tsr::ReduceMaxOp, tsr::ReduceMinOp,
          tsr::ReduceProdOp>(op)) {
    ArrayRef<int64_t> in = shapeOf(op->getOperand(0));
    auto axesAttr = op->getAttrOfType<DenseI64ArrayAttr>("axes");
    bool keep = op->hasAttr("keep_dims");
    SmallVector<int64_t> axes;
    for (int64_t a : axesAttr.asArrayRef())
      axes.push_back(normalize(a, int64_t(in.size())));
    for (int64_t d = 0; d < int64_t(in.size()); ++d) {
      if (!b.divisible(in[size_t(d)]))
        continue;
      if (llvm::is_contained(axes, d)) {
        if (isa<tsr::ReduceSumOp>(op) && isFloat(result))
          b.add({Layout(d)}, {kPartial});
        // A maximum over blocks (the loss's row maximum over split logits):
        // all-reduced with max where it is read whole.
        if (isa<tsr::ReduceMaxOp>(op) && isFloat(result))
          b.add({Layout(d)}, {kPartialMax});
        continue;
      }
      int64_t e = keep ? d : d - llvm::count_if(axes, [&](int64_t a) { return a < d; });
      b.add({Layout(d)}, {Layout(e)});
    }
    return b.list;
  }

  if (auto cumsum = dyn_cast<tsr::CumSumOp>(op)) {
    for (int64_t d = 0; d < rank; ++d)
      if (d != cumsum.getAxis() && b.divisible(out[size_t(d)]))
        b.add({Layout(d)}, {Layout(d)});
    return b.list;
  }

  if (auto softmax = dyn_cast<tsr::SoftmaxOp>(op)) {
    int64_t axis = normalize(softmax.getAxis(), rank);
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && b.divisible(out[size_t(d)]))
        b.add({Layout(d)}, {Layout(d)});
    return b.list;
  }

  if (isa<tsr::LayerNormOp, tsr::RmsNormOp>(op)) {
    int64_t axis = normalize(op->getAttrOfType<IntegerAttr>("axis").getInt(), rank);
    for (int64_t d = 0; d < axis; ++d)
      if (b.divisible(out[size_t(d)])) {
        std::vector<Layout> operands(op->getNumOperands(), kReplicated);
        operands[0] = Layout(d);
        b.add(operands, {Layout(d)});
      }
    return b.list;
  }

  if (auto reshape = dyn_cast<tsr::ReshapeOp>(op)) {
    ArrayRef<int64_t> in = shapeOf(reshape.getInput());
    for (int64_t d = 0; d < int64_t(in.size()); ++d) {
      int e = mapSplitThroughReshape(in, out, int(d), b.tp);
      if (e >= 0)
        b.add({Layout(d)}, {Layout(e)});
    }
    if (isFloat(result))
      b.add({kPartial}, {kPartial});
    return b.list;
  }

  if (auto transpose = dyn_cast<tsr::TransposeOp>(op)) {
    ArrayRef<int64_t> perm = transpose.getPermutation();
    for (int64_t e = 0; e < rank; ++e)
      if (b.divisible(out[size_t(e)]))
        b.add({Layout(perm[size_t(e)])}, {Layout(e)});
    if (isFloat(result))
      b.add({kPartial}, {kPartial});
    return b.list;
  }

  if (auto concat = dyn_cast<tsr::ConcatOp>(op)) {
    int64_t axis = normalize(concat.getAxis(), rank);
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && b.divisible(out[size_t(d)]))
        b.add(std::vector<Layout>(op->getNumOperands(), Layout(d)), {Layout(d)});
    return b.list;
  }

  if (auto slice = dyn_cast<tsr::SliceOp>(op)) {
    ArrayRef<int64_t> in = shapeOf(slice.getInput());
    ArrayRef<int64_t> start = slice.getStart(), limit = slice.getLimit();
    for (int64_t d = 0; d < rank; ++d) {
      bool whole = start[size_t(d)] == 0 && limit[size_t(d)] == in[size_t(d)] &&
                   (!slice.getStrides() || (*slice.getStrides())[size_t(d)] == 1);
      if (whole && b.divisible(in[size_t(d)]))
        b.add({Layout(d)}, {Layout(d)});
    }
    return b.list;
  }

  if (auto split = dyn_cast<tsr::SplitOp>(op)) {
    ArrayRef<int64_t> in = shapeOf(split.getInput());
    int64_t axis = normalize(split.getAxis(), int64_t(in.size()));
    for (int64_t d = 0; d < int64_t(in.size()); ++d)
      if (d != axis && b.divisible(in[size_t(d)]))
        b.add({Layout(d)}, std::vector<Layout>(op->getNumResults(), Layout(d)));
    return b.list;
  }

  if (auto take = dyn_cast<tsr::TakeRowsOp>(op)) {
    // Rows at each sequence's position: any other dimension splits (the
    // batch only when the input has it, not when it is broadcast).
    // Positions follow the batch (dimension 0) when there is one per sequence.
    ArrayRef<int64_t> in = shapeOf(take.getInput());
    bool perSequence = shapeOf(take.getPositions())[0] > 1;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == take.getAxis() || !b.divisible(out[size_t(d)]))
        continue;
      Layout pos = d == 0 && perSequence ? Layout(0) : kReplicated;
      if (in[size_t(d)] == out[size_t(d)])
        b.add({Layout(d), pos}, {Layout(d)});
      else if (d == 0 && in[0] == 1) // a table shared by the batch
        b.add({kReplicated, pos}, {Layout(0)});
    }
    return b.list;
  }

  if (auto write = dyn_cast<tsr::CacheWriteOp>(op)) {
    // A KV cache splits with its new rows: by heads under tensor
    // parallelism, by batch under data parallelism.
    bool perSequence = shapeOf(write.getPositions())[0] > 1;
    for (int64_t d = 0; d < rank; ++d)
      if (d != write.getAxis() && b.divisible(out[size_t(d)]))
        b.add({Layout(d), d == 0 && perSequence ? Layout(0) : kReplicated, Layout(d)},
              {Layout(d)});
    return b.list;
  }

  if (auto gather = dyn_cast<tsr::GatherOp>(op)) {
    ArrayRef<int64_t> data = shapeOf(gather.getInput());
    ArrayRef<int64_t> idx = shapeOf(gather.getIndices());
    int64_t axis = normalize(gather.getAxis(), int64_t(data.size()));
    for (int64_t d = 0; d < int64_t(data.size()); ++d) {
      if (d == axis || !b.divisible(data[size_t(d)]))
        continue;
      b.add({Layout(d), kReplicated}, {Layout(gatheredDim(d, axis, int64_t(idx.size())))});
    }
    for (int64_t j = 0; j < int64_t(idx.size()); ++j)
      if (b.divisible(idx[size_t(j)]))
        b.add({kReplicated, Layout(j)}, {Layout(axis + j)});
    if (b.divisible(data[size_t(axis)]) && isFloat(result) && !gather.getRowOffset())
      b.add({Layout(axis), kReplicated}, {kPartial}, /*vocab=*/true);
    return b.list;
  }

  if (auto scatter = dyn_cast<tsr::ScatterAddOp>(op)) {
    // The transpose of gather: a result dimension other than the axis splits
    // with the updates; updates and indices split along an index dimension
    // (the batch) add their slices into partial sums.
    ArrayRef<int64_t> idx = shapeOf(scatter.getIndices());
    int64_t axis = normalize(scatter.getAxis(), rank);
    for (int64_t d = 0; d < rank; ++d) {
      if (d == axis || !b.divisible(out[size_t(d)]))
        continue;
      b.add({Layout(gatheredDim(d, axis, int64_t(idx.size()))), kReplicated}, {Layout(d)});
    }
    for (int64_t j = 0; j < int64_t(idx.size()); ++j)
      if (b.divisible(idx[size_t(j)]))
        b.add({Layout(axis + j), Layout(j)}, {kPartial});
    return b.list;
  }

  if (auto attention = dyn_cast<tsr::AttentionOp>(op)) {
    ArrayRef<int64_t> q = shapeOf(attention.getQuery());
    ArrayRef<int64_t> k = shapeOf(attention.getKey());
    SmallVector<int64_t, 4> scores = {q[0], q[1], q[2], k[2]};
    for (int64_t d : {0, 1}) {
      if (!b.divisible(q[size_t(d)]) || !b.divisible(k[size_t(d)]))
        continue;
      std::vector<Layout> operands = {Layout(d), Layout(d), Layout(d)};
      if (attention.getMask())
        operands.push_back(aligned(shapeOf(attention.getMask()), 4, d, scores));
      b.add(operands, {Layout(d)});
    }
    return b.list;
  }

  if (auto rotary = dyn_cast<tsr::RotaryOp>(op)) {
    for (int64_t d = 0; d < rank - 2; ++d)
      if (b.divisible(out[size_t(d)]))
        b.add({Layout(d), aligned(shapeOf(rotary.getCos()), rank, d, out),
               aligned(shapeOf(rotary.getSin()), rank, d, out)},
              {Layout(d)});
    return b.list;
  }

  return b.list; // replicated only
}

void tessera::partition::coverSplitSlice(Operation *op, Layout layout) {
  auto slice = dyn_cast<tsr::SliceOp>(op);
  if (!slice || layout < 0)
    return;
  SmallVector<int64_t> limit(slice.getLimit());
  limit[size_t(layout)] = slice.getType().getShape()[size_t(layout)];
  slice.setLimit(limit);
}
