//===- MathOps.cpp - ONNX linear algebra, reductions, norms to tsr --------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// MatMul, Gemm, Softmax, Reduce*, LayerNormalization, and the index
// builders exporters use for masks and positions (Range, Trilu, CumSum),
// which are folded when their inputs are constant.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/GraphImporter.h"
#include "frontends/onnx/ops/Common.h"

using namespace mlir;
using namespace tessera::onnx;

namespace {

LogicalResult importMatMul(OpBinder &b) {
  auto lhs = b.input(0), rhs = b.input(1);
  if (failed(lhs) || failed(rhs))
    return failure();
  if (elementTypeOf(*lhs) != elementTypeOf(*rhs))
    return b.error() << "operand types differ: " << lhs->getType() << " and "
                     << rhs->getType(),
           failure();
  // Vectors become matrices for the product and lose that dimension after.
  std::vector<int64_t> ls = shapeOf(*lhs), rs = shapeOf(*rhs);
  if (ls.empty() || rs.empty())
    return b.error() << "operands must not be scalars", failure();
  bool lhsVector = ls.size() == 1, rhsVector = rs.size() == 1;
  Value l = lhsVector ? b.reshape(*lhs, {1, ls[0]}) : *lhs;
  Value r = rhsVector ? b.reshape(*rhs, {rs[0], 1}) : *rhs;
  auto product = b.createValue<tsr::MatmulOp>(l, r, false, false);
  if (failed(product))
    return failure();
  std::vector<int64_t> shape = shapeOf(*product);
  if (lhsVector)
    shape.erase(shape.end() - 2);
  if (rhsVector)
    shape.pop_back();
  return b.setSingleResult(b.reshape(*product, shape));
}

LogicalResult importGemm(OpBinder &b) {
  auto a = b.input(0), w = b.input(1);
  if (failed(a) || failed(w))
    return failure();
  if (tensorType(*a).getRank() != 2 || tensorType(*w).getRank() != 2)
    return b.error() << "A and B must be matrices", failure();
  Type element = elementTypeOf(*a);
  auto product = b.createValue<tsr::MatmulOp>(
      *a, *w, b.attrInt("transA", 0) != 0, b.attrInt("transB", 0) != 0);
  if (failed(product))
    return failure();
  Value result = *product;
  auto scalar = [&](float v) {
    return b.constant(ConstTensor::ofFloats(element, {}, {v}));
  };
  float alpha = b.attrFloat("alpha", 1.0f), beta = b.attrFloat("beta", 1.0f);
  if (alpha != 1.0f) {
    auto scaled = b.createValue<tsr::MulOp>(result, scalar(alpha));
    if (failed(scaled))
      return failure();
    result = *scaled;
  }
  if (Value c = b.optionalInput(2)) {
    if (beta != 1.0f) {
      auto scaled = b.createValue<tsr::MulOp>(c, scalar(beta));
      if (failed(scaled))
        return failure();
      c = *scaled;
    }
    auto sum = b.createValue<tsr::AddOp>(result, c);
    if (failed(sum))
      return failure();
    result = *sum;
  }
  return b.setSingleResult(result);
}

LogicalResult importSoftmax(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  if (!isa<FloatType>(elementTypeOf(*x)))
    return b.error() << "expects a floating-point input", failure();
  std::vector<int64_t> shape = shapeOf(*x);
  int64_t rank = int64_t(shape.size());
  auto axis = normalizeAxis(b, b.attrInt("axis", b.opset() < 13 ? 1 : -1), rank);
  if (failed(axis))
    return failure();
  if (b.opset() >= 13 || *axis == rank - 1)
    return b.setSingleResult(
        tsr::SoftmaxOp::create(b.builder(), b.loc(), *x, *axis));
  // Before opset 13, softmax ran over the flattened trailing dimensions.
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < rank; ++d)
    (d < *axis ? outer : inner) *= shape[d];
  Value flat = b.reshape(*x, {outer, inner});
  Value soft = tsr::SoftmaxOp::create(b.builder(), b.loc(), flat, 1);
  return b.setSingleResult(b.reshape(soft, shape));
}

