// RUN: tessera-opt --split-input-file --tsr-partition-split-batch="parts=2 reduce-over-batch=1" %s | FileCheck %s

// Tests data parallelism of a training step: with reduce-over-batch the parts
// are replicas. A reduction over the batch (the loss) and a product that
// contracts it (a weight gradient, X^T dY) compute this replica's partial
// sum, which tsr.replica_sum adds up over the replicas; what follows works on
// the whole value. Results that do not follow the batch are returned whole
// and marked tsr.replicated.
// CHECK-LABEL: func.func @gradient_step
// CHECK-SAME: (%[[X:[^:]*]]: tensor<2x8xf32>, %[[DY:[^:]*]]: tensor<2x4xf32>)
// CHECK-SAME: -> (tensor<f32> {tsr.replicated}, tensor<8x4xf32> {tsr.replicated})
// CHECK: %[[LOCAL:.*]] = tsr.reduce_sum %[[X]] axes = [0, 1] : tensor<2x8xf32> -> tensor<f32>
// CHECK: %[[LOSS:.*]] = tsr.replica_sum %[[LOCAL]] : tensor<f32>
// CHECK: %[[PART:.*]] = tsr.matmul %[[X]], %[[DY]] {transpose_lhs} : (tensor<2x8xf32>, tensor<2x4xf32>) -> tensor<8x4xf32>
// CHECK: %[[G:.*]] = tsr.replica_sum %[[PART]] : tensor<8x4xf32>
// CHECK: %[[W:.*]] = tsr.sub %{{.*}}, %{{.*}}
// CHECK: return %[[LOSS]], %[[W]]
func.func @gradient_step(%x: tensor<4x8xf32>, %dy: tensor<4x4xf32>) -> (tensor<f32>, tensor<8x4xf32>) {
  %w = tsr.weight "w" : tensor<8x4xf32>
  %lr = tsr.constant dense<0.1> : tensor<f32>
  %loss = tsr.reduce_sum %x axes = [0, 1] : tensor<4x8xf32> -> tensor<f32>
  %g = tsr.matmul %x, %dy {transpose_lhs} : (tensor<4x8xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
  %step = tsr.mul %g, %lr : (tensor<8x4xf32>, tensor<f32>) -> tensor<8x4xf32>
  %new = tsr.sub %w, %step : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  return %loss, %new : tensor<f32>, tensor<8x4xf32>
}

// -----

// Tests that an embedding gradient (scatter_add of each sample's rows into
// the table) is a partial sum of the replicas too.
// CHECK-LABEL: func.func @embedding_gradient
// CHECK: %[[PART:.*]] = tsr.scatter_add %{{.*}}[%{{.*}}] axis = 0 : (tensor<1x3x4xf32>, tensor<1x3xi64>) -> tensor<10x4xf32>
// CHECK: tsr.replica_sum %[[PART]] : tensor<10x4xf32>
func.func @embedding_gradient(%dx: tensor<2x3x4xf32>, %ids: tensor<2x3xi64>) -> tensor<10x4xf32> {
  %g = tsr.scatter_add %dx[%ids] axis = 0 : (tensor<2x3x4xf32>, tensor<2x3xi64>) -> tensor<10x4xf32>
  return %g : tensor<10x4xf32>
}
