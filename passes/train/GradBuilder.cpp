//===- GradBuilder.cpp - building tsr arithmetic for gradients ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/GradBuilder.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>

using namespace mlir;
using namespace tessera::train;

Value GradBuilder::scalarOf(double value, Type elementType) {
  auto type = RankedTensorType::get({}, elementType);
  Attribute element;
  if (auto f = dyn_cast<FloatType>(elementType))
    element = b.getFloatAttr(f, value);
  else
    element = b.getIntegerAttr(elementType, int64_t(value));
  return tsr::ConstantOp::create(b, DenseElementsAttr::get(type, element));
}

Value GradBuilder::scalar(double value, Value like) {
  return scalarOf(value, typeOf(like).getElementType());
}

Value GradBuilder::splat(double value, RankedTensorType type) {
  Attribute element = isa<FloatType>(type.getElementType())
                          ? Attribute(b.getFloatAttr(type.getElementType(), value))
                          : Attribute(b.getIntegerAttr(type.getElementType(), int64_t(value)));
  return tsr::ConstantOp::create(b, DenseElementsAttr::get(type, element));
}

/// NumPy broadcasting of two shapes.
static SmallVector<int64_t> broadcastShape(ArrayRef<int64_t> a, ArrayRef<int64_t> c) {
  size_t rank = std::max(a.size(), c.size());
  SmallVector<int64_t> shape(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t dc = i < rank - c.size() ? 1 : c[i - (rank - c.size())];
    shape[i] = da == 1 ? dc : da;
  }
  return shape;
}

RankedTensorType GradBuilder::broadcastType(Value x, Value y, Type element) {
  return RankedTensorType::get(broadcastShape(typeOf(x).getShape(), typeOf(y).getShape()),
                               element);
}

#define TSR_BINARY(NAME, OP)                                                                       \
  Value GradBuilder::NAME(Value x, Value y) {                                                      \
    return tsr::OP::create(b, broadcastType(x, y, typeOf(x).getElementType()), x, y);            \
  }
TSR_BINARY(add, AddOp)
TSR_BINARY(sub, SubOp)
TSR_BINARY(mul, MulOp)
TSR_BINARY(div, DivOp)
TSR_BINARY(max, MaxOp)
TSR_BINARY(min, MinOp)
TSR_BINARY(pow, PowOp)
#undef TSR_BINARY

#define TSR_UNARY(NAME, OP)                                                                        \
  Value GradBuilder::NAME(Value x) { return tsr::OP::create(b, x.getType(), x); }
TSR_UNARY(neg, NegOp)
TSR_UNARY(exp, ExpOp)
TSR_UNARY(log, LogOp)
TSR_UNARY(sqrt, SqrtOp)
TSR_UNARY(rsqrt, RsqrtOp)
TSR_UNARY(tanh, TanhOp)
TSR_UNARY(erf, ErfOp)
TSR_UNARY(sigmoid, SigmoidOp)
TSR_UNARY(cos, CosOp)
TSR_UNARY(sin, SinOp)
#undef TSR_UNARY

Value GradBuilder::compare(tsr::ComparePredicate predicate, Value x, Value y) {
  return tsr::CompareOp::create(b, broadcastType(x, y, b.getI1Type()),
                                tsr::ComparePredicateAttr::get(b.getContext(), predicate), x,
                                y);
}

Value GradBuilder::select(Value condition, Value x, Value y) {
  SmallVector<int64_t> shape = broadcastShape(
      broadcastShape(typeOf(condition).getShape(), typeOf(x).getShape()), typeOf(y).getShape());
  return tsr::SelectOp::create(b, RankedTensorType::get(shape, typeOf(x).getElementType()),
                               condition, x, y);
}

Value GradBuilder::cast(Value x, Type elementType) {
  if (typeOf(x).getElementType() == elementType)
    return x;
  return tsr::CastOp::create(b, RankedTensorType::get(typeOf(x).getShape(), elementType), x);
}

static SmallVector<int64_t> normalizedAxes(ArrayRef<int64_t> axes, int64_t rank) {
  SmallVector<int64_t> out;
  for (int64_t a : axes)
    out.push_back(a < 0 ? a + rank : a);
  llvm::sort(out);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Value GradBuilder::reduceSum(Value x, ArrayRef<int64_t> axes, bool keepDims) {
  if (axes.empty())
    return x;
  return tsr::ReduceSumOp::create(b, x, normalizedAxes(axes, typeOf(x).getRank()), keepDims);
}

Value GradBuilder::reduceMean(Value x, ArrayRef<int64_t> axes, bool keepDims) {
  if (axes.empty())
    return x;
  return tsr::ReduceMeanOp::create(b, x, normalizedAxes(axes, typeOf(x).getRank()), keepDims);
}

Value GradBuilder::reduceMax(Value x, ArrayRef<int64_t> axes, bool keepDims) {
  if (axes.empty())
    return x;
  return tsr::ReduceMaxOp::create(b, x, normalizedAxes(axes, typeOf(x).getRank()), keepDims);
}

Value GradBuilder::reshape(Value x, ArrayRef<int64_t> shape) {
  if (typeOf(x).getShape() == shape)
    return x;
  return tsr::ReshapeOp::create(b, RankedTensorType::get(shape, typeOf(x).getElementType()), x);
}

Value GradBuilder::broadcastTo(Value x, ArrayRef<int64_t> shape) {
  if (typeOf(x).getShape() == shape)
    return x;
  return tsr::BroadcastOp::create(b, RankedTensorType::get(shape, typeOf(x).getElementType()),
                                  x);
}

Value GradBuilder::transpose(Value x, ArrayRef<int64_t> permutation) {
  return tsr::TransposeOp::create(b, x, b.getDenseI64ArrayAttr(permutation));
}

Value GradBuilder::matmul(Value x, Value y, bool transposeA, bool transposeB) {
  return tsr::MatmulOp::create(b, x, y, transposeA ? b.getUnitAttr() : nullptr,
                               transposeB ? b.getUnitAttr() : nullptr);
}

Value GradBuilder::slice(Value x, ArrayRef<int64_t> start, ArrayRef<int64_t> limit) {
  return tsr::SliceOp::create(b, x, b.getDenseI64ArrayAttr(start), b.getDenseI64ArrayAttr(limit),
                              nullptr);
}

Value GradBuilder::concat(ArrayRef<Value> parts, int64_t axis) {
  if (parts.size() == 1)
    return parts[0];
  return tsr::ConcatOp::create(b, ValueRange(parts), b.getI64IntegerAttr(axis));
}

Value GradBuilder::reduceTo(Value grad, RankedTensorType type) {
  ArrayRef<int64_t> from = typeOf(grad).getShape(), to = type.getShape();
  if (from == to)
    return grad;
  int64_t lead = int64_t(from.size()) - int64_t(to.size());
  SmallVector<int64_t> axes;
  for (int64_t i = 0; i < int64_t(from.size()); ++i)
    if (i < lead || (to[size_t(i - lead)] == 1 && from[size_t(i)] != 1))
      axes.push_back(i);
  Value summed = reduceSum(grad, axes, /*keepDims=*/false);
  return reshape(summed, to);
}

void GradBuilder::setResults(func::FuncOp func, ValueRange results, ArrayRef<Attribute> attrs) {
  Operation *old = func.getBody().front().getTerminator();
  func::ReturnOp::create(b, results);
  old->erase();
  func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                 TypeRange(results)));
  func.setAllResultAttrs(attrs);
}
