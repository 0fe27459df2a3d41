//===- FuseAttention.cpp - scaled dot-product attention -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// softmax(Q Kᵀ * scale + mask) V as exporters write it: the scale split over
// Q and K (sqrt(scale) each) or applied to the scores, the mask added
// (float) or applied with a select, the causal part of a mask as a constant
// lower-triangular boolean, and the softmax wrapped in a NaN guard
// (PyTorch's SDPA decomposition). Grouped-query attention's repeat_kv (an
// unsqueeze, expand and reshape of K and V) is undone afterwards.
//
//===----------------------------------------------------------------------===//

#include "passes/graph/Matchers.h"
#include "passes/graph/Passes.h"

#include "dialects/tsr/IR/ShapeUtils.h"

#include <cmath>

using namespace mlir;
using namespace tessera::graph;

namespace {

/// Peels multiplications and divisions by constants off `v`.
Value peelScale(Value v, double &scale) {
  while (true) {
    if (auto div = v.getDefiningOp<tsr::DivOp>()) {
      if (std::optional<double> c = splatValue(div.getRhs()); c && *c != 0) {
        scale /= *c;
        v = div.getLhs();
        continue;
      }
    }
    if (auto mul = v.getDefiningOp<tsr::MulOp>()) {
      bool peeled = false;
      for (Value operand : {mul.getLhs(), mul.getRhs()})
        if (std::optional<double> c = splatValue(operand)) {
          scale *= *c;
          v = otherOperand(mul, operand);
          peeled = true;
          break;
        }
      if (peeled)
        continue;
    }
    return v;
  }
}

/// Whether the constant boolean `mask`, broadcast to the scores' [*, S, T],
/// is exactly the causal pattern at every query row it is applied to: key j
/// visible from query i iff j <= i + T - S. The precondition is about the
/// values the scores see, not the constant's own shape: a one-row mask
/// broadcast over S > 1 rows (an exporter that moved the heads of a
/// grouped-query group onto the row axis, as the TorchScript exporter does
/// for a decode step with past) is causal only if S is 1.
bool isCausalConstant(Value mask, int64_t S, int64_t T) {
  auto constant = mask.getDefiningOp<tsr::ConstantOp>();
  if (!constant || S < 1 || T < 1)
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense || !dense.getElementType().isInteger(1))
    return false;
  ArrayRef<int64_t> shape = shapeOf(mask);
  int64_t rows = shape.size() >= 2 ? shape[shape.size() - 2] : 1;
  int64_t cols = shape.empty() ? 1 : shape.back();
  if ((rows != 1 && rows != S) || (cols != 1 && cols != T))
    return false;
  // Every leading slice (a batch-sized mask folded by the exporter repeats
  // it per sample) must be the causal pattern.
  int64_t slices = 1;
  for (int64_t d : shape.drop_back(std::min<size_t>(2, shape.size())))
    slices *= d;
  auto values = dense.getValues<bool>();
  for (int64_t s = 0; s < slices; ++s)
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < T; ++j) {
        bool value = dense.isSplat() ? values[0]
                                     : values[s * rows * cols + (rows == 1 ? 0 : i) * cols +
                                              (cols == 1 ? 0 : j)];
        if (value != (j <= i + T - S))
          return false;
      }
  return true;
}

/// Whether `v` is a constant that is true everywhere.
bool isAllTrue(Value v) {
  auto constant = v.getDefiningOp<tsr::ConstantOp>();
  auto dense = constant ? dyn_cast<DenseElementsAttr>(constant.getValue())
                        : DenseElementsAttr();
  return dense && dense.getElementType().isInteger(1) &&
         llvm::all_of(dense.getValues<bool>(), [](bool b) { return b; });
}

/// Whether `to` splits the leading dimension of `from` in two and keeps the
/// rest: [B*H, S, T] -> [B, H, S, T].
bool splitsLeading(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  return from.size() >= 2 && to.size() == from.size() + 1 && to[0] * to[1] == from[0] &&
         to.drop_front(2) == from.drop_front(1);
}

/// `operand` of an op whose result (of shape `from`) is split to `to`,
/// split the same way: its leading dimension split (or a unit one doubled)
/// when it reaches the result's leading dimension, as it is when it does not
/// (NumPy broadcasting aligns trailing dimensions). Null when it cannot.
Value splitOperand(PatternRewriter &rewriter, Location loc, Value operand,
                   ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  auto type = cast<RankedTensorType>(operand.getType());
  ArrayRef<int64_t> shape = type.getShape();
  if (shape.size() < from.size())
    return operand;
  SmallVector<int64_t> split;
  if (shape[0] == from[0])
    split = {to[0], to[1]};
  else if (shape[0] == 1)
    split = {1, 1};
  else
    return {};
  llvm::append_range(split, shape.drop_front());
  return tsr::ReshapeOp::create(rewriter, loc, type.clone(split), operand);
}

