// RUN: tessera-opt --split-input-file --tsr-train-autodiff --verify-diagnostics %s -o /dev/null

// Tests that the loss must be a float scalar.
// expected-error @+1 {{autodiff needs a scalar float loss as the first result, not 'tensor<2xf32>'}}
func.func @main(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

// -----

// Tests that a loss independent of every weight is refused.
// expected-error @+1 {{the loss does not depend on any weight}}
func.func @main(%x: tensor<2xf32>) -> tensor<f32> {
  %w = tsr.weight "w" : tensor<2xf32>
  %l = tsr.reduce_sum %x axes = [0] : tensor<2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that an op without a gradient rule is named.
func.func @main(%x: tensor<4x4xf32>) -> tensor<f32> {
  %w = tsr.weight "w" : tensor<4x4xf32>
  %a = tsr.mul %x, %w : (tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<4x4xf32>
  // expected-error @+1 {{no gradient rule for a strided slice}}
  %s = tsr.slice %a start = [0, 0] limit = [4, 4] strides = [2, 1] : tensor<4x4xf32> -> tensor<2x4xf32>
  %l = tsr.reduce_sum %s axes = [0, 1] : tensor<2x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}
