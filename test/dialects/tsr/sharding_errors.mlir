// RUN: tessera-opt %s --split-input-file --verify-diagnostics

// Tests that a layout is R, P, M or S<dim>.
func.func @bad_layout(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'tsr.sharding': layout "S" is not "R", "P" or "S<dim>" (or "M", a partial maximum)}}
  %0 = tsr.exp %x {tsr.sharding = #tsr.sharding<operands = [S], results = [R]>} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// Tests that the fields are the attribute's.
func.func @unknown_field(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'tsr.sharding': unknown field 'cost' (seconds, weight_bytes, share, vocab_parallel)}}
  %0 = tsr.exp %x {tsr.sharding = #tsr.sharding<operands = [R], results = [R], cost = 1.0>} : tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

// Tests that a rank's share of the work is positive.
func.func @share(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{sharding: seconds and weight_bytes must not be negative, share must be positive}}
  %0 = tsr.exp %x {tsr.sharding = #tsr.sharding<operands = [R], results = [R], share = 0.0>} : tensor<8xf32>
  return %0 : tensor<8xf32>
}
