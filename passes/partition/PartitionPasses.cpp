//===- PartitionPasses.cpp - the partitioning passes ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Thin pass wrappers over the partitioning library (BatchSplit, Partition,
// PipelineSlicer), so that each stage runs, prints and is tested alone with
// tessera-opt; tessera-compile calls the same functions.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/Passes.h"

#include "dialects/tsr/IR/TsrAttrNames.h"
#include "dialects/tsr/IR/TsrAttrs.h"

#include "passes/cost/ClusterSpec.h"
#include "passes/cost/CostModel.h"
#include "passes/partition/BatchSplit.h"
#include "passes/partition/Partition.h"
#include "passes/partition/PipelineSlicer.h"
#include "passes/partition/TrainStages.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"

namespace tessera::partition {
#define GEN_PASS_DEF_SPLITBATCHPASS
#define GEN_PASS_DEF_ACCUMULATEPASS
#define GEN_PASS_DEF_SHARDINGSEARCHPASS
#define GEN_PASS_DEF_CUTSTAGESPASS
#define GEN_PASS_DEF_CUTTRAINSTAGESPASS
#define GEN_PASS_DEF_SPMDPARTITIONPASS
#define GEN_PASS_DEF_RANKSPASS
#include "passes/partition/Passes.h.inc"
} // namespace tessera::partition

using namespace mlir;
using namespace tessera;
using namespace tessera::partition;

namespace {

/// The cluster `name` (a preset or JSON file); empty: the one the module
/// was planned for (tsr.cluster), else "cpu".
FailureOr<ClusterSpec> loadCluster(Operation *op, StringRef name) {
  if (name.empty()) {
    auto module = isa<ModuleOp>(op) ? cast<ModuleOp>(op) : op->getParentOfType<ModuleOp>();
    auto planned = module ? module->getAttrOfType<StringAttr>(tsr::kClusterAttr) : nullptr;
    name = planned ? planned.getValue() : StringRef("cpu");
  }
  llvm::Expected<ClusterSpec> spec = ClusterSpec::load(name);
  if (!spec)
    return op->emitError("cluster '") << name << "': " << llvm::toString(spec.takeError()),
           failure();
  return *spec;
}

struct SplitBatchPass : tessera::partition::impl::SplitBatchPassBase<SplitBatchPass> {
  using SplitBatchPassBase::SplitBatchPassBase;
  void runOnOperation() override {
    if (failed(splitBatch(getOperation(), parts, reduceOverBatch)))
      signalPassFailure();
  }
};

struct AccumulatePass : tessera::partition::impl::AccumulatePassBase<AccumulatePass> {
  using AccumulatePassBase::AccumulatePassBase;
  void runOnOperation() override {
    if (microbatches < 1) {
      getOperation().emitError("microbatches must be at least 1");
      return signalPassFailure();
    }
    if (failed(accumulateMicroBatches(getOperation(), microbatches, replicaSums)))
      signalPassFailure();
  }
};

struct ShardingSearchPass : tessera::partition::impl::ShardingSearchPassBase<ShardingSearchPass> {
  using ShardingSearchPassBase::ShardingSearchPassBase;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    // Planned already (tsr-partition-plan-mesh): the plan stays.
    if (func->hasAttr(tsr::kPlanAttr))
      return;
    // Degrees not given: the module's mesh plan's, else 1.
    auto module = func->getParentOfType<ModuleOp>();
    auto meshPlan = module ? module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr)
                           : nullptr;
    int64_t tp = this->tp ? int64_t(this->tp) : meshPlan ? meshPlan.getTp() : 1;
    int64_t dp = this->dp ? int64_t(this->dp) : meshPlan ? meshPlan.getDp() : 1;
    if (tp < 1 || dp < 1) {
      func.emitError("tp and dp must be at least 1");
      return signalPassFailure();
    }
    FailureOr<ClusterSpec> spec = loadCluster(func, cluster);
    if (failed(spec))
      return signalPassFailure();
    CostModel cost(*spec);
    PartitionOptions options;
    options.dp = dp;
    options.tp = tp;
    options.memoryCap = spec->memoryCap();
    for (const std::string &h : hints) {
      auto [name, layout] = StringRef(h).split('=');
      if (name.empty() || layout.empty()) {
        func.emitError("shard hint '") << h << "' is not NAME=LAYOUT";
        return signalPassFailure();
      }
      options.hints[name.str()] = layout.str();
    }
    // (A pipeline stage holds some of the weights: tsr-partition-plan-mesh
    // checked the hints against the whole model.)
    if (!func->hasAttr(tsr::kStageAttr) && failed(checkHintsNameWeights(func, options.hints)))
      return signalPassFailure();
    if (tp > 1)
      splitFusedProjections(func);
    FailureOr<ShardingPlan> plan = searchSharding(func, cost, options);
    if (failed(plan))
      return signalPassFailure();
    // A pipeline stage's grid is [dp, pp, tp] (tsr-partition-cut-stages
    // records pp on the module).
    if (auto pp = module ? module->getAttrOfType<IntegerAttr>(mlir::tsr::kPipelineStagesAttr) : nullptr;
        pp && func->hasAttr(mlir::tsr::kStageAttr)) {
      plan->grid = {dp, pp.getInt(), tp};
      plan->tpAxis = 2;
    }
    annotateSharding(func, *plan);
  }
};

