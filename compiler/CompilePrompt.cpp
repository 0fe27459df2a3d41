//===- CompilePrompt.cpp - the prompt programs of a decode package --------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// --generate with --prefill: beside the decode step, one prompt program per
// length (the prompt in one run, filling the KV caches). The model is
// imported at that length and taken through its own pipeline
// (buildPromptPipeline): the graph phase, tsr-generate-prefill, and, where
// the decode step is partitioned, the decode step's plan (its dp and tp)
// with every cache in the layout the decode step reads it in (shard hints
// from the planned decode step), so that rank r's prompt program leaves
// exactly rank r's block of every cache. Pipelined decode steps (pp > 1)
// read prompts step by step. An encoder-decoder's encoder (EncoderDecoder.cpp)
// is such a program too (role "encoder"): the graph phase and the decode
// step's plan and partition.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileDriver.h"
#include "tessera/runtime/Roles.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrOps.h"
#include "passes/partition/ShardingRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <set>

using namespace mlir;
using namespace tessera;

void tessera::recordCacheLayouts(Compilation &c) {
  c.cacheLayouts.clear();
  if (!c.generation || c.pp != 1)
    return;
  func::FuncOp main = c.stageFunc(*c.module, 0);
  std::set<std::string> states; // the weights the step updates: its caches
  for (unsigned i = 0; i < main.getNumResults(); ++i)
    if (auto updates = main.getResultAttrOfType<StringAttr>(i, tsr::kUpdatesAttr))
      states.insert(updates.str());
  main.walk([&](tsr::WeightOp weight) {
    if (!states.count(weight.getName().str()))
      return;
    auto sharding = weight->getAttrOfType<tsr::ShardingAttr>(tsr::kShardingAttr);
    partition::Layout layout = sharding && !sharding.getResults().empty()
                                   ? partition::Layout(sharding.getResults()[0])
                                   : partition::kReplicated;
    c.cacheLayouts.push_back(weight.getName().str() + "=" + partition::layoutName(layout));
  });
}

namespace {

/// The prompt programs' options: the decode step's, and where it is
/// partitioned its mesh (dp x tp, one stage) and its caches' layouts.
CompileOptions promptOptionsOf(const Compilation &c) {
  CompileOptions o = c.o;
  if (c.ranks == 1)
    return o;
  o.mesh = llvm::formatv("dp={0},tp={1}", c.dp, c.tp).str();
  o.devices = 0;
  o.microbatches = 1;
  o.explain = false;
  o.shardHints.insert(o.shardHints.end(), c.cacheLayouts.begin(), c.cacheLayouts.end());
  return o;
}

/// The model imported with prompts of `length` positions.
OwningOpRef<ModuleOp> importPrompt(Compilation &c, int64_t length) {
  tessera::onnx::ImportOptions options = c.importOptions;
  options.seq = length;
  return tessera::onnx::importModel(c.context, *c.model, options);
}

/// The prompt lengths to compile: every --prefill length, or the one
/// --prompt-program shows.
std::vector<int64_t> promptLengths(const Compilation &c) {
  if (!c.o.promptProgram)
    return c.prefillLengths;
  return {c.o.promptProgram};
}

} // namespace

Step tessera::printPromptImport(Compilation &c) {
  OwningOpRef<ModuleOp> module = importPrompt(c, c.o.promptProgram);
  if (!module)
    return 1;
  return writeText(c.o.output, [&](llvm::raw_ostream &os) {
    module->print(os);
    os << "\n";
  });
}

Step tessera::printPromptPipeline(Compilation &c) {
  return writeText(c.o.output, [&](llvm::raw_ostream &os) {
    printCompilePipeline(promptOptionsOf(c), c.pipelineInputs(), os, /*prompt=*/true,
                         /*partitioned=*/c.ranks > 1);
  });
}

