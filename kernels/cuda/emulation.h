// Tessera's host emulation of the CUDA subset generated kernels use: the
// runtime's HostDevice compiles a module with the host C++ compiler and
// -DTESSERA_HOST_EMULATION, then runs each block's threads as cooperative
// fibers that switch at __syncthreads (runtime/src/gpu/HostDevice.cpp). It is
// a way to test the code generator without a GPU, not a fast CPU backend.
#ifndef TESSERA_EMULATION_H
#define TESSERA_EMULATION_H

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

// expf, erff, ... and their double forms, as CUDA's math library names them.
#include <math.h>

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(n)
#define __shared__ static thread_local
#define TSR_INF std::numeric_limits<float>::infinity()
#define TSR_NAN std::numeric_limits<float>::quiet_NaN()

struct tsr_dim3 {
  unsigned x = 1, y = 1, z = 1;
};
extern "C" {
// Set by the emulator before each fiber runs.
extern thread_local tsr_dim3 tsr_emu_thread, tsr_emu_block, tsr_emu_block_dim, tsr_emu_grid_dim;
void tsr_emu_syncthreads();
}
#define threadIdx tsr_emu_thread
#define blockIdx tsr_emu_block
#define blockDim tsr_emu_block_dim
#define gridDim tsr_emu_grid_dim
#define __syncthreads() tsr_emu_syncthreads()
// The block's fibers run round robin, so a warp barrier is a block barrier
// here (generated kernels reach both uniformly).
#define __syncwarp() tsr_emu_syncthreads()
#define __align__(n) __attribute__((aligned(n)))

/// bfloat16 and binary16 as 16-bit patterns, converted with round to
/// nearest even as cuda_bf16.h and cuda_fp16.h do.
struct bf16 {
  uint16_t bits;
};
struct half_t {
  uint16_t bits;
};
inline float __bfloat162float(bf16 v) {
  uint32_t u = uint32_t(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline bf16 __float2bfloat16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000)
    return bf16{uint16_t((u >> 16) | 0x40)};
  u += 0x7fff + ((u >> 16) & 1);
  return bf16{uint16_t(u >> 16)};
}
inline float __half2float(half_t v) {
  uint32_t sign = uint32_t(v.bits & 0x8000) << 16, exp = (v.bits >> 10) & 0x1f,
           man = v.bits & 0x3ff;
  uint32_t u;
  if (exp == 0x1f)
    u = sign | 0x7f800000 | (man << 13);
  else if (exp == 0) {
    if (man == 0)
      u = sign;
    else {
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else
    u = sign | (exp + 112) << 23 | man << 13;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline half_t __float2half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffff;
  if (a > 0x7f800000)
    return half_t{uint16_t(sign | 0x7e00)};
  if (a >= 0x477ff000) // rounds to infinity
    return half_t{uint16_t(sign | 0x7c00)};
  if (a < 0x38800000) { // subnormal or zero: scale and round
    float v;
    std::memcpy(&v, &a, 4);
    float scaled = v * 16777216.0f; // 2^24: units of the smallest subnormal
    uint32_t m = uint32_t(std::nearbyint(scaled));
    return half_t{uint16_t(sign | m)};
  }
  uint32_t exp = (a >> 23) - 112, man = a & 0x7fffff;
  uint32_t h = exp << 10 | man >> 13, rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h;
  return half_t{uint16_t(sign | h)};
}

inline float tsr_emu_float(float v) { return v; }
inline float tsr_emu_float(bf16 v) { return __bfloat162float(v); }
inline float tsr_emu_float(half_t v) { return __half2float(v); }

/// WMMA with every tile whole in every thread (each thread computes the
/// warp's result; stores write the same values): fragments hold their tile
/// in row-major order, a: M x K, b: K x N, accumulator: M x N.
namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static constexpr int rows = std::is_same<Use, matrix_b>::value ? K : M;
  static constexpr int cols = std::is_same<Use, matrix_a>::value ? K : N;
  static constexpr int num_elements = rows * cols;
  T x[num_elements];
};
template <typename Use, int M, int N, int K, typename T, typename L>
inline void fill_fragment(fragment<Use, M, N, K, T, L> &f, T v) {
  for (int i = 0; i < f.num_elements; ++i)
    f.x[i] = v;
}
template <typename Use, int M, int N, int K, typename T, typename L>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L> &f, const T *p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, L>;
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c)
      f.x[r * F::cols + c] =
          std::is_same<L, col_major>::value ? p[c * ldm + r] : p[r * ldm + c];
}
template <int M, int N, int K, typename T, typename LA, typename LB>
inline void mma_sync(fragment<accumulator, M, N, K, float> &d,
                     const fragment<matrix_a, M, N, K, T, LA> &a,
                     const fragment<matrix_b, M, N, K, T, LB> &b,
                     const fragment<accumulator, M, N, K, float> &c) {
  float out[M * N], fa[M * K], fb[K * N];
  for (int e = 0; e < M * K; ++e)
    fa[e] = tsr_emu_float(a.x[e]);
  for (int e = 0; e < K * N; ++e)
    fb[e] = tsr_emu_float(b.x[e]);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = c.x[i * N + j];
      for (int k = 0; k < K; ++k)
        acc += fa[i * K + k] * fb[k * N + j];
      out[i * N + j] = acc;
    }
  for (int e = 0; e < M * N; ++e)
    d.x[e] = out[e];
}
template <int M, int N, int K>
inline void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f,
                              unsigned ldm, layout_t layout) {
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      (layout == mem_col_major ? p[c * ldm + r] : p[r * ldm + c]) = f.x[r * N + c];
}
} // namespace wmma
} // namespace nvcuda

#endif // TESSERA_EMULATION_H
