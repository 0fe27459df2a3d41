// RUN: tessera-opt %s --split-input-file --verify-diagnostics

// Tests that attention operands are [batch, heads, seq, head_dim].
func.func @attention_rank(%q: tensor<4x128x64xf32>) {
  // expected-error @+2 {{query, key and value must have rank 4 ([batch, heads, seq, head_dim]), got 3, 3 and 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %q, %q scale = 0.125 : (tensor<4x128x64xf32>, tensor<4x128x64xf32>, tensor<4x128x64xf32>) -> tensor<4x128x64xf32>
  return
}

// -----

// Tests that attention operands share an element type.
func.func @attention_types(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf16>) {
  // expected-error @+2 {{query, key and value element types differ}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %k, %k scale = 0.25 : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf16>, tensor<1x2x8x16xf16>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that attention operands share the batch.
func.func @attention_batch(%q: tensor<2x2x8x16xf32>, %k: tensor<1x2x8x16xf32>) {
  // expected-error @+2 {{batch sizes differ: query 2, key 1, value 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %k, %k scale = 0.25 : (tensor<2x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<2x2x8x16xf32>
  return
}

// -----

// Tests that key and value agree on heads and length.
func.func @attention_kv(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x9x16xf32>) {
  // expected-error @+2 {{key and value disagree on heads or length}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %k, %v scale = 0.25 : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x9x16xf32>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that key/value heads divide query heads (grouped-query attention).
func.func @attention_gqa(%q: tensor<1x8x8x16xf32>, %k: tensor<1x3x8x16xf32>) {
  // expected-error @+2 {{key/value heads (3) must divide query heads (8)}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %k, %k scale = 0.25 : (tensor<1x8x8x16xf32>, tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>) -> tensor<1x8x8x16xf32>
  return
}

// -----

// Tests that query and key head sizes agree.
func.func @attention_head_dim(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x32xf32>) {
  // expected-error @+2 {{query head size 16 differs from key head size 32}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %k, %k scale = 0.25 : (tensor<1x2x8x16xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32>) -> tensor<1x2x8x32xf32>
  return
}

// -----

// Tests that the mask is boolean or of the query's type.
func.func @attention_mask_type(%q: tensor<1x2x8x16xf32>, %m: tensor<8x8xi64>) {
  // expected-error @+2 {{mask must be i1 or 'f32', got 'i64'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %q, %q mask(%m) scale = 0.25 : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<8x8xi64>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that the mask broadcasts to the scores.
func.func @attention_mask_shape(%q: tensor<1x2x8x16xf32>, %m: tensor<8x7xi1>) {
  // expected-error @+2 {{mask 'tensor<8x7xi1>' does not broadcast to the scores [1, 2, 8, 8]}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %q, %q mask(%m) scale = 0.25 : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<8x7xi1>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that the attention result has the value's head size.
func.func @attention_result(%q: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x32xf32>) {
  // expected-error @+2 {{inferred type(s) 'tensor<1x2x8x32xf32>' are incompatible}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = tsr.attention %q, %q, %v scale = 0.25 : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x32xf32>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that cos and sin have one type.
func.func @rotary_cos_sin(%x: tensor<1x2x8x16xf32>, %c: tensor<8x16xf32>, %s: tensor<8x8xf32>) {
  // expected-error @+1 {{cos 'tensor<8x16xf32>' and sin 'tensor<8x8xf32>' must have the same type}}
  %0 = tsr.rotary %x, %c, %s : (tensor<1x2x8x16xf32>, tensor<8x16xf32>, tensor<8x8xf32>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that cos/sin match the input's element type.
func.func @rotary_type(%x: tensor<1x2x8x16xf32>, %c: tensor<8x16xf16>) {
  // expected-error @+1 {{cos/sin element type 'f16' differs from the input's 'f32'}}
  %0 = tsr.rotary %x, %c, %c : (tensor<1x2x8x16xf32>, tensor<8x16xf16>, tensor<8x16xf16>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that rotary needs [..., seq, dim] operands.
func.func @rotary_rank(%x: tensor<16xf32>, %c: tensor<16xf32>) {
  // expected-error @+1 {{input and cos/sin need rank >= 2 ([..., seq, dim])}}
  %0 = tsr.rotary %x, %c, %c : (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  return
}

// -----

// Tests that the rotary width is even and fits the features.
func.func @rotary_width(%x: tensor<1x2x8x16xf32>, %c: tensor<8x7xf32>) {
  // expected-error @+1 {{rotary width 7 must be even and at most the feature size 16}}
  %0 = tsr.rotary %x, %c, %c : (tensor<1x2x8x16xf32>, tensor<8x7xf32>, tensor<8x7xf32>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that cos/sin broadcast over the input's positions.
func.func @rotary_broadcast(%x: tensor<1x2x8x16xf32>, %c: tensor<9x16xf32>) {
  // expected-error @+1 {{cos/sin 'tensor<9x16xf32>' do not broadcast to the rotated part of the input}}
  %0 = tsr.rotary %x, %c, %c : (tensor<1x2x8x16xf32>, tensor<9x16xf32>, tensor<9x16xf32>) -> tensor<1x2x8x16xf32>
  return
}

// -----

// Tests that rotary keeps the input type.
func.func @rotary_result(%x: tensor<1x2x8x16xf32>, %c: tensor<8x16xf32>) {
  // expected-error @+1 {{all of {input, result} have same type}}
  %0 = tsr.rotary %x, %c, %c : (tensor<1x2x8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<1x2x8x8xf32>
  return
}

// -----

// Tests that take_rows keeps every dimension but its axis and the batch.
func.func @take_rows_shape(%x: tensor<1x32x16xf32>, %pos: tensor<2xi64>) {
  // expected-error @+1 {{result 'tensor<2x1x8xf32>' does not keep dimension 2 of 'tensor<1x32x16xf32>'}}
  %0 = tsr.take_rows %x[%pos] axis = 1 inner = 1 : (tensor<1x32x16xf32>, tensor<2xi64>) -> tensor<2x1x8xf32>
  return
}

// -----

// Tests that take_rows needs one position per sequence (or one for all).
func.func @take_rows_positions(%x: tensor<3x32x16xf32>, %pos: tensor<2xi64>) {
  // expected-error @+1 {{2 positions for 3 sequences}}
  %0 = tsr.take_rows %x[%pos] axis = 1 inner = 1 : (tensor<3x32x16xf32>, tensor<2xi64>) -> tensor<3x1x16xf32>
  return
}

// -----

// Tests that a cache write's update is rows of the cache.
func.func @cache_write_row(%c: tensor<2x4x32x16xf32>, %u: tensor<2x2x2x16xf32>, %pos: tensor<2xi64>) {
  // expected-error @+1 {{update 'tensor<2x2x2x16xf32>' is not rows of the cache 'tensor<2x4x32x16xf32>' along axis 2}}
  %0 = tsr.cache_write %c[%pos], %u axis = 2 : (tensor<2x4x32x16xf32>, tensor<2xi64>, tensor<2x2x2x16xf32>) -> tensor<2x4x32x16xf32>
  return
}
