//===- TsrShapeOps.cpp - reshape, transpose, concat, slice, ... -----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "dialects/tsr/IR/ShapeUtils.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/PatternMatch.h"

#include "llvm/ADT/SmallBitVector.h"

using namespace mlir;
using namespace mlir::tsr;

//===----------------------------------------------------------------------===//
// ReshapeOp
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (inputType.getNumElements() != getType().getNumElements())
    return emitOpError("cannot reshape ")
           << inputType << " (" << inputType.getNumElements()
           << " elements) to " << getType() << " ("
           << getType().getNumElements() << " elements)";
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  // reshape(reshape(x)) is one reshape of x.
  if (auto producer = getInput().getDefiningOp<ReshapeOp>()) {
    getInputMutable().assign(producer.getInput());
    return getResult();
  }
  if (auto elements = dyn_cast_if_present<DenseElementsAttr>(adaptor.getInput()))
    return elements.reshape(cast<ShapedType>(getType()));
  return {};
}

//===----------------------------------------------------------------------===//
// TransposeOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> perm = adaptor.getPermutation();
  if (int64_t(perm.size()) != type.getRank())
    return emitOptionalError(loc, "permutation has ", perm.size(),
                             " entries for rank ", type.getRank());
  llvm::SmallBitVector seen(perm.size());
  SmallVector<int64_t> shape;
  for (int64_t p : perm) {
    if (failed(checkAxis(loc, p, type.getRank(), "permutation entry")))
      return failure();
    if (seen.test(p))
      return emitOptionalError(loc, "permutation repeats dimension ", p);
    seen.set(p);
    shape.push_back(type.getDimSize(p));
  }
  inferred.push_back(withShape(type, shape));
  return success();
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return getInput();
  // transpose(transpose(x, p), q) = transpose(x, p∘q).
  if (auto producer = getInput().getDefiningOp<TransposeOp>()) {
    ArrayRef<int64_t> inner = producer.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t p : perm)
      composed.push_back(inner[p]);
    setPermutation(composed);
    getInputMutable().assign(producer.getInput());
    return getResult();
  }
  return {};
}

namespace {
/// transpose(reshape(y)) -> reshape(transpose(y)) when the reshape only
/// merges runs of adjacent dimensions (a collapse) and the transpose moves
/// those merged runs as wholes. Moving transposes towards their producers
/// lets them compose and cancel; exporters wrap batched products in such
/// collapse/transpose/expand chains.
struct TransposeThroughCollapse : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rewriter) const override {
    auto reshape = op.getInput().getDefiningOp<ReshapeOp>();
    if (!reshape)
      return failure();
    auto inType = cast<RankedTensorType>(reshape.getInput().getType());
    ArrayRef<int64_t> in = inType.getShape();
    ArrayRef<int64_t> out = cast<RankedTensorType>(reshape.getType()).getShape();
    if (out.size() >= in.size())
      return failure();
    // Group the input dimensions: group g multiplies to out[g].
    SmallVector<SmallVector<int64_t>> groups(out.size());
    size_t next = 0;
    for (size_t g = 0; g < out.size(); ++g) {
      if (next >= in.size())
        return failure();
      int64_t product = in[next];
      groups[g].push_back(next++);
      while (product < out[g] && next < in.size()) {
        product *= in[next];
        groups[g].push_back(next++);
      }
      if (product != out[g])
        return failure();
    }
    while (next < in.size()) {
      if (in[next] != 1)
        return failure();
      groups.back().push_back(next++);
    }
    SmallVector<int64_t> perm, shape;
    for (int64_t g : op.getPermutation())
      for (int64_t d : groups[g]) {
        perm.push_back(d);
        shape.push_back(in[d]);
      }
    Value moved = TransposeOp::create(
        rewriter, op.getLoc(),
        RankedTensorType::get(shape, inType.getElementType()),
        reshape.getInput(), perm);
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), moved);
    return success();
  }
};
} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *context) {
  results.add<TransposeThroughCollapse>(context);
}

