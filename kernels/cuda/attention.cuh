// Tessera fused attention: softmax(scale * Q K^T + mask) V in one pass over
// the keys (flash-attention style: running max and sum, no score matrix in
// memory), causal and masked, grouped-query (H query heads share Hkv key and
// value heads), fp32 accumulation whatever the element types.
//
// Layout: q [B,H,S,D], k [B,Hkv,T,D], v [B,Hkv,T,DV], y [B,H,S,DV], each
// read or written through a view: element (b, h, i, d) at
// base + b * batch + h * head + i * seq + d (so [B,S,H,D] tensors and pieces
// of a fused QKV projection need no transposing copy); the mask, when
// present, broadcasts to [B,H,S,T] with element strides ms0..ms3 (additive
// floats, or bools where false hides a key). Causal: query i sees
// keys j <= i + T - S. A query that sees no key gives zeros.
//
// Grid (ceil(S / BQ), H, B), BQ threads: each thread owns one query row and
// its accumulators; the block stages BK keys and values at a time through
// shared memory.
#ifndef TESSERA_ATTENTION_CUH
#define TESSERA_ATTENTION_CUH

template <typename TQ, typename TK, typename TV, typename TM, typename TO, int D,
          int DV, int BQ, int BK, bool CAUSAL, int MASK>
TSR_D void tsr_attention(const TQ *__restrict__ q, const TK *__restrict__ k,
                         const TV *__restrict__ v, const TM *__restrict__ mask,
                         TO *__restrict__ y, int H, int HKV, int S, int T, float scale,
                         long long ms0, long long ms1, long long ms2, long long ms3,
                         TSR_VIEW_PARAMS) {
  __shared__ float ks[BK][D];
  __shared__ float vs[BK][DV];
  const int b = blockIdx.z, h = blockIdx.y;
  const int i = blockIdx.x * BQ + threadIdx.x;
  const int hk = h / (H / HKV);
  const bool active = i < S;
  const TQ *qp = q + qv0 + b * qv1 + h * qv2 + (active ? i : 0) * qv3;
  const TK *kp = k + kv0 + b * kv1 + hk * kv2;
  const TV *vp = v + vv0 + b * vv1 + hk * vv2;
  float qr[D], acc[DV];
  for (int d = 0; d < D; ++d)
    qr[d] = active ? tsr_ld(qp + d) * scale : 0.0f;
  for (int d = 0; d < DV; ++d)
    acc[d] = 0.0f;
  float m = -TSR_INF, l = 0.0f;
  // Keys past the block's last visible one are never loaded.
  int last = T;
  if (CAUSAL) {
    int lastQuery = (blockIdx.x + 1) * BQ - 1;
    if (lastQuery > S - 1)
      lastQuery = S - 1;
    last = lastQuery + T - S + 1;
    if (last > T)
      last = T;
    if (last < 0)
      last = 0;
  }
  for (int j0 = 0; j0 < last; j0 += BK) {
    for (int e = threadIdx.x; e < BK * D; e += BQ) {
      int j = e / D, d = e % D;
      ks[j][d] = j0 + j < T ? tsr_ld(kp + (long long)(j0 + j) * kv3 + d) : 0.0f;
    }
    for (int e = threadIdx.x; e < BK * DV; e += BQ) {
      int j = e / DV, d = e % DV;
      vs[j][d] = j0 + j < T ? tsr_ld(vp + (long long)(j0 + j) * vv3 + d) : 0.0f;
    }
    __syncthreads();
    if (active) {
      int end = last - j0 < BK ? last - j0 : BK;
      for (int j = 0; j < end; ++j) {
        int key = j0 + j;
        if (CAUSAL && key > i + T - S)
          break;
        float s = 0.0f;
        for (int d = 0; d < D; ++d)
          s += qr[d] * ks[j][d];
        if (MASK) {
          long long at = b * ms0 + h * ms1 + i * ms2 + key * ms3;
          if (MASK == 2) {
            if (!tsr_ld(mask + at))
              continue;
          } else {
            s += tsr_ld(mask + at);
          }
        }
        if (s == -TSR_INF)
          continue;
        float mNew = s > m ? s : m;
        float correction = tsr_exp(m - mNew); // 0 on the first visible key
        float p = tsr_exp(s - mNew);
        l = l * correction + p;
        for (int d = 0; d < DV; ++d)
          acc[d] = acc[d] * correction + p * vs[j][d];
        m = mNew;
      }
    }
    __syncthreads();
  }
  if (active) {
    TO *yp = y + yv0 + b * yv1 + h * yv2 + i * yv3;
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int d = 0; d < DV; ++d)
      tsr_st(yp + d, acc[d] * inv);
  }
}

#endif // TESSERA_ATTENTION_CUH
