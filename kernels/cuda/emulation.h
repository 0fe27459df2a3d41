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

#endif // TESSERA_EMULATION_H
