//===- Optimizer.cpp - the optimizer step, its state and schedule ---------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/Passes.h"
#include "tessera/runtime/Roles.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "passes/train/GradBuilder.h"

#include <cmath>

namespace tessera::train {
#define GEN_PASS_DEF_OPTIMIZERPASS
#include "passes/train/Passes.h.inc"
} // namespace tessera::train

using namespace mlir;
using namespace tessera::train;

namespace {

struct OptimizerPass : tessera::train::impl::OptimizerPassBase<OptimizerPass> {
  using OptimizerPassBase::OptimizerPassBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (optimizer != "adamw" && optimizer != "sgd") {
      func.emitError("unknown optimizer '") << optimizer << "' (adamw, sgd)";
      return signalPassFailure();
    }
    if (schedule != "constant" && schedule != "cosine") {
      func.emitError("unknown learning-rate schedule '") << schedule << "' (constant, cosine)";
      return signalPassFailure();
    }
    if (schedule == "cosine" && totalSteps <= warmupSteps) {
      func.emitError("the cosine schedule needs total-steps (")
          << int64_t(totalSteps) << ") greater than warmup-steps (" << int64_t(warmupSteps)
          << ")";
      return signalPassFailure();
    }
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    // The parameters: the gradients autodiff returned, and the weights.
    SmallVector<std::pair<StringRef, Value>> grads;
    for (unsigned i = 1; i < ret.getNumOperands(); ++i)
      if (auto of = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kGradOfAttr))
        grads.push_back({of.getValue(), ret.getOperand(i)});
    if (grads.empty()) {
      func.emitError("no gradients to apply: run tsr-train-autodiff first");
      return signalPassFailure();
    }
    llvm::StringMap<Value> weights;
    for (auto w : body.getOps<tsr::WeightOp>())
      if (!w.getOffsets() && !weights.count(w.getName()))
        weights[w.getName()] = w.getResult();

    ImplicitLocOpBuilder b(NameLoc::get(StringAttr::get(func.getContext(), "optimizer")), ret);
    GradBuilder g(b);
    Value loss = ret.getOperand(0);
    Type f32 = cast<RankedTensorType>(loss.getType()).getElementType();
    auto c = [&](double v) { return g.scalarOf(v, f32); };
    SmallVector<Value> results;
    SmallVector<Attribute> attrs;
    auto output = [&](Value v, StringRef name, StringRef updates) {
      results.push_back(v);
      SmallVector<NamedAttribute> fields = {b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr(name))};
      if (!updates.empty())
        fields.push_back(b.getNamedAttr(mlir::tsr::kUpdatesAttr, b.getStringAttr(updates)));
      attrs.push_back(b.getDictionaryAttr(fields));
    };
    auto state = [&](StringRef name, RankedTensorType type) {
      return tsr::WeightOp::create(b, type, b.getStringAttr(name), nullptr, b.getUnitAttr())
          .getResult();
    };

    // The step (1 on the first update) and the learning rate of this step
    // (schedules as Hugging Face's, evaluated at step - 1).
    Value step = g.add(state("train.step", RankedTensorType::get({}, f32)), c(1.0));
    Value rate = c(lr);
    if (schedule == "cosine") {
      Value done = g.sub(step, c(1.0));
      double warm = double(warmupSteps);
      Value ramp = g.div(done, c(std::max(1.0, warm)));
      Value progress = g.div(g.sub(done, c(warm)), c(std::max(1.0, double(totalSteps) - warm)));
      Value cosine = g.max(c(0.0), g.mul(c(0.5), g.add(c(1.0), g.cos(g.mul(c(M_PI), progress)))));
      rate = g.mul(rate, g.select(g.compare(tsr::ComparePredicate::lt, done, c(warm)), ramp, cosine));
    }

    // The global gradient norm, and clipping by it.
    Value sumSquares;
    for (auto &[name, grad] : grads) {
      SmallVector<int64_t> all;
      for (int64_t i = 0; i < GradBuilder::typeOf(grad).getRank(); ++i)
        all.push_back(i);
      Value s = g.reduceSum(g.mul(grad, grad), all, false);
      sumSquares = sumSquares ? g.add(sumSquares, s) : s;
    }
    Value norm = g.sqrt(sumSquares);
    if (clipGradNorm > 0) {
      Value coef = g.min(c(1.0), g.div(c(clipGradNorm), g.add(norm, c(1e-6))));
      for (auto &[name, grad] : grads)
        grad = g.mul(grad, coef);
    }
    output(loss, "loss", "");
    output(norm, "grad_norm", "");
    output(rate, "lr", "");

    for (auto &[name, grad] : grads) {
      Value w = weights.lookup(name);
      if (!w) {
        func.emitError("no weight '") << name << "' to update";
        return signalPassFailure();
      }
      auto type = GradBuilder::typeOf(w);
      if (optimizer == "adamw") {
        std::string m = "adamw.m:" + name.str(), v = "adamw.v:" + name.str();
        Value decayed = g.mul(w, g.sub(c(1.0), g.mul(rate, c(weightDecay))));
        Value m0 = state(m, type), v0 = state(v, type);
        Value m1 = g.add(m0, g.mul(c(1.0 - beta1), g.sub(grad, m0)));
        Value v1 = g.add(g.mul(v0, c(beta2)), g.mul(c(1.0 - beta2), g.mul(grad, grad)));
        Value bc1 = g.sub(c(1.0), g.pow(c(beta1), step));
        Value bc2 = g.sub(c(1.0), g.pow(c(beta2), step));
        Value denom = g.add(g.div(g.sqrt(v1), g.sqrt(bc2)), c(eps));
        Value w1 = g.sub(decayed, g.mul(g.div(rate, bc1), g.div(m1, denom)));
        output(w1, tessera::roles::updateName(name.str()), name);
        output(m1, tessera::roles::updateName(m), m);
        output(v1, tessera::roles::updateName(v), v);
      } else {
        Value d = weightDecay != 0 ? g.add(grad, g.mul(w, c(weightDecay))) : grad;
        if (momentum != 0) {
          std::string m = "sgd.momentum:" + name.str();
          Value buf0 = state(m, type);
          Value later = g.add(g.mul(buf0, c(momentum)), g.mul(d, c(1.0 - dampening)));
          Value first = g.compare(tsr::ComparePredicate::eq, step, c(1.0));
          Value buf = g.select(first, d, later);
          d = nesterov ? g.add(d, g.mul(buf, c(momentum))) : buf;
          output(buf, tessera::roles::updateName(m), m);
        }
        output(g.sub(w, g.mul(d, rate)), tessera::roles::updateName(name.str()), name);
      }
    }
    output(step, tessera::roles::updateName("train.step"), "train.step");

    g.setResults(func, results, attrs);
  }
};

} // namespace
