//===- ShardingRules.h - how each tsr op can be split -----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Layouts over the tensor-parallel mesh axis and, per tsr op, the strategies
// it can run with: the layout each operand must have, the layout of each
// result, and the share of the op's work a rank does. Every op can run
// replicated; the rules add the splits that need no communication inside
// the op (batch, heads, Megatron column/row splits of matmuls, vocabulary
// splits of embedding tables, normalisations over unsplit axes) and the
// partial sums that linear ops pass through.
//
// Why not upstream's ShardingInterface: the search below decides every op's
// strategy with costs, so it needs the list of strategies per op, which the
// interface does not expose (its getShardingOption picks one from the
// neighbours' annotations); and our fused ops (attention with grouped
// heads, rotary) would need partition methods anyway. The partitioned IR
// uses upstream's `shard` dialect for the grid and the collectives.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_SHARDINGRULES_H
#define TESSERA_PASSES_PARTITION_SHARDINGRULES_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

#include <string>
#include <vector>

namespace tessera::partition {

/// A value's layout on the tensor-parallel axis: replicated, a partial sum
/// (each rank holds an addend), a partial maximum (each rank holds the
/// maximum over its block: a row maximum over a vocabulary-split logits
/// tensor), or split in equal blocks along dimension d.
using Layout = int;
constexpr Layout kReplicated = -1;
constexpr Layout kPartial = -2;
constexpr Layout kPartialMax = -3;

struct Strategy {
  std::vector<Layout> operands, results;
  double share = 1.0; ///< of the op's work that each rank does
  bool vocabParallel = false; ///< gather from a row-split table
};

struct RuleOptions {
  int64_t tp = 1;
  /// Weights of rank >= 2 must be split where a dimension divides by tp.
  bool splitWeights = true;
};

/// The strategies `op` can take (at least one: replicated).
std::vector<Strategy> strategiesFor(mlir::Operation *op, const RuleOptions &options);

/// The per-rank type of a value of type `global` in `layout`.
mlir::RankedTensorType localType(mlir::RankedTensorType global, Layout layout,
                                 int64_t tp);

/// "R", "P", "S0", ...
std::string layoutName(Layout layout);

/// The output dimension that a block split of input dimension `dim` becomes
/// through a reshape from `in` to `out`, or -1 when it does not survive.
int mapSplitThroughReshape(llvm::ArrayRef<int64_t> in, llvm::ArrayRef<int64_t> out,
                           int dim, int64_t tp);

/// A slice cloned onto local shapes keeps its global limits; one that takes
/// the whole range of the dimension its result is split along (`layout`)
/// must take the whole local block instead.
void coverSplitSlice(mlir::Operation *slice, Layout layout);

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_SHARDINGRULES_H
