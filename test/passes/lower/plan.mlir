// RUN: tessera-compile %s --emit=plan | FileCheck %s

// Tests the static memory plan: the input stays live, two 256-byte
// activations rotate, and the third softmax reuses the first one's slot, so
// the arena holds 3 buffers where 4 were allocated.
// CHECK: program: 4 tensors, 3 kernels, arena 768 bytes (1024 unplanned)
// CHECK-DAG: tensor %0(x) arena [0, 256)
// CHECK-DAG: tensor %1 arena [256, 512)
// CHECK-DAG: tensor %2 arena [512, 768)
// CHECK-DAG: tensor %3(y) arena [256, 512)
// CHECK: kernel softmax(%0(x)) -> %1 axis=[1]
// CHECK-NEXT: kernel softmax(%1) -> %2 axis=[1]
// CHECK-NEXT: kernel softmax(%2) -> %3(y) axis=[1]
// CHECK-NEXT: outputs: %3(y)
func.func @main(%x: tensor<4x16xf32> {tsr.name = "x"}) -> (tensor<4x16xf32> {tsr.name = "y"}) {
  %0 = tsr.softmax %x axis = 1 : tensor<4x16xf32>
  %1 = tsr.softmax %0 axis = 1 : tensor<4x16xf32>
  %2 = tsr.softmax %1 axis = 1 : tensor<4x16xf32>
  return %2 : tensor<4x16xf32>
}
