// RUN: tessera-opt --split-input-file --tsr-graph-fuse %s | FileCheck %s

// Tests that the exact (erf) gelu fuses, in BERT's association of the product.
// CHECK-LABEL: func.func @gelu_erf
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[G:.*]] = tsr.gelu %[[X]] : tensor<2x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @gelu_erf(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = tsr.constant dense<1.41421354> : tensor<f32>
  %one = tsr.constant dense<1.0> : tensor<f32>
  %half = tsr.constant dense<0.5> : tensor<f32>
  %0 = tsr.div %x, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = tsr.erf %0 : tensor<2x8xf32>
  %2 = tsr.add %1, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = tsr.mul %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = tsr.mul %3, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// Tests that the tanh gelu fuses, in GPT-2's association of the product.
// CHECK-LABEL: func.func @gelu_tanh
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[G:.*]] = tsr.gelu %[[X]] approximate = tanh : tensor<2x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @gelu_tanh(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %one = tsr.constant dense<1.0> : tensor<f32>
  %half = tsr.constant dense<0.5> : tensor<f32>
  %three = tsr.constant dense<3.0> : tensor<f32>
  %k = tsr.constant dense<0.044715> : tensor<f32>
  %c = tsr.constant dense<0.797884583> : tensor<f32>
  %0 = tsr.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = tsr.pow %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = tsr.mul %1, %k : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = tsr.add %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = tsr.mul %3, %c : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %5 = tsr.tanh %4 : tensor<2x8xf32>
  %6 = tsr.add %5, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %7 = tsr.mul %0, %6 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %7 : tensor<2x8xf32>
}

// -----

// Tests BLOOM's factoring of the tanh argument: sqrt(2/pi) * x * (1 + 0.044715 * x * x).
// CHECK-LABEL: func.func @gelu_tanh_factored
// CHECK-SAME: (%[[X:.*]]: tensor<2x8xf32>)
// CHECK-NEXT: %[[G:.*]] = tsr.gelu %[[X]] approximate = tanh : tensor<2x8xf32>
// CHECK-NEXT: return %[[G]]
func.func @gelu_tanh_factored(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %one = tsr.constant dense<1.0> : tensor<f32>
  %half = tsr.constant dense<0.5> : tensor<f32>
  %k = tsr.constant dense<0.044715> : tensor<f32>
  %c = tsr.constant dense<0.797884583> : tensor<f32>
  %0 = tsr.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = tsr.mul %x, %c : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = tsr.mul %x, %k : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = tsr.mul %2, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = tsr.add %3, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %5 = tsr.mul %1, %4 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %6 = tsr.tanh %5 : tensor<2x8xf32>
  %7 = tsr.add %6, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %8 = tsr.mul %0, %7 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %8 : tensor<2x8xf32>
}

// -----

// Tests that a near miss does not fuse: the cubic coefficient is wrong.
// CHECK-LABEL: func.func @gelu_tanh_wrong_coefficient
// CHECK-NOT: tsr.gelu
// CHECK: tsr.tanh
func.func @gelu_tanh_wrong_coefficient(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %one = tsr.constant dense<1.0> : tensor<f32>
  %half = tsr.constant dense<0.5> : tensor<f32>
  %three = tsr.constant dense<3.0> : tensor<f32>
  %k = tsr.constant dense<0.05> : tensor<f32>
  %c = tsr.constant dense<0.797884583> : tensor<f32>
  %0 = tsr.mul %x, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = tsr.pow %x, %three : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %2 = tsr.mul %1, %k : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = tsr.add %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = tsr.mul %3, %c : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %5 = tsr.tanh %4 : tensor<2x8xf32>
  %6 = tsr.add %5, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %7 = tsr.mul %0, %6 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %7 : tensor<2x8xf32>
}

// -----

// Tests that a near miss does not fuse: erf of another value than x.
// CHECK-LABEL: func.func @gelu_erf_other_value
// CHECK-NOT: tsr.gelu
// CHECK: tsr.erf
func.func @gelu_erf_other_value(%x: tensor<2x8xf32>, %y: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %sqrt2 = tsr.constant dense<1.41421354> : tensor<f32>
  %one = tsr.constant dense<1.0> : tensor<f32>
  %half = tsr.constant dense<0.5> : tensor<f32>
  %0 = tsr.div %y, %sqrt2 : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %1 = tsr.erf %0 : tensor<2x8xf32>
  %2 = tsr.add %1, %one : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %3 = tsr.mul %x, %2 : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  %4 = tsr.mul %3, %half : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  return %4 : tensor<2x8xf32>
}

// -----

// Tests that x * sigmoid(x) fuses into silu, in either operand order.
// CHECK-LABEL: func.func @silu
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK: %[[A:.*]] = tsr.silu %[[X]]
// CHECK: %[[B:.*]] = tsr.silu %[[X]]
// CHECK: return %[[A]], %[[B]]
func.func @silu(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %s = tsr.sigmoid %x : tensor<4xf32>
  %0 = tsr.mul %x, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %1 = tsr.mul %s, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// Tests that y * sigmoid(x) is not silu.
// CHECK-LABEL: func.func @not_silu
// CHECK-NOT: tsr.silu
func.func @not_silu(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %s = tsr.sigmoid %x : tensor<4xf32>
  %0 = tsr.mul %y, %s : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}
