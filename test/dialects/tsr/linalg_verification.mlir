// RUN: tessera-opt %s --split-input-file --verify-diagnostics

// Tests that matmul operands are at least matrices.
func.func @matmul_vector(%v: tensor<8xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+2 {{matmul operands must have rank >= 2, got 1 and 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.matmul %v, %w : (tensor<8xf32>, tensor<8x4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that contracting dimensions agree.
func.func @matmul_contracting(%a: tensor<4x8xf32>, %b: tensor<7x4xf32>) {
  // expected-error @+2 {{contracting dimensions differ: lhs has 8, rhs has 7}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.matmul %a, %b : (tensor<4x8xf32>, tensor<7x4xf32>) -> tensor<4x4xf32>
  return
}

// -----

// Tests that transposes are applied before the contracting check.
func.func @matmul_transposed_contracting(%a: tensor<4x8xf32>, %b: tensor<4x8xf32>) {
  // expected-error @+2 {{contracting dimensions differ: lhs has 8, rhs has 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.matmul %a, %b : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that batch dimensions broadcast.
func.func @matmul_batch(%a: tensor<2x4x8xf32>, %b: tensor<3x8x4xf32>) {
  // expected-error @+2 {{shapes do not broadcast: dimension 0 is 2 in one operand and 3 in another}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.matmul %a, %b : (tensor<2x4x8xf32>, tensor<3x8x4xf32>) -> tensor<2x4x4xf32>
  return
}

// -----

// Tests that a wrong matmul result type is reported.
func.func @matmul_result(%a: tensor<4x8xf32>, %b: tensor<8x4xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<4x4xf32>' are incompatible with return type(s) of operation 'tensor<4x5xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.matmul %a, %b : (tensor<4x8xf32>, tensor<8x4xf32>) -> tensor<4x5xf32>
  return
}

// -----

// Tests that matmul operands share an element type.
func.func @matmul_mixed(%a: tensor<4x8xf32>, %b: tensor<8x4xbf16>) {
  // expected-error @+1 {{all of {lhs, rhs, result} have same element type}}
  %0 = tsr.matmul %a, %b : (tensor<4x8xf32>, tensor<8x4xbf16>) -> tensor<4x4xf32>
  return
}

// -----

// Tests that reduction axes are in range.
func.func @reduce_axis_range(%x: tensor<4x8x16xf32>) {
  // expected-error @+2 {{reduction axis 3 out of range for rank 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.reduce_sum %x axes = [3] : tensor<4x8x16xf32> -> tensor<4x8x16xf32>
  return
}

// -----

// Tests that reduction axes are sorted and unique.
func.func @reduce_axes_unsorted(%x: tensor<4x8x16xf32>) {
  // expected-error @+2 {{reduction axes must be sorted and unique}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.reduce_mean %x axes = [2, 1] : tensor<4x8x16xf32> -> tensor<4xf32>
  return
}

// -----

// Tests that keep_dims decides the result rank.
func.func @reduce_keep_dims(%x: tensor<4x8x16xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<4x8x1xf32>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.reduce_max %x axes = [2] keep_dims : tensor<4x8x16xf32> -> tensor<4x8xf32>
  return
}

// -----

// Tests that the softmax axis is in range.
func.func @softmax_axis(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{axis 2 out of range for rank 2}}
  %0 = tsr.softmax %x axis = 2 : tensor<4x8xf32>
  return
}

// -----

// Tests that the layer_norm axis is in range.
func.func @layer_norm_axis(%x: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{axis -1 out of range for rank 2}}
  %0 = tsr.layer_norm %x, %g axis = -1 epsilon = 1.0e-05 : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that epsilon is positive.
func.func @layer_norm_epsilon(%x: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be positive, got 0}}
  %0 = tsr.layer_norm %x, %g axis = 1 epsilon = 0.0 : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the scale covers exactly the normalised dimensions.
func.func @layer_norm_scale_shape(%x: tensor<4x8xf32>, %g: tensor<4x8xf32>) {
  // expected-error @+1 {{parameter shape 'tensor<4x8xf32>' must equal the normalised dimensions [8]}}
  %0 = tsr.layer_norm %x, %g axis = 1 epsilon = 1.0e-05 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the bias is checked as well as the scale.
func.func @layer_norm_bias_type(%x: tensor<4x8xf32>, %g: tensor<8xf32>, %b: tensor<8xf16>) {
  // expected-error @+1 {{parameter element type 'f16' differs from the input's 'f32'}}
  %0 = tsr.layer_norm %x, %g, %b axis = 1 epsilon = 1.0e-05 : (tensor<4x8xf32>, tensor<8xf32>, tensor<8xf16>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that layer_norm keeps the input type.
func.func @layer_norm_result(%x: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{all of {input, result} have same type}}
  %0 = tsr.layer_norm %x, %g axis = 1 epsilon = 1.0e-05 : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf16>
  return
}

// -----

// Tests that rms_norm checks its scale.
func.func @rms_norm_scale(%x: tensor<4x8xf32>, %g: tensor<4xf32>) {
  // expected-error @+1 {{parameter shape 'tensor<4xf32>' must equal the normalised dimensions [8]}}
  %0 = tsr.rms_norm %x, %g axis = 1 epsilon = 1.0e-06 : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that rms_norm checks its axis and epsilon.
func.func @rms_norm_epsilon(%x: tensor<4x8xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be positive, got -1}}
  %0 = tsr.rms_norm %x, %g axis = 1 epsilon = -1.0 : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return
}
