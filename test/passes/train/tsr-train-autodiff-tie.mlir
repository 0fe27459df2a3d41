// RUN: tessera-opt --tsr-train-autodiff="tie=head=emb" %s | FileCheck %s --check-prefix=TIE

// Tests --tie: a weight written twice (an embedding and its transposed LM-head
// copy) becomes one parameter; the copy reads the embedding's transpose.
// TIE-LABEL: func.func @main
// TIE-SAME: -> (tensor<f32> {tsr.name = "loss"}, tensor<5x3xf32> {tsr.grad_of = "emb", tsr.name = "grad:emb"})
// TIE-NOT: "head"
// TIE: tsr.transpose %{{.*}} perm = [1, 0] : tensor<5x3xf32> -> tensor<3x5xf32>
func.func @main(%ids: tensor<2xi64>) -> tensor<f32> {
  %emb = tsr.weight "emb" : tensor<5x3xf32>
  %head = tsr.weight "head" : tensor<3x5xf32>
  %e = tsr.gather %emb[%ids] axis = 0 : (tensor<5x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  %s = tsr.matmul %e, %head : (tensor<2x3xf32>, tensor<3x5xf32>) -> tensor<2x5xf32>
  %l = tsr.reduce_sum %s axes = [0, 1] : tensor<2x5xf32> -> tensor<f32>
  return %l : tensor<f32>
}
