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

// A shared intermediate (two uses) whose other use is the return stays in
// the chain as a second result: one kernel computes exp and the add and
// writes both (outputs = their registers), and both outputs hold their
// values (exp(x) and exp(x) + x, checked by running it).
// RUN: tessera-compile %S/Inputs/shared_intermediate.mlir --emit=plan | FileCheck %s --check-prefix=SHARED
// SHARED: kernel elementwise(%0(x)) -> %1(sum), %2(e) program=[23, -1, -1, 1, 0, -1] outputs=[1, 0]
// SHARED-NOT: kernel
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-compile %S/Inputs/shared_intermediate.mlir -o %t/shared.tpkg
// RUN: python3 -c "import struct, math, sys; h = \"{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\"; h += ' ' * (63 - (len(h) + 10) %% 64) + '\n'; w = lambda p, v: open(p, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + struct.pack('<4f', *v)); x = [0.5, -1.0, 2.0, 0.0]; w(sys.argv[1] + '/x.npy', x); w(sys.argv[1] + '/e.npy', [math.exp(v) for v in x]); w(sys.argv[1] + '/sum.npy', [math.exp(v) + v for v in x])" %t
// RUN: tessera-run %t/shared.tpkg --input x=%t/x.npy --check e=%t/e.npy --check sum=%t/sum.npy --rtol 1e-6 | FileCheck %s --check-prefix=SHAREDVALUES
// SHAREDVALUES: e: ok
// SHAREDVALUES: sum: ok

// A training step's optimizer: each parameter's AdamW update (new weight,
// both moments, read by the new weight's chain and returned) is one kernel
// with three results, each written in place into its state (the kernel is
// the last to read them): no output, no copy after the step.
// RUN: tessera-compile %tessera_src/test/models/gpt2/dynamo/model.onnx --batch 2 --seq 16 --train --dropout-seed off --emit=plan | FileCheck %s --check-prefix=ADAMW
// ADAMW: kernel elementwise(%[[W:[0-9]+]](model.lm_head.weight), {{.*}}%[[M:[0-9]+]](adamw.m:model.lm_head.weight), {{.*}}%[[V:[0-9]+]](adamw.v:model.lm_head.weight), {{.*}}) -> %[[W]](model.lm_head.weight), %[[M]](adamw.m:model.lm_head.weight), %[[V]](adamw.v:model.lm_head.weight) program={{.*}} outputs=[
// ADAMW: outputs: %{{[0-9]+}}(loss), %{{[0-9]+}}(grad_norm), %{{[0-9]+}}(lr), %{{[0-9]+}}(update:train.step){{$}}
