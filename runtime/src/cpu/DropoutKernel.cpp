//===- DropoutKernel.cpp - counter-based dropout --------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "Dropout.h"
#include "Kernels.h"

#include <cmath>

namespace tessera::rt::cpu {

uint64_t dropoutKey(uint64_t seed, uint64_t stream, uint64_t step) {
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdull;
    z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53ull;
    return z ^ (z >> 33);
  };
  return mix(mix(mix(seed + 0x243f6a8885a308d3ull) ^ (stream + 0x13198a2e03707344ull)) ^
             (step + 0xa4093822299f31d0ull));
}

void dropoutBlock(const float *x, float *y, const std::vector<int64_t> &shape,
                  const std::vector<int64_t> &whole, const std::vector<int64_t> &origin,
                  double ratio, uint64_t key) {
  const size_t rank = shape.size();
  const uint32_t threshold = uint32_t(std::lround(ratio * double(1u << 24)));
  const float scale = float(1.0 / (1.0 - ratio));
  int64_t inner = rank ? shape[rank - 1] : 1, rows = 1;
  for (size_t d = 0; d + 1 < rank; ++d)
    rows *= shape[d];
  // Strides of the whole tensor.
  std::vector<int64_t> stride(rank, 1);
  for (size_t d = rank; d-- > 1;)
    stride[d - 1] = stride[d] * whole[d];
#pragma omp parallel for schedule(static) if (double(rows * inner) > 65536.0 * parallelGrain())
  for (int64_t r = 0; r < rows; ++r) {
    // The row's first element in the whole tensor.
    int64_t rest = r, g = rank ? origin[rank - 1] : 0;
    for (size_t d = rank - 1; d-- > 0;) {
      g += (origin[d] + rest % shape[d]) * stride[d];
      rest /= shape[d];
    }
    const float *in = x + r * inner;
    float *out = y + r * inner;
    for (int64_t i = 0; i < inner; ++i)
      out[i] = dropoutKeeps(key, uint64_t(g + i), threshold) ? in[i] * scale : 0.0f;
  }
}

namespace {

Status dropout(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &step = call.inputs[1], &y = call.outputs[0];
  if (x.dtype != DType::F32 || step.dtype != DType::F32)
    return call.error("dropout computes in f32 only");
  std::vector<int64_t> whole = call.attrInts("global_shape"), origin = call.attrInts("origin");
  if (whole.size() != x.shape.size() || origin.size() != x.shape.size())
    return call.error("dropout: global_shape and origin must have the input's rank");
  if (call.inputs.size() > 2) {
    const TensorRef &chunk = call.inputs[2];
    int64_t k = chunk.dtype == DType::I64 ? chunk.as<int64_t>()[0]
                                          : int64_t(chunk.as<int32_t>()[0]);
    int64_t dim = call.attrInt("chunk_dim", 0);
    if (dim < 0 || size_t(dim) >= origin.size())
      return call.error("dropout: chunk_dim out of range");
    origin[size_t(dim)] += k * call.attrInt("chunk_stride", 0);
  }
  for (size_t d = 0; d < origin.size(); ++d)
    if (origin[d] < 0 || origin[d] + x.shape[d] > whole[d])
      return call.error("dropout: block of dimension " + std::to_string(d) +
                        " outside the whole tensor");
  double ratio = call.attrFloat("ratio", 0);
  float stepValue = step.as<float>()[0];
  uint64_t key = dropoutKey(uint64_t(call.attrInt("seed", 0)), uint64_t(call.attrInt("stream", 0)),
                            uint64_t(std::max(0.0f, stepValue)));
  dropoutBlock(x.as<float>(), y.as<float>(), x.shape, whole, origin, ratio, key);
  return Status::okStatus();
}

} // namespace

void registerRandomKernels(KernelTable &table) { table["dropout"] = dropout; }

} // namespace tessera::rt::cpu
