// RUN: tessera-opt --split-input-file --tsr-train-loss %s | FileCheck %s

// Tests that cross-entropy takes the logits' logsumexp minus the label's
// logit, masks labels equal to -100 and averages over the others; the labels
// are a new int64 input and the loss the only result.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32> {tsr.name = "x"}, %[[Y:.*]]: tensor<2xi64> {tsr.name = "labels"}) -> (tensor<f32> {tsr.name = "loss"})
// CHECK: tsr.reduce_max %{{.*}} axes = [1] keep_dims
// CHECK: tsr.exp
// CHECK: tsr.log
// CHECK: %[[IDS:.*]] = tsr.constant dense<[0, 1, 2]> : tensor<3xi64>
// CHECK: tsr.compare eq, %{{.*}}, %[[IDS]]
// CHECK: tsr.compare ne, %[[Y]], %{{.*}} : (tensor<2xi64>, tensor<i64>) -> tensor<2xi1>
// CHECK: %[[LOSS:.*]] = tsr.div
// CHECK: return %[[LOSS]] : tensor<f32>
func.func @main(%x: tensor<2x3xf32> {tsr.name = "x"}) -> (tensor<2x3xf32> {tsr.name = "logits"}) {
  %w = tsr.weight "w" : tensor<3xf32>
  %y = tsr.mul %x, %w : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
