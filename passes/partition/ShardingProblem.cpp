//===- ShardingProblem.cpp - choosing one strategy per op -----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/partition/ShardingProblem.h"

#include "CbcModel.hpp"
#include "CoinPackedMatrix.hpp"
#include "OsiClpSolverInterface.hpp"

#include <cmath>
#include <map>
#include <utility>

using namespace tessera::partition;

double ShardingProblem::evaluate(const std::vector<unsigned> &choice) const {
  double time = 0, memory = 0;
  for (size_t n = 0; n < nodes.size(); ++n) {
    time += nodes[n].time[choice[n]];
    memory += nodes[n].memory[choice[n]];
  }
  for (const Edge &e : edges)
    time += e.cost[choice[e.from]][choice[e.to]];
  if (memory > memoryCap * (1 + 1e-12))
    return kInfeasible;
  return time;
}

namespace {

/// Costs are seconds; the solver sees microseconds, so that its absolute
/// tolerances (about 1e-6) are far below the differences that matter.
constexpr double kScale = 1e6;

/// A problem reduced to the nodes with a choice: single-strategy nodes are
/// folded into their neighbours' costs; parallel edges merged.
struct Reduced {
  std::vector<unsigned> free;        ///< original node of each reduced node
  std::vector<int> index;            ///< reduced index of each original node, -1
  std::vector<std::vector<double>> time, memory;
  std::map<std::pair<unsigned, unsigned>, std::vector<std::vector<double>>> edges;
  double fixedTime = 0, fixedMemory = 0;
};

Reduced reduce(const ShardingProblem &p) {
  Reduced r;
  r.index.assign(p.nodes.size(), -1);
  for (size_t n = 0; n < p.nodes.size(); ++n) {
    if (p.nodes[n].time.size() == 1) {
      r.fixedTime += p.nodes[n].time[0];
      r.fixedMemory += p.nodes[n].memory[0];
      continue;
    }
    r.index[n] = int(r.free.size());
    r.free.push_back(unsigned(n));
    r.time.push_back(p.nodes[n].time);
    r.memory.push_back(p.nodes[n].memory);
  }
  for (const ShardingProblem::Edge &e : p.edges) {
    int a = r.index[e.from], b = r.index[e.to];
    if (a < 0 && b < 0) {
      r.fixedTime += e.cost[0][0];
    } else if (a < 0) {
      for (size_t t = 0; t < e.cost[0].size(); ++t)
        r.time[size_t(b)][t] += e.cost[0][t];
    } else if (b < 0) {
      for (size_t s = 0; s < e.cost.size(); ++s)
        r.time[size_t(a)][s] += e.cost[s][0];
    } else if (a == b) {
      for (size_t s = 0; s < e.cost.size(); ++s)
        r.time[size_t(a)][s] += e.cost[s][s];
    } else {
      // Keep edges oriented from the lower reduced index.
      bool flip = a > b;
      auto key = flip ? std::make_pair(unsigned(b), unsigned(a))
                      : std::make_pair(unsigned(a), unsigned(b));
      size_t rows = p.nodes[flip ? e.to : e.from].time.size();
      size_t cols = p.nodes[flip ? e.from : e.to].time.size();
      auto &cost = r.edges[key];
      if (cost.empty())
        cost.assign(rows, std::vector<double>(cols, 0.0));
      for (size_t s = 0; s < e.cost.size(); ++s)
        for (size_t t = 0; t < e.cost[s].size(); ++t)
          cost[flip ? t : s][flip ? s : t] += e.cost[s][t];
    }
  }
  return r;
}

} // namespace

