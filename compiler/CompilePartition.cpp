//===- CompilePartition.cpp - the plan and partition phases ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// plan: the mesh search over the candidate meshes, the chosen plan annotated
// on the replica, pipeline stages cut, the plan's summary line.
// partition: the SPMD module of every tensor-parallel index, ZeRO's blocks
// per replica, the replicas' gradient sums in buckets.
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileDriver.h"
#include "dialects/tsr/IR/TsrAttrNames.h"

#include "passes/partition/Passes.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace tessera;

ModuleOp Compilation::moduleOf(int64_t r) const {
  return spmd[size_t(sharded ? r / (pp * tp) * tp + r % tp : r % tp)];
}

func::FuncOp Compilation::stageFunc(ModuleOp module, int64_t s) const {
  return module.lookupSymbol<func::FuncOp>(pp == 1          ? std::string("main")
                                           : trainPipeline ? "stage" + std::to_string(s) + ".0"
                                                           : "stage" + std::to_string(s));
}

std::vector<func::FuncOp> Compilation::stageFuncs(ModuleOp module, int64_t s) const {
  std::vector<func::FuncOp> funcs;
  if (!trainPipeline)
    funcs.push_back(stageFunc(module, s));
  else
    for (auto f : module.getOps<func::FuncOp>())
      if (auto stage = f->getAttrOfType<IntegerAttr>(mlir::tsr::kStageAttr); stage && stage.getInt() == s)
        funcs.push_back(f);
  return funcs;
}

namespace {

/// --mesh as parsed (checkCompileOptions has refused malformed text).
MeshShape givenMesh(const std::string &text) {
  llvm::Expected<MeshShape> shape = parseMesh(text);
  if (!shape) {
    llvm::consumeError(shape.takeError());
    return MeshShape();
  }
  return *shape;
}

/// The mesh search's options: the meshes to consider (the one given, every
/// dp x tp x pp of --devices, or one device) and the plan's choices.
MeshSearchOptions searchOptionsOf(const CompileOptions &o, const ClusterSpec &spec) {
  MeshSearchOptions options;
  if (!o.mesh.empty())
    options.meshes = {givenMesh(o.mesh)};
  else if (o.devices > 0)
    options.meshes = enumerateMeshes(o.devices);
  else
    options.meshes = {MeshShape()};
  options.recompute = o.recompute;
  options.microbatchSize = o.microbatchSize;
  int64_t zeroStage = -1; // auto
  if (o.zero != "auto")
    (void)llvm::StringRef(o.zero).getAsInteger(10, zeroStage);
  options.zero = zeroStage;
  for (const std::string &h : o.shardHints) {
    auto [name, layout] = llvm::StringRef(h).split('=');
    options.hints[name.str()] = layout.str();
  }
  // Training over --devices: tensor parallelism stays within a node (its
  // all-reduces come every layer, forward and backward; Megatron-LM and
  // Alpa keep it there), which also keeps a large cluster's search short.
  if (o.train && o.devices > 0)
    llvm::erase_if(options.meshes,
                   [&](const MeshShape &m) { return m.tp > spec.devicesPerNode; });
  // A decode step is one token per sequence: pipelines run it whole.
  options.microbatches = o.generate && o.microbatches == 0 ? 1 : o.microbatches;
  // Training: replicas sum their gradients; --microbatches M runs M slices
  // of each replica's batch one after the other and accumulates their
  // gradients.
  options.training = o.train;
  options.throughput = o.objective == "throughput";
  options.evenStages = o.pipelineSplit == "even";
  options.limitToCluster = o.devices > 0;
  return options;
}

/// Cuts the planned replica into pipeline stages (a training step: into
/// segments per stage) and searches each stage's tensor-parallel plan.
LogicalResult cutStages(Compilation &c) {
  std::string clusterText = c.spec->toJSON();
  PassManager pm(&c.context);
  if (c.trainPipeline) {
    // Pipeline training: the step cut into segments per stage (forward and
    // backward passes, what runs once per step) on the replica's plan.
    partition::CutTrainStagesPassOptions cut;
    cut.pp = c.pp;
    cut.cluster = clusterText;
    cut.even = c.o.pipelineSplit == "even";
    cut.recompute = c.best->recompute;
    pm.addPass(partition::createCutTrainStagesPass(cut));
  } else {
    partition::CutStagesPassOptions cut;
    cut.pp = c.pp;
    cut.cluster = clusterText;
    cut.even = c.o.pipelineSplit == "even";
    pm.addPass(partition::createCutStagesPass(cut));
    partition::ShardingSearchPassOptions stageSearch;
    stageSearch.tp = c.tp;
    stageSearch.dp = c.dp;
    stageSearch.cluster = clusterText;
    for (const std::string &h : c.o.shardHints)
      stageSearch.hints.push_back(h);
    pm.addNestedPass<func::FuncOp>(partition::createShardingSearchPass(stageSearch));
  }
  return pm.run(*c.planned);
}

/// The chosen plan in one line (and one per pipeline stage).
void printPlanSummary(const Compilation &c, double stageMemory) {
  const MeshCandidate &best = *c.best;
  int64_t dp = c.dp, tp = c.tp, pp = c.pp, m = c.m;
  llvm::raw_ostream &os = llvm::errs();
  os << llvm::format("tessera-compile: mesh dp=%lld x tp=%lld", (long long)dp, (long long)tp);
  if (pp > 1)
    os << llvm::format(" x pp=%lld, %lld micro-batches", (long long)pp, (long long)m);
  if (c.accumulated > 1)
    os << llvm::format(", %lld micro-batches accumulated", (long long)c.accumulated);
  os << " on " << c.spec->name << llvm::format(": predicted %.4f ms per batch", best.seconds * 1e3)
     << (c.o.objective == "throughput" && pp > 1 ? " in steady state" : "");
  if (pp == 1)
    os << llvm::format(" (compute %.4f ms, communication %.4f ms)",
                       best.plan->computeSeconds * 1e3,
                       (best.plan->commSeconds + best.gradientSeconds) * 1e3);
  else
    os << llvm::format(" (%lld steps of %.4f ms, bubble %.0f%%%s%s)", (long long)(m + pp - 1),
                       best.stages.stepSeconds * 1e3, 100.0 * double(pp - 1) / double(m + pp - 1),
                       c.trainPipeline ? ", recomputation " : "",
                       c.trainPipeline ? best.recompute.c_str() : "");
  if (c.o.train && dp > 1 && best.zero > 0)
    os << ", ZeRO-" << best.zero;
  os << llvm::format(", weights %.2f MiB per rank; search %.3f s over %u ops (%u variables)\n",
                     stageMemory / 1048576.0, best.plan->searchSeconds, best.plan->ops,
                     best.plan->variables);
  if (pp > 1)
    for (int64_t s = 0; s < pp; ++s)
      os << llvm::format("tessera-compile:   stage %lld: ops [%zu, %zu), "
                         "%.4f ms + send %.4f ms, weights %.2f MiB per rank\n",
                         (long long)s, best.stages.bounds[size_t(s)],
                         best.stages.bounds[size_t(s) + 1],
                         best.stages.stageSeconds[size_t(s)] * 1e3,
                         best.stages.sendSeconds[size_t(s)] * 1e3,
                         best.stages.weightBytes[size_t(s)] / 1048576.0);
}

} // namespace

