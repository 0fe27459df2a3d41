// RUN: tessera-opt --tsr-generate-decode %s | FileCheck %s

// Tests the decode step of a one-layer decoder over 8 positions, batch 2:
// the ids become one token per sequence and `positions` a new input; the
// position table is read at each sequence's position; the row survives the
// [2, 8, 16] -> [16, 16] reshape (batch and sequence merged) and back; keys
// and values are appended to zero-initialised caches that attention reads
// whole, masked to the positions up to the current one and by the full
// attention mask; the logits and the updated caches are the results.
// CHECK: module attributes {tsr.generate = {batch = 2 : i64, ids = "input_ids", logits = "logits", mask = "attention_mask", max_seq = 8 : i64, positions = "positions"}}
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[IDS:.*]]: tensor<2x1xi64> {tsr.name = "input_ids"}, %[[MASK:.*]]: tensor<2x8xi64> {tsr.name = "attention_mask"}, %[[POS:.*]]: tensor<2xi64> {tsr.name = "positions"})
// CHECK-SAME: -> (tensor<2x1x32xf32> {tsr.name = "logits"}, tensor<2x2x8x8xf32> {tsr.name = "kv_cache.0.key:next", tsr.updates = "kv_cache.0.key"}, tensor<2x2x8x8xf32> {tsr.name = "kv_cache.0.value:next", tsr.updates = "kv_cache.0.value"})
// CHECK: %[[TOK:.*]] = tsr.gather %{{.*}}[%[[IDS]]] axis = 0 : (tensor<32x16xf32>, tensor<2x1xi64>) -> tensor<2x1x16xf32>
// CHECK: %[[ROW:.*]] = tsr.take_rows %{{.*}}[%[[POS]]] axis = 1 inner = 1 : (tensor<1x8x16xf32>, tensor<2xi64>) -> tensor<2x1x16xf32>
// CHECK: tsr.add %[[TOK]], %[[ROW]] : (tensor<2x1x16xf32>, tensor<2x1x16xf32>) -> tensor<2x1x16xf32>
// CHECK: tsr.reshape %{{.*}} : tensor<2x1x16xf32> -> tensor<2x16xf32>
// CHECK: tsr.matmul %{{.*}}, %{{.*}} : (tensor<2x16xf32>, tensor<16x48xf32>) -> tensor<2x48xf32>
// CHECK: tsr.reshape %{{.*}} : tensor<2x48xf32> -> tensor<2x1x48xf32>
// CHECK: %[[KC:.*]] = tsr.weight "kv_cache.0.key" zeros : tensor<2x2x8x8xf32>
// CHECK: %[[K:.*]] = tsr.cache_write %[[KC]][%[[POS]]], %{{.*}} axis = 2 : (tensor<2x2x8x8xf32>, tensor<2xi64>, tensor<2x2x1x8xf32>) -> tensor<2x2x8x8xf32>
// CHECK: %[[VC:.*]] = tsr.weight "kv_cache.0.value" zeros : tensor<2x2x8x8xf32>
// CHECK: %[[V:.*]] = tsr.cache_write %[[VC]][%[[POS]]], %{{.*}} axis = 2
// CHECK: %[[VIS:.*]] = tsr.compare le, %{{.*}}, %{{.*}} : (tensor<8xi64>, tensor<2x1x1x1xi64>) -> tensor<2x1x1x8xi1>
// CHECK: %[[M:.*]] = tsr.and %[[VIS]], %{{.*}} : (tensor<2x1x1x8xi1>, tensor<2x1x1x8xi1>) -> tensor<2x1x1x8xi1>
// CHECK: tsr.attention %{{.*}}, %[[K]], %[[V]] mask(%[[M]]) scale = {{.*}} : (tensor<2x2x1x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x1x1x8xi1>) -> tensor<2x2x1x8xf32>
// CHECK-NOT: causal
// CHECK: return %{{.*}}, %[[K]], %[[V]] : tensor<2x1x32xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>
func.func @main(%ids: tensor<2x8xi64> {tsr.name = "input_ids"},
                %mask: tensor<2x8xi64> {tsr.name = "attention_mask"})
    -> (tensor<2x8x32xf32> {tsr.name = "logits"}) {
  %wte = tsr.weight "wte" : tensor<32x16xf32>
  %wpe = tsr.weight "wpe" : tensor<8x16xf32>
  %pos = tsr.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7]]> : tensor<1x8xi64>
  %tok = tsr.gather %wte[%ids] axis = 0 : (tensor<32x16xf32>, tensor<2x8xi64>) -> tensor<2x8x16xf32>
  %pe = tsr.gather %wpe[%pos] axis = 0 : (tensor<8x16xf32>, tensor<1x8xi64>) -> tensor<1x8x16xf32>
  %h = tsr.add %tok, %pe : (tensor<2x8x16xf32>, tensor<1x8x16xf32>) -> tensor<2x8x16xf32>
  %flat = tsr.reshape %h : tensor<2x8x16xf32> -> tensor<16x16xf32>
  %wqkv = tsr.weight "wqkv" : tensor<16x48xf32>
  %qkv = tsr.matmul %flat, %wqkv : (tensor<16x16xf32>, tensor<16x48xf32>) -> tensor<16x48xf32>
  %qkv3 = tsr.reshape %qkv : tensor<16x48xf32> -> tensor<2x8x48xf32>
  %q, %k, %v = tsr.split %qkv3 axis = 2 sizes = [16, 16, 16] : tensor<2x8x48xf32> -> tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  %q4 = tsr.reshape %q : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %k4 = tsr.reshape %k : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %v4 = tsr.reshape %v : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %qt = tsr.transpose %q4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %kt = tsr.transpose %k4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %vt = tsr.transpose %v4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %mb = tsr.cast %mask : tensor<2x8xi64> to tensor<2x8xi1>
  %m4 = tsr.reshape %mb : tensor<2x8xi1> -> tensor<2x1x1x8xi1>
  %a = tsr.attention %qt, %kt, %vt mask(%m4) causal scale = 0.35355339059327373 : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x1x1x8xi1>) -> tensor<2x2x8x8xf32>
  %at = tsr.transpose %a perm = [0, 2, 1, 3] : tensor<2x2x8x8xf32> -> tensor<2x8x2x8xf32>
  %o = tsr.reshape %at : tensor<2x8x2x8xf32> -> tensor<2x8x16xf32>
  %wout = tsr.weight "wout" : tensor<16x32xf32>
  %logits = tsr.matmul %o, %wout : (tensor<2x8x16xf32>, tensor<16x32xf32>) -> tensor<2x8x32xf32>
  return %logits : tensor<2x8x32xf32>
}
