// RUN: tessera-opt %tessera_src/examples/gpt2_block.mlir --canonicalize | FileCheck %s

// Tests that the README's example canonicalizes: the back-and-forth reshape
// collapses into one and the multiplication by one disappears.
// CHECK-LABEL: func.func @gpt2_block
// CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} causal scale = 2.500000e-01
// CHECK: %[[O:.*]] = tsr.reshape %{{.*}} : tensor<2x16x4x16xf32> -> tensor<2x16x64xf32>
// CHECK-NOT: tsr.reshape
// CHECK: tsr.matmul %[[O]], %{{.*}} : (tensor<2x16x64xf32>, tensor<64x64xf32>)
// CHECK: tsr.gelu %{{.*}} approximate = tanh
// CHECK-NOT: tsr.mul
// CHECK-NOT: tsr.constant
// CHECK: return
