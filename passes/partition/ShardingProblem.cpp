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
#include <set>
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

/// Exact variable elimination of nodes with at most two neighbours whose
/// memory does not depend on their strategy (views, elementwise ops,
/// weights whose every layout is split): a leaf's best strategy per
/// neighbour strategy becomes a cost of the neighbour, a chain node's best
/// per pair of neighbour strategies an edge between them (min-plus product).
/// Transformer layers are mostly chains, so the integer program that is
/// left holds the residual junctions only. `order` records the eliminations
/// for reconstructing their choices.
struct Elimination {
  unsigned node, u = 0, w = 0;
  unsigned neighbours = 0;
  size_t wSize = 1;
  std::vector<unsigned> best; ///< by u's strategy (x w's strategy)
};

void eliminate(Reduced &r, std::vector<bool> &gone, std::vector<Elimination> &order,
               bool ignoreMemory) {
  size_t n = r.free.size();
  std::vector<std::set<unsigned>> adj(n);
  for (auto &[key, cost] : r.edges) {
    adj[key.first].insert(key.second);
    adj[key.second].insert(key.first);
  }
  // cost(a, b)[s][t] with a's strategy s and b's t, whichever way it is stored.
  auto cost = [&](unsigned a, unsigned b, size_t s, size_t t) {
    return a < b ? r.edges[{a, b}][s][t] : r.edges[{b, a}][t][s];
  };
  auto uniform = [&](unsigned v) {
    for (double m : r.memory[v])
      if (m != r.memory[v][0])
        return false;
    return true;
  };
  std::vector<unsigned> work;
  for (unsigned v = 0; v < n; ++v)
    work.push_back(v);
  while (!work.empty()) {
    unsigned v = work.back();
    work.pop_back();
    if (gone[v] || adj[v].size() > 2 || (!ignoreMemory && !uniform(v)))
      continue;
    Elimination e;
    e.node = v;
    e.neighbours = unsigned(adj[v].size());
    size_t sv = r.time[v].size();
    if (e.neighbours == 0) {
      unsigned best = 0;
      for (unsigned t = 1; t < sv; ++t)
        if (r.time[v][t] < r.time[v][best])
          best = t;
      r.fixedTime += r.time[v][best];
      e.best = {best};
    } else if (e.neighbours == 1) {
      unsigned u = *adj[v].begin();
      e.u = u;
      for (size_t s = 0; s < r.time[u].size(); ++s) {
        double bestCost = kInfeasible;
        unsigned best = 0;
        for (unsigned t = 0; t < sv; ++t) {
          double c = r.time[v][t] + cost(u, v, s, t);
          if (c < bestCost) {
            bestCost = c;
            best = t;
          }
        }
        r.time[u][s] += bestCost;
        e.best.push_back(best);
      }
      r.edges.erase(u < v ? std::make_pair(u, v) : std::make_pair(v, u));
      adj[u].erase(v);
      work.push_back(u);
    } else {
      unsigned u = *adj[v].begin(), w = *std::next(adj[v].begin());
      e.u = u;
      e.w = w;
      e.wSize = r.time[w].size();
      std::vector<std::vector<double>> through(r.time[u].size(),
                                               std::vector<double>(e.wSize));
      e.best.assign(r.time[u].size() * e.wSize, 0);
      for (size_t s = 0; s < r.time[u].size(); ++s)
        for (size_t q = 0; q < e.wSize; ++q) {
          double bestCost = kInfeasible;
          unsigned best = 0;
          for (unsigned t = 0; t < sv; ++t) {
            double c = cost(u, v, s, t) + r.time[v][t] + cost(v, w, t, q);
            if (c < bestCost) {
              bestCost = c;
              best = t;
            }
          }
          through[s][q] = bestCost;
          e.best[s * e.wSize + q] = best;
        }
      r.edges.erase(u < v ? std::make_pair(u, v) : std::make_pair(v, u));
      r.edges.erase(w < v ? std::make_pair(w, v) : std::make_pair(v, w));
      adj[u].erase(v);
      adj[w].erase(v);
      // Merge into an existing u-w edge, stored from the lower index.
      unsigned a = std::min(u, w), b = std::max(u, w);
      auto &edge = r.edges[{a, b}];
      if (edge.empty())
        edge.assign(r.time[a].size(), std::vector<double>(r.time[b].size(), 0.0));
      for (size_t s = 0; s < r.time[u].size(); ++s)
        for (size_t q = 0; q < e.wSize; ++q)
          (u < w ? edge[s][q] : edge[q][s]) += through[s][q];
      adj[u].insert(w);
      adj[w].insert(u);
      work.push_back(u);
      work.push_back(w);
    }
    r.fixedMemory += r.memory[v][0];
    gone[v] = true;
    adj[v].clear();
    order.push_back(std::move(e));
  }
}