namespace {
/// reshape(transpose(x)) that only moves dimensions of size 1 is one
/// transpose of x (exporters write K^T of a single-head tensor this way:
/// Falcon's multi-query attention), which the attention fusion recognises.
struct ReshapeOfTransposeIsTranspose : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op, PatternRewriter &rewriter) const override {
    auto transpose = op.getInput().getDefiningOp<TransposeOp>();
    if (!transpose)
      return failure();
    auto inType = cast<RankedTensorType>(transpose.getInput().getType());
    auto outType = cast<RankedTensorType>(op.getType());
    ArrayRef<int64_t> x = inType.getShape(), r = outType.getShape();
    ArrayRef<int64_t> perm = transpose.getPermutation();
    if (x.size() != r.size())
      return failure();
    // The input's non-unit dimensions in the transpose's order.
    SmallVector<int64_t> order;
    for (int64_t p : perm)
      if (x[size_t(p)] != 1)
        order.push_back(p);
    SmallVector<int64_t> result(r.size(), -1);
    size_t k = 0;
    for (size_t j = 0; j < r.size(); ++j)
      if (r[j] != 1) {
        if (k >= order.size() || x[size_t(order[k])] != r[j])
          return failure();
        result[j] = order[k++];
      }
    if (k != order.size())
      return failure();
    // Unit dimensions of the result take the input's, in order.
    SmallVector<bool> used(x.size(), false);
    for (int64_t p : result)
      if (p >= 0)
        used[size_t(p)] = true;
    size_t next = 0;
    for (int64_t &p : result) {
      if (p >= 0)
        continue;
      while (next < x.size() && (used[next] || x[next] != 1))
        ++next;
      if (next == x.size())
        return failure();
      p = int64_t(next);
      used[next++] = true;
    }
    rewriter.replaceOpWithNewOp<TransposeOp>(op, outType, transpose.getInput(), result);
    return success();
  }
};
} // namespace

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *context) {
  results.add<ReshapeOfTransposeIsTranspose>(context);
}

//===----------------------------------------------------------------------===//
// ConcatOp
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return emitOptionalError(loc, "concat needs at least one input");
  auto first = cast<RankedTensorType>(inputs.front().getType());
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(loc, axis, first.getRank())))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  for (auto [i, input] : llvm::enumerate(inputs.drop_front())) {
    auto type = cast<RankedTensorType>(input.getType());
    if (type.getElementType() != first.getElementType())
      return emitOptionalError(loc, "input ", i + 1, " has element type ",
                               type.getElementType(), ", input 0 has ",
                               first.getElementType());
    if (type.getRank() != first.getRank())
      return emitOptionalError(loc, "input ", i + 1, " has rank ",
                               type.getRank(), ", input 0 has ",
                               first.getRank());
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (d == axis)
        shape[d] += type.getDimSize(d);
      else if (type.getDimSize(d) != shape[d])
        return emitOptionalError(loc, "input ", i + 1, " has size ",
                                 type.getDimSize(d), " in dimension ", d,
                                 ", input 0 has ", shape[d]);
    }
  }
  inferred.push_back(withShape(first, shape));
  return success();
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1)
    return getInputs().front();
  // Empty inputs (a past of no positions) add nothing.
  SmallVector<Value> kept;
  for (Value input : getInputs())
    if (cast<RankedTensorType>(input.getType()).getNumElements() != 0)
      kept.push_back(input);
  if (kept.empty() || kept.size() == getInputs().size())
    return {};
  if (kept.size() == 1 && kept.front().getType() == getType())
    return kept.front();
  getInputsMutable().assign(kept);
  return getResult();
}

