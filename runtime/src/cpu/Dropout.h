//===- Dropout.h - counter-based dropout --------------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Training-mode dropout without state: whether element g of a whole tensor
// is kept is a hash of (seed, stream, step, g), so any block of the tensor,
// on any rank, at any time (the forward pass, the gradient) draws the same.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CPU_DROPOUT_H
#define TESSERA_RUNTIME_CPU_DROPOUT_H

#include <cstdint>
#include <vector>

namespace tessera::rt::cpu {

/// The key of one draw: (seed, stream, step) mixed once per call.
uint64_t dropoutKey(uint64_t seed, uint64_t stream, uint64_t step);

/// Whether element `index` of the whole tensor is kept under `key`, with
/// `threshold` = ratio * 2^24 (24 random bits per element).
inline bool dropoutKeeps(uint64_t key, uint64_t index, uint32_t threshold) {
  uint64_t z = key + (index + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return uint32_t(z >> 40) >= threshold;
}

/// y = x kept / (1 - ratio), or 0, for the block of shape `shape` at
/// `origin` in a whole tensor of shape `whole` (row-major).
void dropoutBlock(const float *x, float *y, const std::vector<int64_t> &shape,
                  const std::vector<int64_t> &whole, const std::vector<int64_t> &origin,
                  double ratio, uint64_t key);

} // namespace tessera::rt::cpu

#endif // TESSERA_RUNTIME_CPU_DROPOUT_H
