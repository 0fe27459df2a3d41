// RUN: tessera-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(sharding-propagation,shard-partition))' | FileCheck %s

// Tests that upstream sharding propagation and partitioning work on tsr ops
// through their ShardingInterface models: a two-layer MLP with Megatron's
// annotations (first weight by columns, second by rows) becomes local
// matmuls, a local GELU and one all-reduce over the partial sums.

shard.grid @mesh(shape = 2)

// CHECK-LABEL: func.func @mlp
// CHECK-SAME: %[[X:.*]]: tensor<8x64xf32>, %[[W1:.*]]: tensor<64x128xf32>, %[[W2:.*]]: tensor<128x64xf32>
func.func @mlp(%x: tensor<8x64xf32>, %w1: tensor<64x256xf32>, %w2: tensor<256x64xf32>) -> tensor<8x64xf32> {
  %s1 = shard.sharding @mesh split_axes = [[], [0]] : !shard.sharding
  %w1s = shard.shard %w1 to %s1 annotate_for_users : tensor<64x256xf32>
  // CHECK: %[[H:.*]] = tsr.matmul %[[X]], %[[W1]] : (tensor<8x64xf32>, tensor<64x128xf32>) -> tensor<8x128xf32>
  %h = tsr.matmul %x, %w1s : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  // CHECK: %[[G:.*]] = tsr.gelu %[[H]] approximate = tanh : tensor<8x128xf32>
  %g = tsr.gelu %h approximate = tanh : tensor<8x256xf32>
  %s2 = shard.sharding @mesh split_axes = [[0]] : !shard.sharding
  %w2s = shard.shard %w2 to %s2 annotate_for_users : tensor<256x64xf32>
  // CHECK: %[[Y:.*]] = tsr.matmul %[[G]], %[[W2]] : (tensor<8x128xf32>, tensor<128x64xf32>) -> tensor<8x64xf32>
  %y = tsr.matmul %g, %w2s : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  // CHECK: %[[R:.*]] = shard.all_reduce %[[Y]] on @mesh grid_axes = [0] : tensor<8x64xf32> -> tensor<8x64xf32>
  // CHECK: return %[[R]]
  return %y : tensor<8x64xf32>
}
