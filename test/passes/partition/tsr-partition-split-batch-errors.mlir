// RUN: tessera-opt --split-input-file --tsr-partition-split-batch=parts=2 --verify-diagnostics %s -o /dev/null

// Tests that a reduction over the batch is refused by name: it mixes samples.
func.func @mixes(%x: tensor<4x8xf32>) -> tensor<1x8xf32> {
  // expected-error @+1 {{'tsr.reduce_sum' mixes the samples of the batch: operand #0 tensor<4x8xf32> is split 2 ways along dimension 0}}
  %0 = tsr.reduce_sum %x axes = [0] keep_dims : tensor<4x8xf32> -> tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}

// -----

// Tests that a batch-sized weight (whose rows may differ: no replica can be
// given its own block of a weight) is not cut silently, and that the message
// names it (not the operand that is split correctly). Batch-sized constants
// become held inputs (tsr-partition-split-batch.mlir).
func.func @per_sample_weight(%x: tensor<4x2xf32>) -> tensor<4x2xf32> {
  %c = tsr.weight "w" : tensor<4x2xf32>
  // expected-error @+1 {{'tsr.add' mixes the samples of the batch: operand #1 tensor<4x2xf32> is the same whole tensor on every replica but differs between its 2 blocks along dimension 0, and it is not computed from constants}}
  %0 = tsr.add %x, %c : (tensor<4x2xf32>, tensor<4x2xf32>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// Tests that an input whose first dimension does not divide is named.
// expected-error @+1 {{input 'ids' tensor<3x8xi64> does not split 2 ways along its first dimension (the batch)}}
func.func @odd(%x: tensor<3x8xi64> {tsr.name = "ids"}) -> tensor<3x8xi64> {
  return %x : tensor<3x8xi64>
}
