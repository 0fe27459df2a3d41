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

/// Whether the constant boolean `mask` (broadcasting to [*, S, T]) is exactly
/// the causal pattern: key j visible from query i iff j <= i + T - S.
bool isCausalConstant(Value mask) {
  auto constant = mask.getDefiningOp<tsr::ConstantOp>();
  if (!constant)
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense || !dense.getElementType().isInteger(1))
    return false;
  ArrayRef<int64_t> shape = shapeOf(mask);
  if (shape.size() < 2)
    return false;
  for (int64_t d : shape.drop_back(2))
    if (d != 1)
      return false;
  int64_t rows = shape[shape.size() - 2], cols = shape.back();
  auto values = dense.getValues<bool>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      if (values[i * cols + j] != (j <= i + cols - rows))
        return false;
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

    // The mask: additive, or a select between the scores and -inf.
    Value additive, boolean;
    bool negated = false;
    tsr::MatmulOp qk;
    double scale = 1.0;
    auto scoresFrom = [&](Value s) {
      double sc = 1.0;
      auto m = peelScale(s, sc).getDefiningOp<tsr::MatmulOp>();
      if (!m || m.getTransposeLhs() || s.getType() != scores.getType())
        return false;
      qk = m;
      scale = sc;
      return true;
    };
    if (!scoresFrom(scores)) {
      if (auto add = scores.getDefiningOp<tsr::AddOp>()) {
        for (Value operand : {add.getLhs(), add.getRhs()})
          if (scoresFrom(operand)) {
            additive = otherOperand(add, operand);
            break;
          }
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
    // An additive mask made of select(b, 0, -big) is the boolean mask b.
    if (additive) {
      if (auto select = additive.getDefiningOp<tsr::SelectOp>()) {
        std::optional<double> fill = splatValue(select.getOnFalse());
        if (isSplat(select.getOnTrue(), 0.0) && fill && *fill <= -1e4) {
          boolean = select.getCondition();
          additive = {};
        }
      }
    }
    bool causal = false;
    if (boolean && !negated) {
      if (isCausalConstant(boolean)) {
        causal = true;
        boolean = {};
      } else if (auto both = boolean.getDefiningOp<tsr::AndOp>()) {
        for (Value operand : {both.getLhs(), both.getRhs()})
          if (isCausalConstant(operand)) {
            causal = true;
            boolean = otherOperand(both, operand);
            break;
          }
      }
      if (boolean && isAllTrue(boolean))
        boolean = {};
    }

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
    Value mask = boolean ? boolean : additive;
    Type element = cast<RankedTensorType>(q.getType()).getElementType();
    SmallVector<int64_t> scoreShape{qs[0], qs[1], qs[2], ks[2]};
    // One key/value head broadcast over the query heads (multi-query
    // attention written with matmul broadcasting, as Falcon's export does) is
    // grouped-query attention with one group.
    bool ok = qs[0] == ks[0] && ks[0] == vs[0] && (qs[1] == ks[1] || ks[1] == 1) &&
              ks[1] == vs[1] && qs[3] == ks[3] && ks[2] == vs[2] &&
              cast<RankedTensorType>(v.getType()).getElementType() == element;
    if (mask) {
      Type maskElement = cast<RankedTensorType>(mask.getType()).getElementType();
      ok &= tsr::isBroadcastableTo(shapeOf(mask), scoreShape) &&
            (maskElement.isInteger(1) || maskElement == element);
    }
    if (!ok || op.getType() != RankedTensorType::get(
                                   {qs[0], qs[1], qs[2], vs[3]}, element))
      return failure();
    if (negated)
      mask = tsr::NotOp::create(rewriter, op.getLoc(), mask);
    if (!qk.getTransposeRhs())
      k = tsr::TransposeOp::create(rewriter, op.getLoc(),
                                   RankedTensorType::get(ks, element), k,
                                   ArrayRef<int64_t>{0, 1, 3, 2});
    rewriter.replaceOpWithNewOp<tsr::AttentionOp>(
        op, q, k, v, mask, causal, APFloat(scale));
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
  patterns.add<FuseAttention, UndoRepeatKV>(patterns.getContext());
}
