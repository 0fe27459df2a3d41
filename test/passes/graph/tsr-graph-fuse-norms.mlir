// RUN: tessera-opt --split-input-file --tsr-graph-fuse %s | FileCheck %s

// Tests that the decomposed layer norm (ReduceMean/Sub/Pow/Sqrt/Div, scale,
// bias) fuses into one layer_norm.
// CHECK-LABEL: func.func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<2x4x8xf32>, %[[G:.*]]: tensor<8xf32>, %[[B:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[N:.*]] = tsr.layer_norm %[[X]], %[[G]], %[[B]] axis = 2 epsilon = 9.9999997473787516E-6
// CHECK-NEXT: return %[[N]]
func.func @layer_norm(%x: tensor<2x4x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %two = tsr.constant dense<2.0> : tensor<f32>
  %eps = tsr.constant dense<1.0e-05> : tensor<f32>
  %mean = tsr.reduce_mean %x axes = [2] keep_dims : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = tsr.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = tsr.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = tsr.reduce_mean %sq axes = [2] keep_dims : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %ve = tsr.add %var, %eps : (tensor<2x4x1xf32>, tensor<f32>) -> tensor<2x4x1xf32>
  %den = tsr.sqrt %ve : tensor<2x4x1xf32>
  %n = tsr.div %d, %den : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %s = tsr.mul %n, %g : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  %y = tsr.add %s, %b : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Tests that a layer norm over the last two axes fuses with rsqrt and no bias.
// CHECK-LABEL: func.func @layer_norm_two_axes
// CHECK: tsr.layer_norm %{{.*}}, %{{.*}} axis = 1
// CHECK-NOT: tsr.reduce_mean
func.func @layer_norm_two_axes(%x: tensor<2x4x8xf32>, %g: tensor<4x8xf32>) -> tensor<2x4x8xf32> {
  %eps = tsr.constant dense<1.0e-05> : tensor<f32>
  %mean = tsr.reduce_mean %x axes = [1, 2] keep_dims : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %d = tsr.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %sq = tsr.mul %d, %d : (tensor<2x4x8xf32>, tensor<2x4x8xf32>) -> tensor<2x4x8xf32>
  %var = tsr.reduce_mean %sq axes = [1, 2] keep_dims : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %ve = tsr.add %var, %eps : (tensor<2x1x1xf32>, tensor<f32>) -> tensor<2x1x1xf32>
  %r = tsr.rsqrt %ve : tensor<2x1x1xf32>
  %n = tsr.mul %d, %r : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %y = tsr.mul %n, %g : (tensor<2x4x8xf32>, tensor<4x8xf32>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Tests that a near miss does not fuse: the variance is taken over another
// axis than the mean.
// CHECK-LABEL: func.func @layer_norm_axes_differ
// CHECK-NOT: tsr.layer_norm
func.func @layer_norm_axes_differ(%x: tensor<2x4x8xf32>, %g: tensor<8xf32>) -> tensor<2x4x8xf32> {
  %two = tsr.constant dense<2.0> : tensor<f32>
  %eps = tsr.constant dense<1.0e-05> : tensor<f32>
  %mean = tsr.reduce_mean %x axes = [2] keep_dims : tensor<2x4x8xf32> -> tensor<2x4x1xf32>
  %d = tsr.sub %x, %mean : (tensor<2x4x8xf32>, tensor<2x4x1xf32>) -> tensor<2x4x8xf32>
  %sq = tsr.pow %d, %two : (tensor<2x4x8xf32>, tensor<f32>) -> tensor<2x4x8xf32>
  %var = tsr.reduce_mean %sq axes = [1, 2] keep_dims : tensor<2x4x8xf32> -> tensor<2x1x1xf32>
  %ve = tsr.add %var, %eps : (tensor<2x1x1xf32>, tensor<f32>) -> tensor<2x1x1xf32>
  %den = tsr.sqrt %ve : tensor<2x1x1xf32>
  %n = tsr.div %d, %den : (tensor<2x4x8xf32>, tensor<2x1x1xf32>) -> tensor<2x4x8xf32>
  %y = tsr.mul %n, %g : (tensor<2x4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return %y : tensor<2x4x8xf32>
}

// -----

// Tests that Llama's RMSNorm (weight * (x * (1 / sqrt(mean(x^2) + eps))))
// fuses into rms_norm.
// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[X:.*]]: tensor<1x4x8xf32>, %[[W:.*]]: tensor<8xf32>)
// CHECK-NEXT: %[[N:.*]] = tsr.rms_norm %[[X]], %[[W]] axis = 2 epsilon = 9.9999999747524271E-7
// CHECK-NEXT: return %[[N]]
func.func @rms_norm(%x: tensor<1x4x8xf32>, %w: tensor<8xf32>) -> tensor<1x4x8xf32> {
  %two = tsr.constant dense<2.0> : tensor<f32>
  %one = tsr.constant dense<1.0> : tensor<f32>
  %eps = tsr.constant dense<1.0e-06> : tensor<f32>
  %sq = tsr.pow %x, %two : (tensor<1x4x8xf32>, tensor<f32>) -> tensor<1x4x8xf32>
  %ms = tsr.reduce_mean %sq axes = [2] keep_dims : tensor<1x4x8xf32> -> tensor<1x4x1xf32>
  %me = tsr.add %ms, %eps : (tensor<1x4x1xf32>, tensor<f32>) -> tensor<1x4x1xf32>
  %s = tsr.sqrt %me : tensor<1x4x1xf32>
  %inv = tsr.div %one, %s : (tensor<f32>, tensor<1x4x1xf32>) -> tensor<1x4x1xf32>
  %n = tsr.mul %x, %inv : (tensor<1x4x8xf32>, tensor<1x4x1xf32>) -> tensor<1x4x8xf32>
  %y = tsr.mul %w, %n : (tensor<8xf32>, tensor<1x4x8xf32>) -> tensor<1x4x8xf32>
  return %y : tensor<1x4x8xf32>
}

// -----

// Tests that a near miss does not fuse: the mean of squares of another value.
// CHECK-LABEL: func.func @rms_norm_other_value
// CHECK-NOT: tsr.rms_norm
func.func @rms_norm_other_value(%x: tensor<1x4x8xf32>, %y: tensor<1x4x8xf32>, %w: tensor<8xf32>) -> tensor<1x4x8xf32> {
  %two = tsr.constant dense<2.0> : tensor<f32>
  %eps = tsr.constant dense<1.0e-06> : tensor<f32>
  %sq = tsr.pow %y, %two : (tensor<1x4x8xf32>, tensor<f32>) -> tensor<1x4x8xf32>
  %ms = tsr.reduce_mean %sq axes = [2] keep_dims : tensor<1x4x8xf32> -> tensor<1x4x1xf32>
  %me = tsr.add %ms, %eps : (tensor<1x4x1xf32>, tensor<f32>) -> tensor<1x4x1xf32>
  %r = tsr.rsqrt %me : tensor<1x4x1xf32>
  %n = tsr.mul %x, %r : (tensor<1x4x8xf32>, tensor<1x4x1xf32>) -> tensor<1x4x8xf32>
  %out = tsr.mul %n, %w : (tensor<1x4x8xf32>, tensor<8xf32>) -> tensor<1x4x8xf32>
  return %out : tensor<1x4x8xf32>
}
