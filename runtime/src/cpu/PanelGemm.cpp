//===- PanelGemm.cpp - several rows times a panel-packed weight (AVX2) ----===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// y[m, n] = A[m, k] W (+ epilogue) with W packed once into panels of 16
// columns (Panels.h), the layout the one-row GEMV reads too. The loops are
// the classic blocked ones (Goto; BLIS's Haswell parameters): K in blocks
// of kKc rows, so that one panel's [kKc, 16] block (16 KiB) stays in L1
// while A's rows stream past it; A packed per (row block, K block) into
// micro-panels of six rows ([kKc][6]); a 6 x 16 micro-kernel keeps twelve
// AVX2 accumulators, two panel loads and one broadcast in the sixteen ymm
// registers. The epilogue (bias, GELU/ReLU/SiLU, residual or gate) runs on
// each finished 6 x 16 tile while it is in L1, eight lanes at a time.
//
// Chosen where oneDNN runs at AVX2 or below (Gemm.cpp): on GPT-2 small's
// shapes oneDNN 2.6's AVX2 kernels and OpenBLAS's Haswell ones measured
// 1.2-1.4x ONNX Runtime's time, this kernel below it (docs/cpu-backend.md).
//
//===----------------------------------------------------------------------===//

#include "cpu/Panels.h"
#include "cpu/VectorMath.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera::rt::cpu {
namespace {

constexpr int64_t kMr = 6;   // rows of a micro-tile
constexpr int64_t kKc = 256; // rows of W per block: [kKc, 16] floats = 16 KiB
constexpr int64_t kMc = 144; // rows of A per block: [kMc, kKc] floats = 144 KiB (L2)

#if defined(__x86_64__)
/// tanh(u) = 1 - 2 / (exp(2u) + 1); exp256 saturates, so large |u| give +-1.
__attribute__((target("avx2,fma"))) inline __m256 tanh256(__m256 u) {
  __m256 e = exp256(_mm256_add_ps(u, u));
  return _mm256_sub_ps(_mm256_set1_ps(1.0f),
                       _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

/// erf(x) by Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7), odd in x.
__attribute__((target("avx2,fma"))) inline __m256 erf256(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                           _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), ax, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(1.061405429f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
  p = _mm256_mul_ps(p, t);
  __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax)));
  __m256 r = _mm256_fnmadd_ps(p, e, _mm256_set1_ps(1.0f));
  return _mm256_or_ps(r, sign);
}

/// Eight values through the epilogue.
__attribute__((target("avx2,fma"))) inline __m256 epilogue8(const GemmEpilogue &ep, __m256 v,
                                                            const float *bias,
                                                            const float *last) {
  if (bias)
    v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
  switch (ep.activation) {
  case GemmEpilogue::GeluTanh: {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                             _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, v));
    v = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v),
                      _mm256_add_ps(_mm256_set1_ps(1.0f), tanh256(u)));
    break;
  }
  case GemmEpilogue::GeluErf:
    v = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v),
                      _mm256_add_ps(_mm256_set1_ps(1.0f),
                                    erf256(_mm256_mul_ps(v, _mm256_set1_ps(0.7071067811865476f)))));
    break;
  case GemmEpilogue::Relu: v = _mm256_max_ps(v, _mm256_setzero_ps()); break;
  case GemmEpilogue::Silu:
    v = _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f),
                                       exp256(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    break;
  case GemmEpilogue::None: break;
  }
  if (ep.residual)
    v = _mm256_add_ps(v, _mm256_loadu_ps(last));
  else if (ep.gate)
    v = _mm256_mul_ps(v, _mm256_loadu_ps(last));
  return v;
}

__attribute__((target("avx2,fma"))) void epilogueRowAvx2(const GemmEpilogue &ep, float *y,
                                                        int64_t first, int64_t count,
                                                        const float *bias, const float *last) {
  int64_t j = 0;
  for (; j + 8 <= count; j += 8) {
    int64_t c = first + j;
    _mm256_storeu_ps(y + c, epilogue8(ep, _mm256_loadu_ps(y + c), bias ? bias + c : nullptr,
                                      last ? last + c : nullptr));
  }
  for (; j < count; ++j) {
    int64_t c = first + j;
    y[c] = applyEpilogue(ep, y[c], bias ? bias[c] : 0.0f, last ? last[c] : 0.0f);
  }
}

