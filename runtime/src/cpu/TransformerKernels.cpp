//===- TransformerKernels.cpp - attention and rotary ----------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "cpu/Gemm.h"
#include "cpu/Kernels.h"
#include "cpu/VectorMath.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::rt::cpu {
namespace {

/// softmax(scale * Q Kᵀ + mask) V per (batch, head), computed one block of
/// kQueryBlock queries at a time with the scores of that block in a scratch
/// buffer (never the whole S x T matrix: softmax is per query row, so the
/// blocks are exact). Under a causal mask a block multiplies only the keys
/// its last query sees. The (batch, head, block) triples share the threads.
Status attention(const KernelCall &call) {
  const TensorRef &q = call.inputs[0], &k = call.inputs[1], &v = call.inputs[2];
  const TensorRef *mask = call.inputs.size() > 3 ? &call.inputs[3] : nullptr;
  const TensorRef &y = call.outputs[0];
  if (q.dtype != DType::F32)
    return call.error("only f32 attention is implemented on the CPU");
  bool causal = call.attrInt("causal", 0) != 0;
  float scale = float(call.attrFloat("scale", 1.0));
  // Soft-capped scores (Gemma 2): softcap * tanh(scores / softcap).
  float softcap = float(call.attrFloat("softcap", 0.0));
  // Shapes, or (CUDA-target plans whose head transposes were folded away)
  // the dims and strided views of the operands.
  std::vector<int64_t> dims = call.attrInts("dims"), views = call.attrInts("views");
  if (dims.empty())
    dims = {q.shape[0], q.shape[1], k.shape[1], q.shape[2], k.shape[2], q.shape[3], v.shape[3]};
  if (dims.size() != 7 || (!views.empty() && views.size() != 16))
    return call.error("malformed attention dims or views");
  int64_t B = dims[0], H = dims[1], Hkv = dims[2], S = dims[3], T = dims[4], D = dims[5],
          Dv = dims[6];
  if (views.empty())
    views = {0, H * S * D,   S * D,  D,  0, Hkv * T * D, T * D, D,
             0, Hkv * T * Dv, T * Dv, Dv, 0, H * S * Dv,  S * Dv, Dv};
  int64_t group = H / Hkv;
  std::vector<int64_t> maskStrides;
  bool boolMask = mask && mask->dtype == DType::Bool;
  if (mask)
    maskStrides = broadcastStrides(mask->shape, 4);
  constexpr int64_t kQueryBlock = 256;
  int64_t blocks = (S + kQueryBlock - 1) / kQueryBlock;
#pragma omp parallel for collapse(3) schedule(static)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t blk = 0; blk < blocks; ++blk) {
        int64_t i0 = blk * kQueryBlock, rows = std::min(kQueryBlock, S - i0);
        // The keys this block's last query sees.
        int64_t keys = causal ? std::clamp<int64_t>(i0 + rows + T - S, 0, T) : T;
        const float *qp = q.as<float>() + views[0] + b * views[1] + h * views[2] + i0 * views[3];
        const float *kp = k.as<float>() + views[4] + b * views[5] + (h / group) * views[6];
        const float *vp = v.as<float>() + views[8] + b * views[9] + (h / group) * views[10];
        float *yp = y.as<float>() + views[12] + b * views[13] + h * views[14] + i0 * views[15];
        thread_local std::vector<float> scratch;
        scratch.resize(size_t(rows * std::max<int64_t>(keys, 1)));
        float *scores = scratch.data();
        if (keys > 0)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, D, scale, qp,
                      views[3], kp, views[7], 0.0f, scores, keys);
        for (int64_t r = 0; r < rows; ++r) {
          int64_t i = i0 + r;
          float *row = scores + r * keys;
          // Causal: keys after the query's position get weight 0.
          int64_t end = causal ? std::clamp<int64_t>(i + T - S + 1, 0, keys) : keys;
          if (softcap > 0)
            for (int64_t j = 0; j < end; ++j)
              row[j] = softcap * std::tanh(row[j] / softcap);
          if (mask) {
            int64_t at = b * maskStrides[0] + h * maskStrides[1] + i * maskStrides[2],
                    step = maskStrides[3];
            if (!boolMask && step == 1) { // the common layout: one vectorised add
              const float *m = mask->as<float>() + at;
              for (int64_t j = 0; j < end; ++j)
                row[j] += m[j];
            } else {
              for (int64_t j = 0; j < end; ++j) {
                if (!boolMask)
                  row[j] += mask->as<float>()[at + j * step];
                else if (!mask->as<uint8_t>()[at + j * step])
                  row[j] = -std::numeric_limits<float>::infinity();
              }
            }
          }
          float m = maxOf(row, end);
          // A fully masked row attends to nothing: zeros, as PyTorch's
          // NaN-guarded softmax gives.
          if (std::isinf(m))
            end = 0;
          float sum = expShifted(row, end, m);
          float inv = sum > 0 ? 1.0f / sum : 0.0f;
          for (int64_t j = 0; j < end; ++j)
            row[j] *= inv;
          std::fill(row + end, row + keys, 0.0f);
        }
        if (keys > 0)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Dv, keys, 1.0f, scores,
                      keys, vp, views[11], 0.0f, yp, views[15]);
        else
          for (int64_t r = 0; r < rows; ++r)
            std::fill(yp + r * views[15], yp + r * views[15] + Dv, 0.0f);
      }
  return Status::okStatus();
}

