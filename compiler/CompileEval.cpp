//===- CompileEval.cpp - the validation program of a training package -----===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// --train: beside the training step, its validation program (role "eval"):
// the step's own function after the training passes with the loss as its
// only result, training-mode dropout taken out, and everything else (the
// gradients, the optimizer, the step counter) dead and removed - the same
// forward the step computes, so the validation loss is the training loss's
// definition on other batches. Where the step is partitioned (dp x tp, one
// stage) the program takes the step's plan: its mesh, and every weight in
// the layout the step holds it in (shard hints from the planned step), so
// that rank r's validation program reads rank r's blocks of the weights in
// place (runtime: Session::createEval). Pipelined steps (pp > 1) and ZeRO-3
// (weights sharded over the replicas) have none yet.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileDriver.h"
#include "tessera/runtime/Roles.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrOps.h"
#include "passes/partition/ShardingRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <set>

using namespace mlir;
using namespace tessera;

Step tessera::sliceEvalProgram(Compilation &c) {
  // (A plan-only package never runs: no validation program to plan.)
  if (!c.o.train || !c.module || c.o.noEvalProgram || c.o.planOnly)
    return std::nullopt;
  auto main = c.module->lookupSymbol<func::FuncOp>("main");
  if (!main)
    return std::nullopt;
  int loss = -1;
  for (unsigned i = 0; i < main.getNumResults(); ++i)
    if (auto name = main.getResultAttrOfType<StringAttr>(i, mlir::tsr::kNameAttr);
        name && name.getValue() == "loss")
      loss = int(i);
  if (loss < 0)
    return std::nullopt; // --loss none: nothing to validate
  OwningOpRef<ModuleOp> eval = c.module->clone();
  main = eval->lookupSymbol<func::FuncOp>("main");
  // Validation never drops: dropout is the identity.
  SmallVector<tsr::DropoutOp> dropouts;
  main.walk([&](tsr::DropoutOp d) { dropouts.push_back(d); });
  for (tsr::DropoutOp d : dropouts) {
    d.getResult().replaceAllUsesWith(d.getInput());
    d.erase();
  }
  auto ret = cast<func::ReturnOp>(main.getBody().front().getTerminator());
  Value value = ret.getOperand(unsigned(loss));
  ret->setOperands(ValueRange{value});
  llvm::BitVector others(main.getNumResults(), true);
  others.reset(unsigned(loss));
  if (failed(main.eraseResults(others)))
    return 1;
  PassManager pm(&c.context);
  OpPassManager &fn = pm.nest<func::FuncOp>();
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
  if (failed(pm.run(*eval)))
    return 1;
  c.eval = std::move(eval);
  return std::nullopt;
}

void tessera::recordEvalLayouts(Compilation &c) {
  c.evalLayouts.clear();
  if (!c.eval || c.pp != 1)
    return;
  std::set<std::string> read;
  c.eval->walk([&](tsr::WeightOp w) { read.insert(w.getName().str()); });
  std::set<std::string> seen;
  c.stageFunc(*c.module, 0).walk([&](tsr::WeightOp weight) {
    std::string name = weight.getName().str();
    if (!read.count(name) || !seen.insert(name).second)
      return;
    auto sharding = weight->getAttrOfType<tsr::ShardingAttr>(tsr::kShardingAttr);
    partition::Layout layout = sharding && !sharding.getResults().empty()
                                   ? partition::Layout(sharding.getResults()[0])
                                   : partition::kReplicated;
    c.evalLayouts.push_back(name + "=" + partition::layoutName(layout));
  });
}

Step tessera::evalPhase(Compilation &c) {
  if (!c.eval)
    return std::nullopt;
  if (c.pp > 1) {
    llvm::errs() << "tessera-compile: the training step is pipelined (pp=" << c.pp
                 << "): no validation program yet (tessera-run --eval-data needs pp=1)\n";
    c.eval = nullptr;
    return std::nullopt;
  }
  if (c.dp > 1 && c.report.best.zero >= 3) {
    llvm::errs() << "tessera-compile: ZeRO-3 shards the weights over the replicas: no "
                    "validation program yet (tessera-run --eval-data needs ZeRO 0-2)\n";
    c.eval = nullptr;
    return std::nullopt;
  }
  if (c.ranks == 1)
    return std::nullopt;
  CompileOptions o = c.o;
  o.train = false;
  o.evalProgram = true;
  o.mesh = llvm::formatv("dp={0},tp={1}", c.dp, c.tp).str();
  o.devices = 0;
  o.microbatches = 1;
  o.microbatchSize = 0;
  o.explain = false;
  o.emit = CompileOptions::Emit::None;
  o.shardHints.insert(o.shardHints.end(), c.evalLayouts.begin(), c.evalLayouts.end());
  PassManager pm(&c.context);
  buildCompilePipeline(pm, o, c.pipelineInputs(), Phase::Plan, Phase::Partition);
  if (failed(pm.run(*c.eval)))
    return 1;
  return std::nullopt;
}
