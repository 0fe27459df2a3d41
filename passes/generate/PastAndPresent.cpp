//===- PastAndPresent.cpp - exports that carry their own KV cache ---------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// An export with past keys and values (Optimum's `past_key_values.i.key` in,
// `present.i.key` out) imported for generation has an empty past (the
// importer binds the past's length to 0, ImportOptions::emptyPast): the
// concatenation of past and new keys folds to the new keys, and `present` is
// what the attention reads. The decode and prefill passes keep their own
// caches of exactly those keys and values, so the empty inputs and the
// outputs that are an attention's keys or values (directly or through
// reshapes, transposes and broadcasts: grouped-query heads repeated) leave
// the function (so do past inputs no op reads: a merged decoder's branch
// without past). The rule follows the values' roles, not their names.
//
//===----------------------------------------------------------------------===//

#include "passes/generate/Passes.h"

#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;

LogicalResult tessera::generate::dropPastAndPresent(func::FuncOp func) {
  if (func.isExternal())
    return success();
  Block &body = func.getBody().front();
  OpBuilder b(func.getContext());
  b.setInsertionPointToStart(&body);
  llvm::BitVector emptyArgs(func.getNumArguments());
  for (BlockArgument arg : body.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    // Empty, or past keys or values no op reads (a merged decoder's branch
    // without past).
    bool unreadPast = type && arg.use_empty() && type.getRank() >= 3 &&
                      isa<FloatType>(type.getElementType());
    if (!type || (type.getNumElements() != 0 && !unreadPast))
      continue;
    if (!arg.use_empty())
      arg.replaceAllUsesWith(tsr::ConstantOp::create(
          b, arg.getLoc(), type, DenseElementsAttr::get(type, ArrayRef<Attribute>())));
    emptyArgs.set(arg.getArgNumber());
  }
  // The attention's keys and values, and what they are views of.
  llvm::DenseSet<Value> cached;
  SmallVector<Value> work;
  func.walk([&](tsr::AttentionOp op) {
    work.push_back(op.getKey());
    work.push_back(op.getValue());
  });
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!cached.insert(v).second)
      continue;
    if (Operation *def = v.getDefiningOp();
        def && isa<tsr::ReshapeOp, tsr::TransposeOp, tsr::BroadcastOp>(def))
      work.push_back(def->getOperand(0));
  }
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  llvm::BitVector presentResults(func.getNumResults());
  for (auto [i, v] : llvm::enumerate(ret.getOperands()))
    if (cached.contains(v))
      presentResults.set(unsigned(i));
  if (presentResults.count() == func.getNumResults())
    return func.emitError("generation: every output is an attention's keys or values"),
           failure();
  if (presentResults.any()) {
    SmallVector<Value> kept;
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      if (!presentResults.test(unsigned(i)))
        kept.push_back(v);
    ret->setOperands(kept);
    if (failed(func.eraseResults(presentResults)))
      return failure();
  }
  if (emptyArgs.any() && failed(func.eraseArguments(emptyArgs)))
    return failure();
  return success();
}
