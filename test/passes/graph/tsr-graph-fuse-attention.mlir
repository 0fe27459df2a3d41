// RUN: tessera-opt --split-input-file --tsr-graph-fuse %s | FileCheck %s

// Tests that PyTorch's SDPA decomposition fuses: scale split over Q and Kᵀ,
// a boolean mask turned additive by select, a NaN-guarded softmax. The mask
// is padding AND a constant causal pattern: the causal part becomes the flag,
// and Kᵀ's transpose cancels against the one attention needs.
// CHECK-LABEL: func.func @sdpa_causal_padding
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x8x16xf32>, %[[K:[^:]*]]: tensor<2x4x8x16xf32>, %[[V:[^:]*]]: tensor<2x4x8x16xf32>, %[[PAD:[^:]*]]: tensor<2x1x1x8xi1>)
// CHECK-NEXT: %[[O:.*]] = tsr.attention %[[Q]], %[[K]], %[[V]] mask(%[[PAD]]) causal scale = 2.500000e-01
// CHECK-NOT: tsr.softmax
// CHECK: return %[[O]]
func.func @sdpa_causal_padding(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x16xf32>, %v: tensor<2x4x8x16xf32>, %pad: tensor<2x1x1x8xi1>) -> tensor<2x4x8x16xf32> {
  %causal = tsr.constant dense<[[[[true, false, false, false, false, false, false, false], [true, true, false, false, false, false, false, false], [true, true, true, false, false, false, false, false], [true, true, true, true, false, false, false, false], [true, true, true, true, true, false, false, false], [true, true, true, true, true, true, false, false], [true, true, true, true, true, true, true, false], [true, true, true, true, true, true, true, true]]]]> : tensor<1x1x8x8xi1>
  %half = tsr.constant dense<0.5> : tensor<f32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %ninf = tsr.constant dense<0xFF800000> : tensor<f32>
  %kt = tsr.transpose %k perm = [0, 1, 3, 2] : tensor<2x4x8x16xf32> -> tensor<2x4x16x8xf32>
  %qs = tsr.mul %q, %half : (tensor<2x4x8x16xf32>, tensor<f32>) -> tensor<2x4x8x16xf32>
  %ks = tsr.mul %kt, %half : (tensor<2x4x16x8xf32>, tensor<f32>) -> tensor<2x4x16x8xf32>
  %s = tsr.matmul %qs, %ks : (tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x8x8xf32>
  %m = tsr.and %pad, %causal : (tensor<2x1x1x8xi1>, tensor<1x1x8x8xi1>) -> tensor<2x1x8x8xi1>
  %bias = tsr.select %m, %zero, %ninf : (tensor<2x1x8x8xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x8x8xf32>
  %sm = tsr.add %s, %bias : (tensor<2x4x8x8xf32>, tensor<2x1x8x8xf32>) -> tensor<2x4x8x8xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x4x8x8xf32>
  %nan = tsr.compare ne, %p, %p : (tensor<2x4x8x8xf32>, tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xi1>
  %pp = tsr.select %nan, %zero, %p : (tensor<2x4x8x8xi1>, tensor<f32>, tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
  %o = tsr.matmul %pp, %v : (tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Tests BERT's form: scores divided by sqrt(d) plus an additive float mask.
// CHECK-LABEL: func.func @bert_additive_mask
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x8x16xf32>, %[[KT:[^:]*]]: tensor<2x4x16x8xf32>, %[[V:[^:]*]]: tensor<2x4x8x16xf32>, %[[M:[^:]*]]: tensor<2x1x1x8xf32>)
// CHECK: %[[K:.*]] = tsr.transpose %[[KT]] perm = [0, 1, 3, 2]
// CHECK: tsr.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]]) scale = 2.500000e-01
func.func @bert_additive_mask(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>, %mask: tensor<2x1x1x8xf32>) -> tensor<2x4x8x16xf32> {
  %four = tsr.constant dense<4.0> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x8x8xf32>
  %sd = tsr.div %s, %four : (tensor<2x4x8x8xf32>, tensor<f32>) -> tensor<2x4x8x8xf32>
  %sm = tsr.add %sd, %mask : (tensor<2x4x8x8xf32>, tensor<2x1x1x8xf32>) -> tensor<2x4x8x8xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x4x8x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Tests grouped-query attention: repeat_kv on K and V is undone, leaving two
// key/value heads for eight query heads.
// CHECK-LABEL: func.func @gqa
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<1x8x4x16xf32>, %[[K:[^:]*]]: tensor<1x2x4x16xf32>, %[[V:[^:]*]]: tensor<1x2x4x16xf32>)
// CHECK: tsr.attention %[[Q]], %[[K]], %[[V]] scale = 2.500000e-01 : (tensor<1x8x4x16xf32>, tensor<1x2x4x16xf32>, tensor<1x2x4x16xf32>) -> tensor<1x8x4x16xf32>
func.func @gqa(%q: tensor<1x8x4x16xf32>, %k: tensor<1x2x4x16xf32>, %v: tensor<1x2x4x16xf32>) -> tensor<1x8x4x16xf32> {
  %scale = tsr.constant dense<0.25> : tensor<f32>
  %k1 = tsr.reshape %k : tensor<1x2x4x16xf32> -> tensor<1x2x1x4x16xf32>
  %k2 = tsr.broadcast %k1 : tensor<1x2x1x4x16xf32> -> tensor<1x2x4x4x16xf32>
  %k3 = tsr.reshape %k2 : tensor<1x2x4x4x16xf32> -> tensor<1x8x4x16xf32>
  %v1 = tsr.reshape %v : tensor<1x2x4x16xf32> -> tensor<1x2x1x4x16xf32>
  %v2 = tsr.broadcast %v1 : tensor<1x2x1x4x16xf32> -> tensor<1x2x4x4x16xf32>
  %v3 = tsr.reshape %v2 : tensor<1x2x4x4x16xf32> -> tensor<1x8x4x16xf32>
  %kt = tsr.transpose %k3 perm = [0, 1, 3, 2] : tensor<1x8x4x16xf32> -> tensor<1x8x16x4xf32>
  %s = tsr.matmul %q, %kt : (tensor<1x8x4x16xf32>, tensor<1x8x16x4xf32>) -> tensor<1x8x4x4xf32>
  %ss = tsr.mul %s, %scale : (tensor<1x8x4x4xf32>, tensor<f32>) -> tensor<1x8x4x4xf32>
  %p = tsr.softmax %ss axis = 3 : tensor<1x8x4x4xf32>
  %o = tsr.matmul %p, %v3 : (tensor<1x8x4x4xf32>, tensor<1x8x4x16xf32>) -> tensor<1x8x4x16xf32>
  return %o : tensor<1x8x4x16xf32>
}

// -----

// Tests that a near miss does not fuse: softmax over the query axis.
// CHECK-LABEL: func.func @softmax_wrong_axis
// CHECK-NOT: tsr.attention
// CHECK: tsr.softmax
func.func @softmax_wrong_axis(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32> {
  %s = tsr.matmul %q, %kt : (tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x8x8xf32>
  %p = tsr.softmax %s axis = 2 : tensor<2x4x8x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Tests that a near miss does not fuse: a mask that is lower-triangular but
// shifted is not the causal pattern, so it stays a mask.
// CHECK-LABEL: func.func @not_causal
// CHECK: tsr.attention
// CHECK-SAME: mask(
// CHECK-NOT: causal
func.func @not_causal(%q: tensor<1x1x2x4xf32>, %kt: tensor<1x1x4x2xf32>, %v: tensor<1x1x2x4xf32>) -> tensor<1x1x2x4xf32> {
  %m = tsr.constant dense<[[[[false, false], [true, false]]]]> : tensor<1x1x2x2xi1>
  %ninf = tsr.constant dense<0xFF800000> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<1x1x2x4xf32>, tensor<1x1x4x2xf32>) -> tensor<1x1x2x2xf32>
  %sm = tsr.select %m, %s, %ninf : (tensor<1x1x2x2xi1>, tensor<1x1x2x2xf32>, tensor<f32>) -> tensor<1x1x2x2xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<1x1x2x2xf32>
  %o = tsr.matmul %p, %v : (tensor<1x1x2x2xf32>, tensor<1x1x2x4xf32>) -> tensor<1x1x2x4xf32>
  return %o : tensor<1x1x2x4xf32>
}

// -----

// Tests that masked_fill(cond, -inf) (nanoGPT: a mask computed from a
// registered buffer) fuses with the negated condition as the boolean mask.
// CHECK-LABEL: func.func @masked_fill
// CHECK: %[[C:.*]] = tsr.compare eq
// CHECK: %[[M:.*]] = tsr.not %[[C]] : tensor<1x1x8x8xi1>
// CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[M]]) scale = 2.500000e-01
// CHECK-NOT: tsr.softmax
func.func @masked_fill(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32> {
  %buf = tsr.weight "h.0.bias" : tensor<1x1x8x8xf32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %cond = tsr.compare eq, %buf, %zero : (tensor<1x1x8x8xf32>, tensor<f32>) -> tensor<1x1x8x8xi1>
  %s = tsr.matmul %q, %kt : (tensor<2x4x8x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x8x8xf32>
  %c = tsr.constant dense<0.25> : tensor<f32>
  %ss = tsr.mul %s, %c : (tensor<2x4x8x8xf32>, tensor<f32>) -> tensor<2x4x8x8xf32>
  %ninf = tsr.constant dense<0xFF800000> : tensor<f32>
  %m = tsr.select %cond, %ninf, %ss : (tensor<1x1x8x8xi1>, tensor<f32>, tensor<2x4x8x8xf32>) -> tensor<2x4x8x8xf32>
  %p = tsr.softmax %m axis = 3 : tensor<2x4x8x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x4x8x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Tests that one key/value head broadcast over the query heads by the
// matmuls (multi-query attention as Falcon's export writes it) fuses as
// grouped-query attention with one group.
// CHECK-LABEL: func.func @multi_query
// CHECK: tsr.attention %{{.*}}, %{{.*}}, %{{.*}} scale = 2.500000e-01 : (tensor<2x4x8x16xf32>, tensor<2x1x8x16xf32>, tensor<2x1x8x16xf32>) -> tensor<2x4x8x16xf32>
func.func @multi_query(%q: tensor<2x4x8x16xf32>, %kt: tensor<2x1x16x8xf32>, %v: tensor<2x1x8x16xf32>) -> tensor<2x4x8x16xf32> {
  %s = tsr.matmul %q, %kt : (tensor<2x4x8x16xf32>, tensor<2x1x16x8xf32>) -> tensor<2x4x8x8xf32>
  %c = tsr.constant dense<0.25> : tensor<f32>
  %ss = tsr.mul %s, %c : (tensor<2x4x8x8xf32>, tensor<f32>) -> tensor<2x4x8x8xf32>
  %p = tsr.softmax %ss axis = 3 : tensor<2x4x8x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x4x8x8xf32>, tensor<2x1x8x16xf32>) -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Tests BLOOM's form: Q Kᵀ as a batched product on [B*H, S, D], scaled and
// plus an ALiBi bias [B*H, 1, T] there, reshaped to [B, H, S, T] only for the
// padding-and-causal mask and the softmax, and P V on [B*H, S, D] again. The
// reshapes move to the operands and cancel; the causal part of the mask
// becomes the flag and the rest adds to the bias as one additive mask.
// CHECK-LABEL: func.func @alibi_bmm
// CHECK-SAME: (%[[Q:[^:]*]]: tensor<2x4x8x16xf32>, %[[K:[^:]*]]: tensor<2x4x8x16xf32>, %[[V:[^:]*]]: tensor<2x4x8x16xf32>, %[[BIAS:[^:]*]]: tensor<8x1x8xf32>, %[[PAD:[^:]*]]: tensor<2x1x1x8xi1>)
// CHECK-DAG: %[[B4:.*]] = tsr.reshape %[[BIAS]] : tensor<8x1x8xf32> -> tensor<2x4x1x8xf32>
// CHECK-DAG: %[[P:.*]] = tsr.select %[[PAD]], %{{.*}}, %{{.*}} : (tensor<2x1x1x8xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x1x8xf32>
// CHECK: %[[M:.*]] = tsr.add %[[B4]], %[[P]] : (tensor<2x4x1x8xf32>, tensor<2x1x1x8xf32>) -> tensor<2x4x1x8xf32>
// CHECK: %[[O:.*]] = tsr.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]]) causal scale = 2.500000e-01
// CHECK-NOT: tsr.softmax
// CHECK-NOT: tsr.matmul
// CHECK: return %[[O]]
func.func @alibi_bmm(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x8x16xf32>, %v: tensor<2x4x8x16xf32>, %bias: tensor<8x1x8xf32>, %pad: tensor<2x1x1x8xi1>) -> tensor<2x4x8x16xf32> {
  %causal = tsr.constant dense<[[[[true, false, false, false, false, false, false, false], [true, true, false, false, false, false, false, false], [true, true, true, false, false, false, false, false], [true, true, true, true, false, false, false, false], [true, true, true, true, true, false, false, false], [true, true, true, true, true, true, false, false], [true, true, true, true, true, true, true, false], [true, true, true, true, true, true, true, true]]]]> : tensor<1x1x8x8xi1>
  %c = tsr.constant dense<0.25> : tensor<f32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %min = tsr.constant dense<-3.40282347E+38> : tensor<f32>
  %q3 = tsr.reshape %q : tensor<2x4x8x16xf32> -> tensor<8x8x16xf32>
  %kt = tsr.transpose %k perm = [0, 1, 3, 2] : tensor<2x4x8x16xf32> -> tensor<2x4x16x8xf32>
  %kt3 = tsr.reshape %kt : tensor<2x4x16x8xf32> -> tensor<8x16x8xf32>
  %v3 = tsr.reshape %v : tensor<2x4x8x16xf32> -> tensor<8x8x16xf32>
  %s = tsr.matmul %q3, %kt3 : (tensor<8x8x16xf32>, tensor<8x16x8xf32>) -> tensor<8x8x8xf32>
  %ss = tsr.mul %s, %c : (tensor<8x8x8xf32>, tensor<f32>) -> tensor<8x8x8xf32>
  %sb = tsr.add %ss, %bias : (tensor<8x8x8xf32>, tensor<8x1x8xf32>) -> tensor<8x8x8xf32>
  %s4 = tsr.reshape %sb : tensor<8x8x8xf32> -> tensor<2x4x8x8xf32>
  %m = tsr.and %pad, %causal : (tensor<2x1x1x8xi1>, tensor<1x1x8x8xi1>) -> tensor<2x1x8x8xi1>
  %madd = tsr.select %m, %zero, %min : (tensor<2x1x8x8xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x8x8xf32>
  %sm = tsr.add %s4, %madd : (tensor<2x4x8x8xf32>, tensor<2x1x8x8xf32>) -> tensor<2x4x8x8xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x4x8x8xf32>
  %p3 = tsr.reshape %p : tensor<2x4x8x8xf32> -> tensor<8x8x8xf32>
  %o3 = tsr.matmul %p3, %v3 : (tensor<8x8x8xf32>, tensor<8x8x16xf32>) -> tensor<8x8x16xf32>
  %o = tsr.reshape %o3 : tensor<8x8x16xf32> -> tensor<2x4x8x16xf32>
  return %o : tensor<2x4x8x16xf32>
}

// -----

// Tests a decode step with past whose grouped-query heads the exporter moved
// onto the row axis (TorchScript: the query [2, 4, 1, 16] reshaped to
// [2, 2, 2, 16], two heads of a group as two rows) under a one-row all-true
// mask broadcast over those rows. Every row sees every key: the mask is not
// the causal pattern for two rows (which would hide the last key from row
// 0), so no causal flag; all-true, it is dropped.
// CHECK-LABEL: func.func @gqa_rows_one_row_mask
// CHECK: tsr.attention %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} scale = 2.500000e-01
// CHECK-NOT: tsr.softmax
func.func @gqa_rows_one_row_mask(%q: tensor<2x2x2x16xf32>, %kt: tensor<2x2x16x8xf32>, %v: tensor<2x2x8x16xf32>) -> tensor<2x2x2x16xf32> {
  %mask = tsr.constant dense<true> : tensor<1x1x1x8xi1>
  %quarter = tsr.constant dense<0.25> : tensor<f32>
  %ninf = tsr.constant dense<0xFF800000> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<2x2x2x16xf32>, tensor<2x2x16x8xf32>) -> tensor<2x2x2x8xf32>
  %ss = tsr.mul %s, %quarter : (tensor<2x2x2x8xf32>, tensor<f32>) -> tensor<2x2x2x8xf32>
  %sm = tsr.select %mask, %ss, %ninf : (tensor<1x1x1x8xi1>, tensor<2x2x2x8xf32>, tensor<f32>) -> tensor<2x2x2x8xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x2x2x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x2x2x8xf32>, tensor<2x2x8x16xf32>) -> tensor<2x2x2x16xf32>
  return %o : tensor<2x2x2x16xf32>
}

// -----

// Tests the same one-row mask where the row is the one query (a decode step
// without the reshape): there it is the causal pattern (every key visible).
// CHECK-LABEL: func.func @one_query_one_row_mask
// CHECK: tsr.attention {{.*}} causal scale = 2.500000e-01
func.func @one_query_one_row_mask(%q: tensor<2x4x1x16xf32>, %kt: tensor<2x4x16x8xf32>, %v: tensor<2x4x8x16xf32>) -> tensor<2x4x1x16xf32> {
  %mask = tsr.constant dense<true> : tensor<1x1x1x8xi1>
  %quarter = tsr.constant dense<0.25> : tensor<f32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %ninf = tsr.constant dense<0xFF800000> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<2x4x1x16xf32>, tensor<2x4x16x8xf32>) -> tensor<2x4x1x8xf32>
  %ss = tsr.mul %s, %quarter : (tensor<2x4x1x8xf32>, tensor<f32>) -> tensor<2x4x1x8xf32>
  %bias = tsr.select %mask, %zero, %ninf : (tensor<1x1x1x8xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x1x8xf32>
  %sm = tsr.add %ss, %bias : (tensor<2x4x1x8xf32>, tensor<1x1x1x8xf32>) -> tensor<2x4x1x8xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x4x1x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x4x1x8xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x1x16xf32>
  return %o : tensor<2x4x1x16xf32>
}

// -----

// Tests the additive form of the GQA-reshaped case: a one-row select(mask,
// 0, -inf) over two rows that are heads is not causal either.
// CHECK-LABEL: func.func @gqa_rows_one_row_additive
// CHECK: tsr.attention %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} scale = 2.500000e-01
func.func @gqa_rows_one_row_additive(%q: tensor<2x2x2x16xf32>, %kt: tensor<2x2x16x8xf32>, %v: tensor<2x2x8x16xf32>) -> tensor<2x2x2x16xf32> {
  %mask = tsr.constant dense<true> : tensor<1x1x1x8xi1>
  %quarter = tsr.constant dense<0.25> : tensor<f32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %ninf = tsr.constant dense<-3.40282347E+38> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<2x2x2x16xf32>, tensor<2x2x16x8xf32>) -> tensor<2x2x2x8xf32>
  %ss = tsr.mul %s, %quarter : (tensor<2x2x2x8xf32>, tensor<f32>) -> tensor<2x2x2x8xf32>
  %bias = tsr.select %mask, %zero, %ninf : (tensor<1x1x1x8xi1>, tensor<f32>, tensor<f32>) -> tensor<1x1x1x8xf32>
  %sm = tsr.add %ss, %bias : (tensor<2x2x2x8xf32>, tensor<1x1x1x8xf32>) -> tensor<2x2x2x8xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x2x2x8xf32>
  %o = tsr.matmul %p, %v : (tensor<2x2x2x8xf32>, tensor<2x2x8x16xf32>) -> tensor<2x2x2x16xf32>
  return %o : tensor<2x2x2x16xf32>
}

// -----

// Tests a batch-sized causal mask (a causal LM exported with input_ids only:
// the exporter folds the mask for each sample): every sample's slice is the
// causal pattern, so the mask is the attribute.
// CHECK-LABEL: func.func @batch_sized_causal_mask
// CHECK: tsr.attention %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} causal scale = 2.500000e-01
func.func @batch_sized_causal_mask(%q: tensor<2x2x3x16xf32>, %kt: tensor<2x2x16x3xf32>, %v: tensor<2x2x3x16xf32>) -> tensor<2x2x3x16xf32> {
  %mask = tsr.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]], [[[true, false, false], [true, true, false], [true, true, true]]]]> : tensor<2x1x3x3xi1>
  %quarter = tsr.constant dense<0.25> : tensor<f32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %low = tsr.constant dense<-3.40282347E+38> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<2x2x3x16xf32>, tensor<2x2x16x3xf32>) -> tensor<2x2x3x3xf32>
  %ss = tsr.mul %s, %quarter : (tensor<2x2x3x3xf32>, tensor<f32>) -> tensor<2x2x3x3xf32>
  %bias = tsr.select %mask, %zero, %low : (tensor<2x1x3x3xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x3x3xf32>
  %sm = tsr.add %ss, %bias : (tensor<2x2x3x3xf32>, tensor<2x1x3x3xf32>) -> tensor<2x2x3x3xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x2x3x3xf32>
  %o = tsr.matmul %p, %v : (tensor<2x2x3x3xf32>, tensor<2x2x3x16xf32>) -> tensor<2x2x3x16xf32>
  return %o : tensor<2x2x3x16xf32>
}

// -----

// Tests a batch-sized mask whose second sample is not causal (a padded
// position folded in): it stays a mask.
// CHECK-LABEL: func.func @batch_sized_mask_one_sample_padded
// CHECK: tsr.attention %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} mask(%{{[a-z0-9]+}}) scale = 2.500000e-01
func.func @batch_sized_mask_one_sample_padded(%q: tensor<2x2x3x16xf32>, %kt: tensor<2x2x16x3xf32>, %v: tensor<2x2x3x16xf32>) -> tensor<2x2x3x16xf32> {
  %mask = tsr.constant dense<[[[[true, false, false], [true, true, false], [true, true, true]]], [[[false, false, false], [false, true, false], [false, true, true]]]]> : tensor<2x1x3x3xi1>
  %quarter = tsr.constant dense<0.25> : tensor<f32>
  %zero = tsr.constant dense<0.0> : tensor<f32>
  %low = tsr.constant dense<-3.40282347E+38> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<2x2x3x16xf32>, tensor<2x2x16x3xf32>) -> tensor<2x2x3x3xf32>
  %ss = tsr.mul %s, %quarter : (tensor<2x2x3x3xf32>, tensor<f32>) -> tensor<2x2x3x3xf32>
  %bias = tsr.select %mask, %zero, %low : (tensor<2x1x3x3xi1>, tensor<f32>, tensor<f32>) -> tensor<2x1x3x3xf32>
  %sm = tsr.add %ss, %bias : (tensor<2x2x3x3xf32>, tensor<2x1x3x3xf32>) -> tensor<2x2x3x3xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<2x2x3x3xf32>
  %o = tsr.matmul %p, %v : (tensor<2x2x3x3xf32>, tensor<2x2x3x16xf32>) -> tensor<2x2x3x16xf32>
  return %o : tensor<2x2x3x16xf32>
}

// -----

// Tests soft-capped scores (Gemma 2: cap * tanh(scaled scores / cap) before
// the mask): the cap becomes the attention's softcap, the scale the whole
// factor on Q Kᵀ (0.25 / 50 * 50).
// CHECK-LABEL: func.func @soft_capped_scores
// CHECK: tsr.attention %{{[a-z0-9]+}}, %{{[a-z0-9]+}}, %{{[a-z0-9]+}} mask(%{{[a-z0-9]+}}) scale = 2.500000e-01 softcap = 5.000000e+01
func.func @soft_capped_scores(%q: tensor<1x2x3x16xf32>, %kt: tensor<1x2x16x3xf32>, %v: tensor<1x2x3x16xf32>, %m: tensor<1x1x3x3xf32>) -> tensor<1x2x3x16xf32> {
  %quarter = tsr.constant dense<0.25> : tensor<f32>
  %cap = tsr.constant dense<50.0> : tensor<f32>
  %s = tsr.matmul %q, %kt : (tensor<1x2x3x16xf32>, tensor<1x2x16x3xf32>) -> tensor<1x2x3x3xf32>
  %ss = tsr.mul %s, %quarter : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %d = tsr.div %ss, %cap : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %t = tsr.tanh %d : tensor<1x2x3x3xf32>
  %c = tsr.mul %t, %cap : (tensor<1x2x3x3xf32>, tensor<f32>) -> tensor<1x2x3x3xf32>
  %sm = tsr.add %c, %m : (tensor<1x2x3x3xf32>, tensor<1x1x3x3xf32>) -> tensor<1x2x3x3xf32>
  %p = tsr.softmax %sm axis = 3 : tensor<1x2x3x3xf32>
  %o = tsr.matmul %p, %v : (tensor<1x2x3x3xf32>, tensor<1x2x3x16xf32>) -> tensor<1x2x3x16xf32>
  return %o : tensor<1x2x3x16xf32>
}