/// The planned `@main` of `module` and its cut into `pp` stages (a training
/// step's in its forward pass); `dp`: the plan's replicas.
FailureOr<std::pair<func::FuncOp, PipelineStages>>
sliceMain(ModuleOp module, int64_t pp, StringRef cluster, bool even, bool training,
          int64_t &dp) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return module.emitError("no @main function to cut into stages"), failure();
  if (pp < 1)
    return module.emitError("pp must be at least 1"), failure();
  FailureOr<ClusterSpec> spec = loadCluster(module, cluster);
  if (failed(spec))
    return failure();
  FailureOr<ShardingPlan> plan = readSharding(main);
  if (failed(plan))
    return failure();
  dp = plan->dp;
  size_t forwardEnd = SIZE_MAX;
  if (training) {
    FailureOr<size_t> end = trainingForwardEnd(main);
    if (failed(end))
      return failure();
    forwardEnd = *end;
  }
  CostModel cost(*spec);
  std::string why;
  // A planned module is cut where its mesh plan says (the search costed
  // those stages); else by the options.
  std::vector<size_t> given;
  if (auto meshPlan = module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr);
      meshPlan && meshPlan.getPp() > 1 && meshPlan.getStages()) {
    pp = meshPlan.getPp();
    ArrayRef<int64_t> bounds = meshPlan.getStages().asArrayRef();
    given.assign(bounds.begin(), bounds.end());
  }
  FailureOr<PipelineStages> stages = sliceStages(
      main, *plan, pp, cost, spec->memoryCap(), why, even, forwardEnd, given);
  if (failed(stages))
    return main.emitError("no ") << pp << "-stage pipeline: " << why, failure();
  return std::make_pair(main, *stages);
}

/// A module planned for one stage: nothing to cut.
bool plannedWhole(ModuleOp module) {
  auto meshPlan = module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr);
  return meshPlan && meshPlan.getPp() == 1;
}

struct CutStagesPass : tessera::partition::impl::CutStagesPassBase<CutStagesPass> {
  using CutStagesPassBase::CutStagesPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (plannedWhole(module))
      return;
    int64_t dp = 1;
    auto cut = sliceMain(module, pp, cluster, even, /*training=*/false, dp);
    if (failed(cut))
      return signalPassFailure();
    auto [main, stages] = *cut;
    int64_t pp = int64_t(stages.bounds.size()) - 1;
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointAfter(main);
    for (int64_t s = 0; s < pp; ++s) {
      OwningOpRef<ModuleOp> stage =
          extractStage(main, stages.bounds[size_t(s)], stages.bounds[size_t(s) + 1]);
      auto func = stage->lookupSymbol<func::FuncOp>("main");
      func->remove();
      func.setName(b.getStringAttr("stage" + std::to_string(s)));
      clearSharding(func);
      func->setAttr(mlir::tsr::kStageAttr, b.getI64IntegerAttr(s));
      func->setAttr(mlir::tsr::kStageSecondsAttr, b.getF64FloatAttr(stages.stageSeconds[size_t(s)]));
      func->setAttr(mlir::tsr::kSendSecondsAttr, b.getF64FloatAttr(stages.sendSeconds[size_t(s)]));
      b.insert(func);
    }
    main.erase();
    module->setAttr(mlir::tsr::kPipelineStagesAttr, b.getI64IntegerAttr(pp));
  }
};

struct CutTrainStagesPass
    : tessera::partition::impl::CutTrainStagesPassBase<CutTrainStagesPass> {
  using CutTrainStagesPassBase::CutTrainStagesPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (plannedWhole(module))
      return;
    int64_t dp = 1;
    auto cut = sliceMain(module, pp, cluster, even, /*training=*/true, dp);
    if (failed(cut))
      return signalPassFailure();
    // A planned module: the recomputation its mesh plan chose.
    std::string recomputation = recompute;
    if (auto meshPlan = module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr))
      recomputation = meshPlan.getRecompute().str();
    int64_t stages = int64_t(cut->second.bounds.size()) - 1;
    if (failed(cutTrainingStages(module, cut->first, cut->second.bounds, stages, dp,
                                 recomputation)))
      signalPassFailure();
  }
};

