//===- ElementwiseOps.cpp - ONNX elementwise ops to tsr -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Unary and binary arithmetic, comparisons, logic, Where, Cast, Clip. Each
// handler folds constant operands (shape arithmetic) and otherwise emits the
// tsr op.
//
//===----------------------------------------------------------------------===//

#include "frontends/onnx/GraphImporter.h"
#include "frontends/onnx/ops/Common.h"

#include <cmath>

using namespace mlir;
using namespace tessera::onnx;

namespace {

using FloatFn = double (*)(double);

/// A unary op: folds constants with `fold` (when given), else emits OpTy.
template <typename OpTy>
OpHandler unary(bool floatOnly, FloatFn fold, int64_t (*foldInt)(int64_t) = nullptr) {
  return [=](OpBinder &b) -> LogicalResult {
    auto x = b.input(0);
    if (failed(x))
      return failure();
    Type element = elementTypeOf(*x);
    bool isFloat = isa<FloatType>(element);
    if (floatOnly && !isFloat)
      return b.error() << "expects a floating-point input, got " << element,
             failure();
    if (auto values = allConstant(b, 1)) {
      ConstTensor &c = (*values)[0];
      if (isFloat && fold) {
        for (double &v : c.floats)
          v = fold(v);
        return b.setSingleResult(b.constant(c));
      }
      if (!isFloat && foldInt) {
        for (int64_t &v : c.ints)
          v = foldInt(v);
        return b.setSingleResult(b.constant(c));
      }
    }
    return b.setSingleResult(OpTy::create(b.builder(), b.loc(), *x));
  };
}

enum class BinaryKind { Add, Sub, Mul, Div, Pow, Max, Min, And, Or, Xor };

double applyFloat(BinaryKind kind, double a, double c) {
  switch (kind) {
  case BinaryKind::Add: return a + c;
  case BinaryKind::Sub: return a - c;
  case BinaryKind::Mul: return a * c;
  case BinaryKind::Div: return a / c;
  case BinaryKind::Pow: return std::pow(a, c);
  case BinaryKind::Max: return std::max(a, c);
  case BinaryKind::Min: return std::min(a, c);
  default: return 0;
  }
}

std::optional<int64_t> applyInt(BinaryKind kind, int64_t a, int64_t c) {
  switch (kind) {
  case BinaryKind::Add: return int64_t(uint64_t(a) + uint64_t(c));
  case BinaryKind::Sub: return int64_t(uint64_t(a) - uint64_t(c));
  case BinaryKind::Mul: return int64_t(uint64_t(a) * uint64_t(c));
  case BinaryKind::Div:
    if (c == 0 || (a == INT64_MIN && c == -1))
      return std::nullopt;
    return a / c;
  case BinaryKind::Max: return std::max(a, c);
  case BinaryKind::Min: return std::min(a, c);
  case BinaryKind::And: return int64_t(a && c);
  case BinaryKind::Or: return int64_t(a || c);
  case BinaryKind::Xor: return int64_t(bool(a) != bool(c));
  default: return std::nullopt;
  }
}

/// Emits `lhs kind rhs`, folding constants.
FailureOr<Value> emitBinary(OpBinder &b, BinaryKind kind, Value lhs, Value rhs) {
  Type element = elementTypeOf(lhs);
  if (elementTypeOf(rhs) != element)
    return b.error() << "operand types differ: " << lhs.getType() << " and "
                     << rhs.getType(),
           failure();
  bool isFloat = isa<FloatType>(element);
  auto constOf = [](Value v) -> std::optional<ConstTensor> {
    if (auto c = v.getDefiningOp<tsr::ConstantOp>())
      if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue()))
        if (dense.getNumElements() <= kMaxFoldElements)
          return ConstTensor::fromAttr(dense);
    return std::nullopt;
  };
  std::optional<ConstTensor> a = constOf(lhs), c = constOf(rhs);
  if (a && c) {
    bool ok = true;
    auto folded = foldBroadcast(
        b, {&*a, &*c}, element,
        [&](const std::vector<const ConstTensor *> &ops,
            const std::vector<int64_t> &idx, ConstTensor &out) {
          if (isFloat) {
            out.floats.push_back(applyFloat(kind, ops[0]->floats[idx[0]],
                                            ops[1]->floats[idx[1]]));
            return;
          }
          auto v = applyInt(kind, ops[0]->ints[idx[0]], ops[1]->ints[idx[1]]);
          ok &= v.has_value();
          out.ints.push_back(v.value_or(0));
        });
    if (failed(folded))
      return failure();
    if (ok)
      return b.constant(*folded);
  }
  switch (kind) {
  case BinaryKind::Add: return b.createValue<tsr::AddOp>(lhs, rhs);
  case BinaryKind::Sub: return b.createValue<tsr::SubOp>(lhs, rhs);
  case BinaryKind::Mul: return b.createValue<tsr::MulOp>(lhs, rhs);
  case BinaryKind::Div: return b.createValue<tsr::DivOp>(lhs, rhs);
  case BinaryKind::Pow: return b.createValue<tsr::PowOp>(lhs, rhs);
  case BinaryKind::Max: return b.createValue<tsr::MaxOp>(lhs, rhs);
  case BinaryKind::Min: return b.createValue<tsr::MinOp>(lhs, rhs);
  case BinaryKind::And: return b.createValue<tsr::AndOp>(lhs, rhs);
  case BinaryKind::Or: return b.createValue<tsr::OrOp>(lhs, rhs);
  case BinaryKind::Xor: return b.createValue<tsr::XorOp>(lhs, rhs);
  }
  return failure();
}

