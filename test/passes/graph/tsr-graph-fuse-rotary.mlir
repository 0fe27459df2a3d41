// RUN: tessera-opt --split-input-file --tsr-graph-fuse %s | FileCheck %s

// Tests that x * cos + rotate_half(x) * sin fuses into rotary.
// CHECK-LABEL: func.func @rotary
// CHECK-SAME: (%[[X:[^:]*]]: tensor<1x2x4x8xf32>, %[[C:[^:]*]]: tensor<1x1x4x8xf32>, %[[S:[^:]*]]: tensor<1x1x4x8xf32>)
// CHECK-NEXT: %[[R:.*]] = tsr.rotary %[[X]], %[[C]], %[[S]] :
// CHECK-NEXT: return %[[R]]
func.func @rotary(%x: tensor<1x2x4x8xf32>, %cos: tensor<1x1x4x8xf32>, %sin: tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %lo = tsr.slice %x start = [0, 0, 0, 0] limit = [1, 2, 4, 4] : tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  %hi = tsr.slice %x start = [0, 0, 0, 4] limit = [1, 2, 4, 8] : tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  %nhi = tsr.neg %hi : tensor<1x2x4x4xf32>
  %rh = tsr.concat %nhi, %lo axis = 3 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  %a = tsr.mul %x, %cos : (tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %b = tsr.mul %rh, %sin : (tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %y = tsr.add %a, %b : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %y : tensor<1x2x4x8xf32>
}

// -----

// Tests partial rotary (GPT-NeoX): the first 4 of 8 features rotate, the
// rest pass through, and the whole becomes one rotary of width 4.
// CHECK-LABEL: func.func @partial_rotary
// CHECK-SAME: (%[[X:[^:]*]]: tensor<1x2x4x8xf32>, %[[C:[^:]*]]: tensor<4x4xf32>, %[[S:[^:]*]]: tensor<4x4xf32>)
// CHECK-NEXT: %[[R:.*]] = tsr.rotary %[[X]], %[[C]], %[[S]] : (tensor<1x2x4x8xf32>, tensor<4x4xf32>, tensor<4x4xf32>) -> tensor<1x2x4x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @partial_rotary(%q: tensor<1x2x4x8xf32>, %cos: tensor<4x4xf32>, %sin: tensor<4x4xf32>) -> tensor<1x2x4x8xf32> {
  %x = tsr.slice %q start = [0, 0, 0, 0] limit = [1, 2, 4, 4] : tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  %pass = tsr.slice %q start = [0, 0, 0, 4] limit = [1, 2, 4, 8] : tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  %lo = tsr.slice %x start = [0, 0, 0, 0] limit = [1, 2, 4, 2] : tensor<1x2x4x4xf32> -> tensor<1x2x4x2xf32>
  %hi = tsr.slice %x start = [0, 0, 0, 2] limit = [1, 2, 4, 4] : tensor<1x2x4x4xf32> -> tensor<1x2x4x2xf32>
  %nhi = tsr.neg %hi : tensor<1x2x4x2xf32>
  %rh = tsr.concat %nhi, %lo axis = 3 : (tensor<1x2x4x2xf32>, tensor<1x2x4x2xf32>) -> tensor<1x2x4x4xf32>
  %a = tsr.mul %cos, %x : (tensor<4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %b = tsr.mul %rh, %sin : (tensor<1x2x4x4xf32>, tensor<4x4xf32>) -> tensor<1x2x4x4xf32>
  %r = tsr.add %b, %a : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %y = tsr.concat %r, %pass axis = 3 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  return %y : tensor<1x2x4x8xf32>
}

// -----

// Tests that a near miss does not fuse: the halves are swapped without the
// negation, which is not a rotation.
// CHECK-LABEL: func.func @swap_without_negation
// CHECK-NOT: tsr.rotary
func.func @swap_without_negation(%x: tensor<1x2x4x8xf32>, %cos: tensor<1x1x4x8xf32>, %sin: tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %lo = tsr.slice %x start = [0, 0, 0, 0] limit = [1, 2, 4, 4] : tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  %hi = tsr.slice %x start = [0, 0, 0, 4] limit = [1, 2, 4, 8] : tensor<1x2x4x8xf32> -> tensor<1x2x4x4xf32>
  %rh = tsr.concat %hi, %lo axis = 3 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  %a = tsr.mul %x, %cos : (tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %b = tsr.mul %rh, %sin : (tensor<1x2x4x8xf32>, tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %y = tsr.add %a, %b : (tensor<1x2x4x8xf32>, tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32>
  return %y : tensor<1x2x4x8xf32>
}
