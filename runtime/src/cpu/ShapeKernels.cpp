//===- ShapeKernels.cpp - data movement -----------------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Byte-level kernels: they move elements without looking at them, so one
// implementation serves every element type.
//
//===----------------------------------------------------------------------===//

#include "cpu/Kernels.h"

#include <algorithm>
#include <cstring>

namespace tessera::rt::cpu {
namespace {

Status copy(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  if (x.data != y.data)
    std::memmove(y.data, x.data, size_t(x.numel()) * dtypeSize(x.dtype));
  return Status::okStatus();
}

Status transpose(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  std::vector<int64_t> perm = call.attrInts("permutation");
  size_t rank = perm.size(), size = dtypeSize(x.dtype);
  std::vector<int64_t> inStrides(rank, 1);
  for (int64_t d = int64_t(rank) - 2; d >= 0; --d)
    inStrides[d] = inStrides[d + 1] * x.shape[d + 1];
  // Source stride for each output dimension.
  std::vector<int64_t> src(rank);
  for (size_t d = 0; d < rank; ++d)
    src[d] = inStrides[perm[d]];
  int64_t inner = rank ? y.shape[rank - 1] : 1, outer = y.numel() / std::max<int64_t>(inner, 1);
  int64_t innerStride = rank ? src[rank - 1] : 0;
  auto baseOf = [&](int64_t row) {
    int64_t rem = row, base = 0;
    for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
      base += (rem % y.shape[d]) * src[d];
      rem /= y.shape[d];
    }
    return base;
  };
  if (size == 4 && rank >= 2 && src[rank - 2] == 1 && innerStride != 1 &&
      y.numel() > 65536) {
    // The last two dimensions swap (the input's innermost becomes the
    // output's rows): a tiled transpose per batch, so that reads and writes
    // both stay in cache.
    constexpr int64_t kTile = 32;
    int64_t rows = y.shape[rank - 2], batches = outer / rows;
    int64_t rowTiles = (rows + kTile - 1) / kTile, colTiles = (inner + kTile - 1) / kTile;
    const uint32_t *in = reinterpret_cast<const uint32_t *>(x.data);
    uint32_t *out = reinterpret_cast<uint32_t *>(y.data);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < batches * rowTiles * colTiles; ++t) {
      int64_t b = t / (rowTiles * colTiles), rt = (t / colTiles) % rowTiles, ct = t % colTiles;
      int64_t base = baseOf(b * rows);
      for (int64_t c = ct * kTile; c < std::min(inner, (ct + 1) * kTile); ++c)
        for (int64_t r = rt * kTile; r < std::min(rows, (rt + 1) * kTile); ++r)
          out[(b * rows + r) * inner + c] = in[base + r + c * innerStride];
    }
    return Status::okStatus();
  }
#pragma omp parallel for schedule(static) if (double(y.numel()) > 65536.0 * parallelGrain())
  for (int64_t row = 0; row < outer; ++row) {
    int64_t base = baseOf(row);
    uint8_t *dst = y.data + row * inner * size;
    if (innerStride == 1) {
      std::memcpy(dst, x.data + base * size, size_t(inner) * size);
      continue;
    }
    for (int64_t j = 0; j < inner; ++j)
      std::memcpy(dst + j * size, x.data + (base + j * innerStride) * size, size);
  }
  return Status::okStatus();
}

/// Copies blocks: concat, split and slice along one axis share this shape.
void blocks(int64_t outer, int64_t blockBytes, const uint8_t *src,
            int64_t srcStride, uint8_t *dst, int64_t dstStride) {
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + o * dstStride, src + o * srcStride, size_t(blockBytes));
}

Status concat(const KernelCall &call) {
  const TensorRef &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", 0);
  size_t size = dtypeSize(y.dtype);
  int64_t outer, dim, inner;
  splitAt(y.shape, axis, outer, dim, inner);
  int64_t rowBytes = dim * inner * int64_t(size), offset = 0;
  for (const TensorRef &x : call.inputs) {
    int64_t bytes = x.shape[axis] * inner * int64_t(size);
    blocks(outer, bytes, x.data, bytes, y.data + offset, rowBytes);
    offset += bytes;
  }
  return Status::okStatus();
}

Status split(const KernelCall &call) {
  const TensorRef &x = call.inputs[0];
  int64_t axis = call.attrInt("axis", 0);
  size_t size = dtypeSize(x.dtype);
  int64_t outer, dim, inner;
  splitAt(x.shape, axis, outer, dim, inner);
  int64_t rowBytes = dim * inner * int64_t(size), offset = 0;
  for (const TensorRef &y : call.outputs) {
    int64_t bytes = y.shape[axis] * inner * int64_t(size);
    blocks(outer, bytes, x.data + offset, rowBytes, y.data, bytes);
    offset += bytes;
  }
  return Status::okStatus();
}

