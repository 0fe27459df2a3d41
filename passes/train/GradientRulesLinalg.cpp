//===- GradientRulesLinalg.cpp - matmul, reductions, softmax, norms -------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/GradientRules.h"

using namespace mlir;
using namespace tessera::train;

namespace {

using Grads = SmallVectorImpl<Value>;

/// Y = op(A) op(B) with op a transpose of the last two dimensions when the
/// flag is set; batch dimensions broadcast (operands have rank >= 2).
LogicalResult matmulRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto mm = cast<tsr::MatmulOp>(op);
  Value a = mm.getLhs(), b = mm.getRhs(), dy = dys[0];
  bool ta = mm.getTransposeLhs(), tb = mm.getTransposeRhs();
  // dA: op(A) = A: dY op(B)^T;  op(A) = A^T: op(B) dY^T.
  Value da = ta ? g.matmul(b, dy, tb, true) : g.matmul(dy, b, false, !tb);
  // dB: op(B) = B: op(A)^T dY;  op(B) = B^T: dY^T op(A).
  Value db = tb ? g.matmul(dy, a, true, ta) : g.matmul(a, dy, !ta, false);
  dxs.push_back(g.reduceTo(da, GradBuilder::typeOf(a)));
  dxs.push_back(g.reduceTo(db, GradBuilder::typeOf(b)));
  return success();
}

/// The result gradient with the reduced axes kept (size 1), broadcast back
/// to the input's shape.
Value expandReduced(GradBuilder &g, Operation *op, Value dy) {
  auto in = GradBuilder::typeOf(op->getOperand(0));
  SmallVector<int64_t> kept(in.getShape());
  for (int64_t a : op->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef())
    kept[size_t(a < 0 ? a + in.getRank() : a)] = 1;
  return g.broadcastTo(g.reshape(dy, kept), in.getShape());
}

int64_t reducedCount(Operation *op) {
  auto in = GradBuilder::typeOf(op->getOperand(0));
  int64_t n = 1;
  for (int64_t a : op->getAttrOfType<DenseI64ArrayAttr>("axes").asArrayRef())
    n *= in.getShape()[size_t(a < 0 ? a + in.getRank() : a)];
  return n;
}

LogicalResult reduceSumRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  dxs.push_back(expandReduced(g, op, dys[0]));
  return success();
}

LogicalResult reduceMeanRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value dx = expandReduced(g, op, dys[0]);
  dxs.push_back(g.div(dx, g.scalar(double(reducedCount(op)), dx)));
  return success();
}

/// max / min: the gradient goes to every position equal to the extremum.
LogicalResult reduceExtremumRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value x = op->getOperand(0);
  Value y = expandReduced(g, op, op->getResult(0));
  Value dy = expandReduced(g, op, dys[0]);
  Value hit = g.compare(tsr::ComparePredicate::eq, x, y);
  dxs.push_back(g.select(hit, dy, g.scalar(0.0, dy)));
  return success();
}

LogicalResult reduceProdRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value x = op->getOperand(0);
  Value y = expandReduced(g, op, op->getResult(0));
  dxs.push_back(g.div(g.mul(expandReduced(g, op, dys[0]), y), x));
  return success();
}

LogicalResult softmaxRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto softmax = cast<tsr::SoftmaxOp>(op);
  Value y = softmax.getResult(), dy = dys[0];
  Value inner = g.reduceSum(g.mul(dy, y), {softmax.getAxis()}, /*keepDims=*/true);
  dxs.push_back(g.mul(y, g.sub(dy, inner)));
  return success();
}

SmallVector<int64_t> normAxes(Value x, int64_t axis) {
  int64_t rank = GradBuilder::typeOf(x).getRank();
  SmallVector<int64_t> axes;
  for (int64_t a = axis < 0 ? axis + rank : axis; a < rank; ++a)
    axes.push_back(a);
  return axes;
}

/// y = xhat * scale + bias, xhat = (x - mean) * rstd:
/// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy scale.
LogicalResult layerNormRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto ln = cast<tsr::LayerNormOp>(op);
  Value x = ln.getInput(), dy = dys[0];
  SmallVector<int64_t> axes = normAxes(x, ln.getAxis());
  Value mean = g.reduceMean(x, axes, true);
  Value centered = g.sub(x, mean);
  Value var = g.reduceMean(g.mul(centered, centered), axes, true);
  Value rstd = g.rsqrt(g.add(var, g.scalar(ln.getEpsilon().convertToDouble(), x)));
  Value xhat = g.mul(centered, rstd);
  Value dxhat = g.mul(dy, ln.getScale());
  Value dx = g.mul(rstd, g.sub(g.sub(dxhat, g.reduceMean(dxhat, axes, true)),
                               g.mul(xhat, g.reduceMean(g.mul(dxhat, xhat), axes, true))));
  dxs.push_back(dx);
  dxs.push_back(g.reduceTo(g.mul(dy, xhat), GradBuilder::typeOf(ln.getScale())));
  if (ln.getBias())
    dxs.push_back(g.reduceTo(dy, GradBuilder::typeOf(ln.getBias())));
  return success();
}

/// y = x r scale, r = rsqrt(mean(x^2) + eps):
/// dx = r (dxhat - xhat mean(dxhat xhat)), xhat = x r, dxhat = dy scale.
LogicalResult rmsNormRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto rms = cast<tsr::RmsNormOp>(op);
  Value x = rms.getInput(), dy = dys[0];
  SmallVector<int64_t> axes = normAxes(x, rms.getAxis());
  Value r = g.rsqrt(g.add(g.reduceMean(g.mul(x, x), axes, true),
                          g.scalar(rms.getEpsilon().convertToDouble(), x)));
  Value xhat = g.mul(x, r);
  Value dxhat = g.mul(dy, rms.getScale());
  dxs.push_back(g.mul(r, g.sub(dxhat, g.mul(xhat, g.reduceMean(g.mul(dxhat, xhat), axes, true)))));
  dxs.push_back(g.reduceTo(g.mul(dy, xhat), GradBuilder::typeOf(rms.getScale())));
  return success();
}

} // namespace

void tessera::train::addLinalgRules(llvm::StringMap<GradientRule> &rules) {
  rules["tsr.matmul"] = matmulRule;
  rules["tsr.reduce_sum"] = reduceSumRule;
  rules["tsr.reduce_mean"] = reduceMeanRule;
  rules["tsr.reduce_max"] = reduceExtremumRule;
  rules["tsr.reduce_min"] = reduceExtremumRule;
  rules["tsr.reduce_prod"] = reduceProdRule;
  rules["tsr.softmax"] = softmaxRule;
  rules["tsr.layer_norm"] = layerNormRule;
  rules["tsr.rms_norm"] = rmsNormRule;
}
