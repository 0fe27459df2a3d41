//===- TsrElementwiseOps.cpp - sources, elementwise ops, cast -------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/ShapeUtils.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/CommonFolders.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;
using namespace mlir::tsr;

//===----------------------------------------------------------------------===//
// Sources
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("weight name must not be empty");
  if (auto offsets = getOffsets()) {
    auto type = cast<RankedTensorType>(getResult().getType());
    if (int64_t(offsets->size()) != type.getRank())
      return emitOpError("has ") << offsets->size() << " offsets for a rank-"
                                 << type.getRank() << " result";
    if (llvm::any_of(*offsets, [](int64_t o) { return o < 0; }))
      return emitOpError("offsets must not be negative");
  }
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// Broadcasting shape inference
//===----------------------------------------------------------------------===//

/// The broadcast shape of `operands` with element type `elementType`.
static LogicalResult inferBroadcastType(std::optional<Location> loc,
                                        ValueRange operands, Type elementType,
                                        SmallVectorImpl<Type> &inferred) {
  SmallVector<ArrayRef<int64_t>, 3> shapes;
  for (Value operand : operands)
    shapes.push_back(cast<RankedTensorType>(operand.getType()).getShape());
  SmallVector<int64_t> shape;
  if (failed(broadcastShapes(loc, shapes, shape)))
    return failure();
  inferred.push_back(RankedTensorType::get(shape, elementType));
  return success();
}

static Type elementTypeOf(Value value) {
  return cast<ShapedType>(value.getType()).getElementType();
}

#define TSR_BINARY_INFER(OP)                                                   \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc,\
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &inferred) {        \
    return inferBroadcastType(loc, adaptor.getOperands(),                      \
                              elementTypeOf(adaptor.getLhs()), inferred);      \
  }
TSR_BINARY_INFER(AddOp)
TSR_BINARY_INFER(SubOp)
TSR_BINARY_INFER(MulOp)
TSR_BINARY_INFER(DivOp)
TSR_BINARY_INFER(PowOp)
TSR_BINARY_INFER(MaxOp)
TSR_BINARY_INFER(MinOp)
TSR_BINARY_INFER(AndOp)
TSR_BINARY_INFER(OrOp)
TSR_BINARY_INFER(XorOp)
#undef TSR_BINARY_INFER

LogicalResult CompareOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  return inferBroadcastType(loc, {adaptor.getLhs(), adaptor.getRhs()},
                            IntegerType::get(context, 1), inferred);
}

LogicalResult SelectOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  return inferBroadcastType(loc, adaptor.getOperands(),
                            elementTypeOf(adaptor.getOnTrue()), inferred);
}

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

/// `x op c` folds to `x` when `c` is a splat of `identity` and the result has
/// the type of `x` (so no broadcast is lost).
static OpFoldResult foldIdentityOperand(Value lhs, Attribute rhs,
                                        Type resultType, int64_t identity) {
  if (lhs.getType() != resultType)
    return {};
  auto splat = dyn_cast_if_present<SplatElementsAttr>(rhs);
  if (!splat)
    return {};
  Type elementType = splat.getElementType();
  if (isa<FloatType>(elementType)) {
    if (splat.getSplatValue<APFloat>().isExactlyValue(double(identity)))
      return lhs;
  } else if (splat.getSplatValue<APInt>().getSExtValue() == identity) {
    return lhs;
  }
  return {};
}

/// Folds two constants of the result's type elementwise.
template <typename FloatFn, typename IntFn>
static OpFoldResult foldConstants(ArrayRef<Attribute> operands, Type resultType,
                                  FloatFn &&floatFn, IntFn &&intFn) {
  if (!operands[0] || !operands[1])
    return {};
  auto lhs = cast<TypedAttr>(operands[0]);
  if (lhs.getType() != resultType || cast<TypedAttr>(operands[1]).getType() != resultType)
    return {};
  if (isa<FloatType>(cast<ShapedType>(resultType).getElementType()))
    return constFoldBinaryOpConditional<FloatAttr, FloatAttr::ValueType, void>(
        operands, resultType, floatFn);
  return constFoldBinaryOpConditional<IntegerAttr, IntegerAttr::ValueType, void>(
      operands, resultType, intFn);
}

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult folded = foldIdentityOperand(getLhs(), adaptor.getRhs(),
                                                getType(), 0))
    return folded;
  return foldConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) -> std::optional<APFloat> {
        return a + b;
      },
      [](const APInt &a, const APInt &b) -> std::optional<APInt> {
        return a + b;
      });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult folded = foldIdentityOperand(getLhs(), adaptor.getRhs(),
                                                getType(), 0))
    return folded;
  return foldConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) -> std::optional<APFloat> {
        return a - b;
      },
      [](const APInt &a, const APInt &b) -> std::optional<APInt> {
        return a - b;
      });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult folded = foldIdentityOperand(getLhs(), adaptor.getRhs(),
                                                getType(), 1))
    return folded;
  return foldConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) -> std::optional<APFloat> {
        return a * b;
      },
      [](const APInt &a, const APInt &b) -> std::optional<APInt> {
        return a * b;
      });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  if (OpFoldResult folded = foldIdentityOperand(getLhs(), adaptor.getRhs(),
                                                getType(), 1))
    return folded;
  return foldConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) -> std::optional<APFloat> {
        return a / b;
      },
      [](const APInt &a, const APInt &b) -> std::optional<APInt> {
        // Integer division by zero is undefined: leave it to run time.
        if (b.isZero())
          return std::nullopt;
        return a.sdiv(b);
      });
}

OpFoldResult CastOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}
