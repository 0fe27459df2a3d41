//===- CompilePartition.cpp - the plan and partition phases ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// plan: the pipeline's plan phase (tsr-partition-plan-mesh, the stage cuts)
// and the plan's summary line from the mesh plan and the search's figures.
// partition: the pipeline's partition phase (the rank modules with their
// SPMD programs, ZeRO's blocks per replica, the gradient sums in buckets).
//
//===----------------------------------------------------------------------===//

#include "compiler/CompileDriver.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

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

/// The chosen plan in one line (and one per pipeline stage).
void printPlanSummary(const Compilation &c, double stageMemory) {
  const MeshCandidate &best = c.report.best;
  int64_t dp = c.dp, tp = c.tp, pp = c.pp, m = c.m;
  llvm::raw_ostream &os = llvm::errs();
  os << llvm::format("tessera-compile: mesh dp=%lld x tp=%lld", (long long)dp, (long long)tp);
  if (pp > 1)
    os << llvm::format(" x pp=%lld, %lld micro-batches", (long long)pp, (long long)m);
  if (c.accumulated > 1)
    os << llvm::format(", %lld micro-batches accumulated", (long long)c.accumulated);
  os << " on " << c.report.cluster.name
     << llvm::format(": predicted %.4f ms per batch", best.seconds * 1e3)
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
  if (llvm::Expected<ClusterSpec> spec = ClusterSpec::load(o.cluster); !spec) {
    llvm::errs() << "error: --cluster: " << llvm::toString(spec.takeError()) << "\n";
    return 2;
  }
  // tsr-partition-plan-mesh makes the module the chosen replica with its
  // layouts and #tsr.mesh_plan; pipelines are cut at its stage bounds.
  if (failed(c.runPhases(Phase::Plan, Phase::Plan)))
    return 1;
  auto meshPlan = (*c.module)->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr);
  c.dp = meshPlan.getDp(), c.tp = meshPlan.getTp(), c.pp = meshPlan.getPp();
  c.m = meshPlan.getMicrobatches();
  c.accumulated = meshPlan.getAccumulated();
  c.ranks = c.dp * c.tp * c.pp;
  c.trainPipeline = o.train && c.pp > 1;
  const MeshCandidate &best = c.report.best;
  double stageMemory = 0;
  for (int64_t s = 0; s < c.pp; ++s) {
    FailureOr<partition::ShardingPlan> stagePlan =
        partition::readSharding(c.stageFunc(*c.module, s));
    if (failed(stagePlan))
      return 1;
    stageMemory = std::max(stageMemory, best.shardedStateBytes >= 0 || c.trainPipeline
                                            ? best.weightBytesPerRank()
                                            : stagePlan->weightBytesPerRank);
    c.stagePlans.push_back(std::move(*stagePlan));
  }
  if (c.ranks > 1 || o.devices > 0 || c.accumulated > 1)
    printPlanSummary(c, stageMemory);
  recordCacheLayouts(c);
  recordEvalLayouts(c);
  if (o.emit == CompileOptions::Emit::Summary)
    return 0;
  return std::nullopt;
}

Step tessera::partitionPhase(Compilation &c) {
  const CompileOptions &o = c.o;
  if (o.emit == CompileOptions::Emit::Partitioned && (o.rank < 0 || o.rank >= c.ranks)) {
    llvm::errs() << "error: --rank " << o.rank << " is not a rank of the " << c.ranks
                 << "-rank mesh\n";
    return 2;
  }
  // One module per tensor-parallel index (under ZeRO per replica too): rank
  // r = (d * pp + s) * tp + t runs module d * tp + t under ZeRO (a block of
  // the state per replica), else t.
  if (failed(c.runPhases(Phase::Partition, Phase::Partition)))
    return 1;
  // --emit=partitioned: rank --rank's module (tsr-partition-select-rank);
  // with --prompt-program, its prompt program's (promptPhase).
  if (o.emit == CompileOptions::Emit::Partitioned && !o.promptProgram)
    return writeText(o.output, [&](llvm::raw_ostream &os) {
      int64_t stage = (o.rank / c.tp) % c.pp;
      os << "// rank " << o.rank << " of mesh dp=" << c.dp << " x tp=" << c.tp;
      if (c.pp > 1)
        os << " x pp=" << c.pp << " (stage " << stage << ")";
      os << "\n";
      c.module->print(os);
      os << "\n";
    });
  for (ModuleOp nested : c.module->getOps<ModuleOp>()) {
    c.sharded |= nested->hasAttr(tsr::kReplicaAttr);
    c.spmd.push_back(nested);
  }
  return std::nullopt;
}
