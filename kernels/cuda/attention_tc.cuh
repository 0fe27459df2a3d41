// Tessera fused attention on tensor cores (bf16/fp16, sm_80+): the same
// contract as attention.cuh (softmax(scale * Q K^T + mask) V; causal, masked,
// grouped-query; a query that sees no key gives zeros) with the products on
// WMMA 16x16x16 tiles and fp32 accumulation; operands through views, as
// there.
//
// Grid (ceil(S / 64), H, B), 128 threads: warp w owns queries 16w..16w+15 of
// the block's 64. Keys stream through shared memory BK at a time, twice:
// pass 0 takes each query row's maximum and sum (online), pass 1 forms
// P = exp(s - max) / sum in the element type and accumulates P V in WMMA
// accumulators, which need no rescaling. Q K^T is computed twice; the score
// matrix never reaches global memory. P and V enter the P V product as fp16
// whatever T is: P lies in [0, 1], where fp16 keeps 10 mantissa bits to
// bf16's 7 (it halves the error of bf16 models' logits in the zoo tests); V
// must then lie within fp16's range (+-65504).
#ifndef TESSERA_ATTENTION_TC_CUH
#define TESSERA_ATTENTION_TC_CUH

#ifndef TESSERA_HOST_EMULATION
#include <mma.h>
#endif

template <typename T, typename TM, typename TO, int D, int DV, int BK, bool CAUSAL, int MASK>
TSR_D void tsr_attention_tc(const T *__restrict__ q, const T *__restrict__ k,
                            const T *__restrict__ v, const TM *__restrict__ mask,
                            TO *__restrict__ y, int H, int HKV, int S, int T_, float scale,
                            long long ms0, long long ms1, long long ms2, long long ms3,
                            TSR_VIEW_PARAMS) {
  using namespace nvcuda;
  constexpr int BQ = 64, W = 4;
  // Shared: Q tile, then the key tile's K, V, scores and P (the output
  // staging reuses the scores).
  constexpr int kQ = BQ * D * 2, kK = BK * D * 2, kV = BK * DV * 2, kS = W * 16 * BK * 4,
                kP = W * 16 * BK * 2;
  __shared__ __align__(128) unsigned char smem[kQ + kK + kV + (kS > W * 1024 ? kS : W * 1024) + kP];
  __shared__ float rowM[BQ], rowL[BQ];
  T *qs = reinterpret_cast<T *>(smem);
  T *ks = reinterpret_cast<T *>(smem + kQ);
  half_t *vs = reinterpret_cast<half_t *>(smem + kQ + kK);
  float *ss = reinterpret_cast<float *>(smem + kQ + kK + kV);
  half_t *ps = reinterpret_cast<half_t *>(smem + kQ + kK + kV + (kS > W * 1024 ? kS : W * 1024));
  const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * BQ;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int hk = h / (H / HKV);
  const T *qp = q + qv0 + b * qv1 + h * qv2;
  const T *kp = k + kv0 + b * kv1 + hk * kv2;
  const T *vp = v + vv0 + b * vv1 + hk * vv2;
  const T zero = tsr_zero<T>();
  for (int e = threadIdx.x; e < BQ * D; e += 128) {
    int r = e / D;
    qs[e] = q0 + r < S ? qp[(long long)(q0 + r) * qv3 + e % D] : zero;
  }
  if (threadIdx.x < BQ) {
    rowM[threadIdx.x] = -TSR_INF;
    rowL[threadIdx.x] = 0.0f;
  }
  int last = T_;
  if (CAUSAL) {
    int lastQuery = q0 + BQ - 1 < S - 1 ? q0 + BQ - 1 : S - 1;
    last = lastQuery + T_ - S + 1;
    last = last > T_ ? T_ : last < 0 ? 0 : last;
  }
  __syncthreads();
  float *sw = ss + warp * 16 * BK;
  half_t *pw = ps + warp * 16 * BK;
  const int row = warp * 16 + lane, i = q0 + row; // lanes 0..15 own a row
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> o[DV / 16];
  for (int n = 0; n < DV / 16; ++n)
    wmma::fill_fragment(o[n], 0.0f);
  for (int pass = 0; pass < 2; ++pass) {
    for (int j0 = 0; j0 < last; j0 += BK) {
      for (int e = threadIdx.x; e < BK * D; e += 128) {
        int j = e / D;
        ks[e] = j0 + j < T_ ? kp[(long long)(j0 + j) * kv3 + e % D] : zero;
      }
      if (pass == 1)
        for (int e = threadIdx.x; e < BK * DV; e += 128) {
          int j = e / DV;
          vs[e] = __float2half(j0 + j < T_ ? tsr_ld(vp + (long long)(j0 + j) * vv3 + e % DV) : 0.0f);
        }
      __syncthreads();
      // Scores of the warp's 16 queries against the tile's BK keys.
      for (int n = 0; n < BK / 16; ++n) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.0f);
        for (int kk = 0; kk < D / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
          wmma::load_matrix_sync(fa, qs + warp * 16 * D + kk * 16, D);
          wmma::load_matrix_sync(fb, ks + n * 16 * D + kk * 16, D);
          wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(sw + n * 16, acc, BK, wmma::mem_row_major);
      }
      __syncwarp();
      if (lane < 16) {
        float m = rowM[row], l = rowL[row];
        for (int c = 0; c < BK; ++c) {
          int key = j0 + c;
          float s = sw[lane * BK + c] * scale;
          bool visible = i < S && key < T_ && (!CAUSAL || key <= i + T_ - S);
          if (visible && MASK) {
            long long at = b * ms0 + h * ms1 + i * ms2 + key * ms3;
            if (MASK == 2)
              visible = tsr_ld(mask + at) != 0;
            else
              s += tsr_ld(mask + at);
          }
          visible = visible && s != -TSR_INF;
          if (pass == 0) {
            if (visible) {
              float mNew = s > m ? s : m;
              l = l * tsr_exp(m - mNew) + tsr_exp(s - mNew);
              m = mNew;
            }
          } else {
            float p = visible && l > 0.0f ? tsr_exp(s - m) / l : 0.0f;
            tsr_st(pw + lane * BK + c, p);
          }
        }
        rowM[row] = m;
        rowL[row] = l;
      }
      __syncwarp();
      if (pass == 1)
        for (int kk = 0; kk < BK / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, half_t, wmma::row_major> fa;
          wmma::load_matrix_sync(fa, pw + kk * 16, BK);
          for (int n = 0; n < DV / 16; ++n) {
            wmma::fragment<wmma::matrix_b, 16, 16, 16, half_t, wmma::row_major> fb;
            wmma::load_matrix_sync(fb, vs + kk * 16 * DV + n * 16, DV);
            wmma::mma_sync(o[n], fa, fb, o[n]);
          }
        }
      __syncthreads();
    }
  }
  // The warp's 16 x DV outputs, 16 columns at a time through its staging.
  float *stage = ss + warp * 256;
  TO *yp = y + yv0 + b * yv1 + h * yv2;
  for (int n = 0; n < DV / 16; ++n) {
    wmma::store_matrix_sync(stage, o[n], 16, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) {
      int r = e / 16, qi = q0 + warp * 16 + r;
      if (qi < S)
        tsr_st(yp + (long long)qi * yv3 + n * 16 + e % 16, stage[e]);
    }
    __syncwarp();
  }
}

#endif // TESSERA_ATTENTION_TC_CUH
