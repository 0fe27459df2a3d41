// RUN: tessera-opt --split-input-file --tsr-partition-search=tp=2 %s | FileCheck %s
// RUN: tessera-opt --split-input-file --tsr-partition-search="tp=2 shard=fc2=S1" %s | FileCheck %s --check-prefix=HINT
// RUN: tessera-opt --split-input-file --tsr-partition-search="tp=2 shard=fc2=R" %s | FileCheck %s --check-prefix=WHOLE
// RUN: not tessera-opt --tsr-partition-search="tp=2 shard=fc1=S7" %s 2>&1 | FileCheck %s --check-prefix=BADHINT
// RUN: not tessera-opt --tsr-partition-search="tp=2 shard=fc9=S1" %s 2>&1 | FileCheck %s --check-prefix=NOWEIGHT

// Tests that the search finds Megatron's MLP on its own: the first weight
// split by columns, the second by rows, one partial sum at the end; the
// choice is written on each op and the plan on the function.
// CHECK-LABEL: func.func @main
// CHECK-SAME: tsr.plan = {comm_seconds = {{.*}}, grid = array<i64: 1, 2>, tp = 2 : i64, tp_axis = 1 : i64
// CHECK: tsr.weight "fc1" {tsr.sharding = #tsr.sharding<operands = [], results = [S1]
// CHECK: tsr.weight "fc2" {tsr.sharding = #tsr.sharding<operands = [], results = [S0]
// CHECK: tsr.matmul {{.*}} {tsr.sharding = #tsr.sharding<operands = [R, S1], results = [S1]
// CHECK: tsr.gelu {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1], results = [S1]
// CHECK: tsr.matmul {{.*}} {tsr.sharding = #tsr.sharding<operands = [S1, S0], results = [P]

// Tests that a hint fixes a weight's layout and the rest follows it.
// HINT: tsr.weight "fc2" {tsr.sharding = #tsr.sharding<operands = [], results = [S1]
// HINT: tsr.matmul {{.*}} {tsr.sharding = #tsr.sharding<operands = [{{.*}}, S1], results = [S1]

// Tests that a hint may keep a matrix whole (replicated is not among the
// search's own choices for a weight it can split).
// WHOLE: tsr.weight "fc2" {tsr.sharding = #tsr.sharding<operands = [], results = [R]

// Tests that a hint that is no layout of the weight is refused by name.
// BADHINT: error: hint 'fc1=S7' is not a layout of 'tensor<64x256xf32>' at tp=2

// Tests that a hint naming no weight (a misspelt name, a glob matching none)
// is refused, not ignored.
// NOWEIGHT: error: shard hint 'fc9=S1': no weight is named 'fc9' or matches it (weights are named as the model's initializers, e.g. 'fc1')
func.func @main(%x: tensor<8x64xf32> {tsr.name = "x"}) -> (tensor<8x64xf32> {tsr.name = "y"}) {
  %w1 = tsr.weight "fc1" : tensor<64x256xf32>
  %w2 = tsr.weight "fc2" : tensor<256x64xf32>
  %h = tsr.matmul %x, %w1 : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %g = tsr.gelu %h : tensor<8x256xf32>
  %o = tsr.matmul %g, %w2 : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  return %o : tensor<8x64xf32>
}