/// The optimum, or without the memory cap when `ignoreMemory` (then every
/// node of degree <= 2 can be eliminated, whatever its memory).
std::optional<ShardingSolution> solve(const ShardingProblem &problem, std::string &error,
                                      bool ignoreMemory) {
  Reduced r = reduce(problem);
  ShardingSolution solution;
  solution.choice.assign(problem.nodes.size(), 0);
  std::vector<bool> gone(r.free.size(), false);
  std::vector<Elimination> order;
  eliminate(r, gone, order, ignoreMemory);

  // Columns: x[node][s] (binary), then y[edge][s][t] (continuous [0, 1]).
  std::vector<double> objective, lower, upper;
  std::vector<std::vector<int>> xColumn(r.free.size());
  for (size_t n = 0; n < r.free.size(); ++n)
    for (double t : gone[n] ? std::vector<double>() : r.time[n]) {
      xColumn[n].push_back(int(objective.size()));
      bool ok = std::isfinite(t);
      objective.push_back(ok ? t * kScale : 0.0);
      lower.push_back(0.0);
      upper.push_back(ok ? 1.0 : 0.0);
    }
  unsigned integers = unsigned(objective.size());
  // The constraint matrix as triplets, built once at the end (appending row
  // by row reallocates it each time: quadratic on a large model's graph).
  std::vector<int> tripletRows, tripletCols;
  std::vector<double> tripletValues;
  std::vector<double> rowLower, rowUpper;
  auto addRow = [&](const std::vector<int> &cols, const std::vector<double> &coefs,
                    double lo, double hi) {
    for (size_t k = 0; k < cols.size(); ++k) {
      tripletRows.push_back(int(rowLower.size()));
      tripletCols.push_back(cols[k]);
      tripletValues.push_back(coefs[k]);
    }
    rowLower.push_back(lo);
    rowUpper.push_back(hi);
  };
  // One strategy per node.
  for (size_t n = 0; n < r.free.size(); ++n)
    if (!gone[n])
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
  if (std::isfinite(problem.memoryCap) && !ignoreMemory) {
    std::vector<int> c;
    std::vector<double> v;
    for (size_t n = 0; n < r.free.size(); ++n)
      for (size_t s = 0; !gone[n] && s < r.memory[n].size(); ++s)
        if (r.memory[n][s] != 0) {
          c.push_back(xColumn[n][s]);
          v.push_back(r.memory[n][s]);
        }
    addRow(c, v, -1e300, problem.memoryCap - r.fixedMemory);
  }
  solution.variables = unsigned(objective.size());
  solution.constraints = unsigned(rowLower.size());

  if (!std::isfinite(r.fixedTime) ||
      (!ignoreMemory && std::isfinite(problem.memoryCap) &&
       r.fixedMemory > problem.memoryCap)) {
    error = "the fixed parts of the graph are infeasible (memory or layout)";
    return std::nullopt;
  }
  // Choices of eliminated nodes, latest elimination first.
  auto reconstruct = [&](std::vector<unsigned> &reduced) {
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      if (it->neighbours == 0)
        reduced[it->node] = it->best[0];
      else if (it->neighbours == 1)
        reduced[it->node] = it->best[reduced[it->u]];
      else
        reduced[it->node] = it->best[reduced[it->u] * it->wSize + reduced[it->w]];
    }
    for (size_t n = 0; n < r.free.size(); ++n)
      solution.choice[r.free[n]] = reduced[n];
  };
  size_t live = 0;
  for (size_t n = 0; n < r.free.size(); ++n)
    live += !gone[n];
  if (live == 0) {
    std::vector<unsigned> reduced(r.free.size(), 0);
    reconstruct(reduced);
    solution.time = problem.evaluate(solution.choice);
    for (size_t n = 0; n < problem.nodes.size(); ++n)
      solution.memory += problem.nodes[n].memory[solution.choice[n]];
    if (!std::isfinite(solution.time)) {
      error = "no sharding fits the memory cap or the layouts";
      return std::nullopt;
    }
    return solution;
  }
  if (r.free.empty()) {
    solution.time = problem.evaluate(solution.choice);
    for (size_t n = 0; n < problem.nodes.size(); ++n)
      solution.memory += problem.nodes[n].memory[0];
    return solution;
  }

  CoinPackedMatrix matrix(false, tripletRows.data(), tripletCols.data(), tripletValues.data(),
                          CoinBigIndex(tripletValues.size()));
  matrix.setDimensions(int(rowLower.size()), int(objective.size()));
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
  std::vector<unsigned> reduced(r.free.size(), 0);
  for (size_t n = 0; n < r.free.size(); ++n)
    for (size_t s = 0; s < xColumn[n].size(); ++s)
      if (best[xColumn[n][s]] > 0.5)
        reduced[n] = unsigned(s);
  reconstruct(reduced);
  solution.time = problem.evaluate(solution.choice);
  for (size_t n = 0; n < problem.nodes.size(); ++n)
    solution.memory += problem.nodes[n].memory[solution.choice[n]];
  return solution;
}

} // namespace

std::optional<ShardingSolution>
tessera::partition::solveSharding(const ShardingProblem &problem, std::string &error) {
  // Most plans fit: solve without the cap first, where elimination takes
  // every chain; the optimum of the relaxation is the optimum when it fits.
  std::optional<ShardingSolution> free = solve(problem, error, /*ignoreMemory=*/true);
  if (free && free->memory <= problem.memoryCap * (1 + 1e-12))
    return free;
  if (!std::isfinite(problem.memoryCap))
    return free;
  return solve(problem, error, /*ignoreMemory=*/false);
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
