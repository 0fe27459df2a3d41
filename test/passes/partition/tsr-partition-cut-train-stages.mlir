// RUN: tessera-opt --pass-pipeline='builtin.module(func.func(tsr-partition-split-batch{parts=2 reduce-over-batch=true},tsr-partition-search{tp=1 dp=1}),tsr-partition-cut-train-stages{pp=2})' %s | FileCheck %s
// RUN: not tessera-opt --pass-pipeline='builtin.module(func.func(tsr-partition-search{tp=1 dp=1}),tsr-partition-cut-train-stages{pp=2})' %s 2>&1 | FileCheck %s --check-prefix=WHOLE

// Tests cutting a training step (one micro-batch's slice, its sums over the
// batch marked by tsr-partition-split-batch) into pipeline segments: the
// token count is summed over the micro-batches first (phase 0: a running sum
// in state pipe.acc:0, read once in phase 1 and sent on as x:0); the forward
// pass (the ops the loss needs) and the backward pass of stage 1 run per
// micro-batch, the activations the backward pass reads (x:1, x:2) kept
// between them; each gradient is a running sum (pipe.acc:2, pipe.acc:3) the
// optimizer reads once per step (phase 2), returning the new weights.
// CHECK-LABEL: func.func @stage0.0(%{{.*}}: tensor<2x8xf32> {tsr.name = "y"}) -> (tensor<f32> {tsr.name = "update:pipe.acc:0", tsr.updates = "pipe.acc:0"})
// CHECK-SAME: tsr.segment = "train:0:forward:0", tsr.stage = 0
// CHECK: %[[SHARE:.*]] = tsr.reduce_sum
// CHECK: %[[ACC:.*]] = tsr.weight "pipe.acc:0" zeros
// CHECK: %[[SUM:.*]] = tsr.add %[[ACC]], %[[SHARE]]
// CHECK: return %[[SUM]]
// CHECK-LABEL: func.func @stage0.1() -> (tensor<f32> {tsr.name = "x:0"})
// CHECK-SAME: tsr.segment = "train:1:once:0"
// CHECK: tsr.weight "pipe.acc:0" zeros
// CHECK: tsr.reciprocal
// CHECK-LABEL: func.func @stage1.0(
// CHECK-SAME: -> (tensor<2x8xf32> {tsr.name = "x:1"}, tensor<2x8xf32> {tsr.name = "x:2"}, tensor<f32> {tsr.name = "update:pipe.acc:1", tsr.updates = "pipe.acc:1"})
// CHECK-SAME: tsr.segment = "train:1:forward:0", tsr.stage = 1
// CHECK-COUNT-2: tsr.matmul
// CHECK-LABEL: func.func @stage1.1(
// CHECK-SAME: {tsr.name = "x:0"}, %{{.*}}: tensor<2x8xf32> {tsr.name = "x:1"}, %{{.*}}: tensor<2x8xf32> {tsr.name = "x:2"}
// CHECK-SAME: tsr.updates = "pipe.acc:2"
// CHECK-SAME: tsr.updates = "pipe.acc:3"
// CHECK-SAME: tsr.segment = "train:1:backward:0"
// CHECK: tsr.matmul %{{.*}} {transpose_lhs
// CHECK: tsr.weight "pipe.acc:2" zeros
// CHECK-LABEL: func.func @stage1.2(%{{.*}}: tensor<f32> {tsr.name = "x:0"})
// CHECK-SAME: -> (tensor<f32> {tsr.name = "loss", tsr.replicated}, tensor<8x8xf32> {tsr.name = "update:w1", tsr.replicated, tsr.updates = "w1"}, tensor<8x8xf32> {tsr.name = "update:w2", tsr.replicated, tsr.updates = "w2"})
// CHECK-SAME: tsr.segment = "train:2:once:0"
// CHECK-DAG: tsr.weight "pipe.acc:1" zeros
// CHECK-DAG: tsr.weight "pipe.acc:2" zeros
// CHECK-DAG: tsr.weight "pipe.acc:3" zeros
// CHECK: return
// CHECK-NOT: func.func @main

// A step whose batch was not split has no sums over micro-batches: its
// loss is per micro-batch, refused by name.
// WHOLE: error: pipeline training: result 0 is computed per micro-batch
func.func @main(%x: tensor<4x8xf32> {tsr.name = "x"}, %y: tensor<4x8xf32> {tsr.name = "y"}) -> (tensor<f32> {tsr.name = "loss"}, tensor<8x8xf32> {tsr.name = "update:w1", tsr.updates = "w1"}, tensor<8x8xf32> {tsr.name = "update:w2", tsr.updates = "w2"}) {
  %w1 = tsr.weight "w1" : tensor<8x8xf32>
  %w2 = tsr.weight "w2" : tensor<8x8xf32>
  %lr = tsr.constant dense<0.1> : tensor<f32>
  %count = tsr.reduce_sum %y axes = [0, 1] : tensor<4x8xf32> -> tensor<f32>
  %inv = tsr.reciprocal %count : tensor<f32>
  %a = tsr.matmul %x, %w1 : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %h1 = tsr.tanh %a : tensor<4x8xf32>
  %b = tsr.matmul %h1, %w2 : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %h2 = tsr.tanh %b : tensor<4x8xf32>
  %p = tsr.mul %h2, %y : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %lsum = tsr.reduce_sum %p axes = [0, 1] : tensor<4x8xf32> -> tensor<f32>
  %loss = tsr.mul %lsum, %inv : (tensor<f32>, tensor<f32>) -> tensor<f32>
  %dp = tsr.mul %y, %inv : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %t2 = tsr.mul %h2, %h2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %db = tsr.mul %dp, %t2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %g2 = tsr.matmul %h1, %db {transpose_lhs} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<8x8xf32>
  %dh1 = tsr.matmul %db, %w2 {transpose_rhs} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %t1 = tsr.mul %h1, %h1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %da = tsr.mul %dh1, %t1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %g1 = tsr.matmul %x, %da {transpose_lhs} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<8x8xf32>
  %s1 = tsr.mul %g1, %lr : (tensor<8x8xf32>, tensor<f32>) -> tensor<8x8xf32>
  %n1 = tsr.sub %w1, %s1 : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  %s2 = tsr.mul %g2, %lr : (tensor<8x8xf32>, tensor<f32>) -> tensor<8x8xf32>
  %n2 = tsr.sub %w2, %s2 : (tensor<8x8xf32>, tensor<8x8xf32>) -> tensor<8x8xf32>
  return %loss, %n1, %n2 : tensor<f32>, tensor<8x8xf32>, tensor<8x8xf32>
}
