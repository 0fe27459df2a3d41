//===- VectorMath.h - vectorised exp for the CPU kernels ----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Softmax spends its time in exp: a scalar expf per score is most of an
// attention's non-GEMM time. maxOf is a row's maximum eight lanes at a time;
// expShifted evaluates exp(x - shift) eight lanes
// at a time with AVX2/FMA where the CPU has them (Cephes' range reduction
// and degree-6 polynomial: within 2 ulp of expf over the softmax range),
// and with std::exp elsewhere (or under TESSERA_CPU_ISA=portable).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CPU_VECTORMATH_H
#define TESSERA_RUNTIME_CPU_VECTORMATH_H

#include <cmath>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tessera::rt::cpu {

/// Whether the project's vector kernels use AVX2 and FMA: the CPU has them
/// and TESSERA_CPU_ISA is not `portable` (Host.cpp; tests force each path).
bool kernelsUseAvx2Fma();

/// The dispatch test of every AVX2/FMA kernel (see kernelsUseAvx2Fma).
inline bool haveAvx2Fma() {
#if defined(__x86_64__)
  static const bool have = kernelsUseAvx2Fma();
  return have;
#else
  return false;
#endif
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  // exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (in two parts).
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.3762626f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/// x[j] = exp(x[j] - shift) for j < n; returns their sum. -inf gives 0.
__attribute__((target("avx2,fma"))) inline float expShiftedAvx2(float *x, int64_t n,
                                                                 float shift) {
  __m256 s = _mm256_set1_ps(shift), acc = _mm256_setzero_ps();
  const __m256 negInf = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    __m256 e = exp256(_mm256_sub_ps(v, s));
    e = _mm256_andnot_ps(_mm256_cmp_ps(v, negInf, _CMP_EQ_OQ), e);
    _mm256_storeu_ps(x + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  float sum = 0;
  for (float l : lanes)
    sum += l;
  for (; j < n; ++j) {
    x[j] = std::exp(x[j] - shift);
    sum += x[j];
  }
  return sum;
}
#endif

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) inline float maxAvx2(const float *x, int64_t n) {
  __m256 m = _mm256_set1_ps(-INFINITY);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    m = _mm256_max_ps(m, _mm256_loadu_ps(x + j));
  float lanes[8];
  _mm256_storeu_ps(lanes, m);
  float r = -INFINITY;
  for (float l : lanes)
    r = l > r ? l : r;
  for (; j < n; ++j)
    r = x[j] > r ? x[j] : r;
  return r;
}
#endif

/// The largest of x[0..n) (-inf when n is 0).
inline float maxOf(const float *x, int64_t n) {
#if defined(__x86_64__)
  if (haveAvx2Fma())
    return maxAvx2(x, n);
#endif
  float r = -INFINITY;
  for (int64_t j = 0; j < n; ++j)
    r = x[j] > r ? x[j] : r;
  return r;
}

/// x[j] = exp(x[j] - shift) for j < n (-inf gives 0); returns their sum.
inline float expShifted(float *x, int64_t n, float shift) {
#if defined(__x86_64__)
  if (haveAvx2Fma())
    return expShiftedAvx2(x, n, shift);
#endif
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    x[j] = std::exp(x[j] - shift);
    sum += x[j];
  }
  return sum;
}

} // namespace tessera::rt::cpu

#endif // TESSERA_RUNTIME_CPU_VECTORMATH_H
