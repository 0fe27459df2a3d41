//===- ShapeOps.cpp - ONNX shape and data-movement ops to tsr -------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Shape, Size, Reshape, Flatten, Transpose, (Un)Squeeze, Concat, Slice,
// Split, Gather, Expand, Tile, Constant, ConstantOfShape. With static shapes the
// shape-valued inputs are constants; data-movement of constants is folded.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/GraphImporter.h"
#include "frontends/onnx/ops/Common.h"

#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace tessera::onnx;

namespace {

ConstTensor i64Tensor(OpBinder &b, std::vector<int64_t> values) {
  int64_t n = int64_t(values.size());
  return ConstTensor::ofInts(b.builder().getI64Type(), {n}, std::move(values));
}

LogicalResult importShape(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::vector<int64_t> shape = shapeOf(*x);
  int64_t rank = int64_t(shape.size());
  int64_t start = b.attrInt("start", 0), end = b.attrInt("end", rank);
  auto clamp = [&](int64_t v) {
    v = v < 0 ? v + rank : v;
    return std::min(std::max(v, int64_t(0)), rank);
  };
  start = clamp(start);
  end = std::max(clamp(end), start);
  return b.setSingleResult(b.constant(
      i64Tensor(b, std::vector<int64_t>(shape.begin() + start, shape.begin() + end))));
}

LogicalResult importSize(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  return b.setSingleResult(b.constant(ConstTensor::ofInts(
      b.builder().getI64Type(), {}, {tensorType(*x).getNumElements()})));
}

/// Resolves ONNX Reshape's 0 (copy) and -1 (infer) entries.
FailureOr<std::vector<int64_t>> resolveReshape(OpBinder &b,
                                               const std::vector<int64_t> &in,
                                               std::vector<int64_t> target,
                                               bool allowZero) {
  int64_t known = 1, inferAt = -1;
  int64_t total = 1;
  for (int64_t d : in)
    total *= d;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allowZero) {
      if (i >= in.size())
        return b.error() << "shape entry " << i
                         << " is 0 (copy) but the input has rank " << in.size(),
               failure();
      target[i] = in[i];
    }
    if (target[i] == -1) {
      if (inferAt >= 0)
        return b.error() << "shape has more than one -1", failure();
      inferAt = int64_t(i);
      continue;
    }
    if (target[i] < 0)
      return b.error() << "shape entry " << target[i] << " is invalid",
             failure();
    if (__builtin_mul_overflow(known, target[i], &known))
      return b.error() << "the target shape's element count overflows", failure();
  }
  if (inferAt >= 0) {
    if (known == 0 || total % known)
      return b.error() << "cannot infer the -1 in the shape: " << total
                       << " elements do not divide by " << known,
             failure();
    target[inferAt] = total / known;
    known *= target[inferAt];
  }
  if (known != total)
    return b.error() << "cannot reshape " << total << " elements to "
                     << known,
           failure();
  return target;
}

LogicalResult importReshape(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::vector<int64_t> target;
  if (b.opset() < 5) {
    target = b.attrInts("shape").value_or(std::vector<int64_t>{});
  } else {
    auto shape = b.constantInts(1, "the target shape");
    if (failed(shape))
      return failure();
    target = *shape;
  }
  auto resolved = resolveReshape(b, shapeOf(*x), target,
                                 b.attrInt("allowzero", 0) != 0);
  if (failed(resolved))
    return failure();
  return b.setSingleResult(b.reshape(*x, *resolved));
}

LogicalResult importFlatten(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::vector<int64_t> shape = shapeOf(*x);
  int64_t rank = int64_t(shape.size());
  int64_t axis = b.attrInt("axis", 1);
  axis = axis < 0 ? axis + rank : axis;
  if (axis < 0 || axis > rank)
    return b.error() << "axis " << b.attrInt("axis", 1)
                     << " out of range for rank " << rank,
           failure();
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i)
    (i < axis ? outer : inner) *= shape[i];
  return b.setSingleResult(b.reshape(*x, {outer, inner}));
}

LogicalResult importTranspose(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  int64_t rank = tensorType(*x).getRank();
  std::vector<int64_t> perm;
  if (auto given = b.attrInts("perm")) {
    perm = *given;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  }
  if (auto values = allConstant(b, 1)) {
    const ConstTensor &c = (*values)[0];
    if (int64_t(perm.size()) == rank) {
      std::vector<int64_t> outShape, inStrides = stridesOf(c.shape);
      for (int64_t p : perm)
        if (p < 0 || p >= rank)
          return b.error() << "permutation entry " << p
                           << " out of range for rank " << rank,
                 failure();
      for (int64_t p : perm)
        outShape.push_back(c.shape[p]);
      ConstTensor out = c.reshaped(outShape);
      out.ints.clear();
      out.floats.clear();
      std::vector<int64_t> idx(rank, 0);
      for (int64_t n = 0; n < c.numElements(); ++n) {
        int64_t src = 0;
        for (int64_t d = 0; d < rank; ++d)
          src += idx[d] * inStrides[perm[d]];
        if (c.isFloat())
          out.floats.push_back(c.floats[src]);
        else
          out.ints.push_back(c.ints[src]);
        for (int64_t d = rank - 1; d >= 0; --d) {
          if (++idx[d] < outShape[d])
            break;
          idx[d] = 0;
        }
      }
      return b.setSingleResult(b.constant(out));
    }
  }
  return b.setSingleResult(b.createValue<tsr::TransposeOp>(*x, perm));
}

/// Axes from the attribute (before `inputSince`) or input 1.
FailureOr<std::vector<int64_t>> axesOf(OpBinder &b, int64_t inputSince,
                                       bool required) {
  if (b.opset() < inputSince) {
    auto axes = b.attrInts("axes");
    if (!axes && required)
      return b.error() << "the 'axes' attribute is required", failure();
    return axes.value_or(std::vector<int64_t>{});
  }
  if (!b.hasInput(1)) {
    if (required)
      return b.error() << "the axes input is required", failure();
    return std::vector<int64_t>{};
  }
  return b.constantInts(1, "axes");
}

LogicalResult importUnsqueeze(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  auto axes = axesOf(b, 13, true);
  if (failed(axes))
    return failure();
  std::vector<int64_t> in = shapeOf(*x);
  int64_t rank = int64_t(in.size() + axes->size());
  std::vector<bool> inserted(rank, false);
  for (int64_t axis : *axes) {
    auto a = normalizeAxis(b, axis, rank);
    if (failed(a))
      return failure();
    if (inserted[*a])
      return b.error() << "axis " << axis << " repeats", failure();
    inserted[*a] = true;
  }
  std::vector<int64_t> out;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d)
    out.push_back(inserted[d] ? 1 : in[next++]);
  return b.setSingleResult(b.reshape(*x, out));
}

