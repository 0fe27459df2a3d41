// RUN: tessera-opt --tsr-partition-spmd=rank=1 %s | FileCheck %s

// Tests a partial maximum ("M"): the row maximum of vocabulary-split logits
// (a column-parallel LM head) is each rank's maximum over its block, made
// whole by an all-reduce with max where it is read - the logits are never
// gathered to compute it (vocabulary-parallel cross-entropy's stabiliser;
// this function then returns the result whole).
// CHECK-LABEL: func.func @main
// CHECK: %[[W:.*]] = tsr.weight "lm_head" offsets = [0, 256] : tensor<64x256xf32>
// CHECK: %[[L:.*]] = tsr.matmul %{{.*}}, %[[W]] : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
// CHECK-NOT: all_gather
// CHECK: %[[M:.*]] = tsr.reduce_max %[[L]] axes = [1] keep_dims : tensor<8x256xf32> -> tensor<8x1xf32>
// CHECK-NOT: all_gather
// CHECK: %[[R:.*]] = shard.all_reduce %[[M]] on @mesh grid_axes = [1] reduction = {{ *}}max : tensor<8x1xf32> -> tensor<8x1xf32>
// CHECK-NOT: all_gather
// CHECK: %[[S:.*]] = tsr.sub %[[L]], %[[R]] : (tensor<8x256xf32>, tensor<8x1xf32>) -> tensor<8x256xf32>
// CHECK: %[[G:.*]] = shard.all_gather %[[S]]
// CHECK: return %[[G]]
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x512xf32> attributes {
    tsr.plan = {grid = array<i64: 1, 2>, tp = 2 : i64, tp_axis = 1 : i64}} {
  %w = tsr.weight "lm_head" {tsr.sharding = #tsr.sharding<operands = [], results = [S1]>} : tensor<64x512xf32>
  %l = tsr.matmul %x, %w {tsr.sharding = #tsr.sharding<operands = [R, S1], results = [S1]>}
      : (tensor<8x64xf32>, tensor<64x512xf32>) -> tensor<8x512xf32>
  %m = tsr.reduce_max %l axes = [1] keep_dims {tsr.sharding = #tsr.sharding<operands = [S1], results = [M]>}
      : tensor<8x512xf32> -> tensor<8x1xf32>
  %s = tsr.sub %l, %m {tsr.sharding = #tsr.sharding<operands = [S1, R], results = [S1]>}
      : (tensor<8x512xf32>, tensor<8x1xf32>) -> tensor<8x512xf32>
  return %s : tensor<8x512xf32>
}