Status slice(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  std::vector<int64_t> start = call.attrInts("start");
  std::vector<int64_t> strides = call.attrInts("strides");
  size_t rank = x.shape.size(), size = dtypeSize(x.dtype);
  if (strides.empty())
    strides.assign(rank, 1);
  std::vector<int64_t> inStrides(rank, 1);
  for (int64_t d = int64_t(rank) - 2; d >= 0; --d)
    inStrides[d] = inStrides[d + 1] * x.shape[d + 1];
  int64_t n = y.numel();
  if (n == 0)
    return Status::okStatus();
  int64_t inner = rank ? y.shape[rank - 1] : 1, outer = n / inner;
  for (int64_t row = 0; row < outer; ++row) {
    int64_t rem = row, base = 0;
    for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
      base += (start[d] + (rem % y.shape[d]) * strides[d]) * inStrides[d];
      rem /= y.shape[d];
    }
    int64_t first = rank ? start[rank - 1] : 0, step = rank ? strides[rank - 1] : 1;
    uint8_t *dst = y.data + row * inner * size;
    if (step == 1) {
      std::memcpy(dst, x.data + (base + first) * size, size_t(inner) * size);
      continue;
    }
    for (int64_t j = 0; j < inner; ++j)
      std::memcpy(dst + j * size, x.data + (base + first + j * step) * size, size);
  }
  return Status::okStatus();
}

Status broadcast(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  size_t size = dtypeSize(x.dtype);
  const std::vector<int64_t> shapes[1] = {x.shape};
  forEachBroadcast(y.shape, shapes, [&](int64_t o, const auto &idx) {
    std::memcpy(y.data + o * size, x.data + idx[0] * size, size);
  });
  return Status::okStatus();
}

Status gather(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &indices = call.inputs[1];
  const TensorRef &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", 0);
  size_t size = dtypeSize(x.dtype);
  int64_t outer, dim, inner;
  splitAt(x.shape, axis, outer, dim, inner);
  int64_t count = indices.numel();
  // A vocabulary-parallel shard holds rows [offset, offset + dim) of a
  // global table; indices are global and rows it does not hold give zeros.
  bool sharded = call.hasAttr("row_offset");
  int64_t offset = call.attrInt("row_offset", 0);
  auto indexAt = [&](int64_t k) {
    return indices.dtype == DType::I64 ? indices.as<int64_t>()[k]
                                       : int64_t(indices.as<int32_t>()[k]);
  };
  if (!sharded)
    for (int64_t k = 0; k < count; ++k) {
      int64_t i = indexAt(k);
      if (i < -dim || i >= dim)
        return Status(StatusCode::InvalidArgument,
                      call.error("index " + std::to_string(i) +
                                 " out of range for dimension " +
                                 std::to_string(axis) + " of size " +
                                 std::to_string(dim))
                          .message());
    }
  int64_t blockBytes = inner * int64_t(size);
#pragma omp parallel for schedule(static) if (double(outer * count * inner) > 65536.0 * parallelGrain())
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < count; ++k) {
      int64_t i = indexAt(k);
      uint8_t *dst = y.data + (o * count + k) * blockBytes;
      if (sharded) {
        i -= offset;
        if (i < 0 || i >= dim) {
          std::memset(dst, 0, size_t(blockBytes));
          continue;
        }
      } else if (i < 0) {
        i += dim;
      }
      std::memcpy(dst, x.data + (o * dim + i) * blockBytes, size_t(blockBytes));
    }
  return Status::okStatus();
}

/// The transpose of gather (an embedding's gradient): zeros, then each
/// slice of the updates added at its index. f32 only; the sum runs over the
/// indices in order, per row, so results are deterministic.
Status scatterAdd(const KernelCall &call) {
  const TensorRef &updates = call.inputs[0], &indices = call.inputs[1];
  const TensorRef &y = call.outputs[0];
  if (y.dtype != DType::F32)
    return call.error("scatter_add computes in f32 only");
  int64_t axis = call.attrInt("axis", 0);
  int64_t outer, dim, inner;
  splitAt(y.shape, axis, outer, dim, inner);
  int64_t count = indices.numel();
  auto indexAt = [&](int64_t k) {
    return indices.dtype == DType::I64 ? indices.as<int64_t>()[k]
                                       : int64_t(indices.as<int32_t>()[k]);
  };
  for (int64_t k = 0; k < count; ++k) {
    int64_t i = indexAt(k);
    if (i < -dim || i >= dim)
      return call.error("index " + std::to_string(i) + " out of range for dimension " +
                        std::to_string(axis) + " of size " + std::to_string(dim));
  }
  float *out = y.as<float>();
  const float *in = updates.as<float>();
  std::memset(out, 0, size_t(y.numel()) * sizeof(float));
#pragma omp parallel for schedule(static) if (double(outer * count * inner) > 65536.0 * parallelGrain())
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < count; ++k) {
      int64_t i = indexAt(k);
      if (i < 0)
        i += dim;
      float *dst = out + (o * dim + i) * inner;
      const float *src = in + (o * count + k) * inner;
      for (int64_t e = 0; e < inner; ++e)
        dst[e] += src[e];
    }
  return Status::okStatus();
}

