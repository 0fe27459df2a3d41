//===- GradientRulesTransformer.cpp - attention and rotary ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/GradientRules.h"

#include <limits>

using namespace mlir;
using namespace tessera::train;

namespace {

using Grads = SmallVectorImpl<Value>;

ArrayRef<int64_t> shapeOf(Value v) { return GradBuilder::typeOf(v).getShape(); }

/// Attention's backward pass, recomputing the probabilities (the forward
/// keeps no score matrix). Grouped-query heads are handled as a group axis:
/// Q [B, Hkv, G, S, D] against K, V [B, Hkv, 1, T, D], so that the key and
/// value gradients sum over the query heads sharing them.
LogicalResult attentionRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto attn = cast<tsr::AttentionOp>(op);
  Value q = attn.getQuery(), k = attn.getKey(), v = attn.getValue(), dout = dys[0];
  ArrayRef<int64_t> qs = shapeOf(q), ks = shapeOf(k), vs = shapeOf(v);
  int64_t batch = qs[0], hq = qs[1], s = qs[2], d = qs[3];
  int64_t hkv = ks[1], t = ks[2], dv = vs[3], groups = hq / hkv;
  Value q5 = g.reshape(q, {batch, hkv, groups, s, d});
  Value k5 = g.reshape(k, {batch, hkv, 1, t, d});
  Value v5 = g.reshape(v, {batch, hkv, 1, t, dv});
  Value scale = g.scalar(attn.getScale().convertToDouble(), q);
  Value scores = g.mul(g.matmul(q5, k5, false, true), scale);
  // Soft-capped scores: cap * tanh(scores / cap), whose derivative is
  // 1 - tanh², applied below between the scores' gradient and Q's and K's.
  Value capped;
  if (std::optional<APFloat> cap = attn.getSoftcap()) {
    Value c = g.scalar(cap->convertToDouble(), q);
    capped = g.tanh(g.div(scores, c));
    scores = g.mul(capped, c);
  }
  SmallVector<int64_t> scoreShape = {batch, hkv, groups, s, t};
  Value visible;
  Value mask = attn.getMask();
  if (mask) {
    // The mask broadcasts to [B, Hq, S, T] from the right.
    Value wide = g.reshape(g.broadcastTo(mask, {batch, hq, s, t}), scoreShape);
    if (GradBuilder::typeOf(mask).getElementType().isInteger(1))
      visible = wide;
    else
      scores = g.add(scores, wide);
  }
  if (attn.getCausal()) {
    SmallVector<bool> causal;
    for (int64_t i = 0; i < s; ++i)
      for (int64_t j = 0; j < t; ++j)
        causal.push_back(j <= i + t - s);
    auto type = RankedTensorType::get({s, t}, g.builder().getI1Type());
    Value c = tsr::ConstantOp::create(g.builder(), DenseElementsAttr::get(type, causal));
    visible = visible ? g.select(c, visible, c) : c; // c ? visible : false
  }
  if (visible)
    scores = g.select(visible, scores,
                      g.scalar(-std::numeric_limits<double>::infinity(), scores));
  Value p = tsr::SoftmaxOp::create(g.builder(), scores, g.builder().getI64IntegerAttr(4));
  // A fully masked row attends to nothing (zeros), as the forward kernel.
  if (visible)
    p = g.select(visible, p, g.scalar(0.0, p));
  Value do5 = g.reshape(dout, {batch, hkv, groups, s, dv});
  Value dv5 = g.matmul(p, do5, true, false);                 // [B, Hkv, G, T, Dv]
  Value dp = g.matmul(do5, v5, false, true);                 // [B, Hkv, G, S, T]
  Value ds = g.mul(p, g.sub(dp, g.reduceSum(g.mul(dp, p), {4}, true)));
  Value dsRaw = capped ? g.mul(ds, g.sub(g.scalar(1.0, q), g.mul(capped, capped))) : ds;
  Value dq5 = g.mul(g.matmul(dsRaw, k5, false, false), scale);  // [B, Hkv, G, S, D]
  Value dk5 = g.mul(g.matmul(dsRaw, q5, true, false), scale);   // [B, Hkv, G, T, D]
  dxs.push_back(g.reshape(dq5, qs));
  dxs.push_back(g.reshape(g.reduceSum(dk5, {2}, false), ks));
  dxs.push_back(g.reshape(g.reduceSum(dv5, {2}, false), vs));
  if (mask) {
    auto maskType = GradBuilder::typeOf(mask);
    dxs.push_back(isa<FloatType>(maskType.getElementType())
                      ? g.reduceTo(g.reshape(ds, {batch, hq, s, t}), maskType)
                      : Value());
  }
  return success();
}

/// y = x cos + rot(x) sin on the first R features (the rest pass through),
/// rot the rotate-half (or interleaved) map, whose transpose is -rot:
/// dx = dy cos - rot(dy sin). rot(z) is rotary(z, 0, 1).
LogicalResult rotaryRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto rotary = cast<tsr::RotaryOp>(op);
  Value x = rotary.getInput(), cos = rotary.getCos(), sin = rotary.getSin(), dy = dys[0];
  auto xType = GradBuilder::typeOf(x);
  auto cosType = GradBuilder::typeOf(cos);
  int64_t rank = xType.getRank(), width = xType.getShape().back();
  int64_t r = cosType.getShape().back();
  auto rot = [&](Value z, double sign) {
    return tsr::RotaryOp::create(g.builder(), z.getType(), z, g.splat(0.0, cosType),
                                 g.splat(sign, cosType), rotary.getInterleavedAttr())
        .getResult();
  };
  auto part = [&](Value z, int64_t begin, int64_t end) {
    SmallVector<int64_t> start(size_t(rank), 0), limit(shapeOf(z));
    start.back() = begin;
    limit.back() = end;
    return g.slice(z, start, limit);
  };
  Value dyr = r == width ? dy : part(dy, 0, r);
  Value xr = r == width ? x : part(x, 0, r);
  Value dxr = g.add(g.mul(dyr, cos), rot(g.mul(dyr, sin), -1.0));
  dxs.push_back(r == width ? dxr : g.concat({dxr, part(dy, r, width)}, rank - 1));
  dxs.push_back(g.reduceTo(g.mul(dyr, xr), cosType));
  dxs.push_back(g.reduceTo(g.mul(dyr, rot(xr, 1.0)), GradBuilder::typeOf(sin)));
  return success();
}

} // namespace

void tessera::train::addTransformerRules(llvm::StringMap<GradientRule> &rules) {
  rules["tsr.attention"] = attentionRule;
  rules["tsr.rotary"] = rotaryRule;
}

const llvm::StringMap<GradientRule> &tessera::train::gradientRules() {
  static const llvm::StringMap<GradientRule> rules = [] {
    llvm::StringMap<GradientRule> r;
    addElementwiseRules(r);
    addLinalgRules(r);
    addShapeRules(r);
    addTransformerRules(r);
    return r;
  }();
  return rules;
}