LogicalResult importSqueeze(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  auto axes = axesOf(b, 13, false);
  if (failed(axes))
    return failure();
  std::vector<int64_t> in = shapeOf(*x);
  int64_t rank = int64_t(in.size());
  std::vector<bool> drop(rank, false);
  if (axes->empty()) {
    for (int64_t d = 0; d < rank; ++d)
      drop[d] = in[d] == 1;
  }
  for (int64_t axis : *axes) {
    auto a = normalizeAxis(b, axis, rank);
    if (failed(a))
      return failure();
    if (in[*a] != 1)
      return b.error() << "cannot squeeze axis " << axis << " of size "
                       << in[*a],
             failure();
    drop[*a] = true;
  }
  std::vector<int64_t> out;
  for (int64_t d = 0; d < rank; ++d)
    if (!drop[d])
      out.push_back(in[d]);
  return b.setSingleResult(b.reshape(*x, out));
}

LogicalResult importConcat(OpBinder &b) {
  SmallVector<Value> inputs;
  for (int i = 0; i < b.numInputs(); ++i) {
    auto v = b.input(i);
    if (failed(v))
      return failure();
    inputs.push_back(*v);
  }
  if (inputs.empty())
    return b.error() << "needs at least one input", failure();
  int64_t rank = tensorType(inputs[0]).getRank();
  auto axis = normalizeAxis(b, b.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  if (rank == 0)
    return b.error() << "cannot concatenate scalars", failure();
  if (auto values = allConstant(b, b.numInputs())) {
    // Fold: interleave the inputs' blocks along the axis. The inputs must
    // agree on rank, element kind and every other dimension.
    const ConstTensor &first = (*values)[0];
    std::vector<int64_t> shape = first.shape;
    shape[*axis] = 0;
    for (const ConstTensor &c : *values) {
      if (int64_t(c.shape.size()) != rank)
        return b.error() << "inputs have different ranks", failure();
      if (c.isFloat() != first.isFloat())
        return b.error() << "inputs have different element types", failure();
      for (int64_t d = 0; d < rank; ++d)
        if (d != *axis && c.shape[size_t(d)] != first.shape[size_t(d)])
          return b.error() << "inputs differ in dimension " << d << " (" << c.shape[size_t(d)]
                           << " vs " << first.shape[size_t(d)] << ")",
                 failure();
      shape[*axis] += c.shape[*axis];
    }
    int64_t outer = 1;
    for (int64_t d = 0; d < *axis; ++d)
      outer *= shape[d];
    ConstTensor out = (*values)[0].reshaped(shape);
    out.ints.clear();
    out.floats.clear();
    for (int64_t o = 0; o < outer; ++o)
      for (const ConstTensor &c : *values) {
        int64_t block = c.numElements() / std::max<int64_t>(outer, 1);
        for (int64_t k = 0; k < block; ++k) {
          if (out.isFloat())
            out.floats.push_back(c.floats[o * block + k]);
          else
            out.ints.push_back(c.ints[o * block + k]);
        }
      }
    return b.setSingleResult(b.constant(out));
  }
  return b.setSingleResult(b.createValue<tsr::ConcatOp>(inputs, *axis));
}

LogicalResult importSlice(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::vector<int64_t> shape = shapeOf(*x);
  int64_t rank = int64_t(shape.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (b.opset() < 10) {
    starts = b.attrInts("starts").value_or(std::vector<int64_t>{});
    ends = b.attrInts("ends").value_or(std::vector<int64_t>{});
    axes = b.attrInts("axes").value_or(std::vector<int64_t>{});
  } else {
    auto s = b.constantInts(1, "starts"), e = b.constantInts(2, "ends");
    if (failed(s) || failed(e))
      return failure();
    starts = *s;
    ends = *e;
    if (b.hasInput(3)) {
      auto a = b.constantInts(3, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (b.hasInput(4)) {
      auto st = b.constantInts(4, "steps");
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(int64_t(i));
  if (steps.empty())
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return b.error() << "starts, ends, axes and steps differ in length",
           failure();
  std::vector<int64_t> start(rank, 0), limit(shape), stride(rank, 1);
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    auto axis = normalizeAxis(b, axes[i], rank);
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return b.error() << "axis " << axes[i] << " repeats", failure();
    seen[*axis] = true;
    int64_t dim = shape[*axis];
    if (steps[i] <= 0)
      return b.error() << "step " << steps[i]
                       << " is not supported (only positive steps)",
             failure();
    auto clamp = [&](int64_t v) {
      if (v < 0)
        v = v < -dim ? 0 : v + dim;
      return std::min(v, dim);
    };
    start[*axis] = clamp(starts[i]);
    limit[*axis] = std::max(clamp(ends[i]), start[*axis]);
    stride[*axis] = steps[i];
  }
  if (auto values = allConstant(b, 1)) {
    const ConstTensor &c = (*values)[0];
    std::vector<int64_t> outShape;
    for (int64_t d = 0; d < rank; ++d)
      outShape.push_back((limit[d] - start[d] + stride[d] - 1) / stride[d]);
    ConstTensor out = c.reshaped(outShape);
    out.ints.clear();
    out.floats.clear();
    std::vector<int64_t> strides = stridesOf(c.shape), idx(rank, 0);
    int64_t total = 1;
    for (int64_t d : outShape)
      total *= d;
    for (int64_t n = 0; n < total; ++n) {
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d)
        src += (start[d] + idx[d] * stride[d]) * strides[d];
      if (c.isFloat())
        out.floats.push_back(c.floats[src]);
      else
        out.ints.push_back(c.ints[src]);
      for (int64_t d = rank - 1; d >= 0; --d) {
        if (++idx[d] < outShape[d])
          break;
        idx[d] = 0;
      }
    }
    return b.setSingleResult(b.constant(out));
  }
  bool unitStrides = llvm::all_of(stride, [](int64_t s) { return s == 1; });
  return b.setSingleResult(b.createValue<tsr::SliceOp>(
      *x, start, limit,
      unitStrides ? DenseI64ArrayAttr() : b.builder().getDenseI64ArrayAttr(stride)));
}

LogicalResult importSplit(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::vector<int64_t> shape = shapeOf(*x);
  auto axis = normalizeAxis(b, b.attrInt("axis", 0), int64_t(shape.size()));
  if (failed(axis))
    return failure();
  std::vector<int64_t> sizes;
  if (b.opset() >= 13 && b.hasInput(1)) {
    auto s = b.constantInts(1, "split");
    if (failed(s))
      return failure();
    sizes = *s;
  } else if (auto s = b.attrInts("split"); s && b.opset() < 13) {
    sizes = *s;
  } else {
    int64_t parts = b.opset() >= 18 ? b.attrInt("num_outputs", b.numOutputs())
                                    : b.numOutputs();
    if (parts <= 0)
      return b.error() << "cannot split into " << parts << " parts", failure();
    int64_t dim = shape[*axis];
    int64_t chunk = (dim + parts - 1) / parts; // the last piece may be smaller
    for (int64_t p = 0; p < parts; ++p)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, dim - p * chunk)));
  }
  if (int64_t(sizes.size()) != b.numOutputs())
    return b.error() << sizes.size() << " split sizes for " << b.numOutputs()
                     << " outputs",
           failure();
  auto split = b.create<tsr::SplitOp>(*x, *axis, sizes);
  if (failed(split))
    return failure();
  for (int i = 0; i < b.numOutputs(); ++i)
    (void)b.setResult(i, split->getResult(i));
  return success();
}

LogicalResult importGather(OpBinder &b) {
  auto data = b.input(0), indices = b.input(1);
  if (failed(data) || failed(indices))
    return failure();
  std::vector<int64_t> shape = shapeOf(*data);
  auto axis = normalizeAxis(b, b.attrInt("axis", 0), int64_t(shape.size()));
  if (failed(axis))
    return failure();
  if (!isa<IntegerType>(elementTypeOf(*indices)) ||
      elementTypeOf(*indices).isInteger(1))
    return b.error() << "indices must be integers", failure();
  if (auto values = allConstant(b, 2)) {
    const ConstTensor &c = (*values)[0], &idx = (*values)[1];
    int64_t dim = shape[*axis];
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < *axis; ++d)
      outer *= shape[d];
    for (size_t d = *axis + 1; d < shape.size(); ++d)
      inner *= shape[d];
    std::vector<int64_t> outShape(shape.begin(), shape.begin() + *axis);
    outShape.insert(outShape.end(), idx.shape.begin(), idx.shape.end());
    outShape.insert(outShape.end(), shape.begin() + *axis + 1, shape.end());
    ConstTensor out = c.reshaped(outShape);
    out.ints.clear();
    out.floats.clear();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t k = 0; k < idx.numElements(); ++k) {
        int64_t i = idx.ints[k];
        if (i < -dim || i >= dim)
          return b.error() << "index " << i << " out of range for dimension "
                           << *axis << " of size " << dim,
                 failure();
        i = i < 0 ? i + dim : i;
        for (int64_t n = 0; n < inner; ++n) {
          int64_t src = (o * dim + i) * inner + n;
          if (c.isFloat())
            out.floats.push_back(c.floats[src]);
          else
            out.ints.push_back(c.ints[src]);
        }
      }
    return b.setSingleResult(b.constant(out));
  }
  // Constant indices into run-time or weight data (a position table read at
  // 0..S-1): out of range is an error now, not at run time - a sequence
  // longer than the model's positions.
  if (std::optional<ConstTensor> idx = b.constantInput(1); idx && !idx->isFloat()) {
    int64_t dim = shape[*axis];
    for (int64_t i : idx->ints)
      if (i < -dim || i >= dim)
        return b.error() << "index " << i << " out of range for dimension " << *axis
                         << " of size " << dim
                         << (idx->numElements() > 1 && i == dim
                                 ? " (a sequence longer than the model's " +
                                       std::to_string(dim) + " positions?)"
                                 : ""),
               failure();
  }
  return b.setSingleResult(b.createValue<tsr::GatherOp>(*data, *indices, *axis, IntegerAttr()));
}