//===----------------------------------------------------------------------===//
// SliceOp
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  ArrayRef<int64_t> start = adaptor.getStart(), limit = adaptor.getLimit();
  std::optional<ArrayRef<int64_t>> strides = adaptor.getStrides();
  int64_t rank = type.getRank();
  if (int64_t(start.size()) != rank || int64_t(limit.size()) != rank ||
      (strides && int64_t(strides->size()) != rank))
    return emitOptionalError(loc, "start, limit and strides need one entry "
                                  "per dimension (rank ",
                             rank, ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t stride = strides ? (*strides)[d] : 1;
    if (stride < 1)
      return emitOptionalError(loc, "stride ", stride, " in dimension ", d,
                               " must be at least 1");
    if (start[d] < 0 || start[d] > limit[d] || limit[d] > type.getDimSize(d))
      return emitOptionalError(loc, "slice [", start[d], ", ", limit[d],
                               ") out of bounds for dimension ", d,
                               " of size ", type.getDimSize(d));
    shape.push_back(llvm::divideCeil(limit[d] - start[d], stride));
  }
  inferred.push_back(withShape(type, shape));
  return success();
}

OpFoldResult SliceOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(adaptor.getInput()))
    return splat.resizeSplat(cast<ShapedType>(getType()));
  return {};
}

//===----------------------------------------------------------------------===//
// SplitOp
//===----------------------------------------------------------------------===//

LogicalResult SplitOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(loc, axis, type.getRank())))
    return failure();
  int64_t total = 0;
  for (int64_t size : adaptor.getSizes()) {
    if (size < 0)
      return emitOptionalError(loc, "split size ", size, " is negative");
    total += size;
  }
  if (total != type.getDimSize(axis))
    return emitOptionalError(loc, "split sizes sum to ", total,
                             " but dimension ", axis, " has size ",
                             type.getDimSize(axis));
  SmallVector<int64_t> shape(type.getShape());
  for (int64_t size : adaptor.getSizes()) {
    shape[axis] = size;
    inferred.push_back(withShape(type, shape));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// BroadcastOp
//===----------------------------------------------------------------------===//

LogicalResult BroadcastOp::verify() {
  auto inputType = cast<RankedTensorType>(getInput().getType());
  if (!isBroadcastableTo(inputType.getShape(), getType().getShape()))
    return emitOpError("cannot broadcast ") << inputType << " to " << getType();
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(adaptor.getInput()))
    return splat.resizeSplat(cast<ShapedType>(getType()));
  return {};
}

//===----------------------------------------------------------------------===//
// GatherOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto type = cast<RankedTensorType>(adaptor.getInput().getType());
  auto indices = cast<RankedTensorType>(adaptor.getIndices().getType());
  int64_t axis = adaptor.getAxis();
  if (failed(checkAxis(loc, axis, type.getRank())))
    return failure();
  SmallVector<int64_t> shape(type.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, type.getShape().drop_front(axis + 1));
  inferred.push_back(withShape(type, shape));
  return success();
}

LogicalResult DropoutOp::verify() {
  auto type = cast<RankedTensorType>(getResult().getType());
  ArrayRef<int64_t> whole = getGlobalShape(), origin = getOrigin();
  if (int64_t(whole.size()) != type.getRank() || int64_t(origin.size()) != type.getRank())
    return emitOpError("global_shape and origin need one entry per dimension (")
           << type.getRank() << ")";
  if (!(getRatio().convertToDouble() > 0) || !(getRatio().convertToDouble() < 1))
    return emitOpError("ratio ") << getRatio().convertToDouble() << " is not in (0, 1)";
  if (cast<RankedTensorType>(getStep().getType()).getRank() != 0)
    return emitOpError("step must be a scalar");
  if (getChunk()) {
    auto chunk = cast<RankedTensorType>(getChunk().getType());
    if (chunk.getNumElements() != 1)
      return emitOpError("chunk must hold one index");
    if (getChunkDim() < 0 || getChunkDim() >= type.getRank())
      return emitOpError("chunk_dim ") << getChunkDim() << " out of range";
  }
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (origin[size_t(d)] < 0 || origin[size_t(d)] + type.getShape()[size_t(d)] > whole[size_t(d)])
      return emitOpError("the block at origin ") << origin[size_t(d)] << " of dimension " << d
                                                 << " leaves the whole tensor";
  return success();
}

