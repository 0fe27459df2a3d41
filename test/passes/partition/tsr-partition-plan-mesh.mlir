// RUN: tessera-opt %s --tsr-partition-plan-mesh="dp=2 tp=2 pp=1" | FileCheck %s
// RUN: tessera-opt %s --tsr-partition-plan-mesh="devices=4 cluster=h100-nvlink-8 explain=true" 2>/dev/null | FileCheck %s --check-prefix=EXPLAIN
// RUN: tessera-opt %s --pass-pipeline="builtin.module(tsr-partition-plan-mesh{dp=2 tp=2 pp=1}, tsr-partition-ranks, builtin.module(tsr-partition-spmd), tsr-partition-select-rank{rank=3})" | FileCheck %s --check-prefix=RANK
// RUN: not tessera-opt %s --tsr-partition-plan-mesh="dp=3 tp=1 pp=1" 2>&1 | FileCheck %s --check-prefix=SPLIT
// RUN: not tessera-opt %s --pass-pipeline="builtin.module(tsr-partition-plan-mesh{tp=2}, tsr-partition-ranks, builtin.module(tsr-partition-spmd), tsr-partition-select-rank{rank=2})" 2>&1 | FileCheck %s --check-prefix=NORANK
// RUN: not tessera-opt %s --tsr-partition-select-rank=rank=0 2>&1 | FileCheck %s --check-prefix=UNPLANNED

// Tests the mesh search as a pass on a Megatron MLP of batch 8: the module
// becomes the chosen replica (batch 8 / dp = 4), every op annotated with its
// layout, and carries the plan (#tsr.mesh_plan) and the cluster (its JSON)
// for the passes after it; no cluster named: this machine's CPU cores, at
// least as many as the mesh needs (4; more on a machine of more cores).
// CHECK: module attributes {tsr.cluster = "{{.*}}\22devices_per_node\22:{{([4-9]|[1-9][0-9]+)}},{{.*}}\22name\22:\22cpu\22{{.*}}", tsr.mesh_plan = #tsr.mesh_plan<dp = 2, tp = 2, pp = 1, microbatches = 1, accumulated = 1, zero = 0, recompute = "none">, tsr.model = "mlp"}
// CHECK: func.func @main(%{{.*}}: tensor<4x64xf32> {tsr.name = "x"}) -> (tensor<4x64xf32> {tsr.name = "y"}) attributes {tsr.plan = {{{.*}}grid = array<i64: 2, 2>{{.*}}tp = 2
// CHECK: tsr.weight "fc1" {tsr.sharding = #tsr.sharding<operands = [], results = [S1]

// Searching 4 devices on a named cluster: the alternatives by predicted time.
// EXPLAIN: mesh (dp x tp x pp / m)
// EXPLAIN: chosen
// EXPLAIN: memory cap per device: {{.*}} of weights (90% of H100
// EXPLAIN: tsr.cluster = "{\22device\22:{{.*}}\22name\22:\22h100-nvlink-8\22

// Then the ranks: rank 3 = replica 1's tensor-parallel index 1.
// RANK: module @tp1 attributes {{{.*}}tsr.tp_rank = 1 : i64} {
// RANK: shard.grid @mesh(shape = 2x2)
// RANK: func.func @main(%{{.*}}: tensor<4x64xf32> {tsr.name = "x"})
// RANK: tsr.weight "fc1" offsets = [0, 128] : tensor<64x128xf32>

// SPLIT: error: mesh dp=3 tp=1: input {{.*}} does not split 3 ways
// NORANK: error: rank 2 is not a rank of the 2-rank mesh
// UNPLANNED: error: no 'tsr.mesh_plan': plan the module first (tsr-partition-plan-mesh)
module attributes {tsr.model = "mlp"} {
func.func @main(%x: tensor<8x64xf32> {tsr.name = "x"}) -> (tensor<8x64xf32> {tsr.name = "y"}) {
  %w1 = tsr.weight "fc1" : tensor<64x256xf32>
  %w2 = tsr.weight "fc2" : tensor<256x64xf32>
  %h = tsr.matmul %x, %w1 : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %g = tsr.gelu %h : tensor<8x256xf32>
  %o = tsr.matmul %g, %w2 : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  return %o : tensor<8x64xf32>
}
}

// RUN: not tessera-opt %s --tsr-partition-plan-mesh="zero=5" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not tessera-opt %s --tsr-partition-plan-mesh="dp=-2" 2>&1 | FileCheck %s --check-prefix=NEGATIVE
// RUN: not tessera-opt %s --tsr-partition-plan-mesh="recompute=some" 2>&1 | FileCheck %s --check-prefix=RECOMPUTE
// RUN: not tessera-opt %S/Inputs/dynamic_main.mlir --tsr-partition-plan-mesh 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// ZERO: error: zero must be 0, 1, 2, 3 or -1 (the fastest that fits), not 5
// NEGATIVE: error: dp, tp, pp, devices, microbatches and microbatch-size must not be negative
// RECOMPUTE: error: recompute must be none, selective or full, not 'some'
// DYNAMIC: error: @main's argument 'tensor<?x64xf32>' is not a tensor of static shape