template <typename OpTy>
OpHandler reduction(int axesInputSince) {
  return [=](OpBinder &b) -> LogicalResult {
    auto x = b.input(0);
    if (failed(x))
      return failure();
    int64_t rank = tensorType(*x).getRank();
    std::vector<int64_t> axes;
    if (b.opset() < axesInputSince) {
      axes = b.attrInts("axes").value_or(std::vector<int64_t>{});
    } else if (b.hasInput(1)) {
      auto given = b.constantInts(1, "axes");
      if (failed(given))
        return failure();
      axes = *given;
    }
    bool keepDims = b.attrInt("keepdims", 1) != 0;
    if (axes.empty()) {
      if (b.attrInt("noop_with_empty_axes", 0))
        return b.setSingleResult(*x);
      for (int64_t d = 0; d < rank; ++d)
        axes.push_back(d);
    }
    for (int64_t &axis : axes) {
      auto a = normalizeAxis(b, axis, rank);
      if (failed(a))
        return failure();
      axis = *a;
    }
    llvm::sort(axes);
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      return b.error() << "axes repeat", failure();
    return b.setSingleResult(b.createValue<OpTy>(*x, axes, keepDims));
  };
}

LogicalResult importLayerNorm(OpBinder &b) {
  auto x = b.input(0), scale = b.input(1);
  if (failed(x) || failed(scale))
    return failure();
  std::vector<int64_t> shape = shapeOf(*x);
  int64_t rank = int64_t(shape.size());
  auto axis = normalizeAxis(b, b.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  std::vector<int64_t> normalized(shape.begin() + *axis, shape.end());
  // ONNX lets scale and bias broadcast; tsr wants the normalised shape.
  auto fit = [&](Value v) -> FailureOr<Value> {
    std::vector<int64_t> s = shapeOf(v);
    if (s == normalized)
      return v;
    if (!tsr::isBroadcastableTo(s, normalized))
      return b.error() << "scale/bias " << v.getType()
                       << " do not broadcast to the normalised dimensions",
             failure();
    // Drop leading ones, then broadcast what remains.
    while (s.size() > normalized.size())
      s.erase(s.begin());
    Value r = b.reshape(v, s);
    if (s == normalized)
      return r;
    return tsr::BroadcastOp::create(
               b.builder(), b.loc(),
               RankedTensorType::get(normalized, elementTypeOf(v)), r)
        .getResult();
  };
  auto s = fit(*scale);
  if (failed(s))
    return failure();
  Value bias;
  if (Value given = b.optionalInput(2)) {
    auto fitted = fit(given);
    if (failed(fitted))
      return failure();
    bias = *fitted;
  }
  float epsilon = b.attrFloat("epsilon", 1e-5f);
  if (failed(b.setResult(0, tsr::LayerNormOp::create(
                                b.builder(), b.loc(), x->getType(), *x, *s,
                                bias, *axis, llvm::APFloat(double(epsilon))))))
    return failure();
  if (!b.hasOutput(1) && !b.hasOutput(2))
    return success();
  // The statistics outputs (used in training graphs), over the normalised
  // axes with kept dimensions: Mean and 1 / sqrt(Var + epsilon).
  std::vector<int64_t> axes;
  for (int64_t d = *axis; d < rank; ++d)
    axes.push_back(d);
  auto mean = b.createValue<tsr::ReduceMeanOp>(*x, axes, true);
  if (failed(mean))
    return failure();
  auto centered = b.createValue<tsr::SubOp>(*x, *mean);
  if (failed(centered))
    return failure();
  auto squared = b.createValue<tsr::MulOp>(*centered, *centered);
  if (failed(squared))
    return failure();
  auto variance = b.createValue<tsr::ReduceMeanOp>(*squared, axes, true);
  if (failed(variance))
    return failure();
  Value eps = b.constant(
      ConstTensor::ofFloats(elementTypeOf(*x), {}, {double(epsilon)}));
  auto shifted = b.createValue<tsr::AddOp>(*variance, eps);
  if (failed(shifted))
    return failure();
  Value invStd = tsr::RsqrtOp::create(b.builder(), b.loc(), *shifted);
  (void)b.setResult(1, *mean);
  return b.setResult(2, invStd);
}

LogicalResult importRange(OpBinder &b) {
  auto values = allConstant(b, 3);
  if (!values)
    return b.error() << "start, limit and delta must be constants once input "
                        "shapes are fixed",
           failure();
  const ConstTensor &start = (*values)[0], &limit = (*values)[1],
                    &delta = (*values)[2];
  if (start.numElements() != 1 || limit.numElements() != 1 ||
      delta.numElements() != 1)
    return b.error() << "start, limit and delta must be scalars", failure();
  double d = delta.asDouble(0);
  if (d == 0)
    return b.error() << "delta is zero", failure();
  double count = std::ceil((limit.asDouble(0) - start.asDouble(0)) / d);
  int64_t n = std::max<int64_t>(0, int64_t(count));
  if (n > kMaxFoldElements)
    return b.error() << "range of " << n << " elements is too large to fold",
           failure();
  ConstTensor out;
  out.elementType = start.elementType;
  out.shape = {n};
  for (int64_t i = 0; i < n; ++i) {
    if (start.isFloat())
      out.floats.push_back(start.floats[0] + double(i) * d);
    else
      out.ints.push_back(start.ints[0] + i * delta.ints[0]);
  }
  return b.setSingleResult(b.constant(out));
}

LogicalResult importTrilu(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  int64_t k = 0;
  if (b.hasInput(1)) {
    auto given = b.constantInts(1, "k");
    if (failed(given))
      return failure();
    if (given->size() != 1)
      return b.error() << "k must be a scalar", failure();
    k = (*given)[0];
  }
  bool upper = b.attrInt("upper", 1) != 0;
  std::vector<int64_t> shape = shapeOf(*x);
  if (shape.size() < 2)
    return b.error() << "input must have rank >= 2", failure();
  int64_t rows = shape[shape.size() - 2], cols = shape.back();
  auto keep = [&](int64_t i, int64_t j) {
    return upper ? j - i >= k : j - i <= k;
  };
  if (auto values = allConstant(b, 1)) {
    ConstTensor c = (*values)[0];
    for (int64_t n = 0; n < c.numElements(); ++n) {
      int64_t j = n % cols, i = (n / cols) % rows;
      if (keep(i, j))
        continue;
      if (c.isFloat())
        c.floats[n] = 0;
      else
        c.ints[n] = 0;
    }
    return b.setSingleResult(b.constant(c));
  }
  // select(mask, x, 0) with a constant [rows, cols] mask.
  ConstTensor mask = ConstTensor::ofInts(b.builder().getI1Type(), {rows, cols}, {});
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      mask.ints.push_back(keep(i, j));
  Type element = elementTypeOf(*x);
  ConstTensor zero = isa<FloatType>(element)
                         ? ConstTensor::ofFloats(element, {}, {0.0})
                         : ConstTensor::ofInts(element, {}, {0});
  return b.setSingleResult(
      b.createValue<tsr::SelectOp>(b.constant(mask), *x, b.constant(zero)));
}

LogicalResult importCumSum(OpBinder &b) {
  auto values = allConstant(b, 2);
  if (!values) {
    // Run-time values (positions from the attention mask): a tsr.cumsum.
    auto x = b.input(0);
    if (failed(x))
      return failure();
    auto axisValue = b.constantInts(1, "the axis");
    if (failed(axisValue))
      return failure();
    if (axisValue->size() != 1)
      return b.error() << "axis must be a scalar", failure();
    auto axis = normalizeAxis(b, (*axisValue)[0], int64_t(shapeOf(*x).size()));
    if (failed(axis))
      return failure();
    auto &builder = b.builder();
    return b.setSingleResult(tsr::CumSumOp::create(
        builder, b.loc(), x->getType(), *x, builder.getI64IntegerAttr(*axis),
        b.attrInt("exclusive", 0) ? builder.getUnitAttr() : nullptr,
        b.attrInt("reverse", 0) ? builder.getUnitAttr() : nullptr));
  }
  ConstTensor c = (*values)[0];
  if ((*values)[1].numElements() != 1)
    return b.error() << "axis must be a scalar", failure();
  int64_t rank = int64_t(c.shape.size());
  auto axis = normalizeAxis(b, (*values)[1].asInt(0), rank);
  if (failed(axis))
    return failure();
  bool exclusive = b.attrInt("exclusive", 0), reverse = b.attrInt("reverse", 0);
  int64_t dim = c.shape[*axis], inner = 1, outer = 1;
  for (int64_t d = *axis + 1; d < rank; ++d)
    inner *= c.shape[d];
  for (int64_t d = 0; d < *axis; ++d)
    outer *= c.shape[d];
  ConstTensor out = c;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t n = 0; n < inner; ++n) {
      double accF = 0;
      int64_t accI = 0;
      for (int64_t s = 0; s < dim; ++s) {
        int64_t i = reverse ? dim - 1 - s : s;
        int64_t at = (o * dim + i) * inner + n;
        if (c.isFloat()) {
          if (!exclusive)
            accF += c.floats[at];
          out.floats[at] = accF;
          if (exclusive)
            accF += c.floats[at];
        } else {
          if (!exclusive)
            accI += c.ints[at];
          out.ints[at] = accI;
          if (exclusive)
            accI += c.ints[at];
        }
      }
    }
  return b.setSingleResult(b.constant(out));
}

