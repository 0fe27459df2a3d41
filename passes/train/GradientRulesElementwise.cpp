//===- GradientRulesElementwise.cpp - elementwise ops ---------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/GradientRules.h"

#include "mlir/IR/IRMapping.h"

#include <cmath>

using namespace mlir;
using namespace tessera::train;

namespace {

using Grads = SmallVectorImpl<Value>;
using tsr::ComparePredicate;

RankedTensorType typeAt(Operation *op, unsigned i) {
  return cast<RankedTensorType>(op->getOperand(i).getType());
}

/// Unary rules: dx = dy * f'(x, y).
template <typename Fn>
LogicalResult unary(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs, Fn derivative) {
  Value x = op->getOperand(0), y = op->getResult(0), dy = dys[0];
  dxs.push_back(derivative(g, x, y, dy));
  return success();
}

LogicalResult addRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  dxs.push_back(g.reduceTo(dys[0], typeAt(op, 0)));
  dxs.push_back(g.reduceTo(dys[0], typeAt(op, 1)));
  return success();
}

LogicalResult subRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  dxs.push_back(g.reduceTo(dys[0], typeAt(op, 0)));
  dxs.push_back(g.reduceTo(g.neg(dys[0]), typeAt(op, 1)));
  return success();
}

LogicalResult mulRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value a = op->getOperand(0), b = op->getOperand(1);
  dxs.push_back(g.reduceTo(g.mul(dys[0], b), typeAt(op, 0)));
  dxs.push_back(g.reduceTo(g.mul(dys[0], a), typeAt(op, 1)));
  return success();
}

LogicalResult divRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value b = op->getOperand(1), y = op->getResult(0);
  dxs.push_back(g.reduceTo(g.div(dys[0], b), typeAt(op, 0)));
  dxs.push_back(g.reduceTo(g.neg(g.div(g.mul(dys[0], y), b)), typeAt(op, 1)));
  return success();
}

LogicalResult powRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value a = op->getOperand(0), b = op->getOperand(1), y = op->getResult(0), dy = dys[0];
  // d(a^b)/da = b a^(b-1); d/db = a^b log a.
  Value da = g.mul(dy, g.mul(b, g.pow(a, g.sub(b, g.scalar(1.0, b)))));
  dxs.push_back(g.reduceTo(da, typeAt(op, 0)));
  dxs.push_back(g.reduceTo(g.mul(dy, g.mul(y, g.log(a))), typeAt(op, 1)));
  return success();
}

/// max / min: the gradient goes to the operand that was chosen (the first
/// one on ties).
template <ComparePredicate Pick>
LogicalResult extremumRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value a = op->getOperand(0), b = op->getOperand(1), dy = dys[0];
  Value first = g.compare(Pick, a, b);
  Value zero = g.scalar(0.0, dy);
  dxs.push_back(g.reduceTo(g.select(first, dy, zero), typeAt(op, 0)));
  dxs.push_back(g.reduceTo(g.select(first, zero, dy), typeAt(op, 1)));
  return success();
}

/// Dropout keeps and scales the same elements of the output's gradient (the
/// same attributes, step and chunk: the same draws).
LogicalResult dropoutRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto dropout = cast<tsr::DropoutOp>(op);
  IRMapping operands;
  operands.map(dropout.getInput(), dys[0]);
  Operation *back = g.builder().clone(*op, operands);
  dxs.push_back(back->getResult(0));
  for (unsigned i = 1; i < op->getNumOperands(); ++i)
    dxs.push_back(nullptr);
  return success();
}

LogicalResult selectRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Value c = op->getOperand(0), dy = dys[0];
  Value zero = g.scalar(0.0, dy);
  dxs.push_back(nullptr);
  dxs.push_back(g.reduceTo(g.select(c, dy, zero), typeAt(op, 1)));
  dxs.push_back(g.reduceTo(g.select(c, zero, dy), typeAt(op, 2)));
  return success();
}

LogicalResult castRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  Type from = typeAt(op, 0).getElementType();
  dxs.push_back(isa<FloatType>(from) ? g.cast(dys[0], from) : Value());
  return success();
}

LogicalResult noGradient(GradBuilder &, Operation *op, ArrayRef<Value>, Grads &dxs) {
  dxs.assign(op->getNumOperands(), Value());
  return success();
}

