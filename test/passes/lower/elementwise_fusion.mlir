// RUN: tessera-compile %s --emit=plan | FileCheck %s

// Tests that a chain of f32 elementwise ops becomes one kernel: bias add,
// gelu and a residual add (with a broadcast bias as an external input), and
// that reshapes in between are free views.
// CHECK: program: {{.*}}, 2 kernels,
// CHECK: kernel matmul
// CHECK-NEXT: kernel elementwise(%{{[0-9]+}}, %1(b), %0(x)) -> %{{[0-9]+}}(y) program=[1, -1, -2, 35, 0, -1, 1, 1, -3]
// CHECK-NOT: kernel
func.func @main(%x: tensor<2x8xf32> {tsr.name = "x"}, %b: tensor<8xf32> {tsr.name = "b"},
                %w: tensor<8x8xf32> {tsr.name = "w"}) -> (tensor<2x8xf32> {tsr.name = "y"}) {
  %m = tsr.matmul %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  %0 = tsr.add %m, %b : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %1 = tsr.gelu %0 approximate = tanh : tensor<2x8xf32>
  %2 = tsr.add %1, %x : (tensor<2x8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  return %2 : tensor<2x8xf32>
}

// A shared intermediate (two uses) ends a chain: exp's result is also an
// output, so exp and add stay separate kernels.
// RUN: tessera-compile %S/Inputs/shared_intermediate.mlir --emit=plan | FileCheck %s --check-prefix=SHARED
// SHARED: kernel exp(%0(x)) -> %1(e)
// SHARED-NEXT: kernel add(%1(e), %0(x)) -> %2(sum)
