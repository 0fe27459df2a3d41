// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --mlir-print-op-generic | tessera-opt | FileCheck %s

// Tests that reshape, transpose and broadcast round-trip.
// CHECK-LABEL: func.func @reshape_transpose_broadcast
func.func @reshape_transpose_broadcast(%x: tensor<4x128x768xf32>, %m: tensor<1x1x128x128xi1>) {
  // CHECK: tsr.reshape %{{.*}} : tensor<4x128x768xf32> -> tensor<4x128x12x64xf32>
  %0 = tsr.reshape %x : tensor<4x128x768xf32> -> tensor<4x128x12x64xf32>
  // CHECK: tsr.transpose %{{.*}} perm = [0, 2, 1, 3] : tensor<4x128x12x64xf32> -> tensor<4x12x128x64xf32>
  %1 = tsr.transpose %0 perm = [0, 2, 1, 3] : tensor<4x128x12x64xf32> -> tensor<4x12x128x64xf32>
  // CHECK: tsr.broadcast %{{.*}} : tensor<1x1x128x128xi1> -> tensor<4x12x128x128xi1>
  %2 = tsr.broadcast %m : tensor<1x1x128x128xi1> -> tensor<4x12x128x128xi1>
  // CHECK: tsr.broadcast %{{.*}} : tensor<1x1x128x128xi1> -> tensor<2x4x12x128x128xi1>
  %3 = tsr.broadcast %m : tensor<1x1x128x128xi1> -> tensor<2x4x12x128x128xi1>
  return
}

// Tests that concat, slice and split round-trip.
// CHECK-LABEL: func.func @concat_slice_split
func.func @concat_slice_split(%a: tensor<1x12x7x64xf32>, %b: tensor<1x12x1x64xf32>,
                              %qkv: tensor<4x128x2304xf32>) {
  // CHECK: tsr.concat %{{.*}}, %{{.*}} axis = 2 : (tensor<1x12x7x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x8x64xf32>
  %0 = tsr.concat %a, %b axis = 2 : (tensor<1x12x7x64xf32>, tensor<1x12x1x64xf32>) -> tensor<1x12x8x64xf32>
  // CHECK: tsr.slice %{{.*}} start = [0, 0, 768] limit = [4, 128, 1536] : tensor<4x128x2304xf32> -> tensor<4x128x768xf32>
  %1 = tsr.slice %qkv start = [0, 0, 768] limit = [4, 128, 1536] : tensor<4x128x2304xf32> -> tensor<4x128x768xf32>
  // CHECK: tsr.slice %{{.*}} start = [0, 1, 0] limit = [4, 128, 2304] strides = [1, 2, 3] : tensor<4x128x2304xf32> -> tensor<4x64x768xf32>
  %2 = tsr.slice %qkv start = [0, 1, 0] limit = [4, 128, 2304] strides = [1, 2, 3] : tensor<4x128x2304xf32> -> tensor<4x64x768xf32>
  // CHECK: tsr.split %{{.*}} axis = 2 sizes = [768, 768, 768] : tensor<4x128x2304xf32> -> tensor<4x128x768xf32>, tensor<4x128x768xf32>, tensor<4x128x768xf32>
  %3:3 = tsr.split %qkv axis = 2 sizes = [768, 768, 768] : tensor<4x128x2304xf32> -> tensor<4x128x768xf32>, tensor<4x128x768xf32>, tensor<4x128x768xf32>
  return
}

// Tests that gather round-trips for embeddings and scalar indices.
// CHECK-LABEL: func.func @gather
func.func @gather(%wte: tensor<50257x768xf32>, %ids: tensor<4x128xi64>, %i: tensor<i32>,
                  %x: tensor<4x128x768xf32>) {
  // CHECK: tsr.gather %{{.*}}[%{{.*}}] axis = 0 : (tensor<50257x768xf32>, tensor<4x128xi64>) -> tensor<4x128x768xf32>
  %0 = tsr.gather %wte[%ids] axis = 0 : (tensor<50257x768xf32>, tensor<4x128xi64>) -> tensor<4x128x768xf32>
  // CHECK: tsr.gather %{{.*}}[%{{.*}}] axis = 1 : (tensor<4x128x768xf32>, tensor<i32>) -> tensor<4x768xf32>
  %1 = tsr.gather %x[%i] axis = 1 : (tensor<4x128x768xf32>, tensor<i32>) -> tensor<4x768xf32>
  return
}