/// C[0:rows, 0:16] (+)= Ap Bp over kc: Ap [kc][6], Bp [kc][16] (ldb 16).
/// Writes to `c` (ldc) when all 6 x 16 values are wanted, else through
/// `tile`.
__attribute__((target("avx2,fma"))) void microKernel(int64_t kc, const float *ap, const float *bp,
                                                    float *c, int64_t ldc, int64_t rows,
                                                    int64_t cols, bool accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b0 = _mm256_load_ps(bp + p * kPanel), b1 = _mm256_load_ps(bp + p * kPanel + 8);
    const float *a = ap + p * kMr;
    __m256 a0 = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(a0, b0, c00);
    c01 = _mm256_fmadd_ps(a0, b1, c01);
    __m256 a1 = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(a1, b0, c10);
    c11 = _mm256_fmadd_ps(a1, b1, c11);
    __m256 a2 = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(a2, b0, c20);
    c21 = _mm256_fmadd_ps(a2, b1, c21);
    __m256 a3 = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(a3, b0, c30);
    c31 = _mm256_fmadd_ps(a3, b1, c31);
    __m256 a4 = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(a4, b0, c40);
    c41 = _mm256_fmadd_ps(a4, b1, c41);
    __m256 a5 = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(a5, b0, c50);
    c51 = _mm256_fmadd_ps(a5, b1, c51);
  }
  alignas(32) float tile[kMr * kPanel];
  bool direct = rows == kMr && cols == kPanel;
  float *out = direct ? c : tile;
  int64_t ld = direct ? ldc : kPanel;
  __m256 acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int64_t r = 0; r < kMr; ++r) {
    if (direct && accumulate) {
      acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(out + r * ld));
      acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(out + r * ld + 8));
    }
    _mm256_storeu_ps(out + r * ld, acc[r][0]);
    _mm256_storeu_ps(out + r * ld + 8, acc[r][1]);
  }
  if (!direct)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < cols; ++j)
        c[r * ldc + j] = accumulate ? c[r * ldc + j] + tile[r * kPanel + j] : tile[r * kPanel + j];
}
#endif

struct PanelGemm : PanelState {
  int64_t m = 0;

