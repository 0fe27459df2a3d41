//===- Autodiff.cpp - reverse-mode differentiation of a tsr function ------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/Passes.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "passes/train/GradientRules.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/GlobPattern.h"

namespace tessera::train {
#define GEN_PASS_DEF_AUTODIFFPASS
#include "passes/train/Passes.h.inc"
} // namespace tessera::train

using namespace mlir;
using namespace tessera;
using namespace tessera::train;

bool tessera::train::matchesAny(StringRef name, ArrayRef<std::string> patterns) {
  for (const std::string &p : patterns) {
    if (p == name)
      return true;
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(p);
    if (glob && glob->match(name))
      return true;
    if (!glob)
      llvm::consumeError(glob.takeError());
  }
  return false;
}

namespace {

struct AutodiffPass : tessera::train::impl::AutodiffPassBase<AutodiffPass> {
  using AutodiffPassBase::AutodiffPassBase;

  /// --tie A=B: every `tsr.weight "A"` becomes B (or its transpose).
  LogicalResult applyTies(func::FuncOp func) {
    for (const std::string &tie : ties) {
      auto [alias, target] = StringRef(tie).split('=');
      bool transposed = target.consume_back(".T");
      if (alias.empty() || target.empty())
        return func.emitError("tie '") << tie << "' is not A=B or A=B.T", failure();
      SmallVector<tsr::WeightOp> uses;
      func.walk([&](tsr::WeightOp w) {
        if (w.getName() == alias && !w.getOffsets())
          uses.push_back(w);
      });
      if (uses.empty())
        return func.emitError("tie '") << tie << "': the model has no weight '" << alias << "'",
               failure();
      // Without ".T", the target's shape as the program reads it (if it
      // does) tells whether a matrix is tied transposed.
      RankedTensorType targetType;
      func.walk([&](tsr::WeightOp t) {
        if (t.getName() == target && !t.getOffsets())
          targetType = cast<RankedTensorType>(t.getResult().getType());
      });
      for (tsr::WeightOp w : uses) {
        auto type = cast<RankedTensorType>(w.getResult().getType());
        SmallVector<int64_t> shape(type.getShape());
        if (!transposed && type.getRank() == 2 && shape[0] != shape[1] && targetType)
          transposed = targetType.getShape() != type.getShape();
        if (transposed && type.getRank() != 2)
          return w.emitError("tie '") << tie << "': only matrices tie transposed", failure();
        if (transposed)
          std::swap(shape[0], shape[1]);
        ImplicitLocOpBuilder b(w.getLoc(), w);
        Value source = tsr::WeightOp::create(
            b, RankedTensorType::get(shape, type.getElementType()), b.getStringAttr(target),
            nullptr, nullptr);
        if (transposed)
          source = tsr::TransposeOp::create(b, source, b.getDenseI64ArrayAttr({1, 0}));
        w.getResult().replaceAllUsesWith(source);
        w.erase();
      }
    }
    return success();
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    if (ret.getNumOperands() < 1) {
      func.emitError("autodiff needs a loss: the function returns nothing (run tsr-train-loss "
                     "first)");
      return signalPassFailure();
    }
    if (failed(applyTies(func)))
      return signalPassFailure();
    Value loss = ret.getOperand(0);
    auto lossType = cast<RankedTensorType>(loss.getType());
    if (lossType.getRank() != 0 || !isa<FloatType>(lossType.getElementType())) {
      func.emitError("autodiff needs a scalar float loss as the first result, not ")
          << lossType;
      return signalPassFailure();
    }

    // Parameters: float weights not frozen, by name in order of appearance.
    llvm::SetVector<StringRef> params;
    // Weight ops in program order (a parameter read twice, as a tied
    // embedding is, sums its gradients in that order: the IR is the same
    // from one compile to the next).
    SmallVector<std::pair<Value, StringRef>> paramOf;
    llvm::DenseSet<Value> needs; // values that depend on a parameter
    for (Operation &op : body.without_terminator()) {
      if (auto w = dyn_cast<tsr::WeightOp>(op)) {
        auto type = cast<RankedTensorType>(w.getResult().getType());
        if (isa<FloatType>(type.getElementType()) && !w.getZeros() &&
            !matchesAny(w.getName(), frozen)) {
          params.insert(w.getName());
          paramOf.push_back({w.getResult(), w.getName()});
          needs.insert(w.getResult());
        }
        continue;
      }
      if (llvm::any_of(op.getOperands(), [&](Value v) { return needs.contains(v); }))
        for (Value r : op.getResults())
          if (isa<FloatType>(cast<RankedTensorType>(r.getType()).getElementType()))
            needs.insert(r);
    }
    SmallVector<BlockArgument> argParams;
    if (wrtInputs)
      for (BlockArgument arg : body.getArguments())
        if (isa<FloatType>(cast<RankedTensorType>(arg.getType()).getElementType()))
          argParams.push_back(arg);
    if (!argParams.empty()) {
      // Ops before the first weight never saw an input in `needs`; redo the
      // closure with the inputs as sources.
      for (BlockArgument arg : argParams)
        needs.insert(arg);
      for (Operation &op : body.without_terminator())
        if (llvm::any_of(op.getOperands(), [&](Value v) { return needs.contains(v); }))
          for (Value r : op.getResults())
            if (isa<FloatType>(cast<RankedTensorType>(r.getType()).getElementType()))
              needs.insert(r);
    }
    if (params.empty() && argParams.empty()) {
      func.emitError("no parameters to train: the function has no float weights");
      return signalPassFailure();
    }
    if (!needs.contains(loss)) {
      func.emitError("the loss does not depend on any weight");
      return signalPassFailure();
    }

    ImplicitLocOpBuilder b(func.getLoc(), ret);
    GradBuilder g(b);
    llvm::DenseMap<Value, Value> grads;
    auto accumulate = [&](Value v, Value grad) {
      Value &slot = grads[v];
      slot = slot ? g.add(slot, grad) : grad;
    };
    accumulate(loss, g.scalar(1.0, loss));
    const llvm::StringMap<GradientRule> &rules = gradientRules();
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops)) {
      if (isa<tsr::WeightOp, tsr::ConstantOp>(op))
        continue;
      if (!llvm::any_of(op->getOperands(), [&](Value v) { return needs.contains(v); }))
        continue;
      SmallVector<Value> dys;
      bool any = false;
      for (Value r : op->getResults()) {
        dys.push_back(grads.lookup(r));
        any |= bool(dys.back());
      }
      if (!any)
        continue;
      auto rule = rules.find(op->getName().getStringRef());
      if (rule == rules.end()) {
        op->emitError("no gradient rule for '") << op->getName() << "'";
        return signalPassFailure();
      }
      // Rules take every result's gradient; a missing one is zero.
      for (auto [r, dy] : llvm::zip(op->getResults(), dys))
        if (!dy && op->getNumResults() == 1)
          dy = g.splat(0.0, cast<RankedTensorType>(r.getType()));
      b.setLoc(op->getLoc());
      SmallVector<Value> dxs;
      if (failed(rule->second(g, op, dys, dxs)))
        return signalPassFailure();
      for (auto [operand, dx] : llvm::zip(op->getOperands(), dxs))
        if (dx && needs.contains(operand))
          accumulate(operand, dx);
    }
    b.setLoc(func.getLoc());

