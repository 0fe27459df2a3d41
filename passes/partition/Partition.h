//===- Partition.h - tensor-parallel search and SPMD programs ---*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The partitioner of one data-parallel replica: given a tsr function (already
// specialised to the replica's batch) and a tensor-parallel degree tp, it
// searches a strategy for every op (ShardingRules) minimising the cost
// model's time (compute + resharding collectives) under the device's memory,
// then writes the SPMD program of each tp rank: local shapes, weight blocks,
// and `shard` collectives (all_reduce / all_gather / reduce_scatter on the
// grid's tp axis) where layouts change.
//
// The mesh is dp x tp with tp innermost: rank = d * tp + t.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_PARTITION_H
#define TESSERA_PASSES_PARTITION_PARTITION_H

#include "passes/cost/CostModel.h"
#include "passes/partition/ShardingRules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/DenseMap.h"

#include <map>
#include <string>

namespace tessera::partition {

struct PartitionOptions {
  int64_t dp = 1, tp = 1;
  /// Weight matrices must be split wherever a dimension divides by tp.
  bool splitWeights = true;
  /// Layout hints by weight name: "R", "S0", "S1", ...
  std::map<std::string, std::string> hints;
  /// Memory per device for weights (bytes); infinity for no cap.
  double memoryCap = std::numeric_limits<double>::infinity();
  /// Enumerate every assignment instead of solving the integer program
  /// (tests; small graphs only).
  bool exhaustive = false;
};

struct ShardingPlan {
  int64_t dp = 1, tp = 1;
  /// The grid of the SPMD programs and its tensor-parallel axis: [dp, tp]
  /// and 1, or [dp, pp, tp] and 2 for pipeline stages.
  std::vector<int64_t> grid;
  int16_t tpAxis = 1;
  /// Seconds of each op (its compute and the resharding it feeds or needs)
  /// and weight bytes per rank, for slicing pipelines.
  llvm::DenseMap<mlir::Operation *, double> opSeconds, opWeightBytes;
  /// The chosen strategy of every op of the function.
  llvm::DenseMap<mlir::Operation *, Strategy> chosen;
  double computeSeconds = 0, commSeconds = 0;
  double weightBytesPerRank = 0;
  unsigned variables = 0, constraints = 0, ops = 0;
  double searchSeconds = 0;
  double totalSeconds() const { return computeSeconds + commSeconds; }
};

/// Splits `split`s of a matmul's columns (GPT-2's fused QKV projection,
/// Falcon's) into one matmul per piece on blocks of the weight, so that each
/// piece can be split by heads. Returns the number rewritten.
unsigned splitFusedProjections(mlir::func::FuncOp func);

/// Searches the strategy of every op of `func` for `options.tp` ranks.
mlir::FailureOr<ShardingPlan> searchSharding(mlir::func::FuncOp func,
                                             const CostModel &cost,
                                             const PartitionOptions &options);

/// The SPMD module of tensor-parallel rank `tpRank` (0 <= tpRank < tp):
/// a `shard.grid @mesh` of shape [dp, tp] and `main` with local shapes.
mlir::OwningOpRef<mlir::ModuleOp> partitionForRank(mlir::func::FuncOp func,
                                                   const ShardingPlan &plan,
                                                   int64_t tpRank);

/// Fails, naming the hint, when a weight-layout hint (NAME or glob pattern =
/// LAYOUT) names no weight of `op`'s functions: a misspelt name would
/// otherwise leave the search free.
mlir::LogicalResult checkHintsNameWeights(mlir::Operation *op,
                                          const std::map<std::string, std::string> &hints);

/// Writes `plan` onto `func`'s IR: every op gets a `tsr.sharding` attribute
/// (`#tsr.sharding<operands = [...], results = [...], seconds, weight_bytes,
/// share, vocab_parallel>`) and the function a `tsr.plan` dictionary (grid, tp axis, predicted times, weight bytes per rank), so that
/// the choice can be printed, tested and partitioned by a later pass.
void annotateSharding(mlir::func::FuncOp func, const ShardingPlan &plan);

/// The plan `annotateSharding` wrote on `func`; fails naming the op whose
/// annotation is missing or malformed.
mlir::FailureOr<ShardingPlan> readSharding(mlir::func::FuncOp func);

/// Removes the annotations of `annotateSharding` (the partitioned program
/// does not carry them).
void clearSharding(mlir::func::FuncOp func);

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_PARTITION_H
