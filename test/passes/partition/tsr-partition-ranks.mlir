// RUN: tessera-opt %s --pass-pipeline="builtin.module(tsr-partition-ranks, builtin.module(tsr-partition-spmd))" | FileCheck %s
// RUN: tessera-opt %s --pass-pipeline="builtin.module(tsr-partition-ranks, builtin.module(tsr-partition-spmd), tsr-partition-ranks{replicas=2})" | FileCheck %s --check-prefix=REPLICAS
// RUN: not tessera-opt %s --pass-pipeline="builtin.module(tsr-partition-ranks{replicas=0})" 2>&1 | FileCheck %s --check-prefix=BAD

// Tests the ranks of a planned Megatron MLP (tp = 2, layouts as the search
// annotates them): one nested module per tensor-parallel index, each with the
// module's attributes and its index, on which tsr-partition-spmd (no rank
// option) writes that index's program: the first and second halves of the
// weights as blocks.
// CHECK: module attributes {tsr.model = "mlp"} {
// CHECK-NEXT: module @tp0 attributes {tsr.model = "mlp", tsr.tp_rank = 0 : i64} {
// CHECK: tsr.weight "fc1" offsets = [0, 0] : tensor<64x128xf32>
// CHECK: shard.all_reduce
// CHECK: module @tp1 attributes {tsr.model = "mlp", tsr.tp_rank = 1 : i64} {
// CHECK: tsr.weight "fc1" offsets = [0, 128] : tensor<64x128xf32>
// CHECK-NOT: func.func

// With replicas (ZeRO's blocks differ per replica), each SPMD module is
// copied once per replica, replica after replica: module d * tp + t.
// REPLICAS: module @dp0.tp0 attributes {{{.*}}tsr.replica = 0 : i64, tsr.tp_rank = 0 : i64}
// REPLICAS: offsets = [0, 0]
// REPLICAS: module @dp0.tp1 attributes {{{.*}}tsr.replica = 0 : i64, tsr.tp_rank = 1 : i64}
// REPLICAS: offsets = [0, 128]
// REPLICAS: module @dp1.tp0 attributes {{{.*}}tsr.replica = 1 : i64, tsr.tp_rank = 0 : i64}
// REPLICAS: module @dp1.tp1 attributes {{{.*}}tsr.replica = 1 : i64, tsr.tp_rank = 1 : i64}
// REPLICAS-NOT: module @tp

// BAD: error: replicas must be at least 1
module attributes {tsr.model = "mlp"} {
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {
    tsr.plan = {grid = array<i64: 1, 2>, tp = 2 : i64, tp_axis = 1 : i64}} {
  %w1 = tsr.weight "fc1" {tsr.sharding = #tsr.sharding<operands = [], results = [S1]>} : tensor<64x256xf32>
  %w2 = tsr.weight "fc2" {tsr.sharding = #tsr.sharding<operands = [], results = [S0]>} : tensor<256x64xf32>
  %h = tsr.matmul %x, %w1 {tsr.sharding = #tsr.sharding<operands = [R, S1], results = [S1]>}
      : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %g = tsr.gelu %h {tsr.sharding = #tsr.sharding<operands = [S1], results = [S1]>} : tensor<8x256xf32>
  %o = tsr.matmul %g, %w2 {tsr.sharding = #tsr.sharding<operands = [S1, S0], results = [P]>}
      : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  return %o : tensor<8x64xf32>
}
}
