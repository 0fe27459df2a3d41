//===- Matchers.cpp - matching helpers for the fusion patterns ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/graph/Matchers.h"

#include "dialects/tsr/IR/ShapeUtils.h"

#include <cmath>

using namespace mlir;
using namespace tessera::graph;

std::optional<double> tessera::graph::splatValue(Value v) {
  auto constant = v.getDefiningOp<tsr::ConstantOp>();
  if (!constant)
    return std::nullopt;
  auto dense = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!dense || dense.getNumElements() == 0)
    return std::nullopt;
  auto first = [&](auto values) -> std::optional<double> {
    double x = double(*values.begin());
    for (auto element : values)
      if (double(element) != x)
        return std::nullopt;
    return x;
  };
  if (isa<FloatType>(dense.getElementType())) {
    if (dense.isSplat())
      return dense.getSplatValue<APFloat>().convertToDouble();
    SmallVector<double> values;
    for (APFloat f : dense.getValues<APFloat>())
      values.push_back(f.convertToDouble());
    return first(values);
  }
  if (dense.getElementType().isInteger(1))
    return std::nullopt;
  SmallVector<double> values;
  for (APInt i : dense.getValues<APInt>())
    values.push_back(double(i.getSExtValue()));
  return first(values);
}

bool tessera::graph::isSplat(Value v, double expected, double tolerance) {
  std::optional<double> value = splatValue(v);
  if (!value)
    return false;
  if (std::isinf(expected))
    return *value == expected;
  return std::fabs(*value - expected) <=
         tolerance * std::max(1.0, std::fabs(expected));
}

/// The leaves of a tree of `BinaryOp` rooted at `v`, down to `depth` levels.
template <typename BinaryOp>
static void leaves(Value v, SmallVectorImpl<Value> &out, int depth) {
  auto op = v.getDefiningOp<BinaryOp>();
  if (!op || depth == 0) {
    out.push_back(v);
    return;
  }
  leaves<BinaryOp>(op.getLhs(), out, depth - 1);
  leaves<BinaryOp>(op.getRhs(), out, depth - 1);
}

void tessera::graph::mulFactors(Value v, SmallVectorImpl<Value> &factors,
                                int depth) {
  leaves<tsr::MulOp>(v, factors, depth);
}

void tessera::graph::addTerms(Value v, SmallVectorImpl<Value> &terms, int depth) {
  leaves<tsr::AddOp>(v, terms, depth);
}

double tessera::graph::splitConstantFactors(ArrayRef<Value> factors,
                                            SmallVectorImpl<Value> &rest) {
  double product = 1.0;
  for (Value f : factors) {
    if (std::optional<double> c = splatValue(f))
      product *= *c;
    else
      rest.push_back(f);
  }
  return product;
}

double tessera::graph::scaledFactors(Value v, SmallVectorImpl<Value> &rest) {
  double constant = 1.0;
  SmallVector<Value> work;
  if (auto mul = v.getDefiningOp<tsr::MulOp>())
    work = {mul.getLhs(), mul.getRhs()};
  else
    work = {v};
  while (!work.empty()) {
    Value f = work.pop_back_val();
    if (std::optional<double> c = splatValue(f)) {
      constant *= *c;
      continue;
    }
    auto mul = f.getDefiningOp<tsr::MulOp>();
    if (mul && (splatValue(mul.getLhs()) || splatValue(mul.getRhs()))) {
      work.push_back(mul.getLhs());
      work.push_back(mul.getRhs());
      continue;
    }
    rest.push_back(f);
  }
  return constant;
}

std::optional<int64_t> tessera::graph::trailingAxesStart(Operation *op) {
  auto reduction = dyn_cast<tsr::ReduceMeanOp>(op);
  if (!reduction || !reduction.getKeepDims())
    return std::nullopt;
  ArrayRef<int64_t> axes = reduction.getAxes();
  int64_t rank = cast<RankedTensorType>(reduction.getInput().getType()).getRank();
  if (axes.empty() || axes.back() != rank - 1)
    return std::nullopt;
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] != axes[i - 1] + 1)
      return std::nullopt;
  return axes.front();
}

Value tessera::graph::fitToShape(PatternRewriter &rewriter, Location loc,
                                 Value param, ArrayRef<int64_t> shape) {
  ArrayRef<int64_t> s = shapeOf(param);
  if (s == shape)
    return param;
  if (!tsr::isBroadcastableTo(s, shape))
    return {};
  Type element = cast<RankedTensorType>(param.getType()).getElementType();
  // Leading size-1 dimensions beyond the target's rank go first.
  SmallVector<int64_t> trimmed(s);
  while (trimmed.size() > shape.size()) {
    if (trimmed.front() != 1)
      return {};
    trimmed.erase(trimmed.begin());
  }
  Value v = param;
  if (ArrayRef<int64_t>(trimmed) != s)
    v = tsr::ReshapeOp::create(rewriter, loc,
                               RankedTensorType::get(trimmed, element), v);
  if (ArrayRef<int64_t>(trimmed) != shape)
    v = tsr::BroadcastOp::create(rewriter, loc,
                                 RankedTensorType::get(shape, element), v);
  return v;
}
