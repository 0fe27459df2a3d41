//===- Prefill.cpp - the prompt in one run, filling the KV cache ----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The prompt's forward pass stays what it is (GEMMs over all its positions,
// attention over its own keys); it also writes every layer's keys and values
// into the cache the decode step reads, and returns the logits of each
// sequence's last prompt token only.
//
//===----------------------------------------------------------------------===//

#include "passes/generate/Passes.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace tessera::generate {
#define GEN_PASS_DEF_PREFILLPASS
#include "passes/generate/Passes.h.inc"
} // namespace tessera::generate

using namespace mlir;

namespace {

struct PrefillPass : tessera::generate::impl::PrefillPassBase<PrefillPass> {
  using PrefillPassBase::PrefillPassBase;

  void runOnOperation() override {
    if (failed(tessera::generate::dropPastAndPresent(getOperation())) ||
        failed(rewrite(getOperation())))
      signalPassFailure();
  }

  LogicalResult rewrite(func::FuncOp func) {
    int idsArg = -1;
    for (unsigned i = 0; i < func.getNumArguments(); ++i)
      if (auto name = func.getArgAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr); name && name == ids)
        idsArg = int(i);
    if (idsArg < 0)
      return func.emitError("generation: no input named '") << ids << "' (the token ids)";
    auto idsType = cast<RankedTensorType>(func.getArgument(unsigned(idsArg)).getType());
    if (idsType.getRank() != 2)
      return func.emitError("generation: the token ids are ")
             << idsType << ", not [batch, sequence]";
    int64_t batch = idsType.getShape()[0], prompt = idsType.getShape()[1];
    if (maxSeq < prompt)
      return func.emitError("generation: a prompt of ")
             << prompt << " positions does not fit a cache of " << int64_t(maxSeq);
    OpBuilder b(func.getContext());
    auto posType = RankedTensorType::get({batch}, b.getI64Type());
    if (failed(func.insertArgument(func.getNumArguments(), posType,
                                   b.getDictionaryAttr(b.getNamedAttr(
                                       mlir::tsr::kNameAttr, b.getStringAttr("last_positions"))),
                                   func.getLoc())))
      return failure();
    return finish(func, batch, prompt);
  }

  LogicalResult finish(func::FuncOp func, int64_t batch, int64_t prompt) {
    Block &body = func.getBody().front();
    Value last = body.getArguments().back();
    OpBuilder b(func.getContext());
    b.setInsertionPointToStart(&body);
    auto one = RankedTensorType::get({1}, b.getI64Type());
    Value zero = tsr::ConstantOp::create(b, func.getLoc(), one,
                                         DenseIntElementsAttr::get(one, int64_t(0)));
    SmallVector<std::pair<Value, std::string>> caches;
    int index = 0;
    WalkResult walk = func.walk([&](tsr::AttentionOp op) {
      b.setInsertionPointAfter(op);
      for (auto [value, what] :
           {std::make_pair(op.getKey(), "key"), std::make_pair(op.getValue(), "value")}) {
        auto type = cast<RankedTensorType>(value.getType());
        if (type.getShape()[2] != prompt) {
          op.emitError("generation: attention over ")
              << type.getShape()[2] << " keys, not the prompt's " << prompt;
          return WalkResult::interrupt();
        }
        SmallVector<int64_t> shape(type.getShape());
        shape[2] = maxSeq;
        auto cacheType = type.clone(shape);
        std::string name = "kv_cache." + std::to_string(index) + "." + what;
        Value cache = tsr::WeightOp::create(b, op.getLoc(), cacheType, b.getStringAttr(name),
                                            nullptr, b.getUnitAttr());
        Value written = tsr::CacheWriteOp::create(b, op.getLoc(), cacheType, cache, zero,
                                                  value, b.getI64IntegerAttr(2));
        caches.push_back({written, name});
      }
      ++index;
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (caches.empty())
      return func.emitError("generation: no attention to cache");

    auto ret = cast<func::ReturnOp>(body.getTerminator());
    b.setInsertionPoint(ret);
    SmallVector<Value> results;
    SmallVector<DictionaryAttr> attrs;
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      auto type = cast<RankedTensorType>(v.getType());
      if (type.getRank() < 2 || type.getShape()[0] != batch || type.getShape()[1] != prompt)
        return ret.emitError("generation: output #")
               << i << " " << type << " is not [batch, sequence, ...]";
      SmallVector<int64_t> shape(type.getShape());
      shape[1] = 1;
      results.push_back(tsr::TakeRowsOp::create(b, ret.getLoc(), type.clone(shape), v, last,
                                                b.getI64IntegerAttr(1),
                                                b.getI64IntegerAttr(1)));
      attrs.push_back(func.getResultAttrDict(unsigned(i)));
    }
    for (auto [value, name] : caches) {
      results.push_back(value);
      attrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr(mlir::tsr::kNameAttr, b.getStringAttr(name + ":next")),
           b.getNamedAttr(mlir::tsr::kUpdatesAttr, b.getStringAttr(name))}));
    }
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    SmallVector<Type> types;
    for (Value v : results)
      types.push_back(v.getType());
    func.setType(FunctionType::get(func.getContext(), body.getArgumentTypes(), types));
    func.setAllResultAttrs(attrs);
    return success();
  }
};

} // namespace