LogicalResult geluRule(GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
  auto gelu = cast<tsr::GeluOp>(op);
  Value x = gelu.getInput(), dy = dys[0];
  auto c = [&](double v) { return g.scalar(v, x); };
  Value d;
  if (gelu.getApproximate() == tsr::GeluApproximation::tanh) {
    // y = x/2 (1 + tanh u), u = k (x + 0.044715 x^3):
    // dy/dx = (1 + t)/2 + x/2 (1 - t^2) k (1 + 3 * 0.044715 x^2).
    double k = std::sqrt(2.0 / M_PI);
    Value x2 = g.mul(x, x);
    Value u = g.mul(c(k), g.add(x, g.mul(c(0.044715), g.mul(x2, x))));
    Value t = g.tanh(u);
    Value left = g.mul(c(0.5), g.add(c(1.0), t));
    Value du = g.mul(c(k), g.add(c(1.0), g.mul(c(3.0 * 0.044715), x2)));
    Value right = g.mul(g.mul(c(0.5), x), g.mul(g.sub(c(1.0), g.mul(t, t)), du));
    d = g.add(left, right);
  } else {
    // y = x Phi(x): dy/dx = Phi(x) + x phi(x).
    Value cdf = g.mul(c(0.5), g.add(c(1.0), g.erf(g.mul(x, c(M_SQRT1_2)))));
    Value pdf = g.mul(c(1.0 / std::sqrt(2.0 * M_PI)), g.exp(g.mul(c(-0.5), g.mul(x, x))));
    d = g.add(cdf, g.mul(x, pdf));
  }
  dxs.push_back(g.mul(dy, d));
  return success();
}

} // namespace

void tessera::train::addElementwiseRules(llvm::StringMap<GradientRule> &rules) {
  rules["tsr.add"] = addRule;
  rules["tsr.sub"] = subRule;
  rules["tsr.mul"] = mulRule;
  rules["tsr.div"] = divRule;
  rules["tsr.pow"] = powRule;
  rules["tsr.max"] = extremumRule<ComparePredicate::ge>;
  rules["tsr.min"] = extremumRule<ComparePredicate::le>;
  rules["tsr.select"] = selectRule;
  rules["tsr.dropout"] = dropoutRule;
  rules["tsr.cast"] = castRule;
  rules["tsr.gelu"] = geluRule;
  for (const char *name : {"tsr.compare", "tsr.not", "tsr.and", "tsr.or", "tsr.xor"})
    rules[name] = noGradient;
  rules["tsr.neg"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value, Value, Value dy) { return g.neg(dy); });
  };
  rules["tsr.exp"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs,
                 [](GradBuilder &g, Value, Value y, Value dy) { return g.mul(dy, y); });
  };
  rules["tsr.log"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs,
                 [](GradBuilder &g, Value x, Value, Value dy) { return g.div(dy, x); });
  };
  rules["tsr.sqrt"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value, Value y, Value dy) {
      return g.div(g.mul(dy, g.scalar(0.5, y)), y);
    });
  };
  rules["tsr.rsqrt"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value, Value y, Value dy) {
      return g.mul(g.mul(dy, g.scalar(-0.5, y)), g.mul(y, g.mul(y, y)));
    });
  };
  rules["tsr.reciprocal"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs,
                 [](GradBuilder &g, Value, Value y, Value dy) { return g.neg(g.mul(dy, g.mul(y, y))); });
  };
  rules["tsr.tanh"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value, Value y, Value dy) {
      return g.mul(dy, g.sub(g.scalar(1.0, y), g.mul(y, y)));
    });
  };
  rules["tsr.sigmoid"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value, Value y, Value dy) {
      return g.mul(dy, g.mul(y, g.sub(g.scalar(1.0, y), y)));
    });
  };
  rules["tsr.erf"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value x, Value, Value dy) {
      Value e = g.exp(g.neg(g.mul(x, x)));
      return g.mul(dy, g.mul(g.scalar(2.0 / std::sqrt(M_PI), x), e));
    });
  };
  rules["tsr.sin"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs,
                 [](GradBuilder &g, Value x, Value, Value dy) { return g.mul(dy, g.cos(x)); });
  };
  rules["tsr.cos"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value x, Value, Value dy) {
      return g.neg(g.mul(dy, g.sin(x)));
    });
  };
  rules["tsr.abs"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value x, Value, Value dy) {
      return g.select(g.compare(ComparePredicate::lt, x, g.scalar(0.0, x)), g.neg(dy), dy);
    });
  };
  rules["tsr.relu"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value x, Value, Value dy) {
      return g.select(g.compare(ComparePredicate::gt, x, g.scalar(0.0, x)), dy,
                      g.scalar(0.0, dy));
    });
  };
  rules["tsr.silu"] = [](GradBuilder &g, Operation *op, ArrayRef<Value> dys, Grads &dxs) {
    return unary(g, op, dys, dxs, [](GradBuilder &g, Value x, Value, Value dy) {
      // d(x s(x)) = s (1 + x (1 - s)).
      Value s = g.sigmoid(x);
      Value one = g.scalar(1.0, x);
      return g.mul(dy, g.mul(s, g.add(one, g.mul(x, g.sub(one, s)))));
    });
  };
}
