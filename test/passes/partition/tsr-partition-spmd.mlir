// RUN: tessera-opt --tsr-partition-spmd=rank=1 %s | FileCheck %s

// Tests that rank 1 of a Megatron MLP (layouts as the search annotates
// them) gets the second halves of the weights as blocks, local shapes, and
// one all-reduce of the partial sum on the grid's tp axis.
// CHECK: module attributes {tsr.tp_rank = 1 : i64}
// CHECK: shard.grid @mesh(shape = 1x2)
// CHECK-LABEL: func.func @main
// CHECK-NOT: tsr.sharding
// CHECK-DAG: %[[W1:.*]] = tsr.weight "fc1" offsets = [0, 128] : tensor<64x128xf32>
// CHECK-DAG: %[[W2:.*]] = tsr.weight "fc2" offsets = [128, 0] : tensor<128x64xf32>
// CHECK: %[[H:.*]] = tsr.matmul %{{.*}}, %[[W1]] : (tensor<8x64xf32>, tensor<64x128xf32>) -> tensor<8x128xf32>
// CHECK: %[[G:.*]] = tsr.gelu %[[H]] : tensor<8x128xf32>
// CHECK: %[[P:.*]] = tsr.matmul %[[G]], %[[W2]] : (tensor<8x128xf32>, tensor<128x64xf32>) -> tensor<8x64xf32>
// CHECK: %[[R:.*]] = shard.all_reduce %[[P]] on @mesh grid_axes = [1] : tensor<8x64xf32> -> tensor<8x64xf32>
// CHECK: return %[[R]]
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