/// The elements a one-hot comparison may hold: GatherElements and OneHot are
/// built from `compare(index, arange(n))` over the result's positions times n.
constexpr int64_t kMaxOneHotElements = int64_t(1) << 26;

/// A scalar constant of `element`.
Value scalarOf(ImplicitLocOpBuilder &ib, Type element, double value) {
  auto scalar = RankedTensorType::get({}, element);
  if (auto f = dyn_cast<FloatType>(element))
    return tsr::ConstantOp::create(ib, scalar, DenseElementsAttr::get(scalar, ib.getFloatAttr(f, value)));
  return tsr::ConstantOp::create(ib, scalar,
                                 DenseElementsAttr::get(scalar, ib.getIntegerAttr(element, int64_t(value))));
}

/// `indices` as int64 with negative entries counted from the end of a
/// dimension of `size` (entries still out of range match no position).
Value normalizedIndices(ImplicitLocOpBuilder &ib, Value indices, int64_t size) {
  auto type = cast<RankedTensorType>(indices.getType());
  auto i64 = ib.getI64Type();
  if (type.getElementType() != i64)
    indices = tsr::CastOp::create(ib, type.clone(i64), indices);
  Value zero = scalarOf(ib, i64, 0), n = scalarOf(ib, i64, double(size));
  auto shape = cast<RankedTensorType>(indices.getType()).getShape();
  Value negative = tsr::CompareOp::create(
      ib, RankedTensorType::get(shape, ib.getI1Type()),
      tsr::ComparePredicateAttr::get(ib.getContext(), tsr::ComparePredicate::lt), indices, zero);
  Value shifted = tsr::AddOp::create(ib, indices.getType(), indices, n);
  return tsr::SelectOp::create(ib, indices.getType(), negative, shifted, indices);
}

/// The int64 constant 0, 1, ..., n-1 along the one dimension of `shape` that
/// is not 1 (n = that dimension).
Value positionsAlong(ImplicitLocOpBuilder &ib, ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  SmallVector<int64_t> range;
  for (int64_t i = 0; i < n; ++i)
    range.push_back(i);
  auto type = RankedTensorType::get(shape, ib.getI64Type());
  return tsr::ConstantOp::create(ib, type, DenseElementsAttr::get(type, ArrayRef<int64_t>(range)));
}

/// compare(eq, `indices` with a new axis of 1 at `axis`, 0..n-1 along that
/// axis): true where an index names the position.
Value oneHotMask(ImplicitLocOpBuilder &ib, Value indices, int64_t n, int64_t axis) {
  auto shape = cast<RankedTensorType>(indices.getType()).getShape();
  SmallVector<int64_t> expanded(shape), positions(shape.size() + 1, 1), out(shape);
  expanded.insert(expanded.begin() + axis, 1);
  positions[size_t(axis)] = n;
  out.insert(out.begin() + axis, n);
  auto i64 = ib.getI64Type();
  Value e = tsr::ReshapeOp::create(ib, RankedTensorType::get(expanded, i64), indices);
  Value r = positionsAlong(ib, positions);
  return tsr::CompareOp::create(
      ib, RankedTensorType::get(out, ib.getI1Type()),
      tsr::ComparePredicateAttr::get(ib.getContext(), tsr::ComparePredicate::eq), e, r);
}