OpHandler binary(BinaryKind kind) {
  return [=](OpBinder &b) -> LogicalResult {
    auto lhs = b.input(0), rhs = b.input(1);
    if (failed(lhs) || failed(rhs))
      return failure();
    Value r = *rhs;
    if (kind == BinaryKind::Pow) {
      if (!isa<FloatType>(elementTypeOf(*lhs)))
        return b.error() << "integer Pow is not supported", failure();
      // Pow's exponent may have another type; compute in the base's.
      if (elementTypeOf(r) != elementTypeOf(*lhs)) {
        auto c = b.constantInput(1);
        r = c ? b.constant(c->cast(elementTypeOf(*lhs)))
              : tsr::CastOp::create(
                    b.builder(), b.loc(),
                    RankedTensorType::get(shapeOf(r), elementTypeOf(*lhs)), r)
                    .getResult();
      }
    }
    return b.setSingleResult(emitBinary(b, kind, *lhs, r));
  };
}

/// Max, Min: variadic, folded pairwise.
OpHandler variadic(BinaryKind kind) {
  return [=](OpBinder &b) -> LogicalResult {
    auto acc = b.input(0);
    if (failed(acc))
      return failure();
    Value value = *acc;
    for (int i = 1; i < b.numInputs(); ++i) {
      auto next = b.input(i);
      if (failed(next))
        return failure();
      auto combined = emitBinary(b, kind, value, *next);
      if (failed(combined))
        return failure();
      value = *combined;
    }
    return b.setSingleResult(value);
  };
}

OpHandler compare(tsr::ComparePredicate predicate) {
  return [=](OpBinder &b) -> LogicalResult {
    auto lhs = b.input(0), rhs = b.input(1);
    if (failed(lhs) || failed(rhs))
      return failure();
    if (elementTypeOf(*lhs) != elementTypeOf(*rhs))
      return b.error() << "operand types differ: " << lhs->getType() << " and "
                       << rhs->getType(),
             failure();
    if (auto values = allConstant(b, 2)) {
      auto folded = foldBroadcast(
          b, {&(*values)[0], &(*values)[1]}, b.builder().getI1Type(),
          [&](const std::vector<const ConstTensor *> &ops,
              const std::vector<int64_t> &idx, ConstTensor &out) {
            double x = ops[0]->asDouble(idx[0]), y = ops[1]->asDouble(idx[1]);
            if (!ops[0]->isFloat()) { // exact for int64
              int64_t p = ops[0]->ints[idx[0]], q = ops[1]->ints[idx[1]];
              x = p < q ? -1 : (p > q ? 1 : 0);
              y = 0;
            }
            bool r = false;
            switch (predicate) {
            case tsr::ComparePredicate::eq: r = x == y; break;
            case tsr::ComparePredicate::ne: r = x != y; break;
            case tsr::ComparePredicate::lt: r = x < y; break;
            case tsr::ComparePredicate::le: r = x <= y; break;
            case tsr::ComparePredicate::gt: r = x > y; break;
            case tsr::ComparePredicate::ge: r = x >= y; break;
            }
            out.ints.push_back(r);
          });
      if (failed(folded))
        return failure();
      return b.setSingleResult(b.constant(*folded));
    }
    return b.setSingleResult(b.createValue<tsr::CompareOp>(predicate, *lhs, *rhs));
  };
}

