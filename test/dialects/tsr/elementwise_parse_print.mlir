// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --mlir-print-op-generic | tessera-opt | FileCheck %s

// Tests that weights and constants round-trip.
// CHECK-LABEL: func.func @sources
func.func @sources() -> (tensor<768x2304xf32>, tensor<2xi64>, tensor<f32>) {
  // CHECK: tsr.weight "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
  %w = tsr.weight "h.0.attn.c_attn.weight" : tensor<768x2304xf32>
  // CHECK: tsr.constant dense<[4, 128]> : tensor<2xi64>
  %c = tsr.constant dense<[4, 128]> : tensor<2xi64>
  // CHECK: tsr.constant dense<9.99999974E-6> : tensor<f32>
  %e = tsr.constant dense<1.0e-05> : tensor<f32>
  return %w, %c, %e : tensor<768x2304xf32>, tensor<2xi64>, tensor<f32>
}

// Tests that every unary elementwise op round-trips.
// CHECK-LABEL: func.func @unary
func.func @unary(%x: tensor<4x8xf32>, %i: tensor<4xi64>, %b: tensor<4xi1>) {
  // CHECK: tsr.neg %{{.*}} : tensor<4x8xf32>
  %0 = tsr.neg %x : tensor<4x8xf32>
  // CHECK: tsr.neg %{{.*}} : tensor<4xi64>
  %1 = tsr.neg %i : tensor<4xi64>
  // CHECK: tsr.abs
  %2 = tsr.abs %x : tensor<4x8xf32>
  // CHECK: tsr.relu
  %3 = tsr.relu %x : tensor<4x8xf32>
  // CHECK: tsr.exp
  %4 = tsr.exp %x : tensor<4x8xf32>
  // CHECK: tsr.log
  %5 = tsr.log %x : tensor<4x8xf32>
  // CHECK: tsr.sqrt
  %6 = tsr.sqrt %x : tensor<4x8xf32>
  // CHECK: tsr.rsqrt
  %7 = tsr.rsqrt %x : tensor<4x8xf32>
  // CHECK: tsr.reciprocal
  %8 = tsr.reciprocal %x : tensor<4x8xf32>
  // CHECK: tsr.tanh
  %9 = tsr.tanh %x : tensor<4x8xf32>
  // CHECK: tsr.erf
  %10 = tsr.erf %x : tensor<4x8xf32>
  // CHECK: tsr.sigmoid
  %11 = tsr.sigmoid %x : tensor<4x8xf32>
  // CHECK: tsr.sin
  %12 = tsr.sin %x : tensor<4x8xf32>
  // CHECK: tsr.cos
  %13 = tsr.cos %x : tensor<4x8xf32>
  // CHECK: tsr.silu
  %14 = tsr.silu %x : tensor<4x8xf32>
  // CHECK: tsr.not %{{.*}} : tensor<4xi1>
  %15 = tsr.not %b : tensor<4xi1>
  // CHECK: tsr.gelu %{{.*}} : tensor<4x8xf32>
  %16 = tsr.gelu %x : tensor<4x8xf32>
  // CHECK: tsr.gelu %{{.*}} approximate = tanh : tensor<4x8xf32>
  %17 = tsr.gelu %x approximate = tanh : tensor<4x8xf32>
  // The default is not printed.
  // CHECK: tsr.gelu %{{.*}} : tensor<4x8xf32>
  %18 = tsr.gelu %x approximate = none : tensor<4x8xf32>
  return
}

// Tests that binary ops round-trip, with and without broadcasting.
// CHECK-LABEL: func.func @binary
func.func @binary(%a: tensor<4x128x768xf32>, %b: tensor<768xf32>,
                  %p: tensor<4xi1>, %q: tensor<1xi1>, %n: tensor<2xi64>) {
  // CHECK: tsr.add %{{.*}}, %{{.*}} : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  %0 = tsr.add %a, %b : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.sub
  %1 = tsr.sub %b, %a : (tensor<768xf32>, tensor<4x128x768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.mul
  %2 = tsr.mul %a, %a : (tensor<4x128x768xf32>, tensor<4x128x768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.div %{{.*}}, %{{.*}} : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %3 = tsr.div %n, %n : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  // CHECK: tsr.pow
  %4 = tsr.pow %a, %b : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.max
  %5 = tsr.max %a, %b : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.min
  %6 = tsr.min %a, %b : (tensor<4x128x768xf32>, tensor<768xf32>) -> tensor<4x128x768xf32>
  // CHECK: tsr.and %{{.*}}, %{{.*}} : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  %7 = tsr.and %p, %q : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  // CHECK: tsr.or
  %8 = tsr.or %p, %q : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  // CHECK: tsr.xor
  %9 = tsr.xor %p, %q : (tensor<4xi1>, tensor<1xi1>) -> tensor<4xi1>
  return
}

// Tests that compare, select and cast round-trip.
// CHECK-LABEL: func.func @compare_select_cast
func.func @compare_select_cast(%i: tensor<128x1xi64>, %j: tensor<128xi64>,
                               %s: tensor<2x12x128x128xf32>, %f: tensor<f32>)
    -> tensor<2x12x128x128xbf16> {
  // CHECK: tsr.compare le, %{{.*}}, %{{.*}} : (tensor<128xi64>, tensor<128x1xi64>) -> tensor<128x128xi1>
  %m = tsr.compare le, %j, %i : (tensor<128xi64>, tensor<128x1xi64>) -> tensor<128x128xi1>
  // CHECK: tsr.compare eq
  %e = tsr.compare eq, %i, %i : (tensor<128x1xi64>, tensor<128x1xi64>) -> tensor<128x1xi1>
  // CHECK: tsr.compare ne
  %n = tsr.compare ne, %i, %i : (tensor<128x1xi64>, tensor<128x1xi64>) -> tensor<128x1xi1>
  // CHECK: tsr.compare lt
  %l = tsr.compare lt, %i, %i : (tensor<128x1xi64>, tensor<128x1xi64>) -> tensor<128x1xi1>
  // CHECK: tsr.compare gt
  %g = tsr.compare gt, %i, %i : (tensor<128x1xi64>, tensor<128x1xi64>) -> tensor<128x1xi1>
  // CHECK: tsr.compare ge
  %h = tsr.compare ge, %i, %i : (tensor<128x1xi64>, tensor<128x1xi64>) -> tensor<128x1xi1>
  // CHECK: tsr.select %{{.*}}, %{{.*}}, %{{.*}} : (tensor<128x128xi1>, tensor<2x12x128x128xf32>, tensor<f32>) -> tensor<2x12x128x128xf32>
  %w = tsr.select %m, %s, %f : (tensor<128x128xi1>, tensor<2x12x128x128xf32>, tensor<f32>) -> tensor<2x12x128x128xf32>
  // CHECK: tsr.cast %{{.*}} : tensor<2x12x128x128xf32> to tensor<2x12x128x128xbf16>
  %c = tsr.cast %w : tensor<2x12x128x128xf32> to tensor<2x12x128x128xbf16>
  return %c : tensor<2x12x128x128xbf16>
}
