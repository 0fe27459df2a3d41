//===- Pipelines.cpp - the compiler's pass pipelines ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/Pipelines.h"
#include "compiler/CompileOptions.h"

#include "passes/generate/Passes.h"
#include "passes/graph/Passes.h"
#include "passes/partition/MeshSearch.h"
#include "passes/partition/Passes.h"
#include "passes/train/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdlib>

using namespace mlir;
using namespace tessera;

namespace {

/// Canonicalize and CSE: after every phase that rewrites a function.
void addCleanup(OpPassManager &fn) {
  fn.addPass(createCanonicalizerPass());
  fn.addPass(createCSEPass());
}

} // namespace

void tessera::buildGraphPipeline(OpPassManager &pm, const GraphPipelineOptions &) {
  OpPassManager &func = pm.nest<func::FuncOp>();
  addCleanup(func);
  func.addPass(graph::createFuseTransformerOpsPass());
  addCleanup(func);
}

namespace {

/// The training step: loss, gradients, optimizer (passes/train).
void buildTrainPipeline(OpPassManager &pm, const CompileOptions &o,
                        const PipelineInputs &inputs) {
  double beta1 = 0.9, beta2 = 0.999;
  (void)parseBetas(o.betas, beta1, beta2); // checked by checkCompileOptions
  OpPassManager &fn = pm.nest<func::FuncOp>();
  train::AddLossPassOptions lossOptions;
  lossOptions.loss = o.loss;
  lossOptions.logits = o.logits;
  lossOptions.labels = o.labels;
  if (o.loss != "none")
    fn.addPass(train::createAddLossPass(lossOptions));
  train::AutodiffPassOptions autodiff;
  autodiff.frozen.assign(inputs.frozen.begin(), inputs.frozen.end());
  autodiff.ties.assign(inputs.ties.begin(), inputs.ties.end());
  autodiff.wrtInputs = o.gradInputs;
  fn.addPass(train::createAutodiffPass(autodiff));
  train::OptimizerPassOptions opt;
  opt.optimizer = o.optimizer;
  opt.lr = o.lr;
  opt.beta1 = beta1;
  opt.beta2 = beta2;
  opt.eps = o.eps;
  opt.weightDecay = o.weightDecay;
  opt.momentum = o.momentum;
  opt.nesterov = o.nesterov;
  opt.dampening = o.dampening;
  opt.clipGradNorm = o.clipGradNorm;
  opt.schedule = o.lrSchedule;
  opt.warmupSteps = o.warmupSteps;
  opt.totalSteps = o.totalSteps;
  if (o.optimizer != "none")
    fn.addPass(train::createOptimizerPass(opt));
  addCleanup(fn);
}

/// The decode step: one position per sequence, a KV cache (passes/generate).
void buildDecodePipeline(OpPassManager &pm, const CompileOptions &o,
                         const PipelineInputs &inputs) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  generate::DecodePassOptions decode;
  decode.encoderInputs.assign(inputs.encoderInputs.begin(), inputs.encoderInputs.end());
  decode.ids = o.idsInput;
  decode.mask = o.maskInput;
  decode.positionIds = o.positionIdsInput;
  fn.addPass(generate::createDecodePass(decode));
  addCleanup(fn);
}

/// A prompt program: the forward pass over the prompt, its keys and values
/// written into the caches, the last position's logits (passes/generate).
void buildPrefillPipeline(OpPassManager &pm, const CompileOptions &o) {
  OpPassManager &fn = pm.nest<func::FuncOp>();
  generate::PrefillPassOptions prefill;
  prefill.maxSeq = o.maxSeq;
  prefill.ids = o.idsInput;
  fn.addPass(generate::createPrefillPass(prefill));
  addCleanup(fn);
}

/// The mesh search, then (pipelines) the stage cut at the plan's bounds and
/// every stage's tensor-parallel plan.
void buildPlanPipeline(OpPassManager &pm, const CompileOptions &o, MeshPlanReport *report) {
  partition::PlanMeshPassOptions plan;
  if (!o.mesh.empty())
    if (llvm::Expected<MeshShape> shape = parseMesh(o.mesh)) {
      plan.dp = shape->dp;
      plan.tp = shape->tp;
      plan.pp = shape->pp;
    } else {
      llvm::consumeError(shape.takeError()); // refused by checkCompileOptions
    }
  plan.devices = o.devices;
  if (o.clusterGiven)
    plan.cluster = o.cluster;
  plan.throughput = o.objective == "throughput";
  // A decode step is one token per sequence: pipelines run it whole.
  plan.microbatches = o.generate && o.microbatches == 0 ? 1 : o.microbatches;
  plan.microbatchSize = o.microbatchSize;
  plan.training = o.train;
  plan.evaluation = o.evalProgram;
  int64_t zero = -1; // auto
  if (o.zero != "auto")
    (void)llvm::StringRef(o.zero).getAsInteger(10, zero);
  plan.zero = zero;
  plan.recompute = o.recompute;
  plan.even = o.pipelineSplit == "even";
  plan.hints.assign(o.shardHints.begin(), o.shardHints.end());
  plan.explain = o.explain;
  pm.addPass(partition::createPlanMeshPass(plan, report));
  if (o.train) {
    // Pipeline training: the step cut into segments per stage (forward and
    // backward passes, what runs once per step) on the replica's plan.
    partition::CutTrainStagesPassOptions cut;
    cut.even = plan.even;
    pm.addPass(partition::createCutTrainStagesPass(cut));
  } else {
    partition::CutStagesPassOptions cut;
    cut.even = plan.even;
    pm.addPass(partition::createCutStagesPass(cut));
    partition::ShardingSearchPassOptions stageSearch;
    stageSearch.hints.assign(o.shardHints.begin(), o.shardHints.end());
    pm.addNestedPass<func::FuncOp>(partition::createShardingSearchPass(stageSearch));
  }
}