LogicalResult importWhere(OpBinder &b) {
  auto cond = b.input(0), x = b.input(1), y = b.input(2);
  if (failed(cond) || failed(x) || failed(y))
    return failure();
  if (!elementTypeOf(*cond).isInteger(1))
    return b.error() << "condition must be bool, got " << elementTypeOf(*cond),
           failure();
  if (elementTypeOf(*x) != elementTypeOf(*y))
    return b.error() << "branch types differ: " << x->getType() << " and "
                     << y->getType(),
           failure();
  if (auto values = allConstant(b, 3)) {
    auto &v = *values;
    auto folded = foldBroadcast(
        b, {&v[0], &v[1], &v[2]}, elementTypeOf(*x),
        [&](const std::vector<const ConstTensor *> &ops,
            const std::vector<int64_t> &idx, ConstTensor &out) {
          const ConstTensor *pick = ops[0]->ints[idx[0]] ? ops[1] : ops[2];
          int64_t at = ops[0]->ints[idx[0]] ? idx[1] : idx[2];
          if (out.isFloat())
            out.floats.push_back(pick->floats[at]);
          else
            out.ints.push_back(pick->ints[at]);
        });
    if (failed(folded))
      return failure();
    return b.setSingleResult(b.constant(*folded));
  }
  return b.setSingleResult(b.createValue<tsr::SelectOp>(*cond, *x, *y));
}

LogicalResult importCast(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  int64_t to = b.attrInt("to", 0);
  Type target = b.importer().convertType(int32_t(to));
  if (!target)
    return b.error() << "cast to " << onnxTypeName(int32_t(to))
                     << " is not supported",
           failure();
  OpBuilder &builder = b.builder();
  if (auto values = allConstant(b, 1))
    return b.setSingleResult(b.constant((*values)[0].cast(target)));
  if (elementTypeOf(*x) == target)
    return b.setSingleResult(*x);
  return b.setSingleResult(tsr::CastOp::create(
      builder, b.loc(), RankedTensorType::get(shapeOf(*x), target), *x));
}

LogicalResult importClip(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  Type element = elementTypeOf(*x);
  Value value = *x;
  auto bound = [&](int input, const char *attrName) -> FailureOr<Value> {
    if (b.opset() < 11) {
      if (!b.attr(attrName))
        return Value();
      ConstTensor c = ConstTensor::ofFloats(element, {}, {b.attrFloat(attrName, 0)});
      return b.constant(c);
    }
    if (!b.hasInput(input))
      return Value();
    return b.input(input);
  };
  auto lo = bound(1, "min"), hi = bound(2, "max");
  if (failed(lo) || failed(hi))
    return failure();
  if (*lo) {
    auto r = emitBinary(b, BinaryKind::Max, value, *lo);
    if (failed(r))
      return failure();
    value = *r;
  }
  if (*hi) {
    auto r = emitBinary(b, BinaryKind::Min, value, *hi);
    if (failed(r))
      return failure();
    value = *r;
  }
  return b.setSingleResult(value);
}

/// IsNaN(x) is x != x.
LogicalResult importIsNaN(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  if (!isa<FloatType>(elementTypeOf(*x)))
    return b.error() << "expects a floating-point input", failure();
  return b.setSingleResult(
      b.createValue<tsr::CompareOp>(tsr::ComparePredicate::ne, *x, *x));
}