/// GatherElements on run-time data: out[..i..] = data[.. indices[..i..]
/// (at axis) ..], built as a one-hot selection summed over the axis (exact:
/// one term is the element, the others are zeros). Its gradient and its
/// split over the batch follow from those ops'.
LogicalResult importGatherElements(OpBinder &b) {
  auto data = b.input(0), indices = b.input(1);
  if (failed(data) || failed(indices))
    return failure();
  std::vector<int64_t> dshape = shapeOf(*data), ishape = shapeOf(*indices);
  int64_t rank = int64_t(dshape.size());
  if (int64_t(ishape.size()) != rank || rank == 0)
    return b.error() << "indices of rank " << ishape.size() << " for data of rank " << rank
                     << " (they must match)",
           failure();
  auto axis = normalizeAxis(b, b.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  if (!isa<FloatType, IntegerType>(elementTypeOf(*data)) || elementTypeOf(*data).isInteger(1))
    return b.error() << "data of element type " << elementTypeOf(*data)
                     << " (numbers only)",
           failure();
  int64_t n = dshape[size_t(*axis)], positions = 1;
  for (int64_t d : ishape)
    positions *= d;
  if (positions * n > kMaxOneHotElements)
    return b.error() << "selects " << positions << " elements among " << n
                     << " along axis " << *axis << ": over the " << kMaxOneHotElements
                     << " comparisons this import builds",
           failure();
  SmallVector<int64_t> start(size_t(rank), 0), limit(dshape.begin(), dshape.end());
  bool sliced = false;
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis) {
      if (ishape[size_t(d)] > dshape[size_t(d)])
        return b.error() << "indices dimension " << d << " (" << ishape[size_t(d)]
                         << ") exceeds the data's (" << dshape[size_t(d)] << ")",
               failure();
      sliced |= ishape[size_t(d)] != dshape[size_t(d)];
      limit[size_t(d)] = ishape[size_t(d)];
    }
  ImplicitLocOpBuilder ib(b.loc(), b.builder());
  Value x = *data;
  Type element = elementTypeOf(x);
  if (sliced) {
    SmallVector<int64_t> shape(limit);
    x = tsr::SliceOp::create(ib, RankedTensorType::get(shape, element), x,
                             ib.getDenseI64ArrayAttr(start), ib.getDenseI64ArrayAttr(limit),
                             nullptr);
  }
  // The data with the axis moved last and a 1 in its place: [.., 1, .., n].
  SmallVector<int64_t> perm, moved;
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis)
      perm.push_back(d);
  perm.push_back(*axis);
  for (int64_t d : perm)
    moved.push_back(cast<RankedTensorType>(x.getType()).getShape()[size_t(d)]);
  x = tsr::TransposeOp::create(ib, RankedTensorType::get(moved, element), x,
                               ib.getDenseI64ArrayAttr(perm));
  SmallVector<int64_t> aligned(moved);
  aligned.insert(aligned.begin() + *axis, 1);
  x = tsr::ReshapeOp::create(ib, RankedTensorType::get(aligned, element), x);
  Value mask = oneHotMask(ib, normalizedIndices(ib, *indices, n), n, rank);
  Value zero = scalarOf(ib, element, 0);
  SmallVector<int64_t> wide(ishape.begin(), ishape.end());
  wide.push_back(n);
  Value picked = tsr::SelectOp::create(ib, RankedTensorType::get(wide, element), mask, x, zero);
  return b.setSingleResult(
      tsr::ReduceSumOp::create(ib, picked, ArrayRef<int64_t>{rank}, /*keepDims=*/false));
}

/// "2x3x4" (a scalar: "scalar").
std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text;
  for (int64_t d : shape)
    text += (text.empty() ? "" : "x") + std::to_string(d);
  return text.empty() ? "scalar" : text;
}

/// What a scatter writes, given `hits` (true where update i - along `axis`
/// - lands at position p - along axis + 1) and the updates with a 1 at
/// axis + 1: the updates landing at each position reduced over `axis` by
/// `reduction` (none and add: summed - none has no duplicates -, mul, max,
/// min), combined with `data` (none: replaced where hit). Exact: the terms
/// that miss are the reduction's neutral element.
FailureOr<Value> scatterInto(OpBinder &b, ImplicitLocOpBuilder &ib, Value data, Value hits,
                             Value updates, int64_t axis, const std::string &reduction) {
  Type element = elementTypeOf(data);
  if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" &&
      reduction != "min")
    return b.error() << "reduction '" << reduction << "' (none, add, mul, max or min)", failure();
  // The reduction's neutral element: max over nothing is the lowest value.
  auto scalar = RankedTensorType::get({}, element);
  Value neutral;
  if (auto f = dyn_cast<FloatType>(element)) {
    double inf = std::numeric_limits<double>::infinity();
    double v = reduction == "mul" ? 1 : reduction == "max" ? -inf : reduction == "min" ? inf : 0;
    neutral = tsr::ConstantOp::create(ib, scalar, DenseElementsAttr::get(scalar, ib.getFloatAttr(f, v)));
  } else {
    unsigned width = element.getIntOrFloatBitWidth();
    APInt v = reduction == "mul"   ? APInt(width, 1)
              : reduction == "max" ? APInt::getSignedMinValue(width)
              : reduction == "min" ? APInt::getSignedMaxValue(width)
                                   : APInt(width, 0);
    neutral = tsr::ConstantOp::create(ib, scalar, DenseElementsAttr::get(scalar, v));
  }
  auto hitType = cast<RankedTensorType>(hits.getType());
  auto updType = cast<RankedTensorType>(updates.getType());
  SmallVector<int64_t> wide;
  for (auto [h, u] : llvm::zip(hitType.getShape(), updType.getShape()))
    wide.push_back(std::max(h, u));
  Value contrib =
      tsr::SelectOp::create(ib, RankedTensorType::get(wide, element), hits, updates, neutral);
  SmallVector<int64_t, 1> axes{axis};
  Value landed = reduction == "mul"   ? Value(tsr::ReduceProdOp::create(ib, contrib, axes, false))
                 : reduction == "max" ? Value(tsr::ReduceMaxOp::create(ib, contrib, axes, false))
                 : reduction == "min" ? Value(tsr::ReduceMinOp::create(ib, contrib, axes, false))
                                      : Value(tsr::ReduceSumOp::create(ib, contrib, axes, false));
  auto dataType = cast<RankedTensorType>(data.getType());
  if (cast<RankedTensorType>(landed.getType()).getShape() != dataType.getShape())
    landed = tsr::BroadcastOp::create(ib, dataType, landed);
  if (reduction == "add")
    return Value(tsr::AddOp::create(ib, dataType, data, landed));
  if (reduction == "mul")
    return Value(tsr::MulOp::create(ib, dataType, data, landed));
  // Where anything landed.
  Value ones = tsr::SelectOp::create(ib, hitType.clone(ib.getF32Type()), hits,
                                     scalarOf(ib, ib.getF32Type(), 1), scalarOf(ib, ib.getF32Type(), 0));
  Value count = tsr::ReduceMaxOp::create(ib, ones, axes, false);
  auto countType = cast<RankedTensorType>(count.getType());
  Value hit = tsr::CompareOp::create(
      ib, countType.clone(ib.getI1Type()),
      tsr::ComparePredicateAttr::get(ib.getContext(), tsr::ComparePredicate::gt), count,
      scalarOf(ib, ib.getF32Type(), 0));
  Value value = landed;
  if (reduction == "max")
    value = tsr::MaxOp::create(ib, dataType, data, landed);
  else if (reduction == "min")
    value = tsr::MinOp::create(ib, dataType, data, landed);
  return Value(tsr::SelectOp::create(ib, dataType, hit, value, data));
}

