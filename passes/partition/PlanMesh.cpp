//===- PlanMesh.cpp - the mesh search as a pass ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// tsr-partition-plan-mesh: the mesh search (MeshSearch) on the module's
// @main; the module becomes the chosen replica, annotated with its layouts,
// carrying #tsr.mesh_plan and the cluster. tsr-partition-select-rank: one
// rank's module of a partitioned module.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/MeshSearch.h"
#include "passes/partition/Passes.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"

#include "mlir/IR/Builders.h"

namespace tessera::partition {
#define GEN_PASS_DEF_PLANMESHPASS
#define GEN_PASS_DEF_SELECTRANKPASS
#include "passes/partition/Passes.h.inc"
} // namespace tessera::partition

using namespace mlir;
using namespace tessera;
using namespace tessera::partition;

namespace {

/// `module`'s body and attributes replaced by `from`'s (whose body is left
/// empty).
void becomeModule(ModuleOp module, ModuleOp from) {
  module.getBody()->clear();
  module.getBody()->getOperations().splice(module.getBody()->end(),
                                           from.getBody()->getOperations());
  module->setAttrs(from->getAttrDictionary());
}

struct PlanMeshPass : tessera::partition::impl::PlanMeshPassBase<PlanMeshPass> {
  using PlanMeshPassBase::PlanMeshPassBase;
  PlanMeshPass(const PlanMeshPassOptions &options, MeshPlanReport *report)
      : PlanMeshPassBase(options), report(report) {}

  /// The search's options: the meshes to consider (the one given, every
  /// dp x tp x pp of `devices`, or one device) and the plan's choices.
  MeshSearchOptions searchOptions(const ClusterSpec &spec) const {
    MeshSearchOptions options;
    if (dp || tp || pp)
      options.meshes = {MeshShape{std::max<int64_t>(dp, 1), std::max<int64_t>(tp, 1),
                                  std::max<int64_t>(pp, 1)}};
    else if (devices > 0)
      options.meshes = enumerateMeshes(devices);
    else
      options.meshes = {MeshShape()};
    // Training over `devices`: tensor parallelism stays within a node (its
    // all-reduces come every layer, forward and backward; Megatron-LM and
    // Alpa keep it there), which also keeps a large cluster's search short.
    if (training && devices > 0)
      llvm::erase_if(options.meshes,
                     [&](const MeshShape &m) { return spec.spansNodes(m.tp); });
    options.recompute = recompute;
    options.microbatchSize = microbatchSize;
    options.microbatches = microbatches;
    options.zero = zero;
    for (const std::string &h : hints) {
      auto [name, layout] = StringRef(h).split('=');
      options.hints[name.str()] = layout.str();
    }
    options.training = training;
    options.evaluation = evaluation;
    options.throughput = throughput;
    options.evenStages = even;
    options.limitToCluster = devices > 0;
    return options;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      module.emitError("no @main function to plan");
      return signalPassFailure();
    }
    for (Type t : main.getArgumentTypes())
      if (!isa<RankedTensorType>(t) || !cast<RankedTensorType>(t).hasStaticShape()) {
        main.emitError("@main's argument ") << t << " is not a tensor of static shape: "
                                            << "bind the symbolic dimensions first";
        return signalPassFailure();
      }
    if (dp < 0 || tp < 0 || pp < 0 || devices < 0 || microbatches < 0 || microbatchSize < 0) {
      module.emitError("dp, tp, pp, devices, microbatches and microbatch-size must not be "
                       "negative");
      return signalPassFailure();
    }
    if (zero < -1 || zero > 3) {
      module.emitError("zero must be 0, 1, 2, 3 or -1 (the fastest that fits), not ")
          << int64_t(zero);
      return signalPassFailure();
    }
    if (!recompute.empty() && recompute != "none" && recompute != "selective" &&
        recompute != "full") {
      module.emitError("recompute must be none, selective or full, not '") << recompute << "'";
      return signalPassFailure();
    }
    for (const std::string &h : hints)
      if (!StringRef(h).contains('=')) {
        module.emitError("shard hint '") << h << "' is not NAME=LAYOUT";
        return signalPassFailure();
      }
    std::string name = cluster.empty() ? std::string("cpu") : std::string(cluster);
    llvm::Expected<ClusterSpec> spec = ClusterSpec::load(name);
    if (!spec) {
      module.emitError("cluster '") << cluster << "': " << llvm::toString(spec.takeError());
      return signalPassFailure();
    }
    // No cluster named: this machine's CPU cores as devices, as many as the
    // mesh or the search needs.
    if (cluster.empty()) {
      int64_t wanted = std::max<int64_t>(devices, std::max<int64_t>(dp, 1) *
                                                      std::max<int64_t>(tp, 1) *
                                                      std::max<int64_t>(pp, 1));
      if (wanted > spec->devices())
        spec->devicesPerNode = int(wanted);
    }
    MeshSearchOptions options = searchOptions(*spec);
    if (failed(checkHintsNameWeights(main, options.hints)))
      return signalPassFailure();
    MeshSearch search(module, *spec, std::move(options));
    const MeshCandidate *best = search.run(llvm::errs());
    if (!best) {
      search.printRuledOut(llvm::errs());
      return signalPassFailure();
    }
    if (explain)
      search.explain(llvm::outs(), *best);

