// RUN: tessera-opt --split-input-file --tsr-train-autodiff %s | FileCheck %s

// Tests reverse mode through a matmul and a sum: the loss, then the gradient
// of each weight, named after it; the weight used twice gets both uses'
// gradients summed.
// CHECK-LABEL: func.func @main
// CHECK-SAME: -> (tensor<f32> {tsr.name = "loss"}, tensor<3x2xf32> {tsr.grad_of = "w", tsr.name = "grad:w"})
// CHECK: %[[W:.*]] = tsr.weight "w" : tensor<3x2xf32>
// CHECK: %[[G1:.*]] = tsr.matmul %{{.*}}, %{{.*}} {transpose_lhs}
// CHECK: %[[G2:.*]] = tsr.matmul %{{.*}}, %{{.*}} {transpose_lhs}
// CHECK: %[[G:.*]] = tsr.add
// CHECK: return %{{.*}}, %[[G]]
func.func @main(%x: tensor<4x3xf32>) -> tensor<f32> {
  %w = tsr.weight "w" : tensor<3x2xf32>
  %a = tsr.matmul %x, %w : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %b = tsr.matmul %x, %w : (tensor<4x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
  %c = tsr.mul %a, %b : (tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  %l = tsr.reduce_sum %c axes = [0, 1] : tensor<4x2xf32> -> tensor<f32>
  return %l : tensor<f32>
}
