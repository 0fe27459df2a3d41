// RUN: tessera-opt %s | FileCheck %s
// RUN: tessera-opt %s | tessera-opt | FileCheck %s

// Tests that the typed sharding attribute round-trips: layouts R, P, M and
// S<d>, the plan's figures exactly (shortest form that reads back the same
// double), figures at their defaults (seconds 0, share 1) left out.
// CHECK: tsr.weight "w" {tsr.sharding = #tsr.sharding<operands = [], results = [S1], weight_bytes = 32768.0, share = 0.5>}
// CHECK: tsr.matmul {{.*}} {tsr.sharding = #tsr.sharding<operands = [R, S1], results = [S1], seconds = 1.7664e-06, share = 0.5>}
// CHECK: tsr.reduce_max {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1], results = [M]>}
// CHECK: tsr.gather {{.*}} {tsr.sharding = #tsr.sharding<operands = [S0, R], results = [P], seconds = 0.1, vocab_parallel>}
func.func @main(%x: tensor<8x64xf32>, %i: tensor<8xi64>) -> (tensor<8x1xf32>, tensor<8x64xf32>) {
  %w = tsr.weight "w" {tsr.sharding = #tsr.sharding<operands = [], results = [S1], share = 0.5, weight_bytes = 32768.0>} : tensor<64x256xf32>
  %h = tsr.matmul %x, %w {tsr.sharding = #tsr.sharding<operands = [R, S1], results = [S1], seconds = 1.7664e-06, share = 5.0e-01>}
      : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %m = tsr.reduce_max %h axes = [1] keep_dims {tsr.sharding = #tsr.sharding<operands = [S1], results = [M], seconds = 0.0>}
      : tensor<8x256xf32> -> tensor<8x1xf32>
  %e = tsr.weight "e" : tensor<512x64xf32>
  %g = tsr.gather %e[%i] axis = 0 {tsr.sharding = #tsr.sharding<operands = [S0, R], results = [P], seconds = 0.1, vocab_parallel>}
      : (tensor<512x64xf32>, tensor<8xi64>) -> tensor<8x64xf32>
  return %m, %g : tensor<8x1xf32>, tensor<8x64xf32>
}
