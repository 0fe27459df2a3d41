//===- ShardingSearchTest.cpp - the search against brute force ------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The integer program (with its eliminations) must find the same optimum as
// enumerating every assignment: on random problems, and on small tsr graphs
// under the real cost model.
//
//===----------------------------------------------------------------------===//

#include "passes/cost/ClusterSpec.h"
#include "passes/cost/CostModel.h"
#include "compiler/Registration.h"
#include "passes/partition/Partition.h"
#include "passes/partition/ShardingProblem.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace tessera;
using namespace tessera::partition;

namespace {

ShardingProblem randomProblem(std::mt19937 &rng) {
  std::uniform_int_distribution<int> nodes(2, 7), strategies(1, 4);
  std::uniform_real_distribution<double> cost(0, 1e-3), unit(0, 1);
  ShardingProblem p;
  int n = nodes(rng);
  for (int i = 0; i < n; ++i) {
    ShardingProblem::Node node;
    int k = strategies(rng);
    for (int s = 0; s < k; ++s) {
      node.time.push_back(cost(rng));
      node.memory.push_back(unit(rng) < 0.5 ? 100.0 : 50.0 * double(s));
    }
    p.nodes.push_back(node);
  }
  auto edge = [&](unsigned a, unsigned b) {
    ShardingProblem::Edge e;
    e.from = a;
    e.to = b;
    e.cost.assign(p.nodes[a].time.size(), std::vector<double>(p.nodes[b].time.size()));
    for (auto &row : e.cost)
      for (double &c : row)
        c = unit(rng) < 0.1 ? kInfeasible : cost(rng);
    p.edges.push_back(e);
  };
  for (int i = 1; i < n; ++i) // a chain, as layers are
    edge(unsigned(rng() % unsigned(i)), unsigned(i));
  for (int extra = int(rng() % 4); extra > 0; --extra) { // junctions, parallel edges
    unsigned a = unsigned(rng() % unsigned(n)), b = unsigned(rng() % unsigned(n));
    if (a != b)
      edge(a, b);
  }
  if (unit(rng) < 0.5)
    p.memoryCap = 100.0 * n * unit(rng) + 50;
  return p;
}

TEST(ShardingProblem, RandomProblemsMatchEnumeration) {
  std::mt19937 rng(1234);
  int feasible = 0;
  for (int trial = 0; trial < 300; ++trial) {
    ShardingProblem p = randomProblem(rng);
    std::string error;
    std::optional<ShardingSolution> ilp = solveSharding(p, error);
    std::optional<ShardingSolution> brute = solveShardingByEnumeration(p);
    ASSERT_EQ(bool(ilp), bool(brute)) << "trial " << trial << ": " << error;
    if (!brute)
      continue;
    ++feasible;
    EXPECT_NEAR(ilp->time, brute->time, 1e-12) << "trial " << trial;
    EXPECT_LE(ilp->memory, p.memoryCap * (1 + 1e-12)) << "trial " << trial;
  }
  EXPECT_GT(feasible, 100); // the test exercises real optima
}

/// A GPT-2-shaped block: LN, QKV projection split in three, attention over
/// heads, output projection, residual; LN, MLP up, GELU, MLP down, residual.
const char *kBlock = R"mlir(
func.func @main(%x: tensor<64x256xf32>) -> tensor<64x256xf32> {
  %g = tsr.weight "ln.weight" : tensor<256xf32>
  %b = tsr.weight "ln.bias" : tensor<256xf32>
  %n = tsr.layer_norm %x, %g, %b axis = 1 epsilon = 1.0e-05 : (tensor<64x256xf32>, tensor<256xf32>, tensor<256xf32>) -> tensor<64x256xf32>
  %w1 = tsr.weight "fc.weight" : tensor<256x1024xf32>
  %h = tsr.matmul %n, %w1 : (tensor<64x256xf32>, tensor<256x1024xf32>) -> tensor<64x1024xf32>
  %b1 = tsr.weight "fc.bias" : tensor<1024xf32>
  %hb = tsr.add %h, %b1 : (tensor<64x1024xf32>, tensor<1024xf32>) -> tensor<64x1024xf32>
  %a = tsr.gelu %hb approximate = tanh : tensor<64x1024xf32>
  %w2 = tsr.weight "proj.weight" : tensor<1024x256xf32>
  %y = tsr.matmul %a, %w2 : (tensor<64x1024xf32>, tensor<1024x256xf32>) -> tensor<64x256xf32>
  %b2 = tsr.weight "proj.bias" : tensor<256xf32>
  %yb = tsr.add %y, %b2 : (tensor<64x256xf32>, tensor<256xf32>) -> tensor<64x256xf32>
  %r = tsr.add %x, %yb : (tensor<64x256xf32>, tensor<64x256xf32>) -> tensor<64x256xf32>
  return %r : tensor<64x256xf32>
}
)mlir";

/// Attention over heads and the output projection (the QKV projections are
/// left out to keep enumeration small).
const char *kAttention = R"mlir(
func.func @main(%qt: tensor<2x4x16x16xf32>, %kt: tensor<2x4x16x16xf32>, %vt: tensor<2x4x16x16xf32>) -> tensor<2x16x64xf32> {
  %o = tsr.attention %qt, %kt, %vt causal scale = 0.25 : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  %ot = tsr.transpose %o perm = [0, 2, 1, 3] : tensor<2x4x16x16xf32> -> tensor<2x16x4x16xf32>
  %o3 = tsr.reshape %ot : tensor<2x16x4x16xf32> -> tensor<2x16x64xf32>
  %wo = tsr.weight "o.weight" : tensor<64x64xf32>
  %y = tsr.matmul %o3, %wo : (tensor<2x16x64xf32>, tensor<64x64xf32>) -> tensor<2x16x64xf32>
  %g = tsr.weight "ln.weight" : tensor<64xf32>
  %n = tsr.rms_norm %y, %g axis = 2 epsilon = 1.0e-05 : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  return %n : tensor<2x16x64xf32>
}
)mlir";

class SmallGraphs : public ::testing::TestWithParam<std::tuple<const char *, int, const char *>> {};

TEST_P(SmallGraphs, SearchMatchesEnumeration) {
  auto [source, tp, cluster] = GetParam();
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  ASSERT_TRUE(module);
  auto func = module->lookupSymbol<mlir::func::FuncOp>("main");
  llvm::Expected<ClusterSpec> spec = ClusterSpec::preset(cluster);
  ASSERT_TRUE(bool(spec));
  CostModel cost(*spec);
  for (bool split : {true, false}) {
    PartitionOptions options;
    options.tp = tp;
    options.splitWeights = split;
    mlir::FailureOr<ShardingPlan> ilp = searchSharding(func, cost, options);
    options.exhaustive = true;
    mlir::FailureOr<ShardingPlan> brute = searchSharding(func, cost, options);
    ASSERT_TRUE(mlir::succeeded(ilp));
    ASSERT_TRUE(mlir::succeeded(brute));
    EXPECT_NEAR(ilp->totalSeconds(), brute->totalSeconds(), 1e-12 + 1e-9 * brute->totalSeconds())
        << "tp=" << tp << " on " << cluster << (split ? " with" : " without")
        << " forced weight splits";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Blocks, SmallGraphs,
    ::testing::Combine(::testing::Values(kBlock, kAttention), ::testing::Values(2, 4),
                       ::testing::Values("cpu", "h100-nvlink-8")));

} // namespace
