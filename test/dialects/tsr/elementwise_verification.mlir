// RUN: tessera-opt %s --split-input-file --verify-diagnostics

// Tests that a weight needs a name.
func.func @weight_without_name() -> tensor<4xf32> {
  // expected-error @+1 {{weight name must not be empty}}
  %w = tsr.weight "" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// Tests that weights have static shapes.
func.func @weight_dynamic() -> tensor<?xf32> {
  // expected-error @+1 {{must be statically shaped tensor}}
  %w = tsr.weight "w" : tensor<?xf32>
  return %w : tensor<?xf32>
}

// -----

// Tests that a constant's value has the result type (generic form).
func.func @constant_type_mismatch() -> tensor<2xf32> {
  // expected-error @+1 {{all of {value, result} have same type}}
  %c = "tsr.constant"() <{value = dense<1.0> : tensor<2xf16>}> : () -> tensor<2xf32>
  return %c : tensor<2xf32>
}

// -----

// Tests that transcendental ops need floats.
func.func @exp_of_integer(%x: tensor<4xi64>) -> tensor<4xi64> {
  // expected-error @+1 {{must be statically shaped tensor of floating-point values}}
  %0 = tsr.exp %x : tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

// Tests that binary operands must broadcast.
func.func @add_not_broadcastable(%a: tensor<4x8xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{operands don't have broadcast-compatible shapes}}
  %0 = tsr.add %a, %b : (tensor<4x8xf32>, tensor<3xf32>) -> tensor<4x8xf32>
  return
}

// -----

// Tests that the result of a binary op is the broadcast shape.
func.func @add_wrong_result(%a: tensor<4x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{not broadcast compatible with broadcasted operands's shapes '4x8'}}
  %0 = tsr.add %a, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x9xf32>
  return
}

// -----

// Tests that a result with too many dimensions is caught by inference.
func.func @add_result_too_big(%a: tensor<4x8xf32>, %b: tensor<8xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<4x8xf32>' are incompatible with return type(s) of operation 'tensor<2x4x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.add %a, %b : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<2x4x8xf32>
  return
}

// -----

// Tests that binary operands share an element type.
func.func @add_mixed_types(%a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{all of {lhs, rhs, result} have same element type}}
  %0 = tsr.add %a, %b : (tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

// Tests that logical ops need i1.
func.func @and_of_float(%a: tensor<4xf32>) {
  // expected-error @+1 {{must be statically shaped tensor of 1-bit signless integer values}}
  %0 = tsr.and %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that compare yields i1.
func.func @compare_non_bool(%a: tensor<4xi64>) {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 1-bit signless integer values}}
  %0 = tsr.compare lt, %a, %a : (tensor<4xi64>, tensor<4xi64>) -> tensor<4xi64>
  return
}

// -----

// Tests that compare operands must broadcast.
func.func @compare_not_broadcastable(%a: tensor<4xi64>, %b: tensor<3xi64>) {
  // expected-error @+1 {{operands don't have broadcast-compatible shapes}}
  %0 = tsr.compare eq, %a, %b : (tensor<4xi64>, tensor<3xi64>) -> tensor<4xi1>
  return
}

// -----

// Tests that compare operands share an element type.
func.func @compare_mixed(%a: tensor<4xi64>, %b: tensor<4xi32>) {
  // expected-error @+1 {{all of {lhs, rhs} have same element type}}
  %0 = tsr.compare eq, %a, %b : (tensor<4xi64>, tensor<4xi32>) -> tensor<4xi1>
  return
}

// -----

// Tests that select's branches share an element type.
func.func @select_mixed(%c: tensor<4xi1>, %a: tensor<4xf32>, %b: tensor<4xf16>) {
  // expected-error @+1 {{all of {on_true, on_false, result} have same element type}}
  %0 = tsr.select %c, %a, %b : (tensor<4xi1>, tensor<4xf32>, tensor<4xf16>) -> tensor<4xf32>
  return
}

// -----

// Tests that select's operands broadcast.
func.func @select_not_broadcastable(%c: tensor<3xi1>, %a: tensor<4xf32>) {
  // expected-error @+1 {{operands don't have broadcast-compatible shapes}}
  %0 = tsr.select %c, %a, %a : (tensor<3xi1>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----

// Tests that cast keeps the shape.
func.func @cast_reshapes(%a: tensor<4xf32>) {
  // expected-error @+1 {{all non-scalar operands/results must have the same shape and base type}}
  %0 = tsr.cast %a : tensor<4xf32> to tensor<2x2xf16>
  return
}
