// RUN: tessera-opt --split-input-file --tsr-partition-spmd --verify-diagnostics %s -o /dev/null

// Tests that an op without its layout is named.
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {
    tsr.plan = {grid = array<i64: 1, 2>, tp = 2 : i64, tp_axis = 1 : i64}} {
  // expected-error @+1 {{no 'tsr.sharding' annotation: every op of a planned function needs its layout}}
  %0 = tsr.exp %x : tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}

// -----

// Tests that a split the shape does not divide is refused.
func.func @main(%x: tensor<7x64xf32>) -> tensor<7x64xf32> attributes {
    tsr.plan = {grid = array<i64: 1, 2>, tp = 2 : i64, tp_axis = 1 : i64}} {
  // expected-error @+1 {{'tsr.sharding': result 'tensor<7x64xf32>' cannot be split 2 ways along dimension 0}}
  %0 = tsr.exp %x {tsr.sharding = #tsr.sharding<operands = [S0], results = [S0]>} : tensor<7x64xf32>
  return %0 : tensor<7x64xf32>
}

// -----

// Tests that an unknown layout name is refused.
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> attributes {
    tsr.plan = {grid = array<i64: 1, 2>, tp = 2 : i64, tp_axis = 1 : i64}} {
  // expected-error @+1 {{'tsr.sharding': layout "Q" is not "R", "P" or "S<dim>"}}
  %0 = tsr.exp %x {tsr.sharding = #tsr.sharding<operands = [Q], results = [R]>} : tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}

// -----

// Tests that the function's plan is required.
// expected-error @+1 {{no 'tsr.plan' on the function: run the sharding search (--tsr-partition-search) first}}
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  return %x : tensor<8x64xf32>
}
