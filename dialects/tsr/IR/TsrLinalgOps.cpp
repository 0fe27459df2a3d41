//===- TsrLinalgOps.cpp - matmul, reductions, softmax, norms --------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/ShapeUtils.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "llvm/ADT/SmallBitVector.h"

using namespace mlir;
using namespace mlir::tsr;

//===----------------------------------------------------------------------===//
// MatmulOp
//===----------------------------------------------------------------------===//

LogicalResult MatmulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto lhsType = cast<RankedTensorType>(adaptor.getLhs().getType());
  auto rhsType = cast<RankedTensorType>(adaptor.getRhs().getType());
  if (lhsType.getRank() < 2 || rhsType.getRank() < 2)
    return emitOptionalError(loc, "matmul operands must have rank >= 2, got ",
                             lhsType.getRank(), " and ", rhsType.getRank());
  ArrayRef<int64_t> lhs = lhsType.getShape(), rhs = rhsType.getShape();
  int64_t m = lhs[lhs.size() - 2], k = lhs.back();
  if (adaptor.getTransposeLhs())
    std::swap(m, k);
  int64_t rk = rhs[rhs.size() - 2], n = rhs.back();
  if (adaptor.getTransposeRhs())
    std::swap(rk, n);
  if (k != rk)
    return emitOptionalError(loc, "contracting dimensions differ: lhs has ", k,
                             ", rhs has ", rk);
  SmallVector<int64_t> shape;
  if (failed(broadcastShapes(loc, {lhs.drop_back(2), rhs.drop_back(2)}, shape)))
    return failure();
  shape.push_back(m);
  shape.push_back(n);
  inferred.push_back(withShape(lhsType, shape));
  return success();
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

template <typename Op>
static LogicalResult inferReduction(std::optional<Location> loc,
                                    typename Op::Adaptor adaptor,
                                    SmallVectorImpl<Type> &inferred) {
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  int64_t rank = type.getRank();
  ArrayRef<int64_t> axes = adaptor.getAxes();
  llvm::SmallBitVector reduced(rank);
  for (auto [i, axis] : llvm::enumerate(axes)) {
    if (failed(checkAxis(loc, axis, rank, "reduction axis")))
      return failure();
    if (i > 0 && axis <= axes[i - 1])
      return emitOptionalError(loc, "reduction axes must be sorted and unique");
    reduced.set(axis);
  }
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!reduced.test(d))
      shape.push_back(type.getDimSize(d));
    else if (adaptor.getKeepDims())
      shape.push_back(1);
  }
  inferred.push_back(withShape(type, shape));
  return success();
}

#define TSR_REDUCTION(OP)                                                      \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> loc,\
                                     Adaptor adaptor,                          \
                                     SmallVectorImpl<Type> &inferred) {        \
    return inferReduction<OP>(loc, adaptor, inferred);                         \
  }                                                                            \
  OpFoldResult OP::fold(FoldAdaptor) {                                         \
    if (getAxes().empty())                                                     \
      return getInput();                                                       \
    return {};                                                                 \
  }
TSR_REDUCTION(ReduceSumOp)
TSR_REDUCTION(ReduceMeanOp)
TSR_REDUCTION(ReduceMaxOp)
TSR_REDUCTION(ReduceMinOp)
TSR_REDUCTION(ReduceProdOp)
#undef TSR_REDUCTION

//===----------------------------------------------------------------------===//
// Softmax and normalisations
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  return checkAxis(getLoc(), getAxis(), getType().getRank());
}

/// Shared rules of layer_norm and rms_norm: `axis` in range, `epsilon`
/// positive, parameters shaped like the normalised axes.
static LogicalResult verifyNorm(Operation *op, Value input, int64_t axis,
                                double epsilon, ValueRange params) {
  auto inputType = cast<RankedTensorType>(input.getType());
  if (failed(checkAxis(op->getLoc(), axis, inputType.getRank())))
    return failure();
  if (!(epsilon > 0.0))
    return op->emitOpError("epsilon must be positive, got ") << epsilon;
  ArrayRef<int64_t> normalized = inputType.getShape().drop_front(axis);
  for (Value param : params) {
    auto type = cast<RankedTensorType>(param.getType());
    if (type.getElementType() != inputType.getElementType())
      return op->emitOpError("parameter element type ")
             << type.getElementType() << " differs from the input's "
             << inputType.getElementType();
    if (type.getShape() != normalized)
      return op->emitOpError("parameter shape ")
             << type << " must equal the normalised dimensions ["
             << llvm::make_range(normalized.begin(), normalized.end()) << "]";
  }
  return success();
}

LogicalResult LayerNormOp::verify() {
  SmallVector<Value, 2> params{getScale()};
  if (getBias())
    params.push_back(getBias());
  return verifyNorm(*this, getInput(), getAxis(), getEpsilon().convertToDouble(),
                    params);
}

LogicalResult RmsNormOp::verify() {
  return verifyNorm(*this, getInput(), getAxis(), getEpsilon().convertToDouble(),
                    getScale());
}
