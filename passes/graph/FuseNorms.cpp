//===- FuseNorms.cpp - layer_norm and rms_norm from their formulas --------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/graph/Matchers.h"
#include "passes/graph/Passes.h"

using namespace mlir;
using namespace tessera::graph;

namespace {

/// A normalisation x' = num / sqrt(var + eps) over trailing axes.
struct NormCore {
  Value numerator; ///< x - mean (layer norm) or x (rms norm)
  Value variance;  ///< the value under the square root, minus epsilon
  double epsilon = 0;
};

/// Matches `num / sqrt(v + eps)`, `num * rsqrt(v + eps)`,
/// `num * reciprocal(sqrt(v + eps))` and `num * (1 / sqrt(v + eps))`.
std::optional<NormCore> matchNormCore(Value n) {
  auto underRoot = [](Value radicand, NormCore &core) {
    auto add = radicand.getDefiningOp<tsr::AddOp>();
    if (!add)
      return false;
    for (Value v : {add.getLhs(), add.getRhs()}) {
      std::optional<double> eps = splatValue(otherOperand(add, v));
      if (eps && *eps > 0 && v.getDefiningOp<tsr::ReduceMeanOp>()) {
        core.variance = v;
        core.epsilon = *eps;
        return true;
      }
    }
    return false;
  };
  NormCore core;
  if (auto div = n.getDefiningOp<tsr::DivOp>()) {
    auto sqrt = div.getRhs().getDefiningOp<tsr::SqrtOp>();
    if (sqrt && underRoot(sqrt.getInput(), core)) {
      core.numerator = div.getLhs();
      return core;
    }
    return std::nullopt;
  }
  auto mul = n.getDefiningOp<tsr::MulOp>();
  if (!mul)
    return std::nullopt;
  for (Value v : {mul.getLhs(), mul.getRhs()}) {
    Value radicand;
    if (auto rsqrt = v.getDefiningOp<tsr::RsqrtOp>())
      radicand = rsqrt.getInput();
    else if (auto recip = v.getDefiningOp<tsr::ReciprocalOp>()) {
      if (auto sqrt = recip.getInput().getDefiningOp<tsr::SqrtOp>())
        radicand = sqrt.getInput();
    } else if (auto div = v.getDefiningOp<tsr::DivOp>()) { // 1 / sqrt(...)
      auto sqrt = div.getRhs().getDefiningOp<tsr::SqrtOp>();
      if (sqrt && isSplat(div.getLhs(), 1.0))
        radicand = sqrt.getInput();
    }
    if (radicand && underRoot(radicand, core)) {
      core.numerator = otherOperand(mul, v);
      return core;
    }
  }
  return std::nullopt;
}

/// Whether `v` is `x * x` or `x ^ 2`.
bool isSquareOf(Value v, Value x) {
  if (auto pow = v.getDefiningOp<tsr::PowOp>())
    return pow.getLhs() == x && isSplat(pow.getRhs(), 2.0);
  if (auto mul = v.getDefiningOp<tsr::MulOp>())
    return mul.getLhs() == x && mul.getRhs() == x;
  return false;
}

/// mean(sq(x)) over trailing axes with kept dims: the first axis.
std::optional<int64_t> meanOfSquare(Value meanValue, Value x) {
  auto mean = meanValue.getDefiningOp<tsr::ReduceMeanOp>();
  if (!mean || !isSquareOf(mean.getInput(), x))
    return std::nullopt;
  return trailingAxesStart(mean);
}

struct LayerNormMatch {
  Value input;
  int64_t axis;
  double epsilon;
};

/// (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps).
std::optional<LayerNormMatch> matchLayerNorm(Value n) {
  std::optional<NormCore> core = matchNormCore(n);
  if (!core)
    return std::nullopt;
  auto sub = core->numerator.getDefiningOp<tsr::SubOp>();
  if (!sub)
    return std::nullopt;
  Value x = sub.getLhs();
  auto mean = sub.getRhs().getDefiningOp<tsr::ReduceMeanOp>();
  if (!mean || mean.getInput() != x)
    return std::nullopt;
  std::optional<int64_t> axis = trailingAxesStart(mean);
  std::optional<int64_t> varAxis = meanOfSquare(core->variance, core->numerator);
  if (!axis || !varAxis || *axis != *varAxis || x.getType() != n.getType())
    return std::nullopt;
  return LayerNormMatch{x, *axis, core->epsilon};
}

/// x / sqrt(mean(x^2) + eps).
std::optional<LayerNormMatch> matchRmsNorm(Value n) {
  std::optional<NormCore> core = matchNormCore(n);
  if (!core)
    return std::nullopt;
  Value x = core->numerator;
  std::optional<int64_t> axis = meanOfSquare(core->variance, x);
  if (!axis || x.getType() != n.getType())
    return std::nullopt;
  return LayerNormMatch{x, *axis, core->epsilon};
}

SmallVector<int64_t> normalizedShape(Value x, int64_t axis) {
  return SmallVector<int64_t>(shapeOf(x).drop_front(axis));
}

/// normalised(x) * gamma -> layer_norm(x, gamma).
struct FuseLayerNorm : OpRewritePattern<tsr::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::MulOp op,
                                PatternRewriter &rewriter) const override {
    for (Value n : {op.getLhs(), op.getRhs()}) {
      std::optional<LayerNormMatch> m = matchLayerNorm(n);
      if (!m || op.getType() != n.getType())
        continue;
      Value gamma = fitToShape(rewriter, op.getLoc(), otherOperand(op, n),
                               normalizedShape(m->input, m->axis));
      if (!gamma)
        continue;
      rewriter.replaceOpWithNewOp<tsr::LayerNormOp>(
          op, op.getType(), m->input, gamma, Value(), m->axis,
          APFloat(m->epsilon));
      return success();
    }
    return failure();
  }
};

/// layer_norm(x, gamma) + beta -> layer_norm(x, gamma, beta).
struct FuseLayerNormBias : OpRewritePattern<tsr::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::AddOp op,
                                PatternRewriter &rewriter) const override {
    for (Value n : {op.getLhs(), op.getRhs()}) {
      auto norm = n.getDefiningOp<tsr::LayerNormOp>();
      if (!norm || norm.getBias() || !n.hasOneUse() || op.getType() != n.getType())
        continue;
      Value beta = fitToShape(rewriter, op.getLoc(), otherOperand(op, n),
                              normalizedShape(norm.getInput(), norm.getAxis()));
      if (!beta)
        continue;
      rewriter.replaceOpWithNewOp<tsr::LayerNormOp>(
          op, op.getType(), norm.getInput(), norm.getScale(), beta,
          norm.getAxis(), norm.getEpsilon());
      return success();
    }
    return failure();
  }
};

/// rms_normalised(x) * w -> rms_norm(x, w).
struct FuseRmsNorm : OpRewritePattern<tsr::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::MulOp op,
                                PatternRewriter &rewriter) const override {
    for (Value n : {op.getLhs(), op.getRhs()}) {
      std::optional<LayerNormMatch> m = matchRmsNorm(n);
      if (!m || op.getType() != n.getType())
        continue;
      Value w = fitToShape(rewriter, op.getLoc(), otherOperand(op, n),
                           normalizedShape(m->input, m->axis));
      if (!w)
        continue;
      rewriter.replaceOpWithNewOp<tsr::RmsNormOp>(op, op.getType(), m->input, w,
                                                  m->axis, APFloat(m->epsilon));
      return success();
    }
    return failure();
  }
};

} // namespace

void tessera::graph::populateNormFusionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseLayerNorm, FuseLayerNormBias, FuseRmsNorm>(
      patterns.getContext());
}
