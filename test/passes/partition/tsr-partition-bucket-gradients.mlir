// RUN: tessera-opt --tsr-partition-bucket-gradients="bucket-bytes=192" %s | FileCheck %s
// RUN: not tessera-opt --tsr-partition-bucket-gradients="bucket-bytes=0" %s 2>&1 | FileCheck %s --check-prefix=BAD

// Tests the replicas' gradient sums in buckets: the three gradients the
// backward pass makes (64, 128 and 32 bytes), summed over the grid's first
// axis one by one, become buckets of about 192 bytes in that order. The
// first two share one all-reduce of their operands flattened and
// concatenated, placed where the second is ready; each sum is sliced out
// just before its first reader (the ops in between run while it is summed).
// The third bucket closes early: `early` reads its sum right away, so it is
// summed alone (as it was). The tensor-parallel all-reduce (axis 1) and the
// maximum are left alone.
// CHECK-LABEL: func.func @main
// CHECK: %[[G1:.*]] = tsr.mul %arg0, %arg0
// CHECK: %[[G2:.*]] = tsr.mul %arg1, %arg1
// CHECK: %[[F1:.*]] = tsr.reshape %[[G1]] : tensor<4x4xf32> -> tensor<16xf32>
// CHECK: %[[F2:.*]] = tsr.reshape %[[G2]] : tensor<8x4xf32> -> tensor<32xf32>
// CHECK: %[[C:.*]] = tsr.concat %[[F1]], %[[F2]] axis = 0 : (tensor<16xf32>, tensor<32xf32>) -> tensor<48xf32>
// CHECK: %[[S:.*]] = shard.all_reduce %[[C]] on @mesh grid_axes = [0] : tensor<48xf32> -> tensor<48xf32>
// CHECK: %[[G3:.*]] = tsr.mul %arg2, %arg2
// CHECK: %[[S3:.*]] = shard.all_reduce %[[G3]] on @mesh grid_axes = [0] : tensor<8xf32> -> tensor<8xf32>
// CHECK: %[[EARLY:.*]] = tsr.neg %[[S3]]
// CHECK: %[[TP:.*]] = shard.all_reduce %{{.*}} on @mesh grid_axes = [1]
// CHECK: %[[MAX:.*]] = shard.all_reduce %{{.*}} on @mesh grid_axes = [0] reduction = {{ *}}max
// CHECK: %[[P1:.*]] = tsr.slice %[[S]] start = [0] limit = [16] : tensor<48xf32> -> tensor<16xf32>
// CHECK: %[[R1:.*]] = tsr.reshape %[[P1]] : tensor<16xf32> -> tensor<4x4xf32>
// CHECK: %[[U1:.*]] = tsr.neg %[[R1]]
// CHECK: %[[P2:.*]] = tsr.slice %[[S]] start = [16] limit = [48] : tensor<48xf32> -> tensor<32xf32>
// CHECK: %[[R2:.*]] = tsr.reshape %[[P2]] : tensor<32xf32> -> tensor<8x4xf32>
// CHECK: %[[U2:.*]] = tsr.neg %[[R2]]
// CHECK: return %[[U1]], %[[U2]], %[[EARLY]]
// BAD: bucket-bytes must be positive, not 0
module {
  shard.grid @mesh(shape = 2x2)
  func.func @main(%a: tensor<4x4xf32>, %b: tensor<8x4xf32>, %c: tensor<8xf32>, %d: tensor<8xf32>)
      -> (tensor<4x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) {
    %g1 = tsr.mul %a, %a : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
    %s1 = shard.all_reduce %g1 on @mesh grid_axes = [0] : tensor<4x4xf32> -> tensor<4x4xf32>
    %g2 = tsr.mul %b, %b : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x4xf32>
    %s2 = shard.all_reduce %g2 on @mesh grid_axes = [0] : tensor<8x4xf32> -> tensor<8x4xf32>
    %g3 = tsr.mul %c, %c : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    %s3 = shard.all_reduce %g3 on @mesh grid_axes = [0] : tensor<8xf32> -> tensor<8xf32>
    %early = tsr.neg %s3 : tensor<8xf32>
    %t = shard.all_reduce %d on @mesh grid_axes = [1] : tensor<8xf32> -> tensor<8xf32>
    %m = shard.all_reduce %d on @mesh grid_axes = [0] reduction = max : tensor<8xf32> -> tensor<8xf32>
    %u1 = tsr.neg %s1 : tensor<4x4xf32>
    %u2 = tsr.neg %s2 : tensor<8x4xf32>
    return %u1, %u2, %early, %t, %m : tensor<4x4xf32>, tensor<8x4xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>
  }
}
