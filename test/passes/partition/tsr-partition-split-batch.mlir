// RUN: tessera-opt --split-input-file --tsr-partition-split-batch=parts=2 %s | FileCheck %s

// Tests that a block's batch halves: arguments, results, and every op on the
// way (matmul, bias add, reshapes across the batch, layer norm, attention
// on [B, H, S, D]), while weights stay whole.
// CHECK-LABEL: func.func @block
// CHECK-SAME: (%[[X:.*]]: tensor<2x16x64xf32> {tsr.name = "x"}) -> (tensor<2x16x64xf32> {tsr.name = "y"})
// CHECK: tsr.weight "w" : tensor<64x64xf32>
// CHECK: tsr.layer_norm %[[X]], {{.*}} -> tensor<2x16x64xf32>
// CHECK: tsr.matmul {{.*}} : (tensor<2x16x64xf32>, tensor<64x64xf32>) -> tensor<2x16x64xf32>
// CHECK: tsr.reshape {{.*}} : tensor<2x16x64xf32> -> tensor<2x16x4x16xf32>
// CHECK: tsr.transpose {{.*}} -> tensor<2x4x16x16xf32>
// CHECK: tsr.attention {{.*}} -> tensor<2x4x16x16xf32>
// CHECK: tsr.reshape {{.*}} : tensor<2x16x4x16xf32> -> tensor<32x64xf32>
// CHECK: tsr.reshape {{.*}} : tensor<32x64xf32> -> tensor<2x16x64xf32>
// CHECK: return {{.*}} : tensor<2x16x64xf32>
func.func @block(%x: tensor<4x16x64xf32> {tsr.name = "x"}) -> (tensor<4x16x64xf32> {tsr.name = "y"}) {
  %g = tsr.weight "g" : tensor<64xf32>
  %w = tsr.weight "w" : tensor<64x64xf32>
  %h = tsr.layer_norm %x, %g axis = 2 epsilon = 1.0e-05
      : (tensor<4x16x64xf32>, tensor<64xf32>) -> tensor<4x16x64xf32>
  %p = tsr.matmul %h, %w : (tensor<4x16x64xf32>, tensor<64x64xf32>) -> tensor<4x16x64xf32>
  %q1 = tsr.reshape %p : tensor<4x16x64xf32> -> tensor<4x16x4x16xf32>
  %q = tsr.transpose %q1 perm = [0, 2, 1, 3] : tensor<4x16x4x16xf32> -> tensor<4x4x16x16xf32>
  %o = tsr.attention %q, %q, %q causal scale = 0.25
      : (tensor<4x4x16x16xf32>, tensor<4x4x16x16xf32>, tensor<4x4x16x16xf32>) -> tensor<4x4x16x16xf32>
  %o1 = tsr.transpose %o perm = [0, 2, 1, 3] : tensor<4x4x16x16xf32> -> tensor<4x16x4x16xf32>
  %o2 = tsr.reshape %o1 : tensor<4x16x4x16xf32> -> tensor<64x64xf32>
  %o3 = tsr.reshape %o2 : tensor<64x64xf32> -> tensor<4x16x64xf32>
  %r = tsr.add %x, %o3 : (tensor<4x16x64xf32>, tensor<4x16x64xf32>) -> tensor<4x16x64xf32>
  return %r : tensor<4x16x64xf32>
}

// -----

// Tests that batch-sized values that are the same for every sample (a
// constant tiled over the batch, a broadcast mask and what is computed from
// them) are cut to the local batch, as static-shape exports build them.
// CHECK-LABEL: func.func @uniform
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>, %[[M:.*]]: tensor<2x1x3xi1>)
// CHECK-DAG: tsr.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 3.000000e+00], [1.000000e+00, 2.000000e+00, 3.000000e+00]]> : tensor<2x3xf32>
// CHECK-DAG: tsr.broadcast %{{.*}} : tensor<1x3xf32> -> tensor<2x3xf32>
// CHECK: return {{.*}} : tensor<2x3xf32>, tensor<2x4x3xi1>
func.func @uniform(%x: tensor<4x3xf32>, %m: tensor<4x1x3xi1>) -> (tensor<4x3xf32>, tensor<4x4x3xi1>) {
  %c = tsr.constant dense<[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]> : tensor<4x3xf32>
  %s = tsr.weight "s" : tensor<1x3xf32>
  %b = tsr.broadcast %s : tensor<1x3xf32> -> tensor<4x3xf32>
  %e = tsr.exp %b : tensor<4x3xf32>
  %0 = tsr.add %x, %c : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %1 = tsr.mul %0, %e : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  %mb = tsr.broadcast %m : tensor<4x1x3xi1> -> tensor<4x4x3xi1>
  return %1, %mb : tensor<4x3xf32>, tensor<4x4x3xi1>
}

// -----

// Tests that batch-sized constants whose blocks differ (a folded padding
// mask, positions expanded to the batch and what is computed from them: a
// gather of position embeddings) become inputs the package holds whole,
// [parts, block...], each replica taking its own [1, block...]: block 0 is
// rows 0-1, block 1 rows 2-3; along dimension 1 for the transposed one.
// CHECK-LABEL: func.func @held
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8xf32>, %[[P:.*]]: tensor<1x2x3xi64> {tsr.held = dense<{{\[}}{{\[}}[0, 1, 2], [0, 1, 2]], {{\[}}[1, 2, 3], [1, 2, 3]]]> : tensor<2x2x3xi64>, tsr.name = "held:0:pos"}, %[[T:.*]]: tensor<1x3x2xf32> {tsr.held = dense<{{.*}}> : tensor<2x3x2xf32>, tsr.name = "held:1:pad"})
// CHECK: %[[PL:.*]] = tsr.reshape %[[P]] : tensor<1x2x3xi64> -> tensor<2x3xi64>
// CHECK: %[[E:.*]] = tsr.gather %{{.*}}[%[[PL]]] {{.*}} -> tensor<2x3x8xf32>
// CHECK: tsr.add %[[X]], %[[E]]
// CHECK: %[[TL:.*]] = tsr.reshape %[[T]] : tensor<1x3x2xf32> -> tensor<3x2xf32>
// CHECK: tsr.transpose %[[TL]] perm = [1, 0] : tensor<3x2xf32> -> tensor<2x3xf32>
func.func @held(%x: tensor<4x3x8xf32>) -> (tensor<4x3x8xf32>, tensor<4x3xf32>) {
  %pos = tsr.constant dense<[[0, 1, 2], [0, 1, 2], [1, 2, 3], [1, 2, 3]]> : tensor<4x3xi64> loc("pos")
  %table = tsr.weight "wpe" : tensor<8x8xf32>
  %e = tsr.gather %table[%pos] axis = 0 : (tensor<8x8xf32>, tensor<4x3xi64>) -> tensor<4x3x8xf32>
  %0 = tsr.add %x, %e : (tensor<4x3x8xf32>, tensor<4x3x8xf32>) -> tensor<4x3x8xf32>
  %pad = tsr.constant dense<[[0.0, 0.0, 0.0, -1.0e4], [0.0, 0.0, -1.0e4, -1.0e4], [0.0, 0.0, 0.0, 0.0]]> : tensor<3x4xf32> loc("pad")
  %t = tsr.transpose %pad perm = [1, 0] : tensor<3x4xf32> -> tensor<4x3xf32>
  %s = tsr.reduce_sum %x axes = [2] : tensor<4x3x8xf32> -> tensor<4x3xf32>
  %1 = tsr.add %s, %t : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x3xf32>
  return %0, %1 : tensor<4x3x8xf32>, tensor<4x3xf32>
}