/// ScatterElements on run-time data, indices and updates: out = data with
/// out[.. indices[..i..] (at axis) ..] = updates[..i..] (reduced by
/// `reduction`), built from comparisons with the positions like
/// GatherElements. The indices must span the data along every other axis.
LogicalResult importScatterElements(OpBinder &b) {
  auto data = b.input(0), indices = b.input(1), updates = b.input(2);
  if (failed(data) || failed(indices) || failed(updates))
    return failure();
  std::vector<int64_t> dshape = shapeOf(*data), ishape = shapeOf(*indices);
  int64_t rank = int64_t(dshape.size());
  if (int64_t(ishape.size()) != rank || rank == 0 || shapeOf(*updates) != ishape)
    return b.error() << "indices " << formatShape(ishape) << " and updates "
                     << formatShape(shapeOf(*updates)) << " must have one shape, of the data's rank "
                     << rank,
           failure();
  auto axis = normalizeAxis(b, b.attrInt("axis", 0), rank);
  if (failed(axis))
    return failure();
  if (!isa<FloatType, IntegerType>(elementTypeOf(*data)) || elementTypeOf(*data).isInteger(1))
    return b.error() << "data of element type " << elementTypeOf(*data) << " (numbers only)",
           failure();
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis && ishape[size_t(d)] != dshape[size_t(d)])
      return b.error() << "indices dimension " << d << " (" << ishape[size_t(d)]
                       << ") differs from the data's (" << dshape[size_t(d)]
                       << "); only indices spanning the data off the axis are supported",
             failure();
  int64_t n = dshape[size_t(*axis)], count = n;
  for (int64_t d : ishape)
    count *= d;
  if (count > kMaxOneHotElements)
    return b.error() << "scatters " << count / n << " elements among " << n << " along axis "
                     << *axis << ": over the " << kMaxOneHotElements
                     << " comparisons this import builds",
           failure();
  ImplicitLocOpBuilder ib(b.loc(), b.builder());
  // hits [.., i, p, ..]: update i lands at position p.
  Value hits = oneHotMask(ib, normalizedIndices(ib, *indices, n), n, *axis + 1);
  SmallVector<int64_t> expanded(ishape.begin(), ishape.end());
  expanded.insert(expanded.begin() + *axis + 1, 1);
  Value upd = tsr::ReshapeOp::create(
      ib, RankedTensorType::get(expanded, elementTypeOf(*updates)), *updates);
  auto out = scatterInto(b, ib, *data, hits, upd, *axis, b.attrString("reduction", "none"));
  if (failed(out))
    return failure();
  return b.setSingleResult(*out);
}

/// ScatterND on run-time data, indices and updates: each index tuple (the
/// indices' last dimension, k) names a slice data[i0, .., ik-1] that its
/// update replaces (or is reduced into): the first k dimensions flattened,
/// the tuples turned into row numbers, then a scatter of rows.
LogicalResult importScatterND(OpBinder &b) {
  auto data = b.input(0), indices = b.input(1), updates = b.input(2);
  if (failed(data) || failed(indices) || failed(updates))
    return failure();
  std::vector<int64_t> dshape = shapeOf(*data), ishape = shapeOf(*indices),
                       ushape = shapeOf(*updates);
  int64_t rank = int64_t(dshape.size());
  if (ishape.empty() || rank == 0)
    return b.error() << "indices " << formatShape(ishape) << " for data "
                     << formatShape(dshape) << " (both need a dimension)",
           failure();
  int64_t k = ishape.back();
  if (k < 1 || k > rank)
    return b.error() << "index tuples of length " << k << " for data of rank " << rank,
           failure();
  std::vector<int64_t> want(ishape.begin(), ishape.end() - 1);
  want.insert(want.end(), dshape.begin() + k, dshape.end());
  if (ushape != want)
    return b.error() << "updates " << formatShape(ushape) << " must be " << formatShape(want)
                     << " (the indices' leading dimensions, then the data's past the first "
                     << k << ")",
           failure();
  if (!isa<FloatType, IntegerType>(elementTypeOf(*data)) || elementTypeOf(*data).isInteger(1))
    return b.error() << "data of element type " << elementTypeOf(*data) << " (numbers only)",
           failure();
  int64_t rows = 1, width = 1, tuples = 1;
  for (int64_t d = 0; d < k; ++d)
    rows *= dshape[size_t(d)];
  for (int64_t d = k; d < rank; ++d)
    width *= dshape[size_t(d)];
  for (size_t d = 0; d + 1 < ishape.size(); ++d)
    tuples *= ishape[d];
  if (tuples * rows * width > kMaxOneHotElements)
    return b.error() << "scatters " << tuples << " slices of " << width << " elements among "
                     << rows << ": over the " << kMaxOneHotElements
                     << " comparisons this import builds",
           failure();
  ImplicitLocOpBuilder ib(b.loc(), b.builder());
  auto i64 = ib.getI64Type();
  Type element = elementTypeOf(*data);
  // Row numbers: sum_j index_j * stride_j, each index made non-negative.
  Value tuplesOf = tsr::ReshapeOp::create(ib, RankedTensorType::get({tuples, k}, elementTypeOf(*indices)), *indices);
  Value row;
  int64_t stride = rows;
  for (int64_t j = 0; j < k; ++j) {
    stride /= dshape[size_t(j)];
    Value column = tsr::SliceOp::create(ib, RankedTensorType::get({tuples, 1}, elementTypeOf(*indices)),
                                        tuplesOf, ib.getDenseI64ArrayAttr({0, j}),
                                        ib.getDenseI64ArrayAttr({tuples, j + 1}), nullptr);
    Value at = normalizedIndices(ib, column, dshape[size_t(j)]);
    if (stride != 1)
      at = tsr::MulOp::create(ib, at.getType(), at, scalarOf(ib, i64, double(stride)));
    row = row ? Value(tsr::AddOp::create(ib, at.getType(), row, at)) : at;
  }
  // hits [tuples, rows, 1]; updates [tuples, 1, width]; data [rows, width].
  Value hits = tsr::CompareOp::create(
      ib, RankedTensorType::get({tuples, rows}, ib.getI1Type()),
      tsr::ComparePredicateAttr::get(ib.getContext(), tsr::ComparePredicate::eq), row,
      positionsAlong(ib, {1, rows}));
  hits = tsr::ReshapeOp::create(ib, RankedTensorType::get({tuples, rows, 1}, ib.getI1Type()), hits);
  Value upd = tsr::ReshapeOp::create(ib, RankedTensorType::get({tuples, 1, width}, element), *updates);
  Value flat = tsr::ReshapeOp::create(ib, RankedTensorType::get({rows, width}, element), *data);
  auto out = scatterInto(b, ib, flat, hits, upd, 0, b.attrString("reduction", "none"));
  if (failed(out))
    return failure();
  return b.setSingleResult(
      tsr::ReshapeOp::create(ib, RankedTensorType::get(dshape, element), *out));
}

