// RUN: tessera-opt %s --split-input-file --canonicalize | FileCheck %s

// Tests that x + 0, x - 0, x * 1 and x / 1 fold to x.
// CHECK-LABEL: func.func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %one = tsr.constant dense<1.0> : tensor<8xf32>
  %0 = tsr.add %x, %zero : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %1 = tsr.sub %x, %zero : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %2 = tsr.mul %one, %x : (tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %3 = tsr.div %x, %one : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  return %0, %1, %2, %3 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Tests that adding zero does not fold when it broadcasts x to a larger shape.
// CHECK-LABEL: func.func @identity_that_broadcasts
// CHECK: tsr.add
func.func @identity_that_broadcasts(%x: tensor<8xf32>) -> tensor<4x8xf32> {
  %zero = tsr.constant dense<0.0> : tensor<4x8xf32>
  %0 = tsr.add %x, %zero : (tensor<8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// Tests that shape arithmetic on constants folds.
// CHECK-LABEL: func.func @shape_arithmetic
// CHECK-NEXT: %[[C:.*]] = tsr.constant dense<[2, 125]> : tensor<2xi64>
// CHECK-NEXT: return %[[C]]
func.func @shape_arithmetic() -> tensor<2xi64> {
  %a = tsr.constant dense<[4, 128]> : tensor<2xi64>
  %b = tsr.constant dense<[2, 2]> : tensor<2xi64>
  %c = tsr.constant dense<[0, 1]> : tensor<2xi64>
  %0 = tsr.div %a, %b : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %1 = tsr.sub %0, %c : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %2 = tsr.mul %1, %c : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %3 = tsr.add %2, %1 : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  %4 = tsr.sub %3, %c : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return %4 : tensor<2xi64>
}

// -----

// Tests that integer division by zero is not folded.
// CHECK-LABEL: func.func @divide_by_zero
// CHECK: tsr.div
func.func @divide_by_zero() -> tensor<2xi64> {
  %a = tsr.constant dense<[4, 128]> : tensor<2xi64>
  %b = tsr.constant dense<[2, 0]> : tensor<2xi64>
  %0 = tsr.div %a, %b : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  return %0 : tensor<2xi64>
}

// -----

// Tests that no-op casts, reshapes, transposes, broadcasts, slices, concats
// and reductions fold away.
// CHECK-LABEL: func.func @no_ops
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]], %[[X]]
func.func @no_ops(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %0 = tsr.cast %x : tensor<4x8xf32> to tensor<4x8xf32>
  %1 = tsr.reshape %x : tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = tsr.transpose %x perm = [0, 1] : tensor<4x8xf32> -> tensor<4x8xf32>
  %3 = tsr.broadcast %x : tensor<4x8xf32> -> tensor<4x8xf32>
  %4 = tsr.slice %x start = [0, 0] limit = [4, 8] : tensor<4x8xf32> -> tensor<4x8xf32>
  %5 = tsr.concat %x axis = 0 : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %6 = tsr.reduce_sum %x axes = [] : tensor<4x8xf32> -> tensor<4x8xf32>
  return %0, %1, %2, %3, %4, %5, %6 : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}

// -----

// Tests that chains of reshapes and transposes collapse.
// CHECK-LABEL: func.func @chains
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[R:.*]] = tsr.reshape %[[X]] : tensor<2x3x4xf32> -> tensor<24xf32>
// CHECK-NEXT: %[[T:.*]] = tsr.transpose %[[X]] perm = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
// CHECK-NEXT: return %[[R]], %[[T]]
func.func @chains(%x: tensor<2x3x4xf32>) -> (tensor<24xf32>, tensor<4x2x3xf32>) {
  %0 = tsr.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %1 = tsr.reshape %0 : tensor<6x4xf32> -> tensor<24xf32>
  %2 = tsr.transpose %x perm = [1, 2, 0] : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
  %3 = tsr.transpose %2 perm = [1, 2, 0] : tensor<3x4x2xf32> -> tensor<4x2x3xf32>
  return %1, %3 : tensor<24xf32>, tensor<4x2x3xf32>
}

// -----