Step tessera::planPhase(Compilation &c) {
  const CompileOptions &o = c.o;
  llvm::Expected<ClusterSpec> spec = ClusterSpec::load(o.cluster);
  if (!spec) {
    llvm::errs() << "error: --cluster: " << llvm::toString(spec.takeError()) << "\n";
    return 2;
  }
  c.spec = std::move(*spec);
  // The default cluster is this machine's CPU cores as devices; --devices N
  // or a mesh of N ranks without --cluster plans for N such devices.
  if (!o.clusterGiven) {
    int64_t wanted = std::max<int64_t>(o.devices, givenMesh(o.mesh).ranks());
    if (wanted > c.spec->devices())
      c.spec->devicesPerNode = int(wanted);
  }
  MeshSearchOptions searchOptions = searchOptionsOf(o, *c.spec);
  c.search = std::make_unique<MeshSearch>(*c.module, *c.spec, searchOptions);
  c.best = c.search->run(llvm::errs());
  if (!c.best) {
    c.search->printRuledOut(llvm::errs());
    return 1;
  }
  if (o.explain)
    c.search->explain(llvm::outs(), *c.best);
  const MeshCandidate &best = *c.best;
  c.dp = best.dp, c.tp = best.tp, c.pp = best.pp, c.m = best.m;
  c.ranks = c.dp * c.tp * c.pp;
  // Accumulated micro-batches live inside the step: the runtime feeds each
  // replica its whole share of the batch.
  if (o.train && c.pp == 1)
    std::swap(c.accumulated, c.m);
  c.trainPipeline = o.train && c.pp > 1;

  // The chosen plan goes on the replica's IR; the partitioning passes take it
  // from there: tsr-partition-cut-stages and tsr-partition-search on every
  // stage (pipelines), then tsr-partition-spmd for each tensor-parallel index.
  partition::ShardingPlan plan = *best.plan;
  plan.dp = c.dp;
  plan.grid = {c.dp, c.tp};
  plan.tpAxis = 1;
  ModuleOp replica = best.replica;
  partition::annotateSharding(replica.lookupSymbol<func::FuncOp>("main"), plan);
  c.planned = OwningOpRef<ModuleOp>(cast<ModuleOp>(replica->clone()));
  // The plan in the IR: every rank module made from it carries it, and the
  // stage cut reads its bounds (the search costed those stages).
  std::vector<int64_t> bounds;
  if (c.pp > 1)
    bounds.assign(best.stages.bounds.begin(), best.stages.bounds.end());
  (*c.planned)->setAttr(tsr::kMeshPlanAttr,
                        tsr::MeshPlanAttr::get(&c.context, c.dp, c.tp, c.pp, c.m, c.accumulated,
                                               best.zero, best.recompute,
                                               bounds.empty()
                                                   ? DenseI64ArrayAttr()
                                                   : DenseI64ArrayAttr::get(&c.context, bounds)));
  if (c.pp > 1 && failed(cutStages(c)))
    return 1;
  double stageMemory = 0;
  for (int64_t s = 0; s < c.pp; ++s) {
    FailureOr<partition::ShardingPlan> stagePlan =
        partition::readSharding(c.stageFunc(*c.planned, s));
    if (failed(stagePlan))
      return 1;
    stageMemory = std::max(stageMemory, best.shardedStateBytes >= 0 || c.trainPipeline
                                            ? best.weightBytesPerRank()
                                            : stagePlan->weightBytesPerRank);
    c.stagePlans.push_back(std::move(*stagePlan));
  }
  if (c.ranks > 1 || o.devices > 0 || c.accumulated > 1)
    printPlanSummary(c, stageMemory);
  if (o.emit == CompileOptions::Emit::Summary)
    return 0;
  return std::nullopt;
}