/// Batched attention written on [B*H, S, D] (BLOOM's baddbmm, bmm-style
/// exports) and reshaped to [B, H, S, T] only around the mask and softmax:
/// a reshape splitting the batch of a single-use batched product or
/// elementwise op moves to the operands, so the whole chain becomes 4-D and
/// the reshapes cancel.
struct SplitBatchThroughProduct : OpRewritePattern<tsr::ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    Operation *producer = op.getInput().getDefiningOp();
    if (!producer || !producer->hasOneUse() ||
        !isa<tsr::MatmulOp, tsr::AddOp, tsr::SubOp, tsr::MulOp, tsr::DivOp>(producer))
      return failure();
    ArrayRef<int64_t> from = shapeOf(op.getInput()), to = shapeOf(op.getResult());
    // Only batches of matrices ([B*H, S, T]) split: a product's leading
    // dimension is a batch dimension from rank 3 on, and the rows of a 2-D
    // [B*S, N] product (a linear layer) stay with it and its bias add.
    if (!splitsLeading(from, to) || from.size() < 3)
      return failure();
    SmallVector<Value, 2> operands;
    for (Value operand : producer->getOperands()) {
      // A product's operands have their matrices in the last two dimensions:
      // only batched ones (rank of the result) split.
      if (isa<tsr::MatmulOp>(producer) && shapeOf(operand).size() != from.size() &&
          shapeOf(operand).size() > 2)
        return failure();
      if (shapeOf(operand).size() >= from.size() && shapeOf(operand)[0] != from[0] &&
          shapeOf(operand)[0] != 1)
        return failure();
    }
    for (Value operand : producer->getOperands())
      operands.push_back(splitOperand(rewriter, op.getLoc(), operand, from, to));
    OperationState state(producer->getLoc(), producer->getName(), operands,
                         TypeRange{op.getType()}, producer->getAttrs());
    Operation *split = rewriter.create(state);
    rewriter.replaceOp(op, split->getResults());
    return success();
  }
};

/// Whether `v` is select(b, 0, -big): the additive form of a boolean mask.
tsr::SelectOp asBooleanMask(Value v) {
  auto select = v.getDefiningOp<tsr::SelectOp>();
  if (!select)
    return {};
  std::optional<double> fill = splatValue(select.getOnFalse());
  if (!isSplat(select.getOnTrue(), 0.0) || !fill || *fill > -1e4)
    return {};
  return select;
}

/// The boolean `b` without its causal part, for scores of S rows and T
/// keys: null when `b` is the causal constant, the other operand when `b` is
/// and(causal, other), `b` itself (and `causal` false) otherwise.
Value withoutCausal(Value b, int64_t S, int64_t T, bool &causal) {
  causal = false;
  if (isCausalConstant(b, S, T)) {
    causal = true;
    return {};
  }
  if (auto both = b.getDefiningOp<tsr::AndOp>())
    for (Value operand : {both.getLhs(), both.getRhs()})
      if (isCausalConstant(operand, S, T)) {
        causal = true;
        return otherOperand(both, operand);
      }
  return b;
}

