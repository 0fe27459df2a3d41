// RUN: tessera-opt %s --split-input-file --verify-diagnostics

// Tests that reshape keeps the element count.
func.func @reshape_count(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{cannot reshape 'tensor<4x8xf32>' (32 elements) to 'tensor<4x9xf32>' (36 elements)}}
  %0 = tsr.reshape %x : tensor<4x8xf32> -> tensor<4x9xf32>
  return
}

// -----

// Tests that reshape keeps the element type.
func.func @reshape_type(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{all of {input, result} have same element type}}
  %0 = tsr.reshape %x : tensor<4x8xf32> -> tensor<32xf16>
  return
}

// -----

// Tests that a permutation has one entry per dimension.
func.func @transpose_length(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{permutation has 3 entries for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.transpose %x perm = [0, 1, 2] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

// Tests that permutation entries are dimensions.
func.func @transpose_range(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{permutation entry 2 out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.transpose %x perm = [2, 0] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

// Tests that a permutation does not repeat.
func.func @transpose_repeat(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{permutation repeats dimension 0}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.transpose %x perm = [0, 0] : tensor<4x8xf32> -> tensor<4x4xf32>
  return
}

// -----

// Tests that the transpose result is the permuted shape.
func.func @transpose_result(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<8x4xf32>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.transpose %x perm = [1, 0] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

// Tests that concat needs an input.
func.func @concat_empty() {
  // expected-error @+2 {{concat needs at least one input}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.concat axis = 0 : () -> tensor<4xf32>
  return
}

// -----

// Tests that the concat axis is in range.
func.func @concat_axis(%a: tensor<4xf32>) {
  // expected-error @+2 {{axis 1 out of range for rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.concat %a, %a axis = 1 : (tensor<4xf32>, tensor<4xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that concat inputs share an element type.
func.func @concat_types(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+2 {{input 1 has element type 'f16', input 0 has 'f32'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.concat %a, %b axis = 0 : (tensor<4xf32>, tensor<4xf16>) -> tensor<8xf32>
  return
}

// -----

// Tests that concat inputs share a rank.
func.func @concat_rank(%a: tensor<4xf32>, %b: tensor<4x1xf32>) {
  // expected-error @+2 {{input 1 has rank 2, input 0 has 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.concat %a, %b axis = 0 : (tensor<4xf32>, tensor<4x1xf32>) -> tensor<8xf32>
  return
}

// -----

// Tests that concat inputs agree off the axis.
func.func @concat_dims(%a: tensor<4x2xf32>, %b: tensor<4x3xf32>) {
  // expected-error @+2 {{input 1 has size 3 in dimension 1, input 0 has 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.concat %a, %b axis = 0 : (tensor<4x2xf32>, tensor<4x3xf32>) -> tensor<8x2xf32>
  return
}

// -----

// Tests that slice bounds cover every dimension.
func.func @slice_rank(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{start, limit and strides need one entry per dimension (rank 2)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.slice %x start = [0] limit = [4] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

// Tests that slice strides are positive.
func.func @slice_stride(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{stride 0 in dimension 1 must be at least 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.slice %x start = [0, 0] limit = [4, 8] strides = [1, 0] : tensor<4x8xf32> -> tensor<4x8xf32>
  return
}

// -----

// Tests that slice bounds stay inside the tensor.
func.func @slice_bounds(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{slice [2, 9) out of bounds for dimension 1 of size 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.slice %x start = [0, 2] limit = [4, 9] : tensor<4x8xf32> -> tensor<4x7xf32>
  return
}

// -----

// Tests that the split axis is in range.
func.func @split_axis(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{axis 2 out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = tsr.split %x axis = 2 sizes = [4, 4] : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x4xf32>
  return
}

// -----

// Tests that split sizes are not negative.
func.func @split_negative(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{split size -1 is negative}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = tsr.split %x axis = 1 sizes = [9, -1] : tensor<4x8xf32> -> tensor<4x9xf32>, tensor<4x1xf32>
  return
}

// -----

// Tests that split sizes add up to the dimension.
func.func @split_sum(%x: tensor<4x8xf32>) {
  // expected-error @+2 {{split sizes sum to 7 but dimension 1 has size 8}}
  // expected-error @+1 {{failed to infer returned types}}
  %0:2 = tsr.split %x axis = 1 sizes = [4, 3] : tensor<4x8xf32> -> tensor<4x4xf32>, tensor<4x3xf32>
  return
}

// -----

// Tests that broadcast follows NumPy rules.
func.func @broadcast_rules(%x: tensor<3x1xf32>) {
  // expected-error @+1 {{cannot broadcast 'tensor<3x1xf32>' to 'tensor<4x4xf32>'}}
  %0 = tsr.broadcast %x : tensor<3x1xf32> -> tensor<4x4xf32>
  return
}

// -----

// Tests that broadcast never drops dimensions.
func.func @broadcast_rank(%x: tensor<1x4xf32>) {
  // expected-error @+1 {{cannot broadcast 'tensor<1x4xf32>' to 'tensor<4xf32>'}}
  %0 = tsr.broadcast %x : tensor<1x4xf32> -> tensor<4xf32>
  return
}

// -----

// Tests that the gather axis is in range.
func.func @gather_axis(%x: tensor<10x4xf32>, %i: tensor<3xi64>) {
  // expected-error @+2 {{axis 2 out of range for rank 2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.gather %x[%i] axis = 2 : (tensor<10x4xf32>, tensor<3xi64>) -> tensor<10x4xf32>
  return
}

// -----

// Tests that gather indices are integers.
func.func @gather_float_indices(%x: tensor<10x4xf32>, %i: tensor<3xf32>) {
  // expected-error @+1 {{operand #1 must be statically shaped tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = tsr.gather %x[%i] axis = 0 : (tensor<10x4xf32>, tensor<3xf32>) -> tensor<3x4xf32>
  return
}
