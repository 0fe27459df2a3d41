// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --mlir-print-op-generic | tessera-opt | FileCheck %s

// Tests that matmul round-trips with broadcasting batches and transposes.
// CHECK-LABEL: func.func @matmul
func.func @matmul(%x: tensor<4x128x768xf32>, %w: tensor<768x2304xf32>,
                  %q: tensor<4x12x128x64xf32>, %wt: tensor<2304x768xf32>) {
  // CHECK: tsr.matmul %{{.*}}, %{{.*}} : (tensor<4x128x768xf32>, tensor<768x2304xf32>) -> tensor<4x128x2304xf32>
  %0 = tsr.matmul %x, %w : (tensor<4x128x768xf32>, tensor<768x2304xf32>) -> tensor<4x128x2304xf32>
  // CHECK: tsr.matmul %{{.*}}, %{{.*}} {transpose_rhs} : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>) -> tensor<4x12x128x128xf32>
  %1 = tsr.matmul %q, %q {transpose_rhs} : (tensor<4x12x128x64xf32>, tensor<4x12x128x64xf32>) -> tensor<4x12x128x128xf32>
  // CHECK: tsr.matmul %{{.*}}, %{{.*}} {transpose_lhs} : (tensor<768x2304xf32>, tensor<768x2304xf32>) -> tensor<2304x2304xf32>
  %2 = tsr.matmul %w, %w {transpose_lhs} : (tensor<768x2304xf32>, tensor<768x2304xf32>) -> tensor<2304x2304xf32>
  // CHECK: tsr.matmul %{{.*}}, %{{.*}} {transpose_rhs} : (tensor<4x128x768xf32>, tensor<2304x768xf32>) -> tensor<4x128x2304xf32>
  %3 = tsr.matmul %x, %wt {transpose_rhs} : (tensor<4x128x768xf32>, tensor<2304x768xf32>) -> tensor<4x128x2304xf32>
  return
}

// Tests that every reduction round-trips, with and without keep_dims.
// CHECK-LABEL: func.func @reductions
func.func @reductions(%x: tensor<4x128x768xf32>, %i: tensor<4x8xi64>) {
  // CHECK: tsr.reduce_sum %{{.*}} axes = [2] keep_dims : tensor<4x128x768xf32> -> tensor<4x128x1xf32>
  %0 = tsr.reduce_sum %x axes = [2] keep_dims : tensor<4x128x768xf32> -> tensor<4x128x1xf32>
  // CHECK: tsr.reduce_mean %{{.*}} axes = [1, 2] : tensor<4x128x768xf32> -> tensor<4xf32>
  %1 = tsr.reduce_mean %x axes = [1, 2] : tensor<4x128x768xf32> -> tensor<4xf32>
  // CHECK: tsr.reduce_max %{{.*}} axes = [0] : tensor<4x8xi64> -> tensor<8xi64>
  %2 = tsr.reduce_max %i axes = [0] : tensor<4x8xi64> -> tensor<8xi64>
  // CHECK: tsr.reduce_min
  %3 = tsr.reduce_min %x axes = [2] keep_dims : tensor<4x128x768xf32> -> tensor<4x128x1xf32>
  // CHECK: tsr.reduce_prod
  %4 = tsr.reduce_prod %i axes = [0, 1] : tensor<4x8xi64> -> tensor<i64>
  return
}

// Tests that softmax and the normalisations round-trip.
// CHECK-LABEL: func.func @norms
func.func @norms(%x: tensor<4x128x768xf32>, %g: tensor<768xf32>,
                 %b: tensor<768xf32>, %s: tensor<4x12x128x128xf32>,
                 %g2: tensor<128x768xf32>) {
  // CHECK: tsr.softmax %{{.*}} axis = 3 : tensor<4x12x128x128xf32>
  %0 = tsr.softmax %s axis = 3 : tensor<4x12x128x128xf32>
  // CHECK: tsr.layer_norm %{{.*}}, %{{.*}}, %{{.*}} axis = 2 epsilon = 1.000000e-05 : (tensor<4x128x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  %1 = tsr.layer_norm %x, %g, %b axis = 2 epsilon = 1.0e-05 : (tensor<4x128x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.layer_norm %{{.*}}, %{{.*}} axis = 2 epsilon = 1.000000e-05 : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  %2 = tsr.layer_norm %x, %g axis = 2 epsilon = 1.0e-05 : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.layer_norm %{{.*}}, %{{.*}} axis = 1
  %3 = tsr.layer_norm %x, %g2 axis = 1 epsilon = 1.0e-05 : (tensor<4x128x768xf32>, tensor<128x768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.rms_norm %{{.*}}, %{{.*}} axis = 2 epsilon = 9.9999999999999995E-7 : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  %4 = tsr.rms_norm %x, %g axis = 2 epsilon = 1.0e-06 : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  return
}
