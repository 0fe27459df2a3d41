// RUN: tessera-opt --split-input-file --tsr-generate-decode --verify-diagnostics %s -o /dev/null

// Tests that a function without the token ids input is refused with its inputs.
// expected-error @+1 {{generation: no input named 'input_ids' (the token ids; the inputs are tokens); name it with the decode pass's `ids` option}}
func.func @main(%x: tensor<2x8xi64> {tsr.name = "tokens"}) -> (tensor<2x8xi64> {tsr.name = "y"}) {
  return %x : tensor<2x8xi64>
}

// -----

// Tests that an input with no role in generation is refused by name.
// expected-error @+1 {{generation: input 'token_type_ids' has no role in generation}}
func.func @main(%ids: tensor<2x8xi64> {tsr.name = "input_ids"}, %t: tensor<2x8xi64> {tsr.name = "token_type_ids"}) -> (tensor<2x8xi64> {tsr.name = "y"}) {
  return %ids : tensor<2x8xi64>
}

// -----

// Tests that an op mixing positions (a sum over the sequence) is refused by name.
func.func @main(%ids: tensor<2x8xi64> {tsr.name = "input_ids"}) -> (tensor<2x16xf32> {tsr.name = "pooled"}) {
  %w = tsr.weight "wte" : tensor<32x16xf32>
  %h = tsr.gather %w[%ids] axis = 0 : (tensor<32x16xf32>, tensor<2x8xi64>) -> tensor<2x8x16xf32>
  // expected-error @+1 {{generation: 'tsr.reduce_sum' reduces over the sequence; a decode step computes one position at a time}}
  %s = tsr.reduce_sum %h axes = [1] : tensor<2x8x16xf32> -> tensor<2x16xf32>
  return %s : tensor<2x16xf32>
}

// -----

// Tests that a model with no attention over the tokens has nothing to cache.
// expected-error @+1 {{generation: no attention over the tokens to cache}}
func.func @main(%ids: tensor<2x8xi64> {tsr.name = "input_ids"}) -> (tensor<2x8x16xf32> {tsr.name = "h"}) {
  %w = tsr.weight "wte" : tensor<32x16xf32>
  %h = tsr.gather %w[%ids] axis = 0 : (tensor<32x16xf32>, tensor<2x8xi64>) -> tensor<2x8x16xf32>
  return %h : tensor<2x8x16xf32>
}

// -----

// Tests that token rows copied over a new leading dimension (the rows of
// several sequences mixed along it) are refused by name; a unit dimension
// before rows that merge the batch ([1, B*S, k, ...]: a mixture of experts'
// top-k copies of the tokens) is fine (e2e/decoders.test, the TorchScript MoE
// exports at batch 2).
func.func @main(%ids: tensor<2x8xi64> {tsr.name = "input_ids"}) -> (tensor<3x16x16xf32> {tsr.name = "h"}) {
  %w = tsr.weight "wte" : tensor<32x16xf32>
  %h = tsr.gather %w[%ids] axis = 0 : (tensor<32x16xf32>, tensor<2x8xi64>) -> tensor<2x8x16xf32>
  %r = tsr.reshape %h : tensor<2x8x16xf32> -> tensor<1x16x16xf32>
  // expected-error @+1 {{generation: 'tsr.broadcast' broadcasts token rows over a new batch}}
  %b = tsr.broadcast %r : tensor<1x16x16xf32> -> tensor<3x16x16xf32>
  return %b : tensor<3x16x16xf32>
}
