// One GPT-2 transformer block (hidden 64, 4 heads, batch 2, sequence 16) in
// the tsr dialect, as the ONNX frontend will produce it after fusion. It still
// carries a reshape round trip and a multiplication by one, as exporters leave
// them; `tessera-opt --canonicalize` folds both away.
//
//   tessera-opt examples/gpt2_block.mlir --canonicalize
func.func @gpt2_block(%x: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %ln1_g = tsr.weight "h.0.ln_1.weight" : tensor<64xf32>
  %ln1_b = tsr.weight "h.0.ln_1.bias" : tensor<64xf32>
  %w_qkv = tsr.weight "h.0.attn.c_attn.weight" : tensor<64x192xf32>
  %b_qkv = tsr.weight "h.0.attn.c_attn.bias" : tensor<192xf32>
  %w_o = tsr.weight "h.0.attn.c_proj.weight" : tensor<64x64xf32>
  %b_o = tsr.weight "h.0.attn.c_proj.bias" : tensor<64xf32>
  %ln2_g = tsr.weight "h.0.ln_2.weight" : tensor<64xf32>
  %ln2_b = tsr.weight "h.0.ln_2.bias" : tensor<64xf32>
  %w_fc = tsr.weight "h.0.mlp.c_fc.weight" : tensor<64x256xf32>
  %b_fc = tsr.weight "h.0.mlp.c_fc.bias" : tensor<256xf32>
  %w_proj = tsr.weight "h.0.mlp.c_proj.weight" : tensor<256x64xf32>
  %b_proj = tsr.weight "h.0.mlp.c_proj.bias" : tensor<64xf32>

  // Attention.
  %h = tsr.layer_norm %x, %ln1_g, %ln1_b axis = 2 epsilon = 1.0e-05
      : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  %qkv0 = tsr.matmul %h, %w_qkv : (tensor<2x16x64xf32>, tensor<64x192xf32>) -> tensor<2x16x192xf32>
  %qkv = tsr.add %qkv0, %b_qkv : (tensor<2x16x192xf32>, tensor<192xf32>) -> tensor<2x16x192xf32>
  %q0, %k0, %v0 = tsr.split %qkv axis = 2 sizes = [64, 64, 64]
      : tensor<2x16x192xf32> -> tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32>
  %q1 = tsr.reshape %q0 : tensor<2x16x64xf32> -> tensor<2x16x4x16xf32>
  %k1 = tsr.reshape %k0 : tensor<2x16x64xf32> -> tensor<2x16x4x16xf32>
  %v1 = tsr.reshape %v0 : tensor<2x16x64xf32> -> tensor<2x16x4x16xf32>
  %q = tsr.transpose %q1 perm = [0, 2, 1, 3] : tensor<2x16x4x16xf32> -> tensor<2x4x16x16xf32>
  %k = tsr.transpose %k1 perm = [0, 2, 1, 3] : tensor<2x16x4x16xf32> -> tensor<2x4x16x16xf32>
  %v = tsr.transpose %v1 perm = [0, 2, 1, 3] : tensor<2x16x4x16xf32> -> tensor<2x4x16x16xf32>
  %o = tsr.attention %q, %k, %v causal scale = 0.25
      : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  %o1 = tsr.transpose %o perm = [0, 2, 1, 3] : tensor<2x4x16x16xf32> -> tensor<2x16x4x16xf32>
  %o2 = tsr.reshape %o1 : tensor<2x16x4x16xf32> -> tensor<2x16x64xf32>
  // A reshape back and forth that exporters emit around the projection.
  %o3 = tsr.reshape %o2 : tensor<2x16x64xf32> -> tensor<32x64xf32>
  %o4 = tsr.reshape %o3 : tensor<32x64xf32> -> tensor<2x16x64xf32>
  %a0 = tsr.matmul %o4, %w_o : (tensor<2x16x64xf32>, tensor<64x64xf32>) -> tensor<2x16x64xf32>
  %a1 = tsr.add %a0, %b_o : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  %r1 = tsr.add %x, %a1 : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>

  // MLP.
  %h2 = tsr.layer_norm %r1, %ln2_g, %ln2_b axis = 2 epsilon = 1.0e-05
      : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  %f0 = tsr.matmul %h2, %w_fc : (tensor<2x16x64xf32>, tensor<64x256xf32>) -> tensor<2x16x256xf32>
  %f1 = tsr.add %f0, %b_fc : (tensor<2x16x256xf32>, tensor<256xf32>) -> tensor<2x16x256xf32>
  %f2 = tsr.gelu %f1 approximate = tanh : tensor<2x16x256xf32>
  %f3 = tsr.matmul %f2, %w_proj : (tensor<2x16x256xf32>, tensor<256x64xf32>) -> tensor<2x16x64xf32>
  %f4 = tsr.add %f3, %b_proj : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
  // Exporters scale by a constant one where a residual weight was folded.
  %one = tsr.constant dense<1.0> : tensor<f32>
  %f5 = tsr.mul %f4, %one : (tensor<2x16x64xf32>, tensor<f32>) -> tensor<2x16x64xf32>
  %r2 = tsr.add %r1, %f5 : (tensor<2x16x64xf32>, tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return %r2 : tensor<2x16x64xf32>
}
