// RUN: tessera-opt --tsr-partition-zero="stage=1 rank=1" %s | FileCheck %s --check-prefix=ONE
// RUN: tessera-opt --tsr-partition-zero="stage=2 rank=1" %s | FileCheck %s --check-prefix=TWO
// RUN: tessera-opt --tsr-partition-zero="stage=3 rank=0" %s | FileCheck %s --check-prefix=THREE
// RUN: not tessera-opt --tsr-partition-zero="stage=4" %s 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not tessera-opt --tsr-partition-zero="stage=1 rank=2" %s 2>&1 | FileCheck %s --check-prefix=RANK

// Tests ZeRO on replica 1 (or 0) of 2 of an SGD-with-momentum step whose
// gradient the replicas sum (shard.all_reduce over the grid's first axis).
// Stage 1: the momentum is this replica's block (rows 4..8, its offsets in
// its name), the gradient all-reduced then sliced, the update computed on the
// block, the gradient norm's sum of squares a partial sum all-reduced, the
// new weight all-gathered whole.
// ONE-LABEL: func.func @main
// ONE-SAME: tensor<8x4xf32> {tsr.name = "update:w", tsr.updates = "w"}, tensor<4x4xf32> {tsr.name = "update:m:w", tsr.updates = "m:w"}
// ONE: %[[W:.*]] = tsr.weight "w" : tensor<8x4xf32>
// ONE: %[[M:.*]] = tsr.weight "m:w" offsets = [4, 0] zeros : tensor<4x4xf32>
// ONE: %[[G:.*]] = shard.all_reduce %{{.*}} on @mesh grid_axes = [0] : tensor<8x4xf32> -> tensor<8x4xf32>
// ONE: %[[GB:.*]] = tsr.slice %[[G]] start = [4, 0] limit = [8, 4] : tensor<8x4xf32> -> tensor<4x4xf32>
// ONE: %[[SQ:.*]] = tsr.mul %[[GB]], %[[GB]] : (tensor<4x4xf32>, tensor<4x4xf32>)
// ONE: %[[PART:.*]] = tsr.reduce_sum %[[SQ]]
// ONE: %[[NORM:.*]] = shard.all_reduce %[[PART]] on @mesh grid_axes = [0] : tensor<f32>
// ONE: %[[M1:.*]] = tsr.mul %[[M]], %{{.*}} : (tensor<4x4xf32>, tensor<f32>)
// ONE: %[[M2:.*]] = tsr.add %[[M1]], %[[GB]]
// ONE: %[[WB:.*]] = tsr.slice %[[W]] start = [4, 0] limit = [8, 4]
// ONE: %[[NEW:.*]] = tsr.sub %[[WB]], %{{.*}} : (tensor<4x4xf32>, tensor<4x4xf32>)
// ONE: %[[WHOLE:.*]] = shard.all_gather %[[NEW]] on @mesh grid_axes = [0] gather_axis = 0 : tensor<4x4xf32> -> tensor<8x4xf32>
// ONE: return %{{.*}}, %[[NORM]], %[[WHOLE]], %[[M2]]

// Stage 2: the gradient is reduce-scattered (no replica holds it whole).
// TWO: %[[GB:.*]] = shard.reduce_scatter %{{.*}} on @mesh grid_axes = [0] scatter_axis = 0 : tensor<8x4xf32> -> tensor<4x4xf32>
// TWO-NOT: shard.all_reduce %{{.*}} : tensor<8x4xf32>
// TWO: tsr.add %{{.*}}, %[[GB]]

// Stage 3: the parameter too is a block (rows 0..4 on replica 0), gathered
// before the op that reads it and updated as a block.
// THREE-LABEL: func.func @main
// THREE-SAME: tensor<4x4xf32> {tsr.name = "update:w", tsr.updates = "w"}, tensor<4x4xf32> {tsr.name = "update:m:w", tsr.updates = "m:w"}
// THREE: %[[WB:.*]] = tsr.weight "w" offsets = [0, 0] : tensor<4x4xf32>
// THREE: %[[WHOLE:.*]] = shard.all_gather %[[WB]] on @mesh grid_axes = [0] gather_axis = 0 : tensor<4x4xf32> -> tensor<8x4xf32>
// THREE-NEXT: tsr.matmul %{{.*}}, %[[WHOLE]]
// THREE: %[[NEW:.*]] = tsr.sub %[[WB]], %{{.*}} : (tensor<4x4xf32>, tensor<4x4xf32>)
// THREE: return %{{.*}}, %{{.*}}, %[[NEW]], %{{.*}} : tensor<f32>, tensor<f32>, tensor<4x4xf32>, tensor<4x4xf32>

// BAD: error: ZeRO stage must be 0, 1, 2 or 3, not 4
// RANK: error: replica 2 is not one of dp=2
module {
  shard.grid @mesh(shape = 2x1)
  func.func @main(%x: tensor<4x8xf32>) -> (tensor<f32> {tsr.name = "loss"}, tensor<f32> {tsr.name = "grad_norm"}, tensor<8x4xf32> {tsr.name = "update:w", tsr.updates = "w"}, tensor<8x4xf32> {tsr.name = "update:m:w", tsr.updates = "m:w"}) {
    %w = tsr.weight "w" : tensor<8x4xf32>
    %m = tsr.weight "m:w" zeros : tensor<8x4xf32>
    %lr = tsr.constant dense<0.1> : tensor<f32>
    %beta = tsr.constant dense<0.9> : tensor<f32>
    %h = tsr.matmul %x, %w : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
    %l = tsr.reduce_sum %h axes = [0, 1] : tensor<4x4xf32> -> tensor<f32>
    %loss = shard.all_reduce %l on @mesh grid_axes = [0] : tensor<f32> -> tensor<f32>
    %g0 = tsr.matmul %x, %h {transpose_lhs} : (tensor<4x8xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
    %g = shard.all_reduce %g0 on @mesh grid_axes = [0] : tensor<8x4xf32> -> tensor<8x4xf32>
    %sq = tsr.mul %g, %g : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
    %norm = tsr.reduce_sum %sq axes = [0, 1] : tensor<8x4xf32> -> tensor<f32>
    %m1 = tsr.mul %m, %beta : (tensor<8x4xf32>, tensor<f32>) -> tensor<8x4xf32>
    %m2 = tsr.add %m1, %g : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
    %s = tsr.mul %m2, %lr : (tensor<8x4xf32>, tensor<f32>) -> tensor<8x4xf32>
    %wn = tsr.sub %w, %s : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
    return %loss, %norm, %wn, %m2 : tensor<f32>, tensor<f32>, tensor<8x4xf32>, tensor<8x4xf32>
  }
}
