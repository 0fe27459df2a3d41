//===- FuseActivations.cpp - gelu and silu from their formulas ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/graph/Matchers.h"
#include "passes/graph/Passes.h"

#include <cmath>

using namespace mlir;
using namespace tessera::graph;

namespace {

/// The factors of a gelu candidate: constant * rest, where a lone
/// non-constant factor that is itself a product is opened once
/// ((x * (1 + erf)) * 0.5 has the factors x, 1 + erf and 0.5).
double geluFactors(Value root, SmallVectorImpl<Value> &rest) {
  double constant = scaledFactors(root, rest);
  if (rest.size() == 1 && rest[0].getDefiningOp<tsr::MulOp>()) {
    Value product = rest.pop_back_val();
    constant *= scaledFactors(product, rest);
  }
  return constant;
}

/// Finds `x` among `factors` such that the remaining non-constant factor is
/// `1 + inner(...)` and `check(inner, x)` holds.
template <typename InnerOp>
Value matchHalfXTimesOnePlus(ArrayRef<Value> rest, double constant,
                             function_ref<bool(InnerOp, Value)> check) {
  if (rest.size() != 2 || std::fabs(constant - 0.5) > 1e-6)
    return {};
  for (int i = 0; i < 2; ++i) {
    Value x = rest[i], other = rest[1 - i];
    auto add = other.getDefiningOp<tsr::AddOp>();
    if (!add)
      continue;
    for (Value operand : {add.getLhs(), add.getRhs()}) {
      auto inner = operand.getDefiningOp<InnerOp>();
      if (inner && isSplat(otherOperand(add, operand), 1.0) && check(inner, x))
        return x;
    }
  }
  return {};
}

/// x * 0.5 * (1 + erf(x / sqrt(2))), in any association of the product.
struct FuseGeluErf : OpRewritePattern<tsr::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::MulOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Value> rest;
    double constant = geluFactors(op.getResult(), rest);
    Value x = matchHalfXTimesOnePlus<tsr::ErfOp>(
        rest, constant, [](tsr::ErfOp erf, Value x) {
          Value arg = erf.getInput();
          if (auto div = arg.getDefiningOp<tsr::DivOp>())
            return div.getLhs() == x && isSplat(div.getRhs(), std::sqrt(2.0));
          SmallVector<Value> r;
          double c = scaledFactors(arg, r);
          return r.size() == 1 && r[0] == x &&
                 std::fabs(c - 1.0 / std::sqrt(2.0)) < 1e-4;
        });
    if (!x || x.getType() != op.getType())
      return failure();
    rewriter.replaceOpWithNewOp<tsr::GeluOp>(op, x, tsr::GeluApproximation::none);
    return success();
  }
};

/// Whether `v` is x^3 (pow(x, 3) or x * x * x).
bool isCube(Value v, Value x) {
  if (auto pow = v.getDefiningOp<tsr::PowOp>())
    return pow.getLhs() == x && isSplat(pow.getRhs(), 3.0);
  SmallVector<Value> f;
  mulFactors(v, f, 2);
  return f.size() == 3 && llvm::all_of(f, [&](Value y) { return y == x; });
}

/// Whether `factors` (after their constant `k` is split off) are
/// 0.044715 * x^2: (x, x), (x * x) or pow(x, 2).
bool isGeluQuadratic(ArrayRef<Value> factors, double k, Value x) {
  if (std::fabs(k - 0.044715) > 1e-6)
    return false;
  if (factors.size() == 2)
    return factors[0] == x && factors[1] == x;
  if (factors.size() != 1)
    return false;
  if (auto pow = factors[0].getDefiningOp<tsr::PowOp>())
    return pow.getLhs() == x && isSplat(pow.getRhs(), 2.0);
  SmallVector<Value> f;
  mulFactors(factors[0], f, 1);
  return f.size() == 2 && f[0] == x && f[1] == x;
}

/// x * 0.5 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), or with the
/// argument factored as sqrt(2/pi) * x * (1 + 0.044715 * x^2) (BLOOM).
struct FuseGeluTanh : OpRewritePattern<tsr::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::MulOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Value> rest;
    double constant = geluFactors(op.getResult(), rest);
    Value x = matchHalfXTimesOnePlus<tsr::TanhOp>(
        rest, constant, [](tsr::TanhOp tanh, Value x) {
          SmallVector<Value> r;
          double c = scaledFactors(tanh.getInput(), r);
          if (std::fabs(c - std::sqrt(2.0 / M_PI)) > 1e-4)
            return false;
          if (r.size() == 2) {
            for (int i = 0; i < 2; ++i) {
              auto add = r[size_t(1 - i)].getDefiningOp<tsr::AddOp>();
              if (r[size_t(i)] != x || !add)
                continue;
              for (Value operand : {add.getLhs(), add.getRhs()}) {
                SmallVector<Value> qr;
                double k = scaledFactors(operand, qr);
                if (isSplat(otherOperand(add, operand), 1.0) && isGeluQuadratic(qr, k, x))
                  return true;
              }
            }
            return false;
          }
          if (r.size() != 1)
            return false;
          auto add = r[0].getDefiningOp<tsr::AddOp>();
          if (!add)
            return false;
          Value cubic = add.getLhs() == x ? add.getRhs()
                        : add.getRhs() == x ? add.getLhs()
                                            : Value();
          if (!cubic)
            return false;
          SmallVector<Value> cr;
          double k = scaledFactors(cubic, cr);
          return cr.size() == 1 && std::fabs(k - 0.044715) < 1e-6 &&
                 isCube(cr[0], x);
        });
    if (!x || x.getType() != op.getType())
      return failure();
    rewriter.replaceOpWithNewOp<tsr::GeluOp>(op, x, tsr::GeluApproximation::tanh);
    return success();
  }
};

/// x * sigmoid(x).
struct FuseSilu : OpRewritePattern<tsr::MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::MulOp op,
                                PatternRewriter &rewriter) const override {
    for (auto [x, s] : {std::pair(op.getLhs(), op.getRhs()),
                        std::pair(op.getRhs(), op.getLhs())}) {
      auto sigmoid = s.getDefiningOp<tsr::SigmoidOp>();
      if (sigmoid && sigmoid.getInput() == x && x.getType() == op.getType()) {
        rewriter.replaceOpWithNewOp<tsr::SiluOp>(op, x);
        return success();
      }
    }
    return failure();
  }
};

} // namespace

void tessera::graph::populateActivationFusionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseGeluErf, FuseGeluTanh, FuseSilu>(patterns.getContext());
}
