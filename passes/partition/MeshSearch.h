//===- MeshSearch.h - choosing dp x tp x pp and micro-batches ---*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The outer loop of planning: every candidate mesh (the one given, or every
// dp x tp x pp of N devices) and micro-batch count is costed by the
// partitioning passes' library - the batch split (tsr-partition-split-batch)
// into a replica of batch / (dp x m), the tensor-parallel search
// (tsr-partition-search) on it, and for pipelines the stage cutting
// (tsr-partition-cut-stages) - then ranked by predicted time (latency: one
// batch; throughput: batches streamed back to back) under the device memory.
// Replicas and searches are shared between candidates of the same size.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_MESHSEARCH_H
#define TESSERA_PASSES_PARTITION_MESHSEARCH_H

#include "passes/cost/ClusterSpec.h"
#include "passes/cost/CostModel.h"
#include "passes/partition/Partition.h"
#include "passes/partition/PipelineSlicer.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace tessera {

struct MeshShape {
  int64_t dp = 1, tp = 1, pp = 1;
  int64_t ranks() const { return dp * tp * pp; }
};

/// "dp=2,tp=4,pp=2" (any subset, any order).
llvm::Expected<MeshShape> parseMesh(llvm::StringRef text);

/// Every dp x tp x pp of `devices` (pipelines only with tp <= 8).
std::vector<MeshShape> enumerateMeshes(int64_t devices);

struct MeshSearchOptions {
  std::vector<MeshShape> meshes;
  /// Micro-batches per pipeline; 0: every count that divides the replica.
  int64_t microbatches = 0;
  /// Samples per micro-batch of a pipeline (the count follows the mesh);
  /// 0: any.
  int64_t microbatchSize = 0;
  bool throughput = false;  ///< objective: throughput instead of latency
  bool evenStages = false;  ///< Megatron's even stage split
  /// Rule out meshes with more ranks than the cluster has devices.
  bool limitToCluster = false;
  /// A training step: replicas sum their gradients (tsr.replica_sum).
  bool training = false;
  /// A training step's forward and loss (a validation program): replicas sum
  /// what reduces over the batch, fused projections stay whole (as the step
  /// holds its weights); nothing else of training.
  bool evaluation = false;
  /// Training pipelines: activation recomputation (none, selective, full);
  /// empty: the fastest that fits the device.
  std::string recompute;
  /// Training: the ZeRO stage (optimizer state, gradients, parameters
  /// sharded over the dp replicas); -1: the fastest that fits the device.
  int64_t zero = 0;
  std::map<std::string, std::string> hints;
};

struct MeshCandidate {
  int64_t dp = 1, tp = 1, pp = 1, m = 1;
  std::string ruledOut; ///< why not, or empty
  mlir::ModuleOp replica; ///< the replica's module (batch / (dp x m))
  const partition::ShardingPlan *plan = nullptr;
  partition::PipelineStages stages;
  double seconds = 0; ///< predicted per batch
  /// Training: the replicas' all-reduce of the loss and the gradients
  /// (part of `seconds`).
  double gradientSeconds = 0;
  /// Training: the most bytes of values live at once on a rank while the
  /// step runs (activations kept for the backward pass, gradients, the
  /// optimizer's temporaries); counted with the weights against the cap.
  double activationBytes = 0;
  /// Ruled out because weights and activations exceed the device's memory.
  bool overMemory = false;
  /// Training with ZeRO: weights and optimizer state held per rank (-1: not
  /// sharded, see weightBytesPerRank).
  double shardedStateBytes = -1;
  /// Training pipelines: the recomputation chosen (none, selective, full).
  std::string recompute = "none";
  /// Training with dp > 1: the ZeRO stage chosen (or given).
  int64_t zero = 0;
  /// Weight bytes on the fullest rank (with training, the optimizer state).
  double weightBytesPerRank() const;
};

/// The most bytes of values (not weights) live at once on one rank while
/// `func` runs op by op in order, each value from the op that makes it to its
/// last use (results of the function to the end); a value the plan splits
/// counts its block. An estimate of the arena (the memory planner may reuse
/// more, views share their source's bytes).
double peakValueBytes(mlir::func::FuncOp func, const partition::ShardingPlan &plan);

class MeshSearch {
public:
  MeshSearch(mlir::ModuleOp global, const ClusterSpec &cluster, MeshSearchOptions options);

  /// Costs every candidate, logging one line each to `log` when there are
  /// several; returns the best, or null when every one is ruled out.
  const MeshCandidate *run(llvm::raw_ostream &log);
  const std::vector<MeshCandidate> &candidates() const { return candidates_; }
  /// Why each candidate was ruled out, as "error: mesh ...: why" lines.
  void printRuledOut(llvm::raw_ostream &os) const;
  /// The chosen plan and every alternative in order of predicted time, then
  /// the meshes ruled out and why (--explain).
  void explain(llvm::raw_ostream &os, const MeshCandidate &best) const;
  const CostModel &cost() const { return cost_; }
  double memoryCap() const { return memoryCap_; }

private:
  struct Replica {
    mlir::OwningOpRef<mlir::ModuleOp> module;
    std::string error;
  };
  struct Search {
    std::optional<partition::ShardingPlan> plan;
    std::string error;
  };
  /// The replica of batch / parts; `accumulate` > 1: a training step that
  /// runs that many of those parts one after the other (gradient
  /// accumulation), batch / (parts / accumulate) per replica.
  Replica &replicaFor(int64_t parts, int64_t tp, int64_t accumulate);
  Search &searchFor(int64_t parts, int64_t tp, bool pipelined, int64_t accumulate,
                    mlir::ModuleOp replica);
  void evaluate(MeshCandidate &c);
  void evaluateUnpipelined(MeshCandidate &c);
  bool evaluateTrainingPipeline(MeshCandidate &c, mlir::func::FuncOp func, size_t forwardEnd);

  mlir::ModuleOp global_;
  ClusterSpec cluster_;
  CostModel cost_;
  MeshSearchOptions options_;
  double memoryCap_;
  int64_t globalBatch_ = -1;
  /// By (batch parts, fused projections cut for tp > 1): the cut rewrites the
  /// function, so plans of other tp degrees must not share it.
  std::map<std::tuple<int64_t, bool, int64_t>, Replica> replicas_;
  std::map<std::tuple<int64_t, int64_t, bool, int64_t>, Search> searches_;
  std::vector<MeshCandidate> candidates_;
};

/// What tsr-partition-plan-mesh chose, beyond what the IR carries (the
/// mesh plan, the layouts): the predicted figures a driver prints and writes
/// into a package, and the cluster. `best.replica` is null (the module is
/// the replica now); `best.plan` points at `plan`, which holds the plan's
/// figures but no per-op maps.
struct MeshPlanReport {
  MeshPlanReport() = default;
  MeshPlanReport(const MeshPlanReport &) = delete;
  MeshPlanReport &operator=(const MeshPlanReport &) = delete;

  ClusterSpec cluster;
  MeshCandidate best;
  partition::ShardingPlan plan;
};

} // namespace tessera

#endif // TESSERA_PASSES_PARTITION_MESHSEARCH_H