/// Einsum with one or two operands and explicit output, no ellipsis and no
/// index repeated within an operand: reductions, transposes and batched
/// products (as exporters write attention and outer products).
LogicalResult importEinsum(OpBinder &b) {
  std::string equation = b.attrString("equation", "");
  equation.erase(std::remove(equation.begin(), equation.end(), ' '),
                 equation.end());
  if (equation.find("...") != std::string::npos)
    return b.error() << "equation '" << equation
                     << "': ellipsis is not supported",
           failure();
  size_t arrow = equation.find("->");
  std::string output;
  if (arrow != std::string::npos) {
    output = equation.substr(arrow + 2);
  } else {
    // Implicit output: the indices used once, in alphabetical order.
    arrow = equation.size();
    std::map<char, int> uses;
    for (char c : equation)
      if (c != ',')
        ++uses[c];
    for (auto [c, n] : uses)
      if (n == 1)
        output += c;
  }
  SmallVector<llvm::StringRef> parts;
  llvm::StringRef(equation).substr(0, arrow).split(parts, ',');
  SmallVector<std::string> terms;
  for (llvm::StringRef part : parts)
    terms.push_back(part.str());
  if (terms.empty() || terms.size() > 2 || int(terms.size()) != b.numInputs())
    return b.error() << "equation '" << equation << "' needs 1 or 2 operands, "
                     << b.numInputs() << " given",
           failure();
  SmallVector<Value> operands;
  std::map<char, int64_t> sizes;
  for (size_t i = 0; i < terms.size(); ++i) {
    auto v = b.input(int(i));
    if (failed(v))
      return failure();
    std::vector<int64_t> shape = shapeOf(*v);
    if (shape.size() != terms[i].size())
      return b.error() << "operand " << i << " has rank " << shape.size()
                       << " but its term '" << terms[i] << "' has "
                       << terms[i].size() << " indices",
             failure();
    for (size_t d = 0; d < shape.size(); ++d) {
      char c = terms[i][d];
      if (terms[i].find(c) != d)
        return b.error() << "index '" << c << "' repeats within '" << terms[i]
                         << "': diagonals are not supported",
               failure();
      if (sizes.count(c) && sizes[c] != shape[d])
        return b.error() << "index '" << c << "' has sizes " << sizes[c]
                         << " and " << shape[d],
               failure();
      sizes[c] = shape[d];
    }
    operands.push_back(*v);
  }
  for (char c : output)
    if (!sizes.count(c))
      return b.error() << "output index '" << c << "' appears in no operand",
             failure();
  auto has = [](const std::string &s, char c) {
    return s.find(c) != std::string::npos;
  };
  // Sum out indices that appear in one operand only and not in the output.
  for (size_t i = 0; i < terms.size(); ++i) {
    std::vector<int64_t> axes;
    std::string kept;
    for (size_t d = 0; d < terms[i].size(); ++d) {
      char c = terms[i][d];
      bool elsewhere = terms.size() == 2 && has(terms[1 - i], c);
      if (!has(output, c) && !elsewhere)
        axes.push_back(int64_t(d));
      else
        kept += c;
    }
    if (axes.empty())
      continue;
    auto summed = b.createValue<tsr::ReduceSumOp>(operands[i], axes, false);
    if (failed(summed))
      return failure();
    operands[i] = *summed;
    terms[i] = kept;
  }
  auto permuteTo = [&](Value v, const std::string &from,
                       const std::string &to) -> FailureOr<Value> {
    if (from == to)
      return v;
    std::vector<int64_t> perm;
    for (char c : to)
      perm.push_back(int64_t(from.find(c)));
    return b.createValue<tsr::TransposeOp>(v, perm);
  };
  auto product = [](const std::string &idx, std::map<char, int64_t> &sz) {
    int64_t p = 1;
    for (char c : idx)
      p *= sz[c];
    return p;
  };
  if (terms.size() == 1) {
    return b.setSingleResult(permuteTo(operands[0], terms[0], output));
  }
  // batch: in both and the output; contracted: in both only; free: one side.
  std::string batch, contracted, lfree, rfree;
  for (char c : terms[0]) {
    if (has(terms[1], c))
      (has(output, c) ? batch : contracted) += c;
    else
      lfree += c;
  }
  for (char c : terms[1])
    if (!has(terms[0], c))
      rfree += c;
  auto lhs = permuteTo(operands[0], terms[0], batch + lfree + contracted);
  auto rhs = permuteTo(operands[1], terms[1], batch + contracted + rfree);
  if (failed(lhs) || failed(rhs))
    return failure();
  int64_t bs = product(batch, sizes), m = product(lfree, sizes),
          k = product(contracted, sizes), n = product(rfree, sizes);
  Value l = b.reshape(*lhs, {bs, m, k});
  Value r = b.reshape(*rhs, {bs, k, n});
  auto mm = b.createValue<tsr::MatmulOp>(l, r, false, false);
  if (failed(mm))
    return failure();
  std::string natural = batch + lfree + rfree;
  std::vector<int64_t> naturalShape;
  for (char c : natural)
    naturalShape.push_back(sizes[c]);
  Value shaped = b.reshape(*mm, naturalShape);
  return b.setSingleResult(permuteTo(shaped, natural, output));
}

} // namespace

void tessera::onnx::registerMathOps(HandlerRegistry &r) {
  r.onOp("Einsum", 12, importEinsum);
  r.onOp("MatMul", 1, importMatMul);
  r.onOp("Gemm", 1, importGemm);
  r.onOp("Softmax", 1, importSoftmax);
  r.onOp("ReduceSum", 1, reduction<tsr::ReduceSumOp>(13));
  r.onOp("ReduceMean", 1, reduction<tsr::ReduceMeanOp>(18));
  r.onOp("ReduceMax", 1, reduction<tsr::ReduceMaxOp>(18));
  r.onOp("ReduceMin", 1, reduction<tsr::ReduceMinOp>(18));
  r.onOp("ReduceProd", 1, reduction<tsr::ReduceProdOp>(18));
  r.onOp("LayerNormalization", 17, importLayerNorm);
  r.onOp("Range", 11, importRange);
  r.onOp("Trilu", 14, importTrilu);
  r.onOp("CumSum", 11, importCumSum);
}
