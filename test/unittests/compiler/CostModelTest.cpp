//===- CostModelTest.cpp - cluster specs and the cost model ---------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/cost/ClusterSpec.h"
#include "passes/cost/CostModel.h"
#include "compiler/Registration.h"
#include "dialects/tsr/IR/TsrOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace tessera;

namespace {

ClusterSpec preset(llvm::StringRef name) {
  llvm::Expected<ClusterSpec> spec = ClusterSpec::preset(name);
  EXPECT_TRUE(bool(spec)) << llvm::toString(spec.takeError());
  return spec ? *spec : ClusterSpec();
}

std::string errorOf(llvm::Expected<ClusterSpec> spec) {
  if (spec)
    return "";
  return llvm::toString(spec.takeError());
}

TEST(ClusterSpec, Presets) {
  ClusterSpec h100 = preset("h100-nvlink-8");
  EXPECT_EQ(h100.devices(), 8);
  EXPECT_DOUBLE_EQ(h100.device.peak("bf16"), 989e12);
  EXPECT_DOUBLE_EQ(h100.device.peak("f32"), 67e12);
  EXPECT_DOUBLE_EQ(h100.device.peak("fp8"), 67e12) << "unknown types fall back to f32";
  EXPECT_DOUBLE_EQ(h100.intraNode.bandwidth, 450e9);
  EXPECT_DOUBLE_EQ(h100.device.memoryBytes, 80e9);
  ClusterSpec ib = preset("h100-ib-512");
  EXPECT_EQ(ib.nodes, 64);
  EXPECT_EQ(ib.devices(), 512);
  EXPECT_DOUBLE_EQ(ib.interNode.bandwidth, 50e9);
  EXPECT_EQ(preset("a100-nvlink-8").device.peak("bf16"), 312e12);
  EXPECT_EQ(preset("cpu").devices(), 2);
  // Megatron-LM's Selene: A100 80GB nodes of 8, one 200 Gb/s HDR port per GPU.
  ClusterSpec selene = preset("a100-ib-3072");
  EXPECT_EQ(selene.name, "a100-ib-3072");
  EXPECT_EQ(selene.nodes, 384);
  EXPECT_EQ(selene.devices(), 3072);
  EXPECT_DOUBLE_EQ(selene.device.peak("bf16"), 312e12);
  EXPECT_DOUBLE_EQ(selene.interNode.bandwidth, 25e9);
}

TEST(ClusterSpec, BadPresetsAndFieldsAreNamed) {
  EXPECT_EQ(errorOf(ClusterSpec::preset("h100-ib-12")),
            "h100-ib-N needs N a multiple of 8 (8 GPUs per node)");
  EXPECT_EQ(errorOf(ClusterSpec::preset("a100-ib-4")),
            "a100-ib-N needs N a multiple of 8 (8 GPUs per node)");
  EXPECT_NE(errorOf(ClusterSpec::preset("tpu")).find(
                "unknown cluster preset 'tpu' (presets: cpu, a100-nvlink-8"),
            std::string::npos);
  EXPECT_NE(errorOf(ClusterSpec::fromJSON("{nope")).find("not valid JSON"),
            std::string::npos);
  EXPECT_EQ(errorOf(ClusterSpec::fromJSON(R"({"devices_per_node": 2})")),
            "cluster.device is missing");
  EXPECT_EQ(errorOf(ClusterSpec::fromJSON(R"({"devices_per_node": 2,
      "device": {"memory_bandwidth_gbps": 1, "peak_tflops": {"f32": 1}},
      "intra_node": {"bandwidth_gbps": 1, "latency_us": 1}})")),
            "device.memory_gb is missing or not a number");
  EXPECT_EQ(errorOf(ClusterSpec::fromJSON(R"({"devices_per_node": 2,
      "device": {"memory_gb": 1, "memory_bandwidth_gbps": 1, "peak_tflops": {"f32": -1}},
      "intra_node": {"bandwidth_gbps": 1, "latency_us": 1}})")),
            "device.peak_tflops.f32 must be a positive number");
  EXPECT_EQ(errorOf(ClusterSpec::fromJSON(R"({"nodes": 2, "devices_per_node": 2,
      "device": {"memory_gb": 1, "memory_bandwidth_gbps": 1, "peak_tflops": {"f32": 1}},
      "intra_node": {"bandwidth_gbps": 1, "latency_us": 1}})")),
            "cluster.inter_node is missing");
}

TEST(ClusterSpec, JSONRoundTrips) {
  ClusterSpec a = preset("a100-nvlink-8");
  llvm::Expected<ClusterSpec> b = ClusterSpec::fromJSON(a.toJSON());
  ASSERT_TRUE(bool(b)) << llvm::toString(b.takeError());
  EXPECT_EQ(b->name, a.name);
  EXPECT_DOUBLE_EQ(b->device.peak("tf32"), a.device.peak("tf32"));
  EXPECT_DOUBLE_EQ(b->interNode.latency, a.interNode.latency);
}

TEST(CostModel, CollectivesFollowTheRingModel) {
  CostModel model(preset("h100-nvlink-8"));
  EXPECT_DOUBLE_EQ(CostModel::busFactor(Collective::AllReduce, 8), 2.0 * 7 / 8);
  EXPECT_DOUBLE_EQ(CostModel::busFactor(Collective::AllGather, 4), 0.75);
  // 1 GB all-reduce over 8 GPUs: a launch, 14 latency steps + 1.75 GB over
  // 450 GB/s.
  EXPECT_NEAR(model.collectiveSeconds(Collective::AllReduce, 1e9, 8, false),
              5e-6 + 14 * 3e-6 + 1.75e9 / 450e9, 1e-12);
  // Across nodes the InfiniBand link is the bottleneck.
  EXPECT_NEAR(model.collectiveSeconds(Collective::AllGather, 1e9, 16, true),
              5e-6 + 15 * 8e-6 + 1e9 * 15 / 16 / 50e9, 1e-12);
  EXPECT_EQ(model.collectiveSeconds(Collective::AllReduce, 1e9, 1, false), 0);
}

TEST(CostModel, RooflineOfAMatmul) {
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  mlir::OpBuilder b(&context);
  auto loc = b.getUnknownLoc();
  auto module = mlir::ModuleOp::create(loc);
  b.setInsertionPointToEnd(module.getBody());
  auto type = [&](llvm::ArrayRef<int64_t> s) {
    return mlir::RankedTensorType::get(s, b.getF32Type());
  };
  mlir::Value x = mlir::tsr::WeightOp::create(b, loc, type({8, 128, 768}), "x");
  mlir::Value w = mlir::tsr::WeightOp::create(b, loc, type({768, 3072}), "w");
  auto mm = mlir::tsr::MatmulOp::create(b, loc, x, w, false, false);
  OpWork work = workOf(mm);
  EXPECT_DOUBLE_EQ(work.flops, 2.0 * 8 * 128 * 3072 * 768);
  EXPECT_DOUBLE_EQ(work.bytes, 4.0 * (8 * 128 * 768 + 768 * 3072 + 8 * 128 * 3072));
  CostModel model(preset("h100-nvlink-8"));
  // Compute-bound at f32: FLOPs / (67 TF * 0.7).
  EXPECT_NEAR(model.computeSeconds(work, "f32"), work.flops / (67e12 * 0.7), 1e-15);
  // The roofline takes the larger of the compute and memory terms.
  double bf16 = model.computeSeconds(work, "bf16");
  EXPECT_DOUBLE_EQ(bf16, std::max(work.flops / (989e12 * 0.7), work.bytes / 3350e9));
  EXPECT_EQ(workOf(mlir::tsr::ReshapeOp::create(b, loc, type({1024, 768}), x)).flops, 0);
  module.erase();
}

} // namespace
