// RUN: tessera-opt --split-input-file --tsr-train-loss=logits=scores --verify-diagnostics %s -o /dev/null

// Tests that a missing logits output is named with the outputs there are.
// expected-error @+1 {{no output named 'scores' to take the loss of (outputs: logits)}}
func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32> {tsr.name = "logits"}) {
  return %x : tensor<2x3xf32>
}

// -----

// Tests that logits must be float [..., vocabulary].
// expected-error @+1 {{cross-entropy needs float logits [..., vocabulary], not 'tensor<3xf32>'}}
func.func @main(%x: tensor<3xf32>) -> (tensor<3xf32> {tsr.name = "scores"}) {
  return %x : tensor<3xf32>
}