/// --emit=partitioned: rank --rank's SPMD IR (its stage's functions).
static int printPartitioned(const Compilation &c) {
  int64_t rank = c.o.rank;
  if (rank < 0 || rank >= c.ranks) {
    llvm::errs() << "error: --rank " << rank << " is not a rank of the " << c.ranks
                 << "-rank mesh\n";
    return 2;
  }
  int64_t stage = (rank / c.tp) % c.pp;
  OwningOpRef<ModuleOp> shown(cast<ModuleOp>(c.moduleOf(rank)->clone()));
  // The stage's function (a pipelined training step: its segments).
  std::vector<func::FuncOp> kept = c.stageFuncs(*shown, stage);
  for (func::FuncOp f : llvm::make_early_inc_range(shown->getOps<func::FuncOp>()))
    if (!llvm::is_contained(kept, f))
      f.erase();
  return writeText(c.o.output, [&](llvm::raw_ostream &os) {
    os << "// rank " << rank << " of mesh dp=" << c.dp << " x tp=" << c.tp;
    if (c.pp > 1)
      os << " x pp=" << c.pp << " (stage " << stage << ")";
    os << "\n";
    shown->print(os);
    os << "\n";
  });
}

/// The partition pipeline on the planned module: one nested module per
/// tensor-parallel index with its SPMD program, then (ZeRO) one per replica
/// with its blocks, the replicas' gradient sums in buckets.
void tessera::buildPartitionPipeline(OpPassManager &pm, int64_t zeroStage, int64_t replicas,
                                     int64_t bucketBytes) {
  pm.addPass(partition::createRanksPass());
  pm.nest<ModuleOp>().addPass(partition::createSpmdPartitionPass());
  if (zeroStage > 0 && replicas > 1) {
    partition::RanksPassOptions copies;
    copies.replicas = replicas;
    pm.addPass(partition::createRanksPass(copies));
    partition::ZeroPassOptions zero;
    zero.stage = zeroStage;
    pm.nest<ModuleOp>().addPass(partition::createZeroPass(zero));
  }
  if (bucketBytes > 0) {
    partition::BucketGradientsPassOptions buckets;
    buckets.bucketBytes = bucketBytes;
    pm.nest<ModuleOp>().addPass(partition::createBucketGradientsPass(buckets));
  }
}

Step tessera::partitionPhase(Compilation &c) {
  const CompileOptions &o = c.o;
  // Rank r is replica d, stage s, tp index t with r = (d * pp + s) * tp + t;
  // its module is d * tp + t under ZeRO (a block of the state per replica),
  // else t. (--zero auto: the stage the search chose.)
  int64_t zeroStage = c.best->zero;
  c.sharded = zeroStage > 0 && c.dp > 1;
  // The replicas' gradient sums in buckets (training with dp > 1).
  int64_t bucketBytes =
      o.train && c.dp > 1 && o.gradBucketMb > 0 ? int64_t(o.gradBucketMb * 1048576.0) : 0;
  PassManager pm(&c.context);
  buildPartitionPipeline(pm, zeroStage, c.sharded ? c.dp : 1, bucketBytes);
  if (failed(pm.run(*c.planned)))
    return 1;
  for (ModuleOp nested : c.planned->getOps<ModuleOp>())
    c.spmd.push_back(nested);
  if (o.emit == CompileOptions::Emit::Partitioned)
    return printPartitioned(c);
  return std::nullopt;
}
