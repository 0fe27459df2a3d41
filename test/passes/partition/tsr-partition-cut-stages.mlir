// RUN: tessera-opt --tsr-partition-search --tsr-partition-cut-stages=pp=2 %s | FileCheck %s
// RUN: tessera-opt --tsr-partition-search --tsr-partition-cut-stages=pp=2 --tsr-partition-search=tp=2 %s | FileCheck %s --check-prefix=SEARCH
// RUN: not tessera-opt --tsr-partition-cut-stages=pp=2 %s 2>&1 | FileCheck %s --check-prefix=UNPLANNED

// Tests that two residual blocks are cut at the residual stream between
// them: stage 0 returns the stream, stage 1 takes it, each with its own
// layer's weights.
// CHECK: module attributes {tsr.pp = 2 : i64}
// CHECK-LABEL: func.func @stage0
// CHECK-SAME: (%[[X:.*]]: tensor<8x64xf32> {tsr.name = "x"}) -> (tensor<8x64xf32> {tsr.name = "[[$PIPE:pipe\.[0-9.]+]]"})
// CHECK-SAME: tsr.stage = 0
// CHECK: tsr.weight "h.0.fc1"
// CHECK-NOT: h.1.
// CHECK: return
// CHECK-LABEL: func.func @stage1
// CHECK-SAME: (%{{.*}}: tensor<8x64xf32> {tsr.name = "[[$PIPE]]"}) -> (tensor<8x64xf32> {tsr.name = "y"})
// CHECK-SAME: tsr.stage = 1
// CHECK-NOT: h.0.
// CHECK: tsr.weight "h.1.fc2"

// Tests that stages are searched again with the pipeline's grid [dp, pp, tp].
// SEARCH: func.func @stage0
// SEARCH-SAME: grid = array<i64: 1, 2, 2>, tp = 2 : i64, tp_axis = 2 : i64
// SEARCH: func.func @stage1
// SEARCH-SAME: grid = array<i64: 1, 2, 2>

// Tests that cutting needs the search's per-op times.
// UNPLANNED: error: no 'tsr.plan' on the function: run the sharding search (--tsr-partition-search) first
func.func @main(%x: tensor<8x64xf32> {tsr.name = "x"}) -> (tensor<8x64xf32> {tsr.name = "y"}) {
  %a1 = tsr.weight "h.0.fc1" : tensor<64x256xf32>
  %a2 = tsr.weight "h.0.fc2" : tensor<256x64xf32>
  %b1 = tsr.weight "h.1.fc1" : tensor<64x256xf32>
  %b2 = tsr.weight "h.1.fc2" : tensor<256x64xf32>
  %h = tsr.matmul %x, %a1 : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %g = tsr.gelu %h : tensor<8x256xf32>
  %o = tsr.matmul %g, %a2 : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  %r = tsr.add %x, %o : (tensor<8x64xf32>, tensor<8x64xf32>) -> tensor<8x64xf32>
  %h2 = tsr.matmul %r, %b1 : (tensor<8x64xf32>, tensor<64x256xf32>) -> tensor<8x256xf32>
  %g2 = tsr.gelu %h2 : tensor<8x256xf32>
  %o2 = tsr.matmul %g2, %b2 : (tensor<8x256xf32>, tensor<256x64xf32>) -> tensor<8x64xf32>
  %r2 = tsr.add %r, %o2 : (tensor<8x64xf32>, tensor<8x64xf32>) -> tensor<8x64xf32>
  return %r2 : tensor<8x64xf32>
}