struct FuseAttention : OpRewritePattern<tsr::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tsr::MatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getTransposeLhs() || op.getTransposeRhs())
      return failure();
    Value probs = op.getLhs(), v = op.getRhs();
    if (shapeOf(probs).size() != 4 || shapeOf(v).size() != 4)
      return failure();
    // softmax, possibly under a NaN guard select(p != p, 0, p).
    if (auto guard = probs.getDefiningOp<tsr::SelectOp>()) {
      auto cmp = guard.getCondition().getDefiningOp<tsr::CompareOp>();
      Value p = guard.getOnFalse();
      if (!cmp || cmp.getPredicate() != tsr::ComparePredicate::ne ||
          cmp.getLhs() != p || cmp.getRhs() != p ||
          !isSplat(guard.getOnTrue(), 0.0) || p.getType() != probs.getType())
        return failure();
      probs = p;
    }
    auto softmax = probs.getDefiningOp<tsr::SoftmaxOp>();
    if (!softmax || softmax.getAxis() != 3)
      return failure();
    Value scores = softmax.getInput();

    // The mask: additive terms (masks, position biases such as ALiBi), or a
    // select between the scores and -inf.
    SmallVector<Value> additives;
    Value boolean;
    bool negated = false;
    tsr::MatmulOp qk;
    double scale = 1.0;
    std::optional<double> softcap;
    auto scoresFrom = [&](Value s) {
      double sc = 1.0;
      Value inner = s;
      // Soft-capped scores (Gemma 2): cap * tanh(x / cap), x the scaled
      // product; the cap folds into the scale: scale * QKᵀ = (x's factor) * cap.
      std::optional<double> cap;
      if (auto mul = s.getDefiningOp<tsr::MulOp>())
        for (Value operand : {mul.getLhs(), mul.getRhs()}) {
          std::optional<double> c = splatValue(operand);
          auto tanh = otherOperand(mul, operand).getDefiningOp<tsr::TanhOp>();
          if (c && *c > 0 && tanh) {
            cap = *c;
            inner = tanh.getInput();
            break;
          }
        }
      auto m = peelScale(inner, sc).getDefiningOp<tsr::MatmulOp>();
      if (!m || m.getTransposeLhs() || s.getType() != scores.getType())
        return false;
      qk = m;
      scale = cap ? sc * *cap : sc;
      softcap = cap;
      return true;
    };
    if (!scoresFrom(scores)) {
      if (scores.getDefiningOp<tsr::AddOp>()) {
        SmallVector<Value> terms;
        addTerms(scores, terms);
        for (Value term : terms)
          if (qk || !scoresFrom(term))
            additives.push_back(term);
      } else if (auto select = scores.getDefiningOp<tsr::SelectOp>()) {
        std::optional<double> fill = splatValue(select.getOnFalse());
        std::optional<double> filled = splatValue(select.getOnTrue());
        if (fill && *fill <= -1e4 && scoresFrom(select.getOnTrue())) {
          boolean = select.getCondition();
        } else if (filled && *filled <= -1e4 && scoresFrom(select.getOnFalse())) {
          // masked_fill(cond, -inf): attend where the condition is false
          // (nanoGPT's mask == 0 on a registered tril buffer); the negation
          // is built once the match is certain.
          boolean = select.getCondition();
          negated = true;
        }
      }
      if (!qk)
        return failure();
    }
    // An additive term select(b, 0, -big) is the boolean mask b; the causal
    // part of a boolean becomes the attribute. With one boolean term and no
    // other the mask is boolean; otherwise the terms add up (rebuilt without
    // their causal parts once the match is certain).
    bool causal = false;
    // The query rows and keys the mask is applied to.
    const int64_t rowsS = shapeOf(scores)[2], keysT = shapeOf(scores)[3];
    SmallVector<std::pair<tsr::SelectOp, Value>> booleanTerms; // (term, rest)
    SmallVector<Value> floatTerms;
    for (Value term : additives) {
      if (tsr::SelectOp select = asBooleanMask(term)) {
        bool c = false;
        Value rest = withoutCausal(select.getCondition(), rowsS, keysT, c);
        causal |= c;
        if (rest && !isAllTrue(rest))
          booleanTerms.push_back({select, rest});
      } else {
        floatTerms.push_back(term);
      }
    }
    if (floatTerms.empty() && booleanTerms.size() == 1)
      boolean = booleanTerms.front().second;
    if (boolean && !negated && additives.empty()) {
      bool c = false;
      boolean = withoutCausal(boolean, rowsS, keysT, c);
      causal |= c;
      if (boolean && isAllTrue(boolean))
        boolean = {};
    }
    bool summed = !boolean && (!floatTerms.empty() || !booleanTerms.empty());

    double qScale = 1.0, kScale = 1.0;
    Value q = peelScale(qk.getLhs(), qScale);
    Value k = peelScale(qk.getRhs(), kScale);
    scale *= qScale * kScale;
    if (shapeOf(q).size() != 4 || shapeOf(k).size() != 4 || scale <= 0)
      return failure();
    // K arrives as Kᵀ ([B, H, D, T]) unless the product transposed it.
    SmallVector<int64_t> ks(shapeOf(k));
    if (!qk.getTransposeRhs())
      std::swap(ks[2], ks[3]);
    ArrayRef<int64_t> qs = shapeOf(q), vs = shapeOf(v);
    Type element = cast<RankedTensorType>(q.getType()).getElementType();
    SmallVector<int64_t> scoreShape{qs[0], qs[1], qs[2], ks[2]};
    // One key/value head broadcast over the query heads (multi-query
    // attention written with matmul broadcasting, as Falcon's export does) is
    // grouped-query attention with one group.
    bool ok = qs[0] == ks[0] && ks[0] == vs[0] && (qs[1] == ks[1] || ks[1] == 1) &&
              ks[1] == vs[1] && qs[3] == ks[3] && ks[2] == vs[2] &&
              cast<RankedTensorType>(v.getType()).getElementType() == element;
    if (boolean)
      ok &= tsr::isBroadcastableTo(shapeOf(boolean), scoreShape) &&
            cast<RankedTensorType>(boolean.getType()).getElementType().isInteger(1);
    for (Value term : floatTerms)
      ok &= tsr::isBroadcastableTo(shapeOf(term), scoreShape) &&
            cast<RankedTensorType>(term.getType()).getElementType() == element;
    for (auto [select, rest] : booleanTerms)
      ok &= tsr::isBroadcastableTo(shapeOf(rest), scoreShape) &&
            cast<RankedTensorType>(select.getType()).getElementType() == element;
    if (!ok || op.getType() != RankedTensorType::get(
                                   {qs[0], qs[1], qs[2], vs[3]}, element))
      return failure();
    Location loc = op.getLoc();
    Value mask = boolean;
    if (negated)
      mask = tsr::NotOp::create(rewriter, loc, mask);
    if (summed) {
      // The additive terms, the boolean ones as selects of their non-causal
      // parts, summed in the order they came (broadcast shapes grow).
      SmallVector<Value> sum(floatTerms);
      for (auto [select, rest] : booleanTerms)
        sum.push_back(rest == select.getCondition()
                          ? select.getResult()
                          : tsr::SelectOp::create(
                                rewriter, loc,
                                tsr::withShape(select.getType(), shapeOf(rest)), rest,
                                select.getOnTrue(), select.getOnFalse())
                                .getResult());
      mask = sum.front();
      for (Value term : ArrayRef<Value>(sum).drop_front()) {
        SmallVector<int64_t> shape;
        (void)tsr::broadcastShapes(std::nullopt, {shapeOf(mask), shapeOf(term)}, shape);
        mask = tsr::AddOp::create(rewriter, loc, tsr::withShape(mask.getType(), shape), mask, term);
      }
    }
    if (!qk.getTransposeRhs())
      k = tsr::TransposeOp::create(rewriter, op.getLoc(),
                                   RankedTensorType::get(ks, element), k,
                                   ArrayRef<int64_t>{0, 1, 3, 2});
    rewriter.replaceOpWithNewOp<tsr::AttentionOp>(
        op, q, k, v, mask, causal ? rewriter.getUnitAttr() : UnitAttr(), rewriter.getF64FloatAttr(scale),
        softcap ? rewriter.getF64FloatAttr(*softcap) : FloatAttr());
    return success();
  }
};