// Tests that reshapes of constants, and slices and broadcasts of splats, fold.
// CHECK-LABEL: func.func @constant_data_movement
// CHECK-DAG: tsr.constant dense<{{\[\[}}1, 2], [3, 4]]> : tensor<2x2xi64>
// CHECK-DAG: tsr.constant dense<0xFF800000> : tensor<4x4xf32>
// CHECK-DAG: tsr.constant dense<0xFF800000> : tensor<2x8xf32>
// CHECK-NOT: tsr.reshape
// CHECK-NOT: tsr.slice
// CHECK-NOT: tsr.broadcast
func.func @constant_data_movement() -> (tensor<2x2xi64>, tensor<4x4xf32>, tensor<2x8xf32>) {
  %a = tsr.constant dense<[1, 2, 3, 4]> : tensor<4xi64>
  %0 = tsr.reshape %a : tensor<4xi64> -> tensor<2x2xi64>
  %inf = tsr.constant dense<0xFF800000> : tensor<8x8xf32>
  %1 = tsr.slice %inf start = [0, 0] limit = [8, 8] strides = [2, 2] : tensor<8x8xf32> -> tensor<4x4xf32>
  %s = tsr.constant dense<0xFF800000> : tensor<1x8xf32>
  %2 = tsr.broadcast %s : tensor<1x8xf32> -> tensor<2x8xf32>
  return %0, %1, %2 : tensor<2x2xi64>, tensor<4x4xf32>, tensor<2x8xf32>
}

// -----

// Tests that a weight reference is never folded into data.
// CHECK-LABEL: func.func @weights_stay
// CHECK: tsr.weight "wte"
// CHECK: tsr.reshape
func.func @weights_stay() -> tensor<8x2xf32> {
  %w = tsr.weight "wte" : tensor<4x4xf32>
  %0 = tsr.reshape %w : tensor<4x4xf32> -> tensor<8x2xf32>
  return %0 : tensor<8x2xf32>
}

// -----

// Tests that a transpose of a collapsing reshape moves above the reshape when
// it permutes whole merged groups, so that transposes meet and cancel.
// CHECK-LABEL: func.func @transpose_through_collapse
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x2x16x8xf32>)
// CHECK-NEXT: %[[T:.*]] = tsr.transpose %[[X]] perm = [0, 1, 2, 4, 3] : tensor<1x2x2x16x8xf32> -> tensor<1x2x2x8x16xf32>
// CHECK-NEXT: %[[R:.*]] = tsr.reshape %[[T]] : tensor<1x2x2x8x16xf32> -> tensor<4x8x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @transpose_through_collapse(%x: tensor<1x2x2x16x8xf32>) -> tensor<4x8x16xf32> {
  %0 = tsr.reshape %x : tensor<1x2x2x16x8xf32> -> tensor<4x16x8xf32>
  %1 = tsr.transpose %0 perm = [0, 2, 1] : tensor<4x16x8xf32> -> tensor<4x8x16xf32>
  return %1 : tensor<4x8x16xf32>
}

// -----

// Tests that a reshape that splits dimensions (not a collapse) keeps the
// transpose below it.
// CHECK-LABEL: func.func @transpose_after_split
// CHECK: tsr.reshape
// CHECK-NEXT: tsr.transpose
func.func @transpose_after_split(%x: tensor<2x16x64xf32>) -> tensor<2x4x16x16xf32> {
  %0 = tsr.reshape %x : tensor<2x16x64xf32> -> tensor<2x16x4x16xf32>
  %1 = tsr.transpose %0 perm = [0, 2, 1, 3] : tensor<2x16x4x16xf32> -> tensor<2x4x16x16xf32>
  return %1 : tensor<2x4x16x16xf32>
}

// -----

// Tests that a reshape of a transpose that only moves unit dimensions is one
// transpose (Falcon writes K^T of its single key head this way).
// CHECK-LABEL: func.func @reshape_of_transpose
// CHECK: %[[T:.*]] = tsr.transpose %arg0 perm = [0, 1, 3, 2] : tensor<2x1x16x8xf32> -> tensor<2x1x8x16xf32>
// CHECK-NEXT: return %[[T]]
func.func @reshape_of_transpose(%k: tensor<2x1x16x8xf32>) -> tensor<2x1x8x16xf32> {
  %t = tsr.transpose %k perm = [0, 3, 1, 2] : tensor<2x1x16x8xf32> -> tensor<2x8x1x16xf32>
  %r = tsr.reshape %t : tensor<2x8x1x16xf32> -> tensor<2x1x8x16xf32>
  return %r : tensor<2x1x8x16xf32>
}

// -----

// Tests that a reshape that reorders data after a transpose stays.
// CHECK-LABEL: func.func @reshape_of_transpose_kept
// CHECK: tsr.transpose
// CHECK: tsr.reshape
func.func @reshape_of_transpose_kept(%k: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %t = tsr.transpose %k perm = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %r = tsr.reshape %t : tensor<4x2x3xf32> -> tensor<4x6xf32>
  return %r : tensor<4x6xf32>
}