  Status run(const KernelCall &call) const override;
};

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void panelGemm(const Panels &w, const float *a, int64_t m,
                                                  float *y, const GemmEpilogue &ep,
                                                  const float *bias, const float *last) {
  const int64_t k = w.k, n = w.n, panels = (n + kPanel - 1) / kPanel;
#ifdef _OPENMP
  const int64_t threads = omp_get_max_threads();
#else
  const int64_t threads = 1;
#endif
  // Row blocks of equal size (whole micro-tiles); the panels split into
  // groups, two per thread where there are enough, so that the threads get
  // equal shares. A thread's consecutive items share a group: its panels'
  // K blocks stay in L2 from one row block to the next. Each item packs its
  // rows of A itself (m k copies against 16 m k FMAs per panel).
  const int64_t rowBlocks = (m + kMc - 1) / kMc;
  const int64_t rowsPer = ((m + rowBlocks - 1) / rowBlocks + kMr - 1) / kMr * kMr;
  int64_t groups = std::max<int64_t>(1, std::min<int64_t>(panels, 2 * threads));
  const int64_t perGroup = (panels + groups - 1) / groups;
  groups = (panels + perGroup - 1) / perGroup;
  const int64_t items = rowBlocks * groups;
  // Where a row block's A for all of K fits in half of L2, it is packed
  // once and each panel runs through every K block before the next panel:
  // a panel's column of C (rows x 16) stays in L1 instead of being read and
  // written back once per K block, which an output larger than the caches
  // (an LM head's logits) pays for in memory traffic.
  const int64_t rowsPad = (rowsPer + kMr - 1) / kMr * kMr;
  const bool wholeK = rowsPad * k * int64_t(sizeof(float)) <= (int64_t(512) << 10);
#pragma omp parallel
  {
    thread_local std::vector<float> packedA;
    packedA.resize(size_t(std::max((kMc + kMr) * kKc, wholeK ? rowsPad * k : 0)) + 16);
    float *ap = reinterpret_cast<float *>((reinterpret_cast<uintptr_t>(packedA.data()) + 31) &
                                          ~uintptr_t(31));
    // A[i0 : i0 + rows, p0 : p0 + kc] as micro-panels [kc][6] at `dst`
    // (tile r0 at dst + r0 kc), zero rows past m.
    auto packA = [&](int64_t i0, int64_t rows, int64_t p0, int64_t kc, float *dst) {
      for (int64_t r0 = 0; r0 < rows; r0 += kMr) {
        float *tile = dst + r0 * kc;
        int64_t rr = std::min(kMr, rows - r0);
        for (int64_t p = 0; p < kc; ++p) {
          for (int64_t r = 0; r < rr; ++r)
            tile[p * kMr + r] = a[(i0 + r0 + r) * k + p0 + p];
          for (int64_t r = rr; r < kMr; ++r)
            tile[p * kMr + r] = 0.0f;
        }
      }
    };
    // Every tile of panel q for K block p0 (A's block at `apBlock`); the
    // block of W needed next (`next`, kc 64-byte lines at most) is fetched
    // into L2 meanwhile: weights larger than L2 otherwise wait on the
    // outer caches or memory at each block.
    auto panelBlock = [&](int64_t i0, int64_t rows, int64_t q, int64_t p0, int64_t kc,
                          const float *apBlock, const float *nextBlock) {
      const float *bp = w.data + q * k * kPanel + p0 * kPanel;
      int64_t c0 = q * kPanel, cols = std::min(kPanel, n - c0);
      const int64_t tiles = (rows + kMr - 1) / kMr;
      const char *next = reinterpret_cast<const char *>(nextBlock);
      bool lastBlock = p0 + kc >= k;
      for (int64_t r0 = 0, t = 0; r0 < rows; r0 += kMr, ++t) {
        if (next)
          for (int64_t line = t * kc / tiles; line < (t + 1) * kc / tiles; ++line)
            _mm_prefetch(next + line * 64, _MM_HINT_T1);
        int64_t rr = std::min(kMr, rows - r0);
        microKernel(kc, apBlock + r0 * kc, bp, y + (i0 + r0) * n + c0, n, rr, cols, p0 > 0);
        if (lastBlock && ep.any())
          for (int64_t r = 0; r < rr; ++r)
            epilogueRowAvx2(ep, y + (i0 + r0 + r) * n, c0, cols, bias,
                            last ? last + (i0 + r0 + r) * n : nullptr);
      }
    };
#pragma omp for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      int64_t g = item / rowBlocks, ib = item % rowBlocks;
      int64_t i0 = ib * rowsPer, rows = std::min(rowsPer, m - i0);
      if (rows <= 0)
        continue;
      int64_t q0 = g * perGroup, q1 = std::min(panels, q0 + perGroup);
      if (wholeK) {
        // K block p0 of A at ap + rowsPad p0.
        for (int64_t p0 = 0; p0 < k; p0 += kKc)
          packA(i0, rows, p0, std::min(kKc, k - p0), ap + rowsPad * p0);
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t p0 = 0; p0 < k; p0 += kKc) {
            const float *next = p0 + kKc < k ? w.data + q * k * kPanel + (p0 + kKc) * kPanel
                                : q + 1 < q1     ? w.data + (q + 1) * k * kPanel
                                                 : nullptr;
            panelBlock(i0, rows, q, p0, std::min(kKc, k - p0), ap + rowsPad * p0, next);
          }
      } else {
        for (int64_t p0 = 0; p0 < k; p0 += kKc) {
          int64_t kc = std::min(kKc, k - p0);
          packA(i0, rows, p0, kc, ap);
          for (int64_t q = q0; q < q1; ++q)
            panelBlock(i0, rows, q, p0, kc, ap,
                       q + 1 < q1 ? w.data + (q + 1) * k * kPanel + p0 * kPanel : nullptr);
        }
      }
    }
  }
}
#endif

Status PanelGemm::run(const KernelCall &call) const {
#if defined(__x86_64__)
  const float *bias = epilogue.bias ? call.inputs[2].as<float>() : nullptr;
  const float *last = epilogue.lastInput() ? call.inputs.back().as<float>() : nullptr;
  panelGemm(*weight, call.inputs[0].as<float>(), m, call.outputs[0].as<float>(), epilogue, bias,
            last);
  return Status::okStatus();
#else
  return call.error("the panel GEMM needs x86-64 with AVX2");
#endif
}

} // namespace

void applyEpilogueRow(const GemmEpilogue &ep, float *y, int64_t first, int64_t count,
                      const float *bias, const float *last) {
#if defined(__x86_64__)
  if (haveAvx2Fma()) {
    epilogueRowAvx2(ep, y, first, count, bias, last);
    return;
  }
#endif
  for (int64_t j = first; j < first + count; ++j)
    y[j] = applyEpilogue(ep, y[j], bias ? bias[j] : 0.0f, last ? last[j] : 0.0f);
}

Status preparePanelGemm(KernelCall &call, const GemmEpilogue &epilogue,
                        const PrepareContext &context, int64_t m, int64_t k, int64_t n,
                        bool transposed) {
  auto state = std::make_shared<PanelGemm>();
  state->epilogue = epilogue;
  state->m = m;
  return attachPanels(call, context, k, n, transposed, std::move(state));
}

} // namespace tessera::rt::cpu
