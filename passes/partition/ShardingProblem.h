//===- ShardingProblem.h - choosing one strategy per op ---------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The combinatorial core of the sharding search, free of MLIR: every node
// (an op) picks one of its strategies; a node's strategy costs time and
// memory, and an edge between two nodes costs the resharding between the
// producer's chosen output layout and the consumer's required input layout.
// Minimise the total time with the memory per device under a cap.
//
// Solved exactly as an integer program (Alpa's formulation: binary x[node,
// strategy], continuous y[edge, s, t] tied to both ends by
// sum_t y[s,t] = x[u,s] and sum_s y[s,t] = x[v,t]) with COIN-OR CBC, after
// folding nodes with a single strategy into their neighbours. A brute-force
// enumeration checks it on small problems.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_PARTITION_SHARDINGPROBLEM_H
#define TESSERA_PASSES_PARTITION_SHARDINGPROBLEM_H

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace tessera::partition {

/// A cost that rules a combination out.
constexpr double kInfeasible = std::numeric_limits<double>::infinity();

struct ShardingProblem {
  struct Node {
    std::vector<double> time;   ///< seconds, per strategy
    std::vector<double> memory; ///< bytes per device, per strategy
  };
  struct Edge {
    unsigned from = 0, to = 0;
    /// cost[s][t]: seconds when `from` takes strategy s and `to` takes t.
    std::vector<std::vector<double>> cost;
  };
  std::vector<Node> nodes;
  std::vector<Edge> edges;
  double memoryCap = kInfeasible;

  /// Total time of `choice` (kInfeasible if a pair is ruled out or the
  /// memory cap is exceeded).
  double evaluate(const std::vector<unsigned> &choice) const;
};

struct ShardingSolution {
  std::vector<unsigned> choice; ///< strategy index per node
  double time = 0;
  double memory = 0;
  unsigned variables = 0, constraints = 0; ///< of the integer program
};

/// The optimum of `problem` by integer programming; nullopt with `error`
/// set when no assignment is feasible.
std::optional<ShardingSolution> solveSharding(const ShardingProblem &problem,
                                              std::string &error);

/// The optimum by enumerating every assignment (for tests; refuses more than
/// `limit` assignments).
std::optional<ShardingSolution> solveShardingByEnumeration(
    const ShardingProblem &problem, uint64_t limit = 50'000'000);

} // namespace tessera::partition

#endif // TESSERA_PASSES_PARTITION_SHARDINGPROBLEM_H
