// RUN: tessera-opt --tsr-partition-search=tp=4 %s | FileCheck %s

// Tests that the search can split a mixture of experts' tables by expert
// (expert parallelism) where that is what pays: the MoE block as exporters
// write it (each token's experts' weights gathered by the routing's
// indices, a batched product, the weighted sum over the top-k), with 4
// experts whose other dimensions do not divide by 4. Each rank gathers the
// rows of its own experts (the others zero: a partial sum, "P"), multiplies
// them, and the partial sums meet once, after the product (all-reduced);
// the table is never gathered whole.
// CHECK-LABEL: func.func @main
// CHECK: tsr.weight "experts.w" {tsr.sharding = #tsr.sharding<operands = [], results = [S0]
// CHECK: tsr.gather {{.*}} {tsr.sharding = #tsr.sharding<operands = [S0, R], results = [P]
// CHECK: tsr.matmul {{.*}} {tsr.sharding = #tsr.sharding<operands = [P, R], results = [P]
func.func @main(%x: tensor<6x701x1xf32> {tsr.name = "x"}, %ids: tensor<6xi64> {tsr.name = "ids"}) -> (tensor<6x501x1xf32> {tsr.name = "y"}) {
  %w = tsr.weight "experts.w" : tensor<4x501x701xf32>
  %g = tsr.gather %w[%ids] axis = 0 : (tensor<4x501x701xf32>, tensor<6xi64>) -> tensor<6x501x701xf32>
  %y = tsr.matmul %g, %x : (tensor<6x501x701xf32>, tensor<6x701x1xf32>) -> tensor<6x501x1xf32>
  return %y : tensor<6x501x1xf32>
}
