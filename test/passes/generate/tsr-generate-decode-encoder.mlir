// RUN: tessera-opt --tsr-generate-decode="encoder-inputs=encoder_hidden_states" %s | FileCheck %s
// RUN: not tessera-opt --tsr-generate-decode %s 2>&1 | FileCheck %s --check-prefix=NOROLE

// Tests the decode step of a one-layer decoder with cross-attention (an
// encoder-decoder's decoder, as tessera-compile gives the pass the inputs
// the encoder feeds): the encoder's output is read whole at every step; the
// self-attention's keys and values go into a cache, the cross-attention
// reads its keys and values from the encoder's output and has no cache.
// CHECK-LABEL: func.func @main
// CHECK-SAME: (%[[IDS:.*]]: tensor<2x1xi64> {tsr.name = "input_ids"}, %[[ENC:.*]]: tensor<2x5x16xf32> {tsr.name = "encoder_hidden_states"}, %[[POS:.*]]: tensor<2xi64> {tsr.name = "positions"})
// CHECK-SAME: -> (tensor<2x1x32xf32> {tsr.name = "logits"}, tensor<2x2x8x8xf32> {tsr.name = "kv_cache.0.key:next", tsr.updates = "kv_cache.0.key"}, tensor<2x2x8x8xf32> {tsr.name = "kv_cache.0.value:next", tsr.updates = "kv_cache.0.value"})
// CHECK: tsr.weight "kv_cache.0.key" zeros : tensor<2x2x8x8xf32>
// CHECK: tsr.attention {{.*}} : (tensor<2x2x1x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x1x1x8xi1>) -> tensor<2x2x1x8xf32>
// CHECK: tsr.matmul %[[ENC]], %{{.*}} : (tensor<2x5x16xf32>, tensor<16x32xf32>) -> tensor<2x5x32xf32>
// CHECK: tsr.attention {{.*}} : (tensor<2x2x1x8xf32>, tensor<2x2x5x8xf32>, tensor<2x2x5x8xf32>) -> tensor<2x2x1x8xf32>
// CHECK-NOT: kv_cache.1

// Without the option the encoder's output has no role in a decode step.
// NOROLE: error: generation: input 'encoder_hidden_states' has no role in generation
func.func @main(%ids: tensor<2x8xi64> {tsr.name = "input_ids"},
                %enc: tensor<2x5x16xf32> {tsr.name = "encoder_hidden_states"})
    -> (tensor<2x8x32xf32> {tsr.name = "logits"}) {
  %wte = tsr.weight "wte" : tensor<32x16xf32>
  %h = tsr.gather %wte[%ids] axis = 0 : (tensor<32x16xf32>, tensor<2x8xi64>) -> tensor<2x8x16xf32>
  %wqkv = tsr.weight "wqkv" : tensor<16x48xf32>
  %qkv = tsr.matmul %h, %wqkv : (tensor<2x8x16xf32>, tensor<16x48xf32>) -> tensor<2x8x48xf32>
  %q, %k, %v = tsr.split %qkv axis = 2 sizes = [16, 16, 16] : tensor<2x8x48xf32> -> tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>
  %q4 = tsr.reshape %q : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %k4 = tsr.reshape %k : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %v4 = tsr.reshape %v : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %qt = tsr.transpose %q4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %kt = tsr.transpose %k4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %vt = tsr.transpose %v4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %a = tsr.attention %qt, %kt, %vt causal scale = 0.35355339059327373 : (tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>, tensor<2x2x8x8xf32>) -> tensor<2x2x8x8xf32>
  %at = tsr.transpose %a perm = [0, 2, 1, 3] : tensor<2x2x8x8xf32> -> tensor<2x8x2x8xf32>
  %s = tsr.reshape %at : tensor<2x8x2x8xf32> -> tensor<2x8x16xf32>
  %wq = tsr.weight "wq" : tensor<16x16xf32>
  %cq = tsr.matmul %s, %wq : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
  %wkv = tsr.weight "wkv" : tensor<16x32xf32>
  %kv = tsr.matmul %enc, %wkv : (tensor<2x5x16xf32>, tensor<16x32xf32>) -> tensor<2x5x32xf32>
  %ck, %cv = tsr.split %kv axis = 2 sizes = [16, 16] : tensor<2x5x32xf32> -> tensor<2x5x16xf32>, tensor<2x5x16xf32>
  %cq4 = tsr.reshape %cq : tensor<2x8x16xf32> -> tensor<2x8x2x8xf32>
  %ck4 = tsr.reshape %ck : tensor<2x5x16xf32> -> tensor<2x5x2x8xf32>
  %cv4 = tsr.reshape %cv : tensor<2x5x16xf32> -> tensor<2x5x2x8xf32>
  %cqt = tsr.transpose %cq4 perm = [0, 2, 1, 3] : tensor<2x8x2x8xf32> -> tensor<2x2x8x8xf32>
  %ckt = tsr.transpose %ck4 perm = [0, 2, 1, 3] : tensor<2x5x2x8xf32> -> tensor<2x2x5x8xf32>
  %cvt = tsr.transpose %cv4 perm = [0, 2, 1, 3] : tensor<2x5x2x8xf32> -> tensor<2x2x5x8xf32>
  %ca = tsr.attention %cqt, %ckt, %cvt scale = 0.35355339059327373 : (tensor<2x2x8x8xf32>, tensor<2x2x5x8xf32>, tensor<2x2x5x8xf32>) -> tensor<2x2x8x8xf32>
  %cat = tsr.transpose %ca perm = [0, 2, 1, 3] : tensor<2x2x8x8xf32> -> tensor<2x8x2x8xf32>
  %o = tsr.reshape %cat : tensor<2x8x2x8xf32> -> tensor<2x8x16xf32>
  %wout = tsr.weight "wout" : tensor<16x32xf32>
  %logits = tsr.matmul %o, %wout : (tensor<2x8x16xf32>, tensor<16x32xf32>) -> tensor<2x8x32xf32>
  return %logits : tensor<2x8x32xf32>
}