    // The chosen plan on the replica's function; the module becomes it.
    ShardingPlan plan = *best->plan;
    plan.dp = best->dp;
    plan.grid = {best->dp, best->tp};
    plan.tpAxis = 1;
    ModuleOp replica = best->replica;
    annotateSharding(replica.lookupSymbol<func::FuncOp>("main"), plan);
    becomeModule(module, replica);
    // Accumulated micro-batches live inside the training step (the runtime
    // feeds each replica its whole share of the batch); a pipeline's stream.
    int64_t m = best->m, accumulated = 1;
    if (training && best->pp == 1)
      std::swap(m, accumulated);
    std::vector<int64_t> bounds;
    if (best->pp > 1)
      bounds.assign(best->stages.bounds.begin(), best->stages.bounds.end());
    MLIRContext *context = &getContext();
    module->setAttr(tsr::kMeshPlanAttr,
                    tsr::MeshPlanAttr::get(context, best->dp, best->tp, best->pp, m, accumulated,
                                           best->zero, best->recompute,
                                           bounds.empty()
                                               ? DenseI64ArrayAttr()
                                               : DenseI64ArrayAttr::get(context, bounds)));
    module->setAttr(tsr::kClusterAttr, StringAttr::get(context, spec->toJSON(/*compact=*/true)));
    if (report) {
      report->cluster = *spec;
      report->best = *best;
      report->best.replica = nullptr;
      report->plan = plan;
      report->plan.opSeconds.clear();
      report->plan.opWeightBytes.clear();
      report->plan.chosen.clear();
      report->best.plan = &report->plan;
    }
  }

  MeshPlanReport *report = nullptr;
};

struct SelectRankPass : tessera::partition::impl::SelectRankPassBase<SelectRankPass> {
  using SelectRankPassBase::SelectRankPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto meshPlan = module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr);
    if (!meshPlan) {
      module.emitError("no '") << tsr::kMeshPlanAttr
                               << "': plan the module first (tsr-partition-plan-mesh)";
      return signalPassFailure();
    }
    int64_t tp = meshPlan.getTp(), pp = meshPlan.getPp();
    int64_t ranks = meshPlan.getDp() * tp * pp;
    if (rank < 0 || rank >= ranks) {
      module.emitError("rank ") << int64_t(rank) << " is not a rank of the " << ranks
                                << "-rank mesh";
      return signalPassFailure();
    }
    // Rank r = (d * pp + s) * tp + t runs stage s of module @tp<t>, or with
    // ZeRO @dp<d>.tp<t>.
    int64_t t = rank % tp, s = (rank / tp) % pp, d = rank / (tp * pp);
    ModuleOp chosen;
    for (ModuleOp nested : module.getOps<ModuleOp>()) {
      auto tpRank = nested->getAttrOfType<IntegerAttr>(tsr::kTpRankAttr);
      auto replica = nested->getAttrOfType<IntegerAttr>(tsr::kReplicaAttr);
      if (tpRank && tpRank.getInt() == t && (!replica || replica.getInt() == d))
        chosen = nested;
    }
    if (!chosen) {
      module.emitError("no module of rank ") << int64_t(rank)
                                             << ": partition the module first "
                                                "(tsr-partition-ranks)";
      return signalPassFailure();
    }
    // Its stage's functions (pipelines: tsr.stage).
    for (func::FuncOp f : llvm::make_early_inc_range(chosen.getOps<func::FuncOp>()))
      if (auto stage = f->getAttrOfType<IntegerAttr>(tsr::kStageAttr);
          stage && stage.getInt() != s)
        f.erase();
    chosen->remove();
    OwningOpRef<ModuleOp> owned(chosen);
    becomeModule(module, chosen);
  }
};

} // namespace

std::unique_ptr<Pass> tessera::partition::createPlanMeshPass(const PlanMeshPassOptions &options,
                                                             MeshPlanReport *report) {
  return std::make_unique<PlanMeshPass>(options, report);
}