LogicalResult importGelu(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  std::string approximate = b.attrString("approximate", "none");
  if (approximate != "none" && approximate != "tanh")
    return b.error() << "approximate='" << approximate
                     << "' is not one of 'none', 'tanh'",
           failure();
  auto mode = approximate == "tanh" ? tsr::GeluApproximation::tanh
                                    : tsr::GeluApproximation::none;
  return b.setSingleResult(tsr::GeluOp::create(b.builder(), b.loc(), *x, mode));
}

LogicalResult importIdentity(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  return b.setSingleResult(*x);
}

/// Training-mode dropout with ratio `p` > 0: tsr.dropout of `x` on the
/// training step count, over the whole of `x` (the partitioners move its
/// block's origin).
LogicalResult importTrainingDropout(OpBinder &b, Value x, double p) {
  if (!isa<FloatType>(elementTypeOf(x)))
    return b.error() << "dropout of a non-float tensor", failure();
  if (b.outputRead(1))
    return b.error() << "the mask output of a training-mode Dropout is not supported", failure();
  auto type = cast<RankedTensorType>(x.getType());
  OpBuilder &builder = b.builder();
  SmallVector<int64_t> origin(size_t(type.getRank()), 0);
  Value y = tsr::DropoutOp::create(
      builder, b.loc(), type, x, b.importer().trainingStep(), Value(), builder.getF64FloatAttr(p),
      builder.getI64IntegerAttr(b.importer().options().dropoutSeed),
      builder.getI64IntegerAttr(b.importer().nextRandomStream()),
      builder.getDenseI64ArrayAttr(type.getShape()), builder.getDenseI64ArrayAttr(origin),
      builder.getI64IntegerAttr(0), builder.getI64IntegerAttr(0));
  return b.setResult(0, y);
}

/// Dropout at inference is the identity; its mask output is all true. A
/// training_mode that is (or may be) true is compiled the same way, as ONNX
/// Runtime's inference sessions do (they remove Dropout); PyTorch's dynamo
/// exporter emits such nodes from eval-mode models. A warning says so.
/// Under --train (ImportOptions::trainingDropout) a node that trains is real
/// dropout.
LogicalResult importDropout(OpBinder &b) {
  auto x = b.input(0);
  if (failed(x))
    return failure();
  if (b.opset() >= 12 && b.hasInput(2)) {
    std::optional<ConstTensor> training = b.constantInput(2);
    std::optional<ConstTensor> ratio = b.constantInput(1);
    bool knownMode = training && training->numElements() == 1;
    bool trains = knownMode && training->asInt(0) != 0;
    bool scalarRatio = b.hasInput(1) && ratio && ratio->numElements() == 1;
    double p = !b.hasInput(1) ? 0.5 : scalarRatio ? ratio->asDouble(0) : 0.0;
    if (b.importer().options().trainingDropout) {
      // Training: real dropout where the node trains (training_mode true,
      // ratio > 0), from a counter-based stream (tsr.dropout).
      if (!knownMode)
        return b.error() << "training_mode must be a constant scalar to train", failure();
      if (trains && b.hasInput(1) && !scalarRatio)
        return b.error() << "ratio must be a constant scalar to train", failure();
      if (trains && (p < 0 || p >= 1))
        return b.error() << "ratio " << p << " is not in [0, 1)", failure();
      if (trains && p > 0)
        return importTrainingDropout(b, *x, p);
    } else if (!(knownMode && !trains) && !(scalarRatio && p == 0.0)) {
      emitWarning(b.loc()) << "node '" << cast<NameLoc>(b.loc()).getName().str()
                           << "' (Dropout): training_mode may be true; compiled "
                              "as the identity (inference)";
    }
  }
  // The mask output only where a node reads it (training-mode exports name
  // it and leave it unread).
  if (b.outputRead(1)) {
    ConstTensor mask = ConstTensor::ofInts(b.builder().getI1Type(), shapeOf(*x),
                                           std::vector<int64_t>(
                                               tensorType(*x).getNumElements(), 1));
    if (mask.numElements() > kMaxFoldElements)
      return b.error() << "the mask output of a large Dropout is not supported",
             failure();
    (void)b.setResult(1, b.constant(mask));
  }
  return b.setResult(0, *x);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double reciprocal(double x) { return 1.0 / x; }
double relu(double x) { return x > 0 ? x : 0; }
double neg(double x) { return -x; }
int64_t negInt(int64_t x) { return int64_t(0 - uint64_t(x)); }
int64_t absInt(int64_t x) { return x < 0 ? negInt(x) : x; }
int64_t reluInt(int64_t x) { return x > 0 ? x : 0; }
int64_t notInt(int64_t x) { return !x; }
double sqrtFn(double x) { return std::sqrt(x); }
double expFn(double x) { return std::exp(x); }
double logFn(double x) { return std::log(x); }
double tanhFn(double x) { return std::tanh(x); }
double erfFn(double x) { return std::erf(x); }
double sinFn(double x) { return std::sin(x); }
double cosFn(double x) { return std::cos(x); }
double absFn(double x) { return std::fabs(x); }

} // namespace