struct SpmdPartitionPass : tessera::partition::impl::SpmdPartitionPassBase<SpmdPartitionPass> {
  using SpmdPartitionPassBase::SpmdPartitionPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The index tsr-partition-ranks gave this module, unless given.
    int64_t rank = this->rank;
    if (rank < 0)
      rank = module->hasAttr(tsr::kTpRankAttr)
                 ? module->getAttrOfType<IntegerAttr>(tsr::kTpRankAttr).getInt()
                 : 0;
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    bool grid = false;
    for (func::FuncOp func : funcs) {
      FailureOr<ShardingPlan> plan = readSharding(func);
      if (failed(plan))
        return signalPassFailure();
      if (rank < 0 || rank >= plan->tp) {
        func.emitError("rank ") << int64_t(rank) << " is not a tensor-parallel index of tp="
                                << plan->tp;
        return signalPassFailure();
      }
      OwningOpRef<ModuleOp> spmd = partitionForRank(func, *plan, rank);
      OpBuilder b(func);
      for (Operation &op : llvm::make_early_inc_range(spmd->getBody()->getOperations())) {
        if (isa<shard::GridOp>(op) && grid)
          continue;
        grid |= isa<shard::GridOp>(op);
        op.remove();
        b.insert(&op);
        for (StringRef name : {mlir::tsr::kStageAttr, mlir::tsr::kSegmentAttr})
          if (auto a = func->getAttr(name); a && isa<func::FuncOp>(op))
            op.setAttr(name, a);
      }
      for (NamedAttribute a : (*spmd)->getAttrs())
        if (a.getName() != SymbolTable::getSymbolAttrName())
          module->setAttr(a.getName(), a.getValue());
      func.erase();
    }
  }
};

struct RanksPass : tessera::partition::impl::RanksPassBase<RanksPass> {
  using RanksPassBase::RanksPassBase;

  /// A nested module named `name` after `at`'s position, with `from`'s
  /// attributes.
  static ModuleOp nestedModule(OpBuilder &b, Operation *from, StringRef name) {
    auto nested = ModuleOp::create(b, from->getLoc(), name);
    for (NamedAttribute a : from->getAttrs())
      if (a.getName() != SymbolTable::getSymbolAttrName())
        nested->setAttr(a.getName(), a.getValue());
    return nested;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Not given: a copy per replica where the mesh plan shards with ZeRO.
    int64_t replicas = this->replicas;
    if (replicas == -1) {
      auto meshPlan = module->getAttrOfType<tsr::MeshPlanAttr>(tsr::kMeshPlanAttr);
      replicas = meshPlan && meshPlan.getZero() > 0 ? meshPlan.getDp() : 1;
    }
    if (replicas < 1) {
      module.emitError("replicas must be at least 1");
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    SmallVector<ModuleOp> ranks;
    for (ModuleOp nested : module.getOps<ModuleOp>())
      if (nested->hasAttr(tsr::kTpRankAttr) && !nested->hasAttr(tsr::kReplicaAttr))
        ranks.push_back(nested);
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    if (!funcs.empty()) {
      // The planned module: one module per tensor-parallel index.
      FailureOr<ShardingPlan> plan = readSharding(funcs.front());
      if (failed(plan))
        return signalPassFailure();
      for (int64_t t = 0; t < plan->tp; ++t) {
        ModuleOp nested = nestedModule(b, module, "tp" + std::to_string(t));
        nested->setAttr(tsr::kTpRankAttr, b.getI64IntegerAttr(t));
        OpBuilder inner = OpBuilder::atBlockEnd(nested.getBody());
        for (func::FuncOp f : funcs)
          inner.clone(*f);
        ranks.push_back(nested);
      }
      for (func::FuncOp f : funcs)
        f.erase();
    } else if (ranks.empty()) {
      module.emitError("no functions and no tensor-parallel modules to give ranks");
      return signalPassFailure();
    }
    if (replicas == 1)
      return;
    // One copy of each per replica, replica after replica.
    for (int64_t d = 0; d < replicas; ++d)
      for (ModuleOp tpModule : ranks) {
        auto copy = cast<ModuleOp>(b.clone(*tpModule));
        copy.setSymName(("dp" + std::to_string(d) + "." + *tpModule.getSymName()).str());
        copy->setAttr(tsr::kReplicaAttr, b.getI64IntegerAttr(d));
      }
    for (ModuleOp tpModule : ranks)
      tpModule.erase();
  }
};

} // namespace