LogicalResult ScatterAddOp::verify() {
  auto type = cast<RankedTensorType>(getResult().getType());
  auto indices = cast<RankedTensorType>(getIndices().getType());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= type.getRank())
    return emitOpError("axis ") << axis << " out of range for rank " << type.getRank();
  SmallVector<int64_t> shape(type.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, type.getShape().drop_front(axis + 1));
  if (cast<RankedTensorType>(getUpdates().getType()).getShape() != ArrayRef<int64_t>(shape))
    return emitOpError("updates ") << getUpdates().getType() << " do not match the result "
                                   << type << " and indices " << indices << " along axis "
                                   << axis;
  return success();
}

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

/// The sequence count `positions` gives (its only dimension), checked 1-D.
static FailureOr<int64_t> positionCount(Operation *op, Value positions) {
  auto type = cast<RankedTensorType>(positions.getType());
  if (type.getRank() != 1 || type.getShape()[0] < 1)
    return op->emitOpError("positions must be a non-empty 1-D tensor, not ") << type,
           failure();
  return type.getShape()[0];
}

LogicalResult TakeRowsOp::verify() {
  auto in = cast<RankedTensorType>(getInput().getType());
  auto out = cast<RankedTensorType>(getResult().getType());
  FailureOr<int64_t> count = positionCount(*this, getPositions());
  if (failed(count))
    return failure();
  int64_t axis = getAxis(), inner = getInner();
  if (in.getRank() != out.getRank())
    return emitOpError("result rank ") << out.getRank() << " differs from the input's "
                                       << in.getRank();
  if (axis < 0 || axis >= in.getRank())
    return emitOpError("axis ") << axis << " out of range for rank " << in.getRank();
  int64_t have = in.getShape()[size_t(axis)], keep = out.getShape()[size_t(axis)];
  if (inner < 1 || keep < inner || keep % inner || have % keep)
    return emitOpError("dimension ")
           << axis << " of " << in << " is not outer x S x inner with outer x inner = " << keep
           << " and inner = " << inner;
  int64_t outer = keep / inner;
  for (int64_t d = 0; d < in.getRank(); ++d) {
    if (d == axis)
      continue;
    int64_t a = in.getShape()[size_t(d)], r = out.getShape()[size_t(d)];
    if (a == r || (d == 0 && a == 1 && r == *count))
      continue;
    return emitOpError("result ") << out << " does not keep dimension " << d << " of " << in;
  }
  int64_t batch = axis > 0 ? out.getShape()[0] : outer;
  if (*count != 1 && *count != batch)
    return emitOpError("") << *count << " positions for " << batch << " sequences";
  return success();
}

LogicalResult CacheWriteOp::verify() {
  auto cache = cast<RankedTensorType>(getCache().getType());
  auto update = cast<RankedTensorType>(getUpdate().getType());
  FailureOr<int64_t> count = positionCount(*this, getPositions());
  if (failed(count))
    return failure();
  int64_t axis = getAxis();
  if (axis <= 0 || axis >= cache.getRank())
    return emitOpError("axis ") << axis << " must be a non-batch dimension of " << cache;
  if (update.getRank() != cache.getRank())
    return emitOpError("update ") << update << " does not match the cache " << cache;
  for (int64_t d = 0; d < cache.getRank(); ++d) {
    int64_t u = update.getShape()[size_t(d)], c = cache.getShape()[size_t(d)];
    if (d == axis ? (u < 1 || u > c) : u != c)
      return emitOpError("update ") << update << " is not rows of the cache " << cache
                                    << " along axis " << axis;
  }
  if (*count != 1 && *count != cache.getShape()[0])
    return emitOpError("") << *count << " positions for " << cache.getShape()[0]
                           << " sequences";
  return success();
}

LogicalResult CumSumOp::verify() {
  int64_t rank = cast<RankedTensorType>(getInput().getType()).getRank();
  if (getAxis() < 0 || getAxis() >= rank)
    return emitOpError("axis ") << getAxis() << " out of range for rank " << rank;
  return success();
}