/// OneHot: select(index == position, on, off) with the depth inserted at
/// `axis`; indices outside [-depth, depth) give all `off`.
LogicalResult importOneHot(OpBinder &b) {
  // All constant (an export's shape arithmetic: the repeats of a Tile): folded.
  if (auto all = allConstant(b, 3)) {
    const ConstTensor &idx = (*all)[0], &depthC = (*all)[1], &vals = (*all)[2];
    if (depthC.numElements() != 1 || vals.numElements() != 2)
      return b.error() << "depth must be a scalar and values an [off, on] pair", failure();
    int64_t n = depthC.asInt(0), rank = int64_t(idx.shape.size()) + 1;
    auto axis = normalizeAxis(b, b.attrInt("axis", -1), rank);
    if (failed(axis))
      return failure();
    if (n < 1 || idx.numElements() * n > kMaxFoldElements)
      return b.error() << "depth " << n << " for " << idx.numElements()
                       << " constant indices: too large to fold",
             failure();
    std::vector<int64_t> shape(idx.shape);
    shape.insert(shape.begin() + *axis, n);
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < *axis; ++d)
      outer *= idx.shape[size_t(d)];
    for (size_t d = size_t(*axis); d < idx.shape.size(); ++d)
      inner *= idx.shape[d];
    ConstTensor out = vals.reshaped({2});
    out.shape = shape;
    out.ints.clear();
    out.floats.clear();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t p = 0; p < n; ++p)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t v = idx.asInt(o * inner + i);
          int64_t k = (v < 0 ? v + n : v) == p ? 1 : 0;
          if (out.isFloat())
            out.floats.push_back(vals.floats[size_t(k)]);
          else
            out.ints.push_back(vals.ints[size_t(k)]);
        }
    return b.setSingleResult(b.constant(out));
  }
  auto indices = b.input(0);
  if (failed(indices))
    return failure();
  std::optional<ConstTensor> depth = b.constantInput(1);
  (void)indices;
  auto values = b.input(2);
  if (failed(values))
    return failure();
  if (!depth || depth->numElements() != 1)
    return b.error() << "depth must be an integer constant once input shapes are fixed (it is the result's size)",
           failure();
  if (shapeOf(*values) != std::vector<int64_t>{2})
    return b.error() << "values must be an [off, on] pair, not "
                     << mlir::tsr::typeString(values->getType()),
           failure();
  int64_t n = depth->isFloat() ? int64_t(depth->floats[0]) : depth->asInt(0);
  std::vector<int64_t> ishape = shapeOf(*indices);
  int64_t rank = int64_t(ishape.size()) + 1;
  auto axis = normalizeAxis(b, b.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  int64_t positions = 1;
  for (int64_t d : ishape)
    positions *= d;
  if (n < 1 || positions * n > kMaxOneHotElements)
    return b.error() << "depth " << n << " for " << positions << " indices: "
                     << (n < 1 ? "not a positive depth" : "over the comparisons this import builds"),
           failure();
  ImplicitLocOpBuilder ib(b.loc(), b.builder());
  Value idx = *indices;
  if (isa<FloatType>(elementTypeOf(idx)))
    idx = tsr::CastOp::create(ib, tensorType(idx).clone(ib.getI64Type()), idx);
  Value mask = oneHotMask(ib, normalizedIndices(ib, idx, n), n, *axis);
  // off and on as scalars (slices of the pair: constant or not).
  Type element = elementTypeOf(*values);
  auto scalar = [&](int64_t k) -> Value {
    Value one = tsr::SliceOp::create(ib, RankedTensorType::get({1}, element), *values,
                                     ib.getDenseI64ArrayAttr({k}),
                                     ib.getDenseI64ArrayAttr({k + 1}), nullptr);
    return tsr::ReshapeOp::create(ib, RankedTensorType::get({}, element), one);
  };
  Value off = scalar(0), on = scalar(1);
  return b.setSingleResult(tsr::SelectOp::create(
      ib, cast<RankedTensorType>(mask.getType()).clone(element), mask, on, off));
}