/// Rotates pairs (i, i + R/2) (or (2i, 2i + 1) when interleaved) of the first
/// R features by the angles whose cosines and sines are given per position.
Status rotary(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &cs = call.inputs[1], &sn = call.inputs[2];
  const TensorRef &y = call.outputs[0];
  if (x.dtype != DType::F32)
    return call.error("only f32 rotary is implemented on the CPU");
  bool interleaved = call.attrInt("interleaved", 0) != 0;
  size_t rank = x.shape.size();
  int64_t D = x.shape[rank - 1], R = cs.shape.back(), half = R / 2;
  std::vector<int64_t> rowShape(x.shape.begin(), x.shape.end() - 1);
  std::vector<int64_t> csRow(cs.shape.begin(), cs.shape.end() - 1);
  std::vector<int64_t> csStrides = broadcastStrides(csRow, rowShape.size());
  int64_t rows = x.numel() / D;
  const float *in = x.as<float>(), *c = cs.as<float>(), *s = sn.as<float>();
  float *out = y.as<float>();
#pragma omp parallel for schedule(static) if (double(rows * D) > 32768.0 * parallelGrain())
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, at = 0;
    for (int64_t d = int64_t(rowShape.size()) - 1; d >= 0; --d) {
      at += (rem % rowShape[d]) * csStrides[d];
      rem /= rowShape[d];
    }
    const float *xr = in + r * D, *cr = c + at * R, *sr = s + at * R;
    float *yr = out + r * D;
    for (int64_t i = 0; i < half; ++i) {
      int64_t p = interleaved ? 2 * i : i, q = interleaved ? 2 * i + 1 : i + half;
      float a = xr[p], b = xr[q];
      yr[p] = a * cr[p] - b * sr[p];
      yr[q] = b * cr[q] + a * sr[q];
    }
    for (int64_t i = R; i < D; ++i)
      yr[i] = xr[i];
  }
  return Status::okStatus();
}

} // namespace

void registerTransformerKernels(KernelTable &t) {
  t["attention"] = attention;
  t["rotary"] = rotary;
}

const KernelTable &cpuKernels() {
  static const KernelTable table = [] {
    KernelTable t;
    registerElementwiseKernels(t);
    registerLinalgKernels(t);
    registerShapeKernels(t);
    registerTransformerKernels(t);
    registerFusedKernels(t);
    registerCollectiveKernels(t);
    registerRandomKernels(t);
    return t;
  }();
  return table;
}

const std::map<std::string, PrepareFn> &cpuPrepareFunctions() {
  static const std::map<std::string, PrepareFn> table = {{"matmul", prepareGemm}};
  return table;
}

} // namespace tessera::rt::cpu
