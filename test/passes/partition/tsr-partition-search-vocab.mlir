// RUN: tessera-opt --tsr-partition-search=tp=2 %s | FileCheck %s

// Tests vocabulary-parallel cross-entropy: with the LM head split by its
// vocabulary columns, the log-sum-exp of the logits is computed on each
// rank's block - the row maximum as a partial maximum ("M", all-reduced with
// max), the sum of exponentials as a partial sum - instead of gathering the
// 8 x 32768 logits.
// CHECK-LABEL: func.func @main
// CHECK: tsr.weight "lm_head" {tsr.sharding = #tsr.sharding<operands = [], results = [S1]
// CHECK: tsr.matmul {{.*}} {tsr.sharding = #tsr.sharding<operands = [R, S1], results = [S1]
// CHECK: tsr.reduce_max {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1], results = [M]
// CHECK: tsr.sub {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1, R], results = [S1]
// CHECK: tsr.exp {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1], results = [S1]
// CHECK: tsr.reduce_sum {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1], results = [P]
func.func @main(%x: tensor<8x64xf32> {tsr.name = "x"}) -> (tensor<8xf32> {tsr.name = "lse"}) {
  %w = tsr.weight "lm_head" : tensor<64x32768xf32>
  %l = tsr.matmul %x, %w : (tensor<8x64xf32>, tensor<64x32768xf32>) -> tensor<8x32768xf32>
  %m = tsr.reduce_max %l axes = [1] keep_dims : tensor<8x32768xf32> -> tensor<8x1xf32>
  %s = tsr.sub %l, %m : (tensor<8x32768xf32>, tensor<8x1xf32>) -> tensor<8x32768xf32>
  %e = tsr.exp %s : tensor<8x32768xf32>
  %z = tsr.reduce_sum %e axes = [1] : tensor<8x32768xf32> -> tensor<8xf32>
  %lz = tsr.log %z : tensor<8xf32>
  %mr = tsr.reshape %m : tensor<8x1xf32> -> tensor<8xf32>
  %lse = tsr.add %lz, %mr : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %lse : tensor<8xf32>
}