/// TopK with a constant k over a float axis, built from k rounds of
/// reduce_max: round j takes the largest element not yet taken (ties: the
/// lowest index, as ONNX says), its index by reduce_min over the positions
/// holding it, and its value as a one-hot selection of the input (exact, and
/// what the gradient flows through: to the chosen elements only). Sorted
/// output (largest first, or smallest first with largest = 0).
LogicalResult importTopK(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::optional<ConstTensor> kTensor = b.constantInput(1);
  if (!kTensor || kTensor->numElements() != 1)
    return b.error() << "k must be an integer constant once input shapes are fixed",
           failure();
  std::vector<int64_t> shape = shapeOf(*x);
  int64_t rank = int64_t(shape.size());
  if (rank == 0)
    return b.error() << "input is a scalar", failure();
  auto axis = normalizeAxis(b, b.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  Type element = elementTypeOf(*x);
  if (!isa<FloatType>(element))
    return b.error() << "input of element type " << element
                     << " (TopK is imported for float inputs)",
           failure();
  int64_t n = shape[size_t(*axis)], k = kTensor->asInt(0), count = 1;
  for (int64_t d : shape)
    count *= d;
  if (k < 1 || k > n)
    return b.error() << "k " << k << " out of range for axis " << *axis << " of size " << n,
           failure();
  if (k * count > kMaxOneHotElements)
    return b.error() << "k " << k << " over " << count << " elements: over the "
                     << kMaxOneHotElements << " comparisons this import builds",
           failure();
  bool largest = b.attrInt("largest", 1) != 0;
  ImplicitLocOpBuilder ib(b.loc(), b.builder());
  auto i64 = ib.getI64Type();
  auto xType = cast<RankedTensorType>(x->getType());
  auto boolType = xType.clone(ib.getI1Type());
  auto posType = xType.clone(i64);
  SmallVector<int64_t> posShape(size_t(rank), 1);
  posShape[size_t(*axis)] = n;
  Value pos = positionsAlong(ib, posShape);
  auto scalar = [&](Type t, Attribute a) {
    auto type = RankedTensorType::get({}, t);
    return tsr::ConstantOp::create(ib, type, DenseElementsAttr::get(type, a)).getResult();
  };
  Value past = scalar(i64, ib.getI64IntegerAttr(n));
  Value zero = scalar(element, ib.getFloatAttr(element, 0.0));
  Value ninf = scalar(element, ib.getFloatAttr(element, -INFINITY));
  auto cmp = [&](tsr::ComparePredicate p, Value l, Value r) -> Value {
    return tsr::CompareOp::create(ib, boolType, tsr::ComparePredicateAttr::get(ib.getContext(), p),
                                  l, r);
  };
  Value key = largest ? *x : tsr::NegOp::create(ib, xType, *x).getResult();
  Value taken;
  SmallVector<Value> values, indices;
  for (int64_t j = 0; j < k; ++j) {
    Value open = taken ? tsr::SelectOp::create(ib, xType, taken, ninf, key).getResult() : key;
    Value best = tsr::ReduceMaxOp::create(ib, open, ArrayRef<int64_t>{*axis}, true);
    Value hit = cmp(tsr::ComparePredicate::eq, open, best);
    if (taken)
      hit = tsr::AndOp::create(ib, boolType, hit, tsr::NotOp::create(ib, boolType, taken));
    Value where = tsr::SelectOp::create(ib, posType, hit, pos, past);
    Value index = tsr::ReduceMinOp::create(ib, where, ArrayRef<int64_t>{*axis}, true);
    Value chosen = cmp(tsr::ComparePredicate::eq, pos, index);
    taken = taken ? tsr::OrOp::create(ib, boolType, taken, chosen).getResult() : chosen;
    Value picked = tsr::SelectOp::create(ib, xType, chosen, *x, zero);
    values.push_back(tsr::ReduceSumOp::create(ib, picked, ArrayRef<int64_t>{*axis}, true));
    indices.push_back(index);
  }
  auto joined = [&](ArrayRef<Value> parts) -> Value {
    if (parts.size() == 1)
      return parts[0];
    return tsr::ConcatOp::create(ib, ValueRange(parts), ib.getI64IntegerAttr(*axis));
  };
  if (failed(b.setResult(0, joined(values))))
    return failure();
  return b.setResult(1, joined(indices));
}

/// GatherND with run-time indices and batch_dims 0 (an MoE export picking
/// each token's experts' weights): the index tuples as linear indices into
/// the indexed leading dimensions flattened, then a Gather along them.
LogicalResult importGatherNDAtRunTime(OpBinder &b, Value data) {
  auto indices = b.input(1);
  if (failed(indices))
    return failure();
  std::vector<int64_t> shape = shapeOf(data), ishape = shapeOf(*indices);
  if (ishape.empty() || !isa<IntegerType>(elementTypeOf(*indices)))
    return b.error() << "indices must be integers of rank 1 or more", failure();
  int64_t depth = ishape.back();
  if (depth < 1 || depth > int64_t(shape.size()))
    return b.error() << "index depth " << depth << " does not fit data rank " << shape.size(),
           failure();
  ImplicitLocOpBuilder ib(b.loc(), b.builder());
  auto i64 = ib.getI64Type();
  std::vector<int64_t> tuples(ishape.begin(), ishape.end() - 1);
  Value linear;
  int64_t stride = 1;
  for (int64_t d = depth - 1; d >= 0; --d) {
    // Component d of every tuple, negative entries counted from the end.
    std::vector<int64_t> start(ishape.size(), 0), limit(ishape);
    start.back() = d;
    limit.back() = d + 1;
    std::vector<int64_t> one(ishape);
    one.back() = 1;
    Value component = tsr::SliceOp::create(
        ib, RankedTensorType::get(one, elementTypeOf(*indices)), *indices,
        ib.getDenseI64ArrayAttr(start), ib.getDenseI64ArrayAttr(limit), nullptr);
    component = tsr::ReshapeOp::create(
        ib, RankedTensorType::get(tuples, elementTypeOf(*indices)), component);
    component = normalizedIndices(ib, component, shape[size_t(d)]);
    if (stride != 1) {
      auto scalarType = RankedTensorType::get({}, i64);
      Value s = tsr::ConstantOp::create(ib, scalarType,
                                        DenseElementsAttr::get(scalarType, stride));
      component = tsr::MulOp::create(ib, component.getType(), component, s);
    }
    linear = linear ? tsr::AddOp::create(ib, component.getType(), linear, component).getResult()
                    : component;
    stride *= shape[size_t(d)];
  }
  std::vector<int64_t> flat{stride};
  flat.insert(flat.end(), shape.begin() + depth, shape.end());
  Value table = b.reshape(data, flat);
  return b.setSingleResult(
      b.createValue<tsr::GatherOp>(table, linear, int64_t(0), IntegerAttr()));
}

/// GatherND with constant indices (how exporters index padding masks):
/// flatten the indexed leading dimensions and gather linear indices. With
/// batch_dims = b, each index tuple also carries its position's batch
/// coordinates.
LogicalResult importGatherND(OpBinder &b) {
  auto data = b.input(0);
  if (failed(data))
    return failure();
  std::optional<ConstTensor> indices = b.constantInput(1);
  if (!indices && b.attrInt("batch_dims", 0) == 0)
    return importGatherNDAtRunTime(b, *data);
  if (!indices || indices->isFloat())
    return b.error() << "indices must be an integer constant once input "
                        "shapes are fixed (or batch_dims 0)",
           failure();
  std::vector<int64_t> shape = shapeOf(*data);
  int64_t batchDims = b.attrInt("batch_dims", 0);
  int64_t indexRank = int64_t(indices->shape.size());
  if (indexRank < 1 || batchDims < 0 || batchDims >= indexRank ||
      batchDims >= int64_t(shape.size()))
    return b.error() << "batch_dims " << batchDims << " does not fit indices of rank "
                     << indexRank,
           failure();
  for (int64_t d = 0; d < batchDims; ++d)
    if (indices->shape[d] != shape[d])
      return b.error() << "batch dimension " << d << " differs: data "
                       << shape[d] << ", indices " << indices->shape[d],
             failure();
  int64_t depth = indices->shape.back();
  int64_t indexed = batchDims + depth;
  if (depth < 1 || indexed > int64_t(shape.size()))
    return b.error() << "index depth " << depth << " does not fit data rank "
                     << shape.size(),
           failure();
  std::vector<int64_t> strides(indexed, 1);
  for (int64_t d = indexed - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  int64_t flatDim = strides[0] * shape[0];
  // Positions per batch element: the index tuples between batch steps.
  int64_t perBatch = 1;
  for (int64_t d = batchDims; d < indexRank - 1; ++d)
    perBatch *= indices->shape[d];
  std::vector<int64_t> linear;
  for (int64_t n = 0, tuple = 0; n < indices->numElements(); n += depth, ++tuple) {
    int64_t at = 0, batch = tuple / std::max<int64_t>(perBatch, 1);
    for (int64_t d = batchDims - 1; d >= 0; --d) {
      at += (batch % shape[d]) * strides[d];
      batch /= shape[d];
    }
    for (int64_t d = 0; d < depth; ++d) {
      int64_t dim = shape[batchDims + d];
      int64_t i = indices->ints[n + d];
      if (i < -dim || i >= dim)
        return b.error() << "index " << i << " out of range for dimension "
                         << batchDims + d << " of size " << dim,
               failure();
      at += (i < 0 ? i + dim : i) * strides[batchDims + d];
    }
    linear.push_back(at);
  }
  std::vector<int64_t> flatShape{flatDim};
  flatShape.insert(flatShape.end(), shape.begin() + indexed, shape.end());
  std::vector<int64_t> indexShape(indices->shape.begin(), indices->shape.end() - 1);
  Value flat = b.reshape(*data, flatShape);
  Value index = b.constant(
      ConstTensor::ofInts(b.builder().getI64Type(), indexShape, linear));
  return b.setSingleResult(b.createValue<tsr::GatherOp>(flat, index, 0, IntegerAttr()));
}

LogicalResult importExpand(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  auto target = b.constantInts(1, "the target shape");
  if (failed(target))
    return failure();
  // Expand broadcasts both ways: the result is broadcast(input, shape).
  std::vector<int64_t> in = shapeOf(*x);
  SmallVector<int64_t> shape;
  if (failed(tsr::broadcastShapes(b.loc(), {in, *target}, shape)))
    return failure();
  if (ArrayRef<int64_t>(shape) == ArrayRef<int64_t>(in))
    return b.setSingleResult(*x);
  if (auto values = allConstant(b, 1)) {
    const ConstTensor &c = (*values)[0];
    ConstTensor out = c.reshaped({shape.begin(), shape.end()});
    out.ints.clear();
    out.floats.clear();
    int64_t total = 1;
    for (int64_t d : shape)
      total *= d;
    if (total <= kMaxFoldElements) {
      forEachBroadcast(out.shape, {c.shape},
                       [&](int64_t, const std::vector<int64_t> &idx) {
                         if (c.isFloat())
                           out.floats.push_back(c.floats[idx[0]]);
                         else
                           out.ints.push_back(c.ints[idx[0]]);
                       });
      return b.setSingleResult(b.constant(out));
    }
  }
  return b.setSingleResult(tsr::BroadcastOp::create(
      b.builder(), b.loc(), RankedTensorType::get(shape, elementTypeOf(*x)),
      *x));
}

/// Tile: out[i] = x[i mod shape]: x as [1, d0, 1, d1, ...] broadcast to
/// [r0, d0, r1, d1, ...], then merged to [r0*d0, r1*d1, ...].
LogicalResult importTile(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  auto repeats = b.constantInts(1, "the repeats");
  if (failed(repeats))
    return failure();
  std::vector<int64_t> in = shapeOf(*x);
  if (repeats->size() != in.size())
    return b.error() << "repeats has " << repeats->size() << " entries for an input of rank "
                     << in.size(),
           failure();
  SmallVector<int64_t> spread, merged;
  bool identity = true;
  for (auto [d, r] : llvm::zip(in, *repeats)) {
    int64_t n;
    if (r < 1 || __builtin_mul_overflow(d, r, &n) || n > (int64_t(1) << 40))
      return b.error() << "repeats " << r << " of a dimension of size " << d
                       << " (each must be at least 1, the result of a sane size)",
             failure();
    identity &= r == 1;
    spread.push_back(r);
    spread.push_back(d);
    merged.push_back(n);
  }
  if (identity)
    return b.setSingleResult(*x);
  SmallVector<int64_t> ones;
  for (int64_t d : in) {
    ones.push_back(1);
    ones.push_back(d);
  }
  Value lifted = b.reshape(*x, std::vector<int64_t>(ones.begin(), ones.end()));
  Value wide = tsr::BroadcastOp::create(
      b.builder(), b.loc(), RankedTensorType::get(spread, elementTypeOf(*x)), lifted);
  return b.setSingleResult(b.reshape(wide, std::vector<int64_t>(merged.begin(), merged.end())));
}

} // namespace

/// The value of a Constant node (any of its value_* attributes).
static LogicalResult importConstant(OpBinder &b) {
  GraphImporter &importer = b.importer();
  const ::onnx::AttributeProto *a = nullptr;
  for (const char *name : {"value", "value_float", "value_floats", "value_int",
                           "value_ints"})
    if ((a = b.attr(name)))
      break;
  if (!a)
    return b.error() << "has no supported value attribute (value, value_float(s), "
                        "value_int(s))",
           failure();
  OpBuilder &builder = b.builder();
  ConstTensor c;
  if (a->name() == "value") {
    auto t = importer.tensorFromProto(a->t(), b.loc());
    if (failed(t))
      return failure();
    c = *t;
  } else if (a->name() == "value_float") {
    c = ConstTensor::ofFloats(builder.getF32Type(), {}, {a->f()});
  } else if (a->name() == "value_floats") {
    c = ConstTensor::ofFloats(builder.getF32Type(), {int64_t(a->floats_size())},
                              {a->floats().begin(), a->floats().end()});
  } else if (a->name() == "value_int") {
    c = ConstTensor::ofInts(builder.getI64Type(), {}, {a->i()});
  } else {
    c = ConstTensor::ofInts(builder.getI64Type(), {int64_t(a->ints_size())},
                            {a->ints().begin(), a->ints().end()});
  }
  return b.setSingleResult(b.constant(c));
}

static LogicalResult importConstantOfShape(OpBinder &b) {
  GraphImporter &importer = b.importer();
  auto shape = b.constantInts(0, "the shape");
  if (failed(shape))
    return failure();
  ConstTensor fill = ConstTensor::ofFloats(b.builder().getF32Type(), {}, {0.0});
  if (const ::onnx::AttributeProto *a = b.attr("value")) {
    auto t = importer.tensorFromProto(a->t(), b.loc());
    if (failed(t))
      return failure();
    if (t->numElements() != 1)
      return b.error() << "value must hold one element", failure();
    fill = *t;
  }
  uint64_t total = 1;
  for (int64_t d : *shape)
    if (d < 0 || __builtin_mul_overflow(total, uint64_t(d), &total))
      return b.error() << "invalid shape", failure();
  ConstTensor one = fill.reshaped({});
  if (total <= uint64_t(kMaxFoldElements)) {
    ConstTensor out = fill.reshaped(*shape);
    out.ints.assign(fill.isFloat() ? 0 : total, fill.isFloat() ? 0 : fill.ints[0]);
    out.floats.assign(fill.isFloat() ? total : 0, fill.isFloat() ? fill.floats[0] : 0);
    return b.setSingleResult(b.constant(out));
  }
  // Large fills are a splat broadcast to the shape.
  Value scalar = b.constant(one);
  return b.setSingleResult(tsr::BroadcastOp::create(
      b.builder(), b.loc(), RankedTensorType::get(*shape, fill.elementType),
      scalar));
}

void tessera::onnx::registerShapeOps(HandlerRegistry &r) {
  r.onOp("Shape", 1, importShape);
  r.onOp("Size", 1, importSize);
  r.onOp("Reshape", 1, importReshape);
  r.onOp("Flatten", 1, importFlatten);
  r.onOp("Transpose", 1, importTranspose);
  r.onOp("Unsqueeze", 1, importUnsqueeze);
  r.onOp("Squeeze", 1, importSqueeze);
  r.onOp("Concat", 1, importConcat);
  r.onOp("Slice", 1, importSlice);
  r.onOp("Split", 1, importSplit);
  r.onOp("Gather", 1, importGather);
  r.onOp("GatherND", 11, importGatherND);
  r.onOp("GatherElements", 11, importGatherElements);
  r.onOp("ScatterElements", 11, importScatterElements);
  r.onOp("ScatterND", 11, importScatterND);
  r.onOp("OneHot", 9, importOneHot);
  r.onOp("TopK", 10, importTopK);
  r.onOp("Expand", 8, importExpand);
  r.onOp("Tile", 6, importTile);
  r.onOp("Constant", 1, importConstant);
  r.onOp("ConstantOfShape", 9, importConstantOfShape);
}