/// K and V that are repeat_kv(k0, n): reshape(broadcast(reshape(k0,
/// [B, Hkv, 1, T, D]), [B, Hkv, n, T, D]), [B, Hkv * n, T, D]).
Value unrepeat(Value v, int64_t &groups) {
  auto outer = v.getDefiningOp<tsr::ReshapeOp>();
  if (!outer)
    return {};
  auto bcast = outer.getInput().getDefiningOp<tsr::BroadcastOp>();
  if (!bcast)
    return {};
  auto inner = bcast.getInput().getDefiningOp<tsr::ReshapeOp>();
  if (!inner)
    return {};
  Value x = inner.getInput();
  ArrayRef<int64_t> xs = shapeOf(x), is = shapeOf(inner),
                    bs = shapeOf(bcast), os = shapeOf(v);
  if (xs.size() != 4 || is.size() != 5 || bs.size() != 5 || os.size() != 4)
    return {};
  bool shapesMatch = is[0] == xs[0] && is[1] == xs[1] && is[2] == 1 &&
                     is[3] == xs[2] && is[4] == xs[3] && bs[0] == is[0] &&
                     bs[1] == is[1] && bs[3] == is[3] && bs[4] == is[4] &&
                     os[0] == xs[0] && os[1] == xs[1] * bs[2] &&
                     os[2] == xs[2] && os[3] == xs[3];
  if (!shapesMatch)
    return {};
  groups = bs[2];
  return x;
}

struct UndoRepeatKV : OpRewritePattern<tsr::AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::AttentionOp op,
                                PatternRewriter &rewriter) const override {
    int64_t kGroups = 0, vGroups = 0;
    Value k = unrepeat(op.getKey(), kGroups);
    Value v = unrepeat(op.getValue(), vGroups);
    if (!k || !v || kGroups != vGroups || kGroups <= 1)
      return failure();
    rewriter.modifyOpInPlace(op, [&] {
      op.getKeyMutable().assign(k);
      op.getValueMutable().assign(v);
    });
    return success();
  }
};

} // namespace

void tessera::graph::populateAttentionFusionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseAttention, UndoRepeatKV, SplitBatchThroughProduct>(patterns.getContext());
}
