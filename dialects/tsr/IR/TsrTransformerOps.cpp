//===- TsrTransformerOps.cpp - attention, rotary --------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/ShapeUtils.h"
#include "dialects/tsr/IR/TsrOps.h"

using namespace mlir;
using namespace mlir::tsr;

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto q = cast<RankedTensorType>(adaptor.getQuery().getType());
  auto k = cast<RankedTensorType>(adaptor.getKey().getType());
  auto v = cast<RankedTensorType>(adaptor.getValue().getType());
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return emitOptionalError(loc, "query, key and value must have rank 4 "
                                  "([batch, heads, seq, head_dim]), got ",
                             q.getRank(), ", ", k.getRank(), " and ",
                             v.getRank());
  if (k.getElementType() != q.getElementType() ||
      v.getElementType() != q.getElementType())
    return emitOptionalError(loc, "query, key and value element types differ");
  int64_t batch = q.getDimSize(0), heads = q.getDimSize(1);
  int64_t seq = q.getDimSize(2), headDim = q.getDimSize(3);
  int64_t kvHeads = k.getDimSize(1), kvSeq = k.getDimSize(2);
  if (k.getDimSize(0) != batch || v.getDimSize(0) != batch)
    return emitOptionalError(loc, "batch sizes differ: query ", batch, ", key ",
                             k.getDimSize(0), ", value ", v.getDimSize(0));
  if (v.getDimSize(1) != kvHeads || v.getDimSize(2) != kvSeq)
    return emitOptionalError(loc, "key and value disagree on heads or length: ",
                             k, " vs ", v);
  if (kvHeads == 0 || heads % kvHeads != 0)
    return emitOptionalError(loc, "key/value heads (", kvHeads,
                             ") must divide query heads (", heads, ")");
  if (k.getDimSize(3) != headDim)
    return emitOptionalError(loc, "query head size ", headDim,
                             " differs from key head size ", k.getDimSize(3));
  if (Value mask = adaptor.getMask()) {
    auto maskType = cast<RankedTensorType>(mask.getType());
    Type maskElement = maskType.getElementType();
    if (!maskElement.isInteger(1) && maskElement != q.getElementType())
      return emitOptionalError(loc, "mask must be i1 or ", q.getElementType(),
                               ", got ", maskElement);
    SmallVector<int64_t> scores{batch, heads, seq, kvSeq};
    if (!isBroadcastableTo(maskType.getShape(), scores))
      return emitOptionalError(loc, "mask ", maskType,
                               " does not broadcast to the scores [", batch,
                               ", ", heads, ", ", seq, ", ", kvSeq, "]");
  }
  inferred.push_back(
      withShape(q, {batch, heads, seq, v.getDimSize(3)}));
  return success();
}

//===----------------------------------------------------------------------===//
// RotaryOp
//===----------------------------------------------------------------------===//

LogicalResult RotaryOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  auto cosType = cast<RankedTensorType>(getCos().getType());
  if (getSin().getType() != cosType)
    return emitOpError("cos ") << cosType << " and sin " << getSin().getType()
                               << " must have the same type";
  if (cosType.getElementType() != inputType.getElementType())
    return emitOpError("cos/sin element type ")
           << cosType.getElementType() << " differs from the input's "
           << inputType.getElementType();
  if (inputType.getRank() < 2 || cosType.getRank() < 2)
    return emitOpError("input and cos/sin need rank >= 2 ([..., seq, dim])");
  int64_t width = cosType.getShape().back();
  int64_t headDim = inputType.getShape().back();
  if (width % 2 != 0 || width > headDim)
    return emitOpError("rotary width ")
           << width << " must be even and at most the feature size " << headDim;
  SmallVector<int64_t> rotated(inputType.getShape());
  rotated.back() = width;
  if (!isBroadcastableTo(cosType.getShape(), rotated))
    return emitOpError("cos/sin ")
           << cosType << " do not broadcast to the rotated part of the input";
  return success();
}
