//===- Loss.cpp - the training loss ---------------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/train/Passes.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "passes/train/GradBuilder.h"

#include "llvm/ADT/StringExtras.h"

namespace tessera::train {
#define GEN_PASS_DEF_ADDLOSSPASS
#include "passes/train/Passes.h.inc"
} // namespace tessera::train

using namespace mlir;
using namespace tessera::train;

namespace {

struct AddLossPass : tessera::train::impl::AddLossPassBase<AddLossPass> {
  using AddLossPassBase::AddLossPassBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (loss != "cross-entropy") {
      func.emitError("unknown loss '") << loss << "' (cross-entropy)";
      return signalPassFailure();
    }
    Block &body = func.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    unsigned index = 0;
    bool found = logits.empty() && ret.getNumOperands() > 0;
    SmallVector<std::string> names;
    for (unsigned i = 0; i < ret.getNumOperands(); ++i) {
      auto name = func.getResultAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr);
      names.push_back(name ? name.str() : "#" + std::to_string(i));
      if (!logits.empty() && name && name.getValue() == logits) {
        index = i;
        found = true;
      }
    }
    if (!found) {
      func.emitError("no output named '") << logits << "' to take the loss of (outputs: "
                                          << llvm::join(names, ", ") << ")";
      return signalPassFailure();
    }
    Value x = ret.getOperand(index);
    auto type = cast<RankedTensorType>(x.getType());
    if (type.getRank() < 2 || !isa<FloatType>(type.getElementType())) {
      func.emitError("cross-entropy needs float logits [..., vocabulary], not ") << type;
      return signalPassFailure();
    }
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (auto name = func.getArgAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr);
          name && name.getValue() == labels) {
        func.emitError("the model already has an input named '")
            << labels << "': name the labels otherwise (--labels)";
        return signalPassFailure();
      }
    ArrayRef<int64_t> lead = type.getShape().drop_back();
    int64_t vocab = type.getShape().back();
    OpBuilder outer(func.getContext());
    auto labelType = RankedTensorType::get(lead, outer.getI64Type());
    unsigned argIndex = func.getNumArguments();
    if (failed(func.insertArgument(
            argIndex, labelType,
            outer.getDictionaryAttr(outer.getNamedAttr(mlir::tsr::kNameAttr, outer.getStringAttr(labels))),
            func.getLoc())))
      return signalPassFailure();
    Value y = body.getArgument(argIndex);

    ImplicitLocOpBuilder b(NameLoc::get(outer.getStringAttr("loss")), ret);
    GradBuilder g(b);
    int64_t last = type.getRank() - 1;
    // logsumexp over the vocabulary, stabilised by the row maximum.
    Value m = g.reduceMax(x, {last}, true);
    Value lse = g.add(g.log(g.reduceSum(g.exp(g.sub(x, m)), {last}, false)),
                      g.reshape(m, lead));
    // logits[label] through a one-hot comparison with the vocabulary's ids.
    SmallVector<int64_t> ids(static_cast<size_t>(vocab));
    for (int64_t i = 0; i < vocab; ++i)
      ids[size_t(i)] = i;
    auto idsType = RankedTensorType::get({vocab}, b.getI64Type());
    Value iota = tsr::ConstantOp::create(b, DenseElementsAttr::get(idsType, ArrayRef(ids)));
    SmallVector<int64_t> column(lead);
    column.push_back(1);
    Value onehot = g.compare(tsr::ComparePredicate::eq, g.reshape(y, column), iota);
    Value picked = g.reduceSum(g.select(onehot, x, g.scalar(0.0, x)), {last}, false);
    Value valid = g.cast(g.compare(tsr::ComparePredicate::ne, y, g.scalarOf(-100, b.getI64Type())),
                         type.getElementType());
    SmallVector<int64_t> all;
    for (int64_t i = 0; i < int64_t(lead.size()); ++i)
      all.push_back(i);
    Value total = g.reduceSum(g.mul(g.sub(lse, picked), valid), all, false);
    Value count = g.reduceSum(valid, all, false);
    Value result = g.div(total, count);
    g.setResults(func, ValueRange{result},
                 {b.getDictionaryAttr(b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr("loss")))});
  }
};

} // namespace