    // The gradient of each parameter, summed over its weight ops.
    llvm::StringMap<Value> byName;
    llvm::StringMap<RankedTensorType> typeOf;
    for (auto [value, name] : paramOf) {
      typeOf[name] = cast<RankedTensorType>(value.getType());
      if (Value grad = grads.lookup(value)) {
        Value &slot = byName[name];
        slot = slot ? g.add(slot, grad) : grad;
      }
    }
    SmallVector<Value> results = {loss};
    SmallVector<Attribute> resultAttrs = {
        b.getDictionaryAttr(b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr("loss")))};
    for (StringRef name : params) {
      Value grad = byName.lookup(name);
      if (!grad)
        grad = g.splat(0.0, typeOf[name]); // unused by the loss
      results.push_back(grad);
      resultAttrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr("grad:" + name.str())),
           b.getNamedAttr(mlir::tsr::kGradOfAttr, b.getStringAttr(name))}));
    }
    for (BlockArgument arg : argParams) {
      Value grad = grads.lookup(arg);
      if (!grad)
        grad = g.splat(0.0, cast<RankedTensorType>(arg.getType()));
      auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), mlir::tsr::kNameAttr);
      std::string label = name ? name.str() : "input" + std::to_string(arg.getArgNumber());
      results.push_back(grad);
      resultAttrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr("grad:" + label))}));
    }
    g.setResults(func, results, resultAttrs);
  }
};

} // namespace
