//===- Common.cpp - helpers shared by the ONNX op handlers ----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/ops/Common.h"

using namespace mlir;
using namespace tessera::onnx;

FailureOr<ConstTensor> tessera::onnx::foldBroadcast(
    OpBinder &b, const std::vector<const ConstTensor *> &operands,
    Type resultType,
    const std::function<void(const std::vector<const ConstTensor *> &,
                             const std::vector<int64_t> &, ConstTensor &)> &fn) {
  SmallVector<ArrayRef<int64_t>> shapes;
  std::vector<std::vector<int64_t>> operandShapes;
  for (const ConstTensor *c : operands) {
    shapes.push_back(c->shape);
    operandShapes.push_back(c->shape);
  }
  SmallVector<int64_t> shape;
  if (failed(tsr::broadcastShapes(b.loc(), shapes, shape)))
    return failure();
  ConstTensor result;
  result.elementType = resultType;
  result.shape.assign(shape.begin(), shape.end());
  forEachBroadcast(result.shape, operandShapes,
                   [&](int64_t, const std::vector<int64_t> &index) {
                     fn(operands, index, result);
                   });
  return result;
}

std::optional<std::vector<ConstTensor>> tessera::onnx::allConstant(OpBinder &b,
                                                                   int count) {
  std::vector<ConstTensor> values;
  for (int i = 0; i < count; ++i) {
    std::optional<ConstTensor> c = b.constantInput(i);
    if (!c || c->numElements() > kMaxFoldElements)
      return std::nullopt;
    values.push_back(std::move(*c));
  }
  return values;
}
