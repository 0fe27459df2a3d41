// RUN: tessera-opt --tsr-partition-search=tp=2 --tsr-partition-spmd=rank=1 --tsr-lower-plan=rank=1 %s -o /dev/null | FileCheck %s

// Tests that a partitioned rank lowers to its kernel plan: weight blocks by
// offset, the all-reduce as a kernel over the rank's group, outputs named.
// CHECK: // @main
// CHECK: program: {{[0-9]+}} tensors, 4 kernels, arena
// CHECK: kernel matmul(%0(x), %{{[0-9]+}}(fc1@[0,128])) -> %[[H:[0-9]+]]
// CHECK-NEXT: kernel gelu(%[[H]]) -> %[[G:[0-9]+]]
// CHECK-NEXT: kernel matmul(%[[G]], %{{[0-9]+}}(fc2@[128,0])) -> %[[P:[0-9]+]]
// CHECK-NEXT: kernel all_reduce(%[[P]]) -> %[[Y:[0-9]+]](y) group=[0, 1]
// CHECK-NEXT: outputs: %[[Y]](y)
func.func @main(%x: tensor<8x64xf32> {tsr.name = "x"}) -> (tensor<8x64xf32> {tsr.name = "y"}) {
  %w1 = tsr.weight "fc1" : tensor<64x256xf32>
  %w2 = tsr.weight "fc2" : tensor<256x64xf32>
  %h = tsr.matmul %x, %w1 : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %g = tsr.gelu %h : tensor<8x256xf32>
  %o = tsr.matmul %g, %w2 : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  return %o : tensor<8x64xf32>
}
