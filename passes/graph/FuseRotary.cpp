//===- FuseRotary.cpp - rotary position embedding -------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/graph/Matchers.h"
#include "passes/graph/Passes.h"

#include "dialects/tsr/IR/ShapeUtils.h"

using namespace mlir;
using namespace tessera::graph;

namespace {

/// The slice of `x`'s last dimension [begin, end) with unit strides that
/// keeps every other dimension whole.
bool isLastDimSlice(Value v, Value x, int64_t begin, int64_t end) {
  auto slice = v.getDefiningOp<tsr::SliceOp>();
  if (!slice || slice.getInput() != x || slice.getStrides())
    return false;
  ArrayRef<int64_t> shape = shapeOf(x);
  ArrayRef<int64_t> start = slice.getStart(), limit = slice.getLimit();
  for (size_t d = 0; d + 1 < shape.size(); ++d)
    if (start[d] != 0 || limit[d] != shape[d])
      return false;
  return start.back() == begin && limit.back() == end;
}

/// rotate_half(x) = concat(-x[..., R/2:], x[..., :R/2]).
bool isRotateHalf(Value v, Value x) {
  auto concat = v.getDefiningOp<tsr::ConcatOp>();
  ArrayRef<int64_t> shape = shapeOf(x);
  if (!concat || concat.getInputs().size() != 2 || shape.empty() ||
      concat.getAxis() != int64_t(shape.size()) - 1 || v.getType() != x.getType())
    return false;
  int64_t width = shape.back(), half = width / 2;
  if (width % 2)
    return false;
  auto neg = concat.getInputs()[0].getDefiningOp<tsr::NegOp>();
  return neg && isLastDimSlice(neg.getInput(), x, half, width) &&
         isLastDimSlice(concat.getInputs()[1], x, 0, half);
}

/// x * cos + rotate_half(x) * sin -> rotary(x, cos, sin).
struct FuseRotary : OpRewritePattern<tsr::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::AddOp op,
                                PatternRewriter &rewriter) const override {
    auto a = op.getLhs().getDefiningOp<tsr::MulOp>();
    auto b = op.getRhs().getDefiningOp<tsr::MulOp>();
    if (!a || !b)
      return failure();
    for (auto [direct, rotated] : {std::pair(a, b), std::pair(b, a)}) {
      for (Value x : {direct.getLhs(), direct.getRhs()}) {
        for (Value rh : {rotated.getLhs(), rotated.getRhs()}) {
          if (!isRotateHalf(rh, x) || x.getType() != op.getType())
            continue;
          Value cos = otherOperand(direct, x), sin = otherOperand(rotated, rh);
          ArrayRef<int64_t> xs = shapeOf(x), cs = shapeOf(cos);
          if (cos.getType() != sin.getType() || cs.size() < 2 ||
              cs.back() != xs.back() || !tsr::isBroadcastableTo(cs, xs) ||
              cast<RankedTensorType>(cos.getType()).getElementType() !=
                  cast<RankedTensorType>(x.getType()).getElementType())
            continue;
          rewriter.replaceOpWithNewOp<tsr::RotaryOp>(op, op.getType(), x, cos,
                                                     sin, false);
          return success();
        }
      }
    }
    return failure();
  }
};

/// concat(rotary(x[..., :R]), x[..., R:]) -> rotary(x) with width R.
struct FusePartialRotary : OpRewritePattern<tsr::ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(tsr::ConcatOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getInputs().size() != 2)
      return failure();
    auto rotary = op.getInputs()[0].getDefiningOp<tsr::RotaryOp>();
    if (!rotary || rotary.getInterleaved())
      return failure();
    auto head = rotary.getInput().getDefiningOp<tsr::SliceOp>();
    if (!head)
      return failure();
    Value x = head.getInput();
    ArrayRef<int64_t> shape = shapeOf(x);
    int64_t width = shapeOf(rotary.getInput()).back();
    if (x.getType() != op.getType() ||
        op.getAxis() != int64_t(shape.size()) - 1 ||
        !isLastDimSlice(head, x, 0, width) ||
        !isLastDimSlice(op.getInputs()[1], x, width, shape.back()))
      return failure();
    rewriter.replaceOpWithNewOp<tsr::RotaryOp>(op, op.getType(), x,
                                               rotary.getCos(), rotary.getSin(),
                                               false);
    return success();
  }
};

} // namespace

void tessera::graph::populateRotaryFusionPatterns(RewritePatternSet &patterns) {
  patterns.add<FuseRotary, FusePartialRotary>(patterns.getContext());
}
