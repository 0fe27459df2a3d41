//===- ConstTensor.cpp - compile-time tensors the importer folds ----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/ConstTensor.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/APInt.h"

#include <cmath>

using namespace mlir;
using namespace tessera::onnx;

int64_t ConstTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

ConstTensor ConstTensor::ofInts(Type elementType, std::vector<int64_t> shape,
                                std::vector<int64_t> values) {
  ConstTensor t;
  t.elementType = elementType;
  t.shape = std::move(shape);
  t.ints = std::move(values);
  return t;
}

ConstTensor ConstTensor::ofFloats(Type elementType, std::vector<int64_t> shape,
                                  std::vector<double> values) {
  ConstTensor t;
  t.elementType = elementType;
  t.shape = std::move(shape);
  t.floats = std::move(values);
  return t;
}

std::optional<ConstTensor> ConstTensor::fromAttr(DenseElementsAttr attr) {
  auto type = llvm::cast<ShapedType>(attr.getType());
  ConstTensor t;
  t.elementType = type.getElementType();
  t.shape.assign(type.getShape().begin(), type.getShape().end());
  if (isa<FloatType>(t.elementType)) {
    for (APFloat v : attr.getValues<APFloat>()) {
      bool losesInfo;
      v.convert(APFloat::IEEEdouble(), APFloat::rmNearestTiesToEven, &losesInfo);
      t.floats.push_back(v.convertToDouble());
    }
    return t;
  }
  if (auto intType = dyn_cast<IntegerType>(t.elementType)) {
    bool isBool = intType.getWidth() == 1;
    for (APInt v : attr.getValues<APInt>())
      t.ints.push_back(isBool ? int64_t(v.getZExtValue()) : v.getSExtValue());
    return t;
  }
  return std::nullopt;
}

DenseElementsAttr ConstTensor::toAttr() const {
  auto type = RankedTensorType::get(shape, elementType);
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    SmallVector<APFloat> values;
    for (double d : floats) {
      APFloat v(d);
      bool losesInfo;
      v.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &losesInfo);
      values.push_back(v);
    }
    return DenseElementsAttr::get(type, values);
  }
  unsigned width = llvm::cast<IntegerType>(elementType).getWidth();
  if (width == 1) {
    SmallVector<bool> values;
    for (int64_t v : ints)
      values.push_back(v != 0);
    return DenseElementsAttr::get(type, values);
  }
  SmallVector<APInt> values;
  for (int64_t v : ints)
    values.push_back(APInt(width, uint64_t(v), /*isSigned=*/true,
                           /*implicitTrunc=*/true));
  return DenseElementsAttr::get(type, values);
}

ConstTensor ConstTensor::reshaped(std::vector<int64_t> newShape) const {
  ConstTensor t = *this;
  t.shape = std::move(newShape);
  return t;
}

ConstTensor ConstTensor::cast(Type to) const {
  ConstTensor t;
  t.elementType = to;
  t.shape = shape;
  int64_t n = numElements();
  if (isa<FloatType>(to)) {
    for (int64_t i = 0; i < n; ++i)
      t.floats.push_back(asDouble(i));
    return t;
  }
  unsigned width = llvm::cast<IntegerType>(to).getWidth();
  for (int64_t i = 0; i < n; ++i) {
    if (width == 1) {
      t.ints.push_back(asDouble(i) != 0.0);
      continue;
    }
    int64_t v = isFloat() ? int64_t(std::trunc(floats[i])) : ints[i];
    // Wrap to the target width like a two's complement conversion.
    if (width < 64)
      v = APInt(width, uint64_t(v), true, true).getSExtValue();
    t.ints.push_back(v);
  }
  return t;
}

std::vector<int64_t> tessera::onnx::stridesOf(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

void tessera::onnx::forEachBroadcast(
    const std::vector<int64_t> &result,
    const std::vector<std::vector<int64_t>> &operands,
    const std::function<void(int64_t, const std::vector<int64_t> &)> &fn) {
  size_t rank = result.size();
  // Per operand, the stride of each result dimension (0 where broadcast).
  std::vector<std::vector<int64_t>> strides;
  for (const auto &shape : operands) {
    std::vector<int64_t> own = stridesOf(shape);
    std::vector<int64_t> s(rank, 0);
    size_t offset = rank - shape.size();
    for (size_t d = 0; d < shape.size(); ++d)
      s[offset + d] = shape[d] == 1 ? 0 : own[d];
    strides.push_back(std::move(s));
  }
  int64_t total = 1;
  for (int64_t d : result)
    total *= d;
  std::vector<int64_t> index(rank, 0), operandIndex(operands.size(), 0);
  for (int64_t linear = 0; linear < total; ++linear) {
    fn(linear, operandIndex);
    // Increment the multi-index, updating operand offsets.
    for (int64_t d = int64_t(rank) - 1; d >= 0; --d) {
      ++index[d];
      for (size_t o = 0; o < operands.size(); ++o)
        operandIndex[o] += strides[o][d];
      if (index[d] < result[d])
        break;
      for (size_t o = 0; o < operands.size(); ++o)
        operandIndex[o] -= strides[o][d] * index[d];
      index[d] = 0;
    }
  }
}
