// RUN: tessera-opt --tsr-train-autodiff --tsr-train-optimizer="lr=0.01 clip-grad-norm=1.0" %s | FileCheck %s
// RUN: tessera-opt --tsr-train-autodiff --tsr-train-optimizer="optimizer=sgd momentum=0.9 nesterov=true" %s | FileCheck %s --check-prefix=SGD
// RUN: not tessera-opt --tsr-train-autodiff --tsr-train-optimizer="schedule=cosine warmup-steps=10 total-steps=5" %s 2>&1 | FileCheck %s --check-prefix=COSINE

// Tests AdamW: the step counter and both moments are zero-initialised state,
// the gradient norm is reported and clips, and every updated tensor is
// returned with the weight it replaces.
// CHECK-LABEL: func.func @main
// CHECK-SAME: tsr.name = "loss"
// CHECK-SAME: tsr.name = "grad_norm"
// CHECK-SAME: tsr.name = "lr"
// CHECK-SAME: {tsr.name = "update:w", tsr.updates = "w"}
// CHECK-SAME: {tsr.name = "update:adamw.m:w", tsr.updates = "adamw.m:w"}
// CHECK-SAME: {tsr.name = "update:adamw.v:w", tsr.updates = "adamw.v:w"}
// CHECK-SAME: {tsr.name = "update:train.step", tsr.updates = "train.step"}
// CHECK: tsr.weight "train.step" zeros : tensor<f32>
// CHECK: tsr.sqrt
// CHECK: tsr.min
// CHECK: tsr.weight "adamw.m:w" zeros : tensor<3xf32>
// CHECK: tsr.weight "adamw.v:w" zeros : tensor<3xf32>

// Tests SGD with momentum: one momentum buffer, no moments.
// SGD: {tsr.name = "update:sgd.momentum:w", tsr.updates = "sgd.momentum:w"}
// SGD-NOT: adamw

// COSINE: error: the cosine schedule needs total-steps (5) greater than warmup-steps (10)
func.func @main(%x: tensor<3xf32>) -> tensor<f32> {
  %w = tsr.weight "w" : tensor<3xf32>
  %a = tsr.mul %x, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  %l = tsr.reduce_sum %a axes = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}
