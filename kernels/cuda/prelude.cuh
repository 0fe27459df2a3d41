// Tessera generated CUDA kernels: the helpers every generated module starts
// with. Compiled by NVRTC at package compile time (and again by the runtime
// for architectures the package has no image for), and by the host C++
// compiler with TESSERA_HOST_EMULATION defined, which runs the very same
// kernel source on the CPU (runtime/src/gpu/HostDevice.cpp) so that the code
// generator is tested on machines without a GPU.
//
// Conventions: every floating element type is loaded as float (double for
// f64) and every integer or bool as long long; arithmetic happens in that
// type and tsr_st converts back (round to nearest even for bf16/f16).
#ifndef TESSERA_PRELUDE_CUH
#define TESSERA_PRELUDE_CUH

#ifdef TESSERA_HOST_EMULATION
#include "emulation.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
typedef __nv_bfloat16 bf16;
typedef __half half_t;
#define TSR_INF __int_as_float(0x7f800000)
#define TSR_NAN __int_as_float(0x7fffffff)
#endif

#define TSR_D __device__ __forceinline__

TSR_D float tsr_ld(const float *p) { return *p; }
TSR_D float tsr_ld(const bf16 *p) { return __bfloat162float(*p); }
TSR_D float tsr_ld(const half_t *p) { return __half2float(*p); }
TSR_D double tsr_ld(const double *p) { return *p; }
TSR_D long long tsr_ld(const long long *p) { return *p; }
TSR_D long long tsr_ld(const int *p) { return *p; }
TSR_D long long tsr_ld(const signed char *p) { return *p; }
TSR_D long long tsr_ld(const unsigned char *p) { return *p; }

TSR_D void tsr_st(float *p, float v) { *p = v; }
TSR_D void tsr_st(bf16 *p, float v) { *p = __float2bfloat16(v); }
TSR_D void tsr_st(half_t *p, float v) { *p = __float2half(v); }
TSR_D void tsr_st(double *p, double v) { *p = v; }
TSR_D void tsr_st(long long *p, long long v) { *p = v; }
TSR_D void tsr_st(int *p, long long v) { *p = (int)v; }
TSR_D void tsr_st(signed char *p, long long v) { *p = (signed char)v; }
TSR_D void tsr_st(unsigned char *p, long long v) { *p = (unsigned char)v; }

template <typename T> TSR_D T tsr_zero();
template <> TSR_D float tsr_zero<float>() { return 0.0f; }
template <> TSR_D bf16 tsr_zero<bf16>() { return __float2bfloat16(0.0f); }
template <> TSR_D half_t tsr_zero<half_t>() { return __float2half(0.0f); }

// Math in the compute type (float, double; integers where it makes sense).
TSR_D float tsr_exp(float x) { return expf(x); }
TSR_D double tsr_exp(double x) { return exp(x); }
TSR_D float tsr_log(float x) { return logf(x); }
TSR_D double tsr_log(double x) { return log(x); }
TSR_D float tsr_sqrt(float x) { return sqrtf(x); }
TSR_D double tsr_sqrt(double x) { return sqrt(x); }
TSR_D float tsr_tanh(float x) { return tanhf(x); }
TSR_D double tsr_tanh(double x) { return tanh(x); }
TSR_D float tsr_erf(float x) { return erff(x); }
TSR_D double tsr_erf(double x) { return erf(x); }
TSR_D float tsr_sin(float x) { return sinf(x); }
TSR_D double tsr_sin(double x) { return sin(x); }
TSR_D float tsr_cos(float x) { return cosf(x); }
TSR_D double tsr_cos(double x) { return cos(x); }
TSR_D float tsr_pow(float a, float b) { return powf(a, b); }
TSR_D double tsr_pow(double a, double b) { return pow(a, b); }
TSR_D long long tsr_pow(long long a, long long b) { return (long long)pow((double)a, (double)b); }
TSR_D float tsr_abs(float x) { return fabsf(x); }
TSR_D double tsr_abs(double x) { return fabs(x); }
TSR_D long long tsr_abs(long long x) { return x < 0 ? -x : x; }
TSR_D float tsr_div(float a, float b) { return a / b; }
TSR_D double tsr_div(double a, double b) { return a / b; }
TSR_D long long tsr_div(long long a, long long b) { return b == 0 ? 0 : a / b; }
TSR_D float tsr_trunc(float x) { return truncf(x); }
TSR_D double tsr_trunc(double x) { return trunc(x); }
TSR_D long long tsr_trunc(long long x) { return x; }
template <typename T> TSR_D T tsr_max(T a, T b) { return a > b ? a : b; }
template <typename T> TSR_D T tsr_min(T a, T b) { return a < b ? a : b; }
template <typename T> TSR_D T tsr_sigmoid(T x) { return T(1) / (T(1) + tsr_exp(-x)); }
template <typename T> TSR_D T tsr_gelu(T x) {
  return T(0.5) * x * (T(1) + tsr_erf(x * T(0.70710678118654752)));
}
template <typename T> TSR_D T tsr_gelu_tanh(T x) {
  return x / (T(1) + tsr_exp(T(-1.5957691216057308) * (x + T(0.044715) * x * x * x)));
}

// Block-wide reductions over a shared scratch of blockDim.x floats
// (blockDim.x a power of two); every thread of the block calls them.
TSR_D float tsr_block_sum(float v, float *red) {
  red[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      red[threadIdx.x] += red[threadIdx.x + s];
    __syncthreads();
  }
  float r = red[0];
  __syncthreads();
  return r;
}
TSR_D float tsr_block_max(float v, float *red) {
  red[threadIdx.x] = v;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s)
      red[threadIdx.x] = tsr_max(red[threadIdx.x], red[threadIdx.x + s]);
    __syncthreads();
  }
  float r = red[0];
  __syncthreads();
  return r;
}

// Attention operands' views: base, batch, head and sequence strides of q, k,
// v and y (kernels/cuda/attention*.cuh).
#define TSR_VIEW_PARAMS                                                        \
  long long qv0, long long qv1, long long qv2, long long qv3, long long kv0,   \
      long long kv1, long long kv2, long long kv3, long long vv0, long long vv1, \
      long long vv2, long long vv3, long long yv0, long long yv1, long long yv2, \
      long long yv3

#define TSR_GRID_STRIDE(i, n)                                                  \
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
       i += (long long)blockDim.x * gridDim.x)

// The same with 32-bit indices, for kernels whose tensors all have fewer than
// 2^31 elements.
#define TSR_GRID_STRIDE32(i, n)                                                \
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned)(n);  \
       i += blockDim.x * gridDim.x)

#endif // TESSERA_PRELUDE_CUH
