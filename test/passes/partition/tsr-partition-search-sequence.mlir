// RUN: tessera-opt --tsr-partition-search="tp=8 cluster=a100-nvlink-8" %s | FileCheck %s

// Tests that the search finds sequence parallelism for norms (Korthikanti et
// al., 2022) on its own: after a Megatron MLP (column- then row-parallel),
// the partial sum is reduce-scattered along the sequence (S1) instead of
// all-reduced, and the residual add and the next layer norm run on each
// rank's slice of the tokens - no rank normalises the whole activation.
// CHECK-LABEL: func.func @main
// CHECK: tsr.layer_norm {{.*}}operands = [R, R, R], results = [R]
// CHECK: tsr.matmul {{.*}}operands = [R, S1], results = [S2]
// CHECK: tsr.gelu {{.*}}operands = [S2], results = [S2]
// CHECK: tsr.matmul {{.*}}operands = [S2, S0], results = [P]
// CHECK: tsr.add {{.*}}operands = [S1, S1], results = [S1]
// CHECK: tsr.layer_norm {{.*}}operands = [S1, R, R], results = [S1]
func.func @main(%x: tensor<4x2048x1024xf16> {tsr.name = "x"}) -> (tensor<4x2048x1024xf16> {tsr.name = "y"}) {
  %g1 = tsr.weight "ln1.weight" : tensor<1024xf16>
  %b1 = tsr.weight "ln1.bias" : tensor<1024xf16>
  %w1 = tsr.weight "fc1" : tensor<1024x4096xf16>
  %w2 = tsr.weight "fc2" : tensor<4096x1024xf16>
  %n = tsr.layer_norm %x, %g1, %b1 axis = 2 epsilon = 1.0e-05 : (tensor<4x2048x1024xf16>, tensor<1024xf16>, tensor<1024xf16>) -> tensor<4x2048x1024xf16>
  %h = tsr.matmul %n, %w1 : (tensor<4x2048x1024xf16>, tensor<1024x4096xf16>) -> tensor<4x2048x4096xf16>
  %a = tsr.gelu %h : tensor<4x2048x4096xf16>
  %o = tsr.matmul %a, %w2 : (tensor<4x2048x4096xf16>, tensor<4096x1024xf16>) -> tensor<4x2048x1024xf16>
  %r = tsr.add %o, %x : (tensor<4x2048x1024xf16>, tensor<4x2048x1024xf16>) -> tensor<4x2048x1024xf16>
  %g2 = tsr.weight "ln2.weight" : tensor<1024xf16>
  %b2 = tsr.weight "ln2.bias" : tensor<1024xf16>
  %w3 = tsr.weight "fc3" : tensor<1024x4096xf16>
  %w4 = tsr.weight "fc4" : tensor<4096x1024xf16>
  %n2 = tsr.layer_norm %r, %g2, %b2 axis = 2 epsilon = 1.0e-05 : (tensor<4x2048x1024xf16>, tensor<1024xf16>, tensor<1024xf16>) -> tensor<4x2048x1024xf16>
  %h2 = tsr.matmul %n2, %w3 : (tensor<4x2048x1024xf16>, tensor<1024x4096xf16>) -> tensor<4x2048x4096xf16>
  %a2 = tsr.gelu %h2 : tensor<4x2048x4096xf16>
  %o2 = tsr.matmul %a2, %w4 : (tensor<4x2048x4096xf16>, tensor<4096x1024xf16>) -> tensor<4x2048x1024xf16>
  %r2 = tsr.add %o2, %r : (tensor<4x2048x1024xf16>, tensor<4x2048x1024xf16>) -> tensor<4x2048x1024xf16>
  return %r2 : tensor<4x2048x1024xf16>
}
