//===- GradientRulesShape.cpp - shape and data movement -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/GradientRules.h"

using namespace mlir;
using namespace tessera::train;

namespace {

using Grads = SmallVectorImpl<Value>;

RankedTensorType typeAt(Operation *op, unsigned i) {
  return cast<RankedTensorType>(op->getOperand(i).getType());
}

int64_t normalize(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

LogicalResult reshapeRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  dxs.push_back(g.reshape(dys[0], typeAt(op, 0).getShape()));
  return success();
}

LogicalResult broadcastRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  dxs.push_back(g.reduceTo(dys[0], typeAt(op, 0)));
  return success();
}

LogicalResult transposeRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  ArrayRef<int64_t> perm = cast<tsr::TransposeOp>(op).getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[size_t(p)] = int64_t(i);
  dxs.push_back(g.transpose(dys[0], inverse));
  return success();
}

LogicalResult concatRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto concat = cast<tsr::ConcatOp>(op);
  auto out = GradBuilder::typeOf(concat.getResult());
  int64_t axis = normalize(concat.getAxis(), out.getRank());
  int64_t at = 0;
  for (Value input : concat.getInputs()) {
    auto type = GradBuilder::typeOf(input);
    SmallVector<int64_t> start(size_t(out.getRank()), 0), limit(out.getShape());
    start[size_t(axis)] = at;
    limit[size_t(axis)] = at + type.getShape()[size_t(axis)];
    at = limit[size_t(axis)];
    dxs.push_back(g.slice(dys[0], start, limit));
  }
  return success();
}

LogicalResult splitRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto split = cast<tsr::SplitOp>(op);
  SmallVector<Value> parts;
  for (auto [result, dy] : llvm::zip(split.getResults(), dys))
    parts.push_back(dy ? dy : g.splat(0.0, GradBuilder::typeOf(result)));
  auto in = typeAt(op, 0);
  dxs.push_back(g.concat(parts, normalize(split.getAxis(), in.getRank())));
  return success();
}

/// The gradient of a slice is its gradient placed back among zeros, one
/// dimension at a time.
LogicalResult sliceRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto slice = cast<tsr::SliceOp>(op);
  if (auto strides = slice.getStrides())
    if (llvm::any_of(*strides, [](int64_t s) { return s != 1; }))
      return op->emitError("no gradient rule for a strided slice"), failure();
  auto in = typeAt(op, 0);
  Value grad = dys[0];
  for (int64_t d = 0; d < in.getRank(); ++d) {
    int64_t start = slice.getStart()[size_t(d)], limit = slice.getLimit()[size_t(d)];
    int64_t size = in.getShape()[size_t(d)];
    if (start == 0 && limit == size)
      continue;
    SmallVector<Value> parts;
    auto padding = [&](int64_t n) {
      SmallVector<int64_t> shape(GradBuilder::typeOf(grad).getShape());
      shape[size_t(d)] = n;
      return g.splat(0.0, RankedTensorType::get(shape, in.getElementType()));
    };
    if (start > 0)
      parts.push_back(padding(start));
    parts.push_back(grad);
    if (limit < size)
      parts.push_back(padding(size - limit));
    grad = g.concat(parts, d);
  }
  dxs.push_back(grad);
  return success();
}

LogicalResult gatherRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto gather = cast<tsr::GatherOp>(op);
  if (gather.getRowOffset())
    return op->emitError("no gradient rule for a vocabulary-parallel gather (differentiate "
                         "before partitioning)"),
           failure();
  auto type = typeAt(op, 0);
  if (!isa<FloatType>(type.getElementType())) {
    dxs.assign(2, Value());
    return success();
  }
  int64_t axis = normalize(gather.getAxis(), type.getRank());
  dxs.push_back(tsr::ScatterAddOp::create(g.builder(), type, dys[0], gather.getIndices(),
                                          g.builder().getI64IntegerAttr(axis)));
  dxs.push_back(nullptr);
  return success();
}

/// The cumulative sum's transpose: the same sum over the gradient taken from
/// the other end.
LogicalResult cumsumRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto cumsum = cast<tsr::CumSumOp>(op);
  if (!isa<FloatType>(typeAt(op, 0).getElementType())) {
    dxs.push_back(Value());
    return success();
  }
  OpBuilder &b = g.builder();
  dxs.push_back(tsr::CumSumOp::create(b, op->getLoc(), dys[0].getType(), dys[0],
                                      cumsum.getAxisAttr(), cumsum.getExclusiveAttr(),
                                      cumsum.getReverse() ? nullptr : b.getUnitAttr()));
  return success();
}

} // namespace

void tessera::train::addShapeRules(llvm::StringMap<GradientRule> &rules) {
  rules["tsr.cumsum"] = cumsumRule;
  rules["tsr.reshape"] = reshapeRule;
  rules["tsr.broadcast"] = broadcastRule;
  rules["tsr.transpose"] = transposeRule;
  rules["tsr.concat"] = concatRule;
  rules["tsr.split"] = splitRule;
  rules["tsr.slice"] = sliceRule;
  rules["tsr.gather"] = gatherRule;
}