void tessera::onnx::registerElementwiseOps(HandlerRegistry &r) {
  r.onOp("Neg", 1, unary<tsr::NegOp>(false, neg, negInt));
  r.onOp("Abs", 1, unary<tsr::AbsOp>(false, absFn, absInt));
  r.onOp("Relu", 1, unary<tsr::ReluOp>(false, relu, reluInt));
  r.onOp("Sqrt", 1, unary<tsr::SqrtOp>(true, sqrtFn));
  r.onOp("Reciprocal", 1, unary<tsr::ReciprocalOp>(true, reciprocal));
  r.onOp("Exp", 1, unary<tsr::ExpOp>(true, expFn));
  r.onOp("Log", 1, unary<tsr::LogOp>(true, logFn));
  r.onOp("Tanh", 1, unary<tsr::TanhOp>(true, tanhFn));
  r.onOp("Erf", 9, unary<tsr::ErfOp>(true, erfFn));
  r.onOp("Sigmoid", 1, unary<tsr::SigmoidOp>(true, sigmoid));
  r.onOp("Sin", 7, unary<tsr::SinOp>(true, sinFn));
  r.onOp("Cos", 7, unary<tsr::CosOp>(true, cosFn));
  r.onOp("Not", 1, unary<tsr::NotOp>(false, nullptr, notInt));
  r.onOp("Gelu", 20, importGelu);
  r.onOp("IsNaN", 9, importIsNaN);

  r.onOp("Add", 1, binary(BinaryKind::Add));
  r.onOp("Sub", 1, binary(BinaryKind::Sub));
  r.onOp("Mul", 1, binary(BinaryKind::Mul));
  r.onOp("Div", 1, binary(BinaryKind::Div));
  r.onOp("Pow", 1, binary(BinaryKind::Pow));
  r.onOp("And", 1, binary(BinaryKind::And));
  r.onOp("Or", 1, binary(BinaryKind::Or));
  r.onOp("Xor", 1, binary(BinaryKind::Xor));
  r.onOp("Max", 1, variadic(BinaryKind::Max));
  r.onOp("Min", 1, variadic(BinaryKind::Min));
  r.onOp("Equal", 1, compare(tsr::ComparePredicate::eq));
  r.onOp("Less", 1, compare(tsr::ComparePredicate::lt));
  r.onOp("LessOrEqual", 12, compare(tsr::ComparePredicate::le));
  r.onOp("Greater", 1, compare(tsr::ComparePredicate::gt));
  r.onOp("GreaterOrEqual", 12, compare(tsr::ComparePredicate::ge));
  r.onOp("Where", 9, importWhere);
  r.onOp("Cast", 1, importCast);
  r.onOp("Clip", 1, importClip);
  r.onOp("Identity", 1, importIdentity);
  r.onOp("Dropout", 1, importDropout);
}