/// Position `b` of a generation kernel's positions (one per sequence, or
/// one for all), checked against the sequence length.
Status positionAt(const KernelCall &call, const TensorRef &positions, int64_t b, int64_t length,
                  int64_t &out) {
  int64_t n = positions.numel();
  int64_t k = n == 1 ? 0 : b;
  if (k >= n)
    return call.error(std::to_string(n) + " positions for sequence " + std::to_string(b));
  out = positions.dtype == DType::I64 ? positions.as<int64_t>()[k]
                                      : int64_t(positions.as<int32_t>()[k]);
  if (out < 0 || out >= length)
    return call.error("position " + std::to_string(out) + " outside [0, " +
                      std::to_string(length) + ")");
  return Status::okStatus();
}

/// The rows of a sequence axis at each sequence's position (see
/// tsr.take_rows): blocks of `inner x (dims after axis)` elements.
Status takeRows(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &positions = call.inputs[1];
  const TensorRef &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", -1), inner = call.attrInt("inner", 1);
  if (axis < 0 || axis >= x.rank() || x.rank() != y.rank() || inner < 1 ||
      y.shape[size_t(axis)] % inner || y.shape[size_t(axis)] == 0 ||
      x.shape[size_t(axis)] % y.shape[size_t(axis)])
    return call.error("inconsistent shapes");
  size_t size = dtypeSize(x.dtype);
  int64_t length = x.shape[size_t(axis)] / y.shape[size_t(axis)];
  int64_t outer = y.shape[size_t(axis)] / inner;
  int64_t post = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d)
    post *= x.shape[size_t(d)];
  // Result index = (pre, o, i, post); `pre` covers the dimensions before axis.
  int64_t pre = 1;
  for (int64_t d = 0; d < axis; ++d)
    pre *= y.shape[size_t(d)];
  int64_t perBatch = axis > 0 ? pre / std::max<int64_t>(y.shape[0], 1) : 1;
  bool broadcastBatch = axis > 0 && x.shape[0] == 1 && y.shape[0] != 1;
  for (int64_t d = 0; d < y.rank(); ++d)
    if (d != axis && y.shape[size_t(d)] != x.shape[size_t(d)] && !(d == 0 && broadcastBatch))
      return call.error("inconsistent shapes");
  int64_t block = inner * post * int64_t(size);
  for (int64_t p = 0; p < pre; ++p)
    for (int64_t o = 0; o < outer; ++o) {
      int64_t b = axis > 0 ? p / perBatch : o, pos = 0;
      if (Status s = positionAt(call, positions, b, length, pos); !s.ok())
        return s;
      int64_t srcPre = broadcastBatch ? p % perBatch : p;
      const uint8_t *src =
          x.data + ((srcPre * outer + o) * length + pos) * block;
      std::memcpy(y.data + (p * outer + o) * block, src, size_t(block));
    }
  return Status::okStatus();
}

/// The cache with each sequence's new row written at its position (see
/// tsr.cache_write). In place when the output is the cache's buffer.
Status cacheWrite(const KernelCall &call) {
  const TensorRef &cache = call.inputs[0], &positions = call.inputs[1],
                  &update = call.inputs[2];
  const TensorRef &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", -1);
  if (axis <= 0 || axis >= cache.rank() || update.rank() != cache.rank() ||
      y.shape != cache.shape || update.shape[size_t(axis)] < 1 ||
      update.shape[size_t(axis)] > cache.shape[size_t(axis)])
    return call.error("inconsistent shapes");
  for (int64_t d = 0; d < cache.rank(); ++d)
    if (d != axis && update.shape[size_t(d)] != cache.shape[size_t(d)])
      return call.error("inconsistent shapes");
  size_t size = dtypeSize(cache.dtype);
  int64_t batch = cache.shape[0], length = cache.shape[size_t(axis)];
  int64_t pre = 1, post = 1;
  for (int64_t d = 1; d < axis; ++d)
    pre *= cache.shape[size_t(d)];
  for (int64_t d = axis + 1; d < cache.rank(); ++d)
    post *= cache.shape[size_t(d)];
  int64_t rows = update.shape[size_t(axis)];
  std::vector<int64_t> pos(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    if (Status s = positionAt(call, positions, b, length - rows + 1, pos[size_t(b)]); !s.ok())
      return s;
  }
  if (y.data != cache.data)
    std::memcpy(y.data, cache.data, cache.bytes());
  int64_t block = post * int64_t(size);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t p = 0; p < pre; ++p)
      std::memcpy(y.data + ((b * pre + p) * length + pos[size_t(b)]) * block,
                  update.data + (b * pre + p) * rows * block, size_t(rows * block));
  return Status::okStatus();
}

} // namespace

void registerShapeKernels(KernelTable &t) {
  t["scatter_add"] = scatterAdd;
  t["take_rows"] = takeRows;
  t["cache_write"] = cacheWrite;
  t["reshape"] = copy;
  t["transpose"] = transpose;
  t["concat"] = concat;
  t["split"] = split;
  t["slice"] = slice;
  t["broadcast"] = broadcast;
  t["gather"] = gather;
}

} // namespace tessera::rt::cpu
