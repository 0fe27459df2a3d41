//===- ShapeUtils.cpp - shape rules shared by tsr ops ---------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/ShapeUtils.h"

#include "mlir/IR/Diagnostics.h"

using namespace mlir;

LogicalResult tsr::broadcastShapes(std::optional<Location> loc,
                                   ArrayRef<ArrayRef<int64_t>> shapes,
                                   SmallVectorImpl<int64_t> &result) {
  size_t rank = 0;
  for (ArrayRef<int64_t> shape : shapes)
    rank = std::max(rank, shape.size());
  result.assign(rank, 1);
  for (ArrayRef<int64_t> shape : shapes) {
    size_t offset = rank - shape.size();
    for (auto [i, dim] : llvm::enumerate(shape)) {
      int64_t &out = result[offset + i];
      if (dim == out || dim == 1)
        continue;
      if (out != 1)
        return emitOptionalError(loc, "shapes do not broadcast: dimension ",
                                 offset + i, " is ", out, " in one operand and ",
                                 dim, " in another");
      out = dim;
    }
  }
  return success();
}

bool tsr::isBroadcastableTo(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  if (from.size() > to.size())
    return false;
  size_t offset = to.size() - from.size();
  for (auto [i, dim] : llvm::enumerate(from))
    if (dim != 1 && dim != to[offset + i])
      return false;
  return true;
}

LogicalResult tsr::checkAxis(std::optional<Location> loc, int64_t axis,
                             int64_t rank, StringRef what) {
  if (axis < 0 || axis >= rank)
    return emitOptionalError(loc, what, " ", axis, " out of range for rank ",
                             rank);
  return success();
}

RankedTensorType tsr::withShape(Type like, ArrayRef<int64_t> shape) {
  return RankedTensorType::get(shape, cast<ShapedType>(like).getElementType());
}

ArrayRef<int64_t> mlir::tsr::valueShape(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

std::string mlir::tsr::typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}
