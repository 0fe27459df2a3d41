//===- PackedGemv.cpp - one-row products on panel-packed weights ----------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A decode step multiplies one row by every weight matrix: memory-bound, the
// time is how fast the weights stream in. Packed once into panels of 16
// columns ([n/16][k][16], the last panel zero-padded), each thread reads its
// panels front to back - one sequential stream per core, which the hardware
// prefetcher follows at full speed - where a row-major [k, n] weight read by
// columns (BLAS's sgemv) or a transposed [n, k] one read by rows interleaves
// many streams. On GPT-2's shapes (2 threads) this measured 1.2-1.7x
// OpenBLAS's sgemv.
//
//===----------------------------------------------------------------------===//

#include "cpu/Panels.h"
#include "cpu/VectorMath.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/mman.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera::rt::cpu {

Panels::~Panels() { std::free(data); }

uint64_t panelBytes(int64_t k, int64_t n) {
  return uint64_t((n + kPanel - 1) / kPanel) * uint64_t(k) * kPanel * sizeof(float);
}

namespace {

Status packPanels(const TensorRef &b, int64_t k, int64_t n, bool transposed,
                  std::shared_ptr<void> &out) {
  int64_t panels = (n + kPanel - 1) / kPanel;
  uint64_t bytes = panelBytes(k, n);
  // 2 MiB-aligned so that the kernel may back it with huge pages (fewer TLB
  // misses on a stream of hundreds of megabytes).
  constexpr size_t kHuge = size_t(2) << 20;
  size_t rounded = (size_t(bytes) + kHuge - 1) / kHuge * kHuge;
  auto p = std::make_shared<Panels>();
  p->data = static_cast<float *>(std::aligned_alloc(kHuge, rounded));
  if (!p->data)
    return Status(StatusCode::Internal,
                  "cannot allocate " + std::to_string(bytes) + " bytes for a packed weight");
  madvise(p->data, rounded, MADV_HUGEPAGE);
  p->k = k;
  p->n = n;
  const float *w = b.as<float>();
  int64_t ld = b.shape.back();
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < panels; ++q) {
    float *dst = p->data + q * k * kPanel;
    int64_t cols = std::min(kPanel, n - q * kPanel);
    for (int64_t r = 0; r < k; ++r) {
      for (int64_t j = 0; j < cols; ++j) {
        int64_t col = q * kPanel + j;
        dst[r * kPanel + j] = transposed ? w[col * ld + r] : w[r * ld + col];
      }
      for (int64_t j = cols; j < kPanel; ++j)
        dst[r * kPanel + j] = 0.0f;
    }
  }
  out = p;
  return Status::okStatus();
}

/// The epilogue on 16 (or fewer, at the end) finished values.
inline void finish(float *values, int64_t first, int64_t count, const GemmEpilogue &ep,
                   const float *bias, const float *last, float *y) {
  for (int64_t j = 0; j < count; ++j)
    y[first + j] = applyEpilogue(ep, values[j], bias ? bias[first + j] : 0.0f,
                                 last ? last[first + j] : 0.0f);
}

#if defined(__x86_64__)
/// y = x W (+ epilogue), W in panels: two sets of accumulators (even and
/// odd rows of the panel) to keep two FMA chains in flight per column block.
__attribute__((target("avx2,fma"))) void gemvPanels(const Panels &w, const float *x, float *y,
                                                    const GemmEpilogue &ep, const float *bias,
                                                    const float *last) {
  const int64_t k = w.k, n = w.n, panels = (n + kPanel - 1) / kPanel;
#pragma omp parallel for schedule(static)
  for (int64_t q = 0; q < panels; ++q) {
    const float *p = w.data + q * k * kPanel;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    int64_t r = 0;
    for (; r + 2 <= k; r += 2) {
      __m256 x0 = _mm256_broadcast_ss(x + r), x1 = _mm256_broadcast_ss(x + r + 1);
      const float *row = p + r * kPanel;
      a0 = _mm256_fmadd_ps(_mm256_load_ps(row), x0, a0);
      a1 = _mm256_fmadd_ps(_mm256_load_ps(row + 8), x0, a1);
      b0 = _mm256_fmadd_ps(_mm256_load_ps(row + 16), x1, b0);
      b1 = _mm256_fmadd_ps(_mm256_load_ps(row + 24), x1, b1);
    }
    if (r < k) {
      __m256 x0 = _mm256_broadcast_ss(x + r);
      const float *row = p + r * kPanel;
      a0 = _mm256_fmadd_ps(_mm256_load_ps(row), x0, a0);
      a1 = _mm256_fmadd_ps(_mm256_load_ps(row + 8), x0, a1);
    }
    alignas(32) float values[kPanel];
    _mm256_store_ps(values, _mm256_add_ps(a0, b0));
    _mm256_store_ps(values + 8, _mm256_add_ps(a1, b1));
    finish(values, q * kPanel, std::min(kPanel, n - q * kPanel), ep, bias, last, y);
  }
}
#else
void gemvPanels(const Panels &, const float *, float *, const GemmEpilogue &, const float *,
                const float *) {}
#endif

struct PackedGemv : PanelState {
  Status run(const KernelCall &call) const override {
    const float *bias = epilogue.bias ? call.inputs[2].as<float>() : nullptr;
    const float *last = epilogue.lastInput() ? call.inputs.back().as<float>() : nullptr;
    gemvPanels(*weight, call.inputs[0].as<float>(), call.outputs[0].as<float>(), epilogue, bias,
               last);
    return Status::okStatus();
  }
};

} // namespace

Status attachPanels(KernelCall &call, const PrepareContext &context, int64_t k, int64_t n,
                    bool transposed, std::shared_ptr<PanelState> state) {
  if (!haveAvx2Fma())
    return Status::okStatus();
  const TensorRef &b = call.inputs[1];
  auto pack = [&](std::shared_ptr<void> &packed) {
    return packPanels(b, k, n, transposed, packed);
  };
  std::shared_ptr<void> packed;
  std::string layout = "panels" + std::to_string(kPanel) + ":" + std::to_string(k) + "x" +
                       std::to_string(n) + ":" + std::to_string(int(transposed));
  if (Status s = packedCopy(context, b.data, layout, panelBytes(k, n), pack, packed); !s.ok())
    return s;
  if (!packed)
    return Status::okStatus(); // over the memory limit: the BLAS path
  state->weight = std::static_pointer_cast<const Panels>(packed);
  call.state = std::move(state);
  return Status::okStatus();
}

Status preparePackedGemv(KernelCall &call, const GemmEpilogue &epilogue,
                         const PrepareContext &context, int64_t k, int64_t n, bool transposed) {
  auto state = std::make_shared<PackedGemv>();
  state->epilogue = epilogue;
  return attachPanels(call, context, k, n, transposed, std::move(state));
}

} // namespace tessera::rt::cpu