std::optional<ShardingSolution>
tessera::partition::solveSharding(const ShardingProblem &problem, std::string &error) {
  Reduced r = reduce(problem);
  ShardingSolution solution;
  solution.choice.assign(problem.nodes.size(), 0);

  // Columns: x[node][s] (binary), then y[edge][s][t] (continuous [0, 1]).
  std::vector<double> objective, lower, upper;
  std::vector<std::vector<int>> xColumn(r.free.size());
  for (size_t n = 0; n < r.free.size(); ++n)
    for (double t : r.time[n]) {
      xColumn[n].push_back(int(objective.size()));
      bool ok = std::isfinite(t);
      objective.push_back(ok ? t * kScale : 0.0);
      lower.push_back(0.0);
      upper.push_back(ok ? 1.0 : 0.0);
    }
  unsigned integers = unsigned(objective.size());
  CoinPackedMatrix matrix(false, 0, 0);
  std::vector<double> rowLower, rowUpper;
  auto addRow = [&](const std::vector<int> &cols, const std::vector<double> &coefs,
                    double lo, double hi) {
    matrix.appendRow(int(cols.size()), cols.data(), coefs.data());
    rowLower.push_back(lo);
    rowUpper.push_back(hi);
  };
  // One strategy per node.
  for (size_t n = 0; n < r.free.size(); ++n)
    addRow(xColumn[n], std::vector<double>(xColumn[n].size(), 1.0), 1.0, 1.0);
  for (auto &[key, cost] : r.edges) {
    auto [a, b] = key;
    size_t rows = cost.size(), cols = cost[0].size();
    std::vector<std::vector<int>> y(rows, std::vector<int>(cols));
    for (size_t s = 0; s < rows; ++s)
      for (size_t t = 0; t < cols; ++t) {
        y[s][t] = int(objective.size());
        bool ok = std::isfinite(cost[s][t]);
        objective.push_back(ok ? cost[s][t] * kScale : 0.0);
        lower.push_back(0.0);
        upper.push_back(ok ? 1.0 : 0.0);
      }
    for (size_t s = 0; s < rows; ++s) { // sum_t y[s][t] = x[a][s]
      std::vector<int> c(y[s]);
      std::vector<double> v(cols, 1.0);
      c.push_back(xColumn[a][s]);
      v.push_back(-1.0);
      addRow(c, v, 0.0, 0.0);
    }
    for (size_t t = 0; t < cols; ++t) { // sum_s y[s][t] = x[b][t]
      std::vector<int> c;
      std::vector<double> v(rows, 1.0);
      for (size_t s = 0; s < rows; ++s)
        c.push_back(y[s][t]);
      c.push_back(xColumn[b][t]);
      v.push_back(-1.0);
      addRow(c, v, 0.0, 0.0);
    }
  }
  if (std::isfinite(problem.memoryCap)) {
    std::vector<int> c;
    std::vector<double> v;
    for (size_t n = 0; n < r.free.size(); ++n)
      for (size_t s = 0; s < r.memory[n].size(); ++s)
        if (r.memory[n][s] != 0) {
          c.push_back(xColumn[n][s]);
          v.push_back(r.memory[n][s]);
        }
    addRow(c, v, -1e300, problem.memoryCap - r.fixedMemory);
  }
  solution.variables = unsigned(objective.size());
  solution.constraints = unsigned(rowLower.size());

  if (!std::isfinite(r.fixedTime) ||
      (std::isfinite(problem.memoryCap) && r.fixedMemory > problem.memoryCap)) {
    error = "the fixed parts of the graph are infeasible (memory or layout)";
    return std::nullopt;
  }
  if (r.free.empty()) {
    solution.time = problem.evaluate(solution.choice);
    for (size_t n = 0; n < problem.nodes.size(); ++n)
      solution.memory += problem.nodes[n].memory[0];
    return solution;
  }

  OsiClpSolverInterface solver;
  solver.messageHandler()->setLogLevel(0);
  solver.loadProblem(matrix, lower.data(), upper.data(), objective.data(),
                     rowLower.data(), rowUpper.data());
  for (unsigned i = 0; i < integers; ++i)
    solver.setInteger(int(i));
  CbcModel model(solver);
  model.setLogLevel(0);
  model.messageHandler()->setLogLevel(0);
  // Costs are in seconds; stop only at a proven optimum.
  model.setAllowableGap(0.0);
  model.setAllowableFractionGap(0.0);
  model.setAllowablePercentageGap(0.0);
  model.branchAndBound();
  const double *best = model.bestSolution();
  if (!best || !model.isProvenOptimal()) {
    error = model.isProvenInfeasible()
                ? "no sharding fits: every assignment exceeds the memory cap or "
                  "needs an impossible layout change"
                : "the integer program stopped without a proven optimum";
    return std::nullopt;
  }
  for (size_t n = 0; n < r.free.size(); ++n) {
    unsigned pick = 0;
    for (size_t s = 0; s < xColumn[n].size(); ++s)
      if (best[xColumn[n][s]] > 0.5)
        pick = unsigned(s);
    solution.choice[r.free[n]] = pick;
  }
  solution.time = problem.evaluate(solution.choice);
  for (size_t n = 0; n < problem.nodes.size(); ++n)
    solution.memory += problem.nodes[n].memory[solution.choice[n]];
  return solution;
}

std::optional<ShardingSolution>
tessera::partition::solveShardingByEnumeration(const ShardingProblem &problem,
                                               uint64_t limit) {
  uint64_t total = 1;
  for (const auto &n : problem.nodes) {
    total *= n.time.size();
    if (total > limit)
      return std::nullopt;
  }
  std::vector<unsigned> choice(problem.nodes.size(), 0);
  std::optional<ShardingSolution> best;
  for (uint64_t k = 0; k < total; ++k) {
    double t = problem.evaluate(choice);
    if (std::isfinite(t) && (!best || t < best->time)) {
      best = ShardingSolution();
      best->choice = choice;
      best->time = t;
    }
    for (size_t n = 0; n < choice.size(); ++n) { // next assignment
      if (++choice[n] < problem.nodes[n].time.size())
        break;
      choice[n] = 0;
    }
  }
  if (best)
    for (size_t n = 0; n < problem.nodes.size(); ++n)
      best->memory += problem.nodes[n].memory[best->choice[n]];
  return best;
}