/// The encoder of an encoder-decoder: the graph phase and, on a mesh, the
/// decode step's plan (dp, tp) and partition.
static Step encoderPhase(Compilation &c) {
  if (!c.encoder)
    return std::nullopt;
  if (c.pp > 1) {
    llvm::errs() << "error: encoder-decoders are partitioned with dp and tp (a pipelined "
                    "decode step, pp="
                 << c.pp << ", would need the encoder's output at every stage)\n";
    return 2;
  }
  CompileOptions options = c.o;
  if (c.ranks > 1) {
    options.mesh = llvm::formatv("dp={0},tp={1}", c.dp, c.tp).str();
    options.devices = 0;
    options.microbatches = 1;
    options.explain = false;
  }
  PassManager pm(&c.context);
  buildCompilePipeline(pm, options, {c.frozen, c.ties}, Phase::Graph, Phase::Graph);
  if (c.ranks > 1)
    buildCompilePipeline(pm, options, {c.frozen, c.ties}, Phase::Plan, Phase::Partition);
  if (failed(pm.run(*c.encoder)))
    return 1;
  return std::nullopt;
}

Step tessera::promptPhase(Compilation &c) {
  const CompileOptions &o = c.o;
  if (Step done = encoderPhase(c))
    return done;
  if (!c.generation || c.prefillLengths.empty())
    return std::nullopt;
  if (c.pp > 1) {
    if (o.promptProgram) {
      llvm::errs() << "error: --prompt-program: a pipelined decode step (pp=" << c.pp
                   << ") has no prompt programs\n";
      return 2;
    }
    llvm::errs() << "tessera-compile: the decode step is pipelined (pp=" << c.pp
                 << "): prompts are read step by step (no prompt programs)\n";
    c.prefillLengths.clear();
    return std::nullopt;
  }
  CompileOptions options = promptOptionsOf(c);
  for (int64_t length : promptLengths(c)) {
    OwningOpRef<ModuleOp> prompt = importPrompt(c, length);
    if (!prompt)
      return 1;
    PassManager pm(&c.context);
    buildPromptPipeline(pm, options, c.pipelineInputs(), c.ranks > 1);
    if (failed(pm.run(*prompt)))
      return 1;
    if (o.emit == CompileOptions::Emit::Partitioned)
      return writeText(o.output, [&](llvm::raw_ostream &os) {
        os << "// rank " << o.rank << " of mesh dp=" << c.dp << " x tp=" << c.tp
           << ", prompt program of " << length << " positions\n";
        prompt->print(os);
        os << "\n";
      });
    c.prefills.emplace_back(length, std::move(prompt));
  }
  return std::nullopt;
}

LogicalResult tessera::lowerPrompts(Compilation &c) {
  // (And a training step's validation program: the same rank layout.)
  std::vector<std::pair<std::string, ModuleOp>> modules;
  if (c.encoder)
    modules.push_back({std::string(roles::kEncoderRole), *c.encoder});
  for (auto &[length, module] : c.prefills)
    modules.push_back({roles::PrefillRole{length}.str(), *module});
  if (c.eval) // a training step's validation program (CompileEval.cpp)
    modules.push_back({std::string(roles::kEvalRole), *c.eval});
  for (auto &[role, module] : modules) {
    // Rank r runs the SPMD module of its tp index (no pipeline, no ZeRO).
    std::vector<ModuleOp> ranks;
    if (c.ranks > 1)
      for (ModuleOp nested : module.getOps<ModuleOp>())
        ranks.push_back(nested);
    else
      ranks.push_back(module);
    if (int64_t(ranks.size()) != (c.ranks > 1 ? c.tp : 1))
      return module.emitError("generation: the ")
             << role << " program has " << ranks.size() << " rank module(s), not " << c.tp;
    for (int64_t r = 0; r < c.ranks; ++r) {
      auto main = ranks[size_t(r % int64_t(ranks.size()))].lookupSymbol<func::FuncOp>("main");
      if (!main)
        return module.emitError("generation: the ") << role << " program has no @main";
      FailureOr<lower::ProgramPlan> plan = lower::planProgram(main, r, nullptr);
      if (failed(plan))
        return failure();
      plan->role = role;
      plan->prefillRank = uint32_t(r);
      // Each replica reads the prompts of its block of the batch (a
      // validation program: its block's mean loss, averaged by the runtime).
      if (c.dp > 1)
        for (const std::vector<uint32_t> *ids : {&plan->inputs, &plan->outputs})
          for (uint32_t id : *ids)
            if (ids == &plan->inputs || role != roles::kEvalRole)
              plan->tensors[id].splitAxis = 0;
      c.programs.push_back(std::move(*plan));
    }
  }
  if (!c.prefills.empty())
    c.generation->lastPositions = "last_positions";
  return success();
}
