// RUN: tessera-opt --tsr-partition-split-batch="parts=2 reduce-over-batch=1" --tsr-partition-accumulate="microbatches=2" %s | FileCheck %s
// RUN: tessera-opt --tsr-partition-split-batch="parts=4 reduce-over-batch=1" --tsr-partition-accumulate="microbatches=2 replica-sums=1" %s | FileCheck %s --check-prefix=REPLICAS
// RUN: not tessera-opt --tsr-partition-accumulate="microbatches=0" %s 2>&1 | FileCheck %s --check-prefix=BAD

// Tests gradient accumulation on a training step whose loss is normalised by
// a count over the batch (as a mean over non-ignored tokens is): the function
// takes the whole batch again, split into 2 micro-batches by slices; phase 0
// sums both micro-batches' counts; phase 1 runs micro-batch 0's forward and
// backward, then micro-batch 1's, each adding its loss and gradient to the
// running sums as it finishes (micro-batch 1's forward does not start before
// micro-batch 0's backward); the optimizer runs once, after the sums. The
// weight is read once.
// CHECK-LABEL: func.func @step
// CHECK-SAME: (%[[X:[^:]*]]: tensor<4x8xf32>, %[[Y:[^:]*]]: tensor<4x4xf32>)
// CHECK-SAME: -> (tensor<f32> {tsr.replicated}, tensor<8x4xf32> {tsr.replicated})
// CHECK-DAG: %[[X0:.*]] = tsr.slice %[[X]] start = [0, 0] limit = [2, 8]
// CHECK-DAG: %[[X1:.*]] = tsr.slice %[[X]] start = [2, 0] limit = [4, 8]
// CHECK-DAG: %[[Y0:.*]] = tsr.slice %[[Y]] start = [0, 0] limit = [2, 4]
// CHECK-DAG: %[[Y1:.*]] = tsr.slice %[[Y]] start = [2, 0] limit = [4, 4]
// CHECK: %[[C0:.*]] = tsr.reduce_sum %[[Y0]]
// CHECK: %[[C1:.*]] = tsr.reduce_sum %[[Y1]]
// CHECK: %[[COUNT:.*]] = tsr.add %[[C0]], %[[C1]]
// CHECK: %[[W:.*]] = tsr.weight "w"
// CHECK: %[[INV:.*]] = tsr.reciprocal %[[COUNT]]
// CHECK: %[[H0:.*]] = tsr.matmul %[[X0]], %[[W]]
// CHECK: %[[L0:.*]] = tsr.reduce_sum %[[H0]]
// CHECK: %[[D0:.*]] = tsr.mul %[[H0]], %[[INV]]
// CHECK: %[[G0:.*]] = tsr.matmul %[[X0]], %[[D0]] {transpose_lhs}
// CHECK: %[[H1:.*]] = tsr.matmul %[[X1]], %[[W]]
// CHECK: %[[L1:.*]] = tsr.reduce_sum %[[H1]]
// CHECK: %[[LOSS:.*]] = tsr.add %[[L0]], %[[L1]]
// CHECK: %[[D1:.*]] = tsr.mul %[[H1]], %[[INV]]
// CHECK: %[[G1:.*]] = tsr.matmul %[[X1]], %[[D1]] {transpose_lhs}
// CHECK: %[[G:.*]] = tsr.add %[[G0]], %[[G1]]
// CHECK-NOT: tsr.replica_sum
// CHECK: %[[MEAN:.*]] = tsr.mul %[[LOSS]], %[[INV]]
// CHECK: %[[STEP:.*]] = tsr.mul %[[G]], %{{.*}}
// CHECK: %[[NEW:.*]] = tsr.sub %[[W]], %[[STEP]]
// CHECK: return %[[MEAN]], %[[NEW]]

// With data-parallel replicas too (4 slices: 2 replicas x 2 micro-batches),
// each accumulated sum is then summed over the replicas.
// REPLICAS-LABEL: func.func @step
// REPLICAS-SAME: (%{{[^:]*}}: tensor<2x8xf32>, %{{[^:]*}}: tensor<2x4xf32>)
// REPLICAS: %[[COUNT:.*]] = tsr.add
// REPLICAS: tsr.replica_sum %[[COUNT]] : tensor<f32>
// REPLICAS: %[[LOSS:.*]] = tsr.add
// REPLICAS: %[[G:.*]] = tsr.add %{{.*}} : (tensor<8x4xf32>, tensor<8x4xf32>)
// REPLICAS: tsr.replica_sum %[[LOSS]] : tensor<f32>
// REPLICAS: tsr.replica_sum %[[G]] : tensor<8x4xf32>

// BAD: error: microbatches must be at least 1
func.func @step(%x: tensor<4x8xf32>, %y: tensor<4x4xf32>) -> (tensor<f32>, tensor<8x4xf32>) {
  %w = tsr.weight "w" : tensor<8x4xf32>
  %lr = tsr.constant dense<0.1> : tensor<f32>
  %count = tsr.reduce_sum %y axes = [0, 1] : tensor<4x4xf32> -> tensor<f32>
  %inv = tsr.reciprocal %count : tensor<f32>
  %h = tsr.matmul %x, %w : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x4xf32>
  %lsum = tsr.reduce_sum %h axes = [0, 1] : tensor<4x4xf32> -> tensor<f32>
  %loss = tsr.mul %lsum, %inv : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %dy = tsr.mul %h, %inv : (tensor<4x4xf32>, tensor<f32>) -> tensor<4x4xf32>
  %g = tsr.matmul %x, %dy {transpose_lhs} : (tensor<4x8xf32>, tensor<4x4xf32>) -> tensor<8x4xf32>
  %step = tsr.mul %g, %lr : (tensor<8x4xf32>, tensor<f32>) -> tensor<8x4xf32>
  %new = tsr.sub %w, %step : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
  return %loss, %new : tensor<f32>, tensor<8x4xf32>
}