/// One nested module per tensor-parallel index with its SPMD program, then
/// (training) one per replica where the plan shards with ZeRO, with its
/// blocks, and the replicas' gradient sums in buckets.
void buildPartitionPipeline(OpPassManager &pm, const CompileOptions &o) {
  pm.addPass(partition::createRanksPass());
  pm.nest<ModuleOp>().addPass(partition::createSpmdPartitionPass());
  if (o.train) {
    partition::RanksPassOptions copies;
    copies.replicas = -1;
    pm.addPass(partition::createRanksPass(copies));
    partition::ZeroPassOptions zero;
    zero.stage = -1;
    pm.nest<ModuleOp>().addPass(partition::createZeroPass(zero));
    if (o.gradBucketMb > 0) {
      partition::BucketGradientsPassOptions buckets;
      buckets.bucketBytes = int64_t(o.gradBucketMb * 1048576.0);
      pm.nest<ModuleOp>().addPass(partition::createBucketGradientsPass(buckets));
    }
  }
  if (o.emit == CompileOptions::Emit::Partitioned) {
    partition::SelectRankPassOptions select;
    select.rank = o.rank;
    pm.addPass(partition::createSelectRankPass(select));
  }
}

} // namespace

void tessera::buildCompilePipeline(OpPassManager &pm, const CompileOptions &o,
                                   const PipelineInputs &inputs, Phase first, Phase last,
                                   MeshPlanReport *report) {
  auto wanted = [&](Phase p) { return first <= p && p <= last; };
  if (wanted(Phase::Graph) && !o.noGraphFusion)
    buildGraphPipeline(pm, GraphPipelineOptions());
  if (wanted(Phase::Train) && o.train)
    buildTrainPipeline(pm, o, inputs);
  if (wanted(Phase::Decode) && o.generate)
    buildDecodePipeline(pm, o, inputs);
  if (wanted(Phase::Plan))
    buildPlanPipeline(pm, o, report);
  if (wanted(Phase::Partition))
    buildPartitionPipeline(pm, o);
}

void tessera::buildPromptPipeline(OpPassManager &pm, const CompileOptions &o,
                                  const PipelineInputs &inputs, bool partitioned) {
  // The prompt's attention must be fused to write the caches: the graph
  // phase runs even with --no-graph-fusion.
  buildGraphPipeline(pm, GraphPipelineOptions());
  buildPrefillPipeline(pm, o);
  if (partitioned)
    buildCompilePipeline(pm, o, inputs, Phase::Plan, Phase::Partition);
}

void tessera::printCompilePipeline(const CompileOptions &options, const PipelineInputs &inputs,
                                   llvm::raw_ostream &os, bool prompt, bool partitioned) {
  // MLIR prints floating-point pass options as "%e" (7 significant digits).
  double beta1 = 0.9, beta2 = 0.999;
  (void)parseBetas(options.betas, beta1, beta2);
  std::pair<const char *, double> floats[] = {
      {"--lr", options.lr},         {"--eps", options.eps},
      {"--weight-decay", options.weightDecay}, {"--momentum", options.momentum},
      {"--dampening", options.dampening},     {"--clip-grad-norm", options.clipGradNorm},
      {"--betas", beta1},           {"--betas", beta2}};
  for (auto [name, value] : floats) {
    std::string text = llvm::formatv("{0:e}", value).str();
    if (options.train && std::strtod(text.c_str(), nullptr) != value)
      llvm::errs() << "warning: " << name << " " << llvm::format("%.17g", value)
                   << " prints as " << text << " in the pipeline's text (MLIR prints pass "
                   << "options with 7 significant digits)\n";
  }
  OpPassManager pm("builtin.module");
  if (prompt)
    buildPromptPipeline(pm, options, inputs, partitioned);
  else
    buildCompilePipeline(pm, options, inputs, Phase::Graph, Phase::Partition);
  pm.printAsTextualPipeline(os);
  os << "\n";
}

void tessera::registerPipelines() {
  PassPipelineRegistration<>("tsr-graph-pipeline", "Graph-level cleanup of imported tsr IR",
                             [](OpPassManager &pm) {
                               buildGraphPipeline(pm, GraphPipelineOptions());
                             });
}
