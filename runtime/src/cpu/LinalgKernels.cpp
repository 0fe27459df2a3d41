//===- LinalgKernels.cpp - matmul, reductions, softmax, norms -------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "cpu/Gemm.h"
#include "cpu/Kernels.h"
#include "cpu/VectorMath.h"

#include <cblas.h>

#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::rt::cpu {
namespace {

#if defined(__x86_64__)
/// y[j] = dot(w[j, :], x) for the rows of a row-major [n, k] matrix: eight
/// rows at a time with AVX2 FMA (one pass over the weights, split over the
/// threads), the rows two groups ahead prefetched while these are summed (the
/// hardware prefetcher alone keeps too few of the streams in flight). A
/// decode step's LM head (a transposed embedding) reads this way: 31 GB/s on
/// GPT-2's [50257, 768] where OpenBLAS's sgemv streams 24 GB/s.
__attribute__((target("avx2,fma"))) void gemvRowsAvx2(const float *w, const float *x, float *y,
                                                     int64_t n, int64_t k) {
  constexpr int64_t kRows = 8;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; r += kRows) {
    int64_t rows = std::min<int64_t>(kRows, n - r);
    __m256 acc[kRows];
    for (__m256 &a : acc)
      a = _mm256_setzero_ps();
    int64_t p = 0;
    const float *ahead = w + (r + 2 * kRows) * k;
    bool prefetch = r + 3 * kRows <= n;
    if (rows == kRows)
      for (; p + 8 <= k; p += 8) {
        if (prefetch && (p & 15) == 0)
          for (int64_t j = 0; j < kRows; ++j)
            _mm_prefetch(reinterpret_cast<const char *>(ahead + j * k + p), _MM_HINT_T0);
        __m256 xv = _mm256_loadu_ps(x + p);
        for (int64_t j = 0; j < kRows; ++j)
          acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(w + (r + j) * k + p), xv, acc[j]);
      }
    for (int64_t j = 0; j < rows; ++j) {
      float lanes[8];
      _mm256_storeu_ps(lanes, acc[j]);
      float sum = 0;
      for (float v : lanes)
        sum += v;
      for (int64_t q = p; q < k; ++q)
        sum += w[(r + j) * k + q] * x[q];
      y[r + j] = sum;
    }
  }
}
#else
void gemvRowsAvx2(const float *, const float *, float *, int64_t, int64_t) {}
#endif

/// Batched GEMM with broadcasting batch dimensions through BLAS.
template <typename T>
void gemmBatched(const TensorRef &a, const TensorRef &b, const TensorRef &y,
                 bool ta, bool tb) {
  size_t ra = a.shape.size(), rb = b.shape.size(), ry = y.shape.size();
  int64_t m = y.shape[ry - 2], n = y.shape[ry - 1];
  int64_t k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  int64_t lda = a.shape[ra - 1], ldb = b.shape[rb - 1];
  std::vector<int64_t> batch(y.shape.begin(), y.shape.end() - 2);
  std::vector<int64_t> aBatch(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> bBatch(b.shape.begin(), b.shape.end() - 2);
  int64_t batches = 1;
  for (int64_t d : batch)
    batches *= d;
  auto gemm = [&](const T *pa, const T *pb, T *py, int64_t rows) {
    // One row (a decode step): a matrix-vector product, which streams the
    // weights once instead of packing them first as GEMM does.
    if constexpr (std::is_same_v<T, float>) {
      if (rows == 1 && !ta && tb && haveAvx2Fma() && ldb == k) {
        gemvRowsAvx2(pb, pa, py, n, k);
        return;
      }
      if (rows == 1 && !ta) {
        cblas_sgemv(CblasRowMajor, tb ? CblasNoTrans : CblasTrans, tb ? n : k, tb ? k : n,
                    1.0f, pb, ldb, pa, 1, 0.0f, py, 1);
        return;
      }
    }
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                  tb ? CblasTrans : CblasNoTrans, rows, n, k, 1.0f, pa, lda, pb,
                  ldb, 0.0f, py, n);
    else if constexpr (std::is_same_v<T, double>)
      cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                  tb ? CblasTrans : CblasNoTrans, rows, n, k, 1.0, pa, lda, pb,
                  ldb, 0.0, py, n);
    else
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < n; ++j) {
          T acc = 0;
          for (int64_t p = 0; p < k; ++p)
            acc += (ta ? pa[p * lda + i] : pa[i * lda + p]) *
                   (tb ? pb[j * ldb + p] : pb[p * ldb + j]);
          py[i * n + j] = acc;
        }
  };
  // A shared 2-D right operand: one GEMM over all rows of the left one.
  if (bBatch.empty() && !ta) {
    gemm(a.as<T>(), b.as<T>(), y.as<T>(), batches * m);
    return;
  }
  std::vector<int64_t> sa = broadcastStrides(aBatch, batch.size());
  std::vector<int64_t> sb = broadcastStrides(bBatch, batch.size());
  int64_t aMatrix = a.shape[ra - 2] * a.shape[ra - 1];
  int64_t bMatrix = b.shape[rb - 2] * b.shape[rb - 1];
#pragma omp parallel for schedule(static) if (batches > 1)
  for (int64_t i = 0; i < batches; ++i) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {
      int64_t c = rem % batch[d];
      rem /= batch[d];
      ia += c * sa[d];
      ib += c * sb[d];
    }
    gemm(a.as<T>() + ia * aMatrix, b.as<T>() + ib * bMatrix,
         y.as<T>() + i * m * n, m);
  }
}

/// The epilogue of a fused matmul on the BLAS path: + bias over the last
/// dimension, the activation, + the residual or x the gate, in one pass
/// after the GEMM.
template <typename T> void epilogue(const KernelCall &call, const GemmEpilogue &ep) {
  const TensorRef &y = call.outputs[0];
  int64_t n = y.shape.back(), rows = n ? y.numel() / n : 0;
  T *out = y.as<T>();
  const T *b = ep.bias ? call.inputs[2].as<T>() : nullptr;
  const T *last = ep.lastInput() ? call.inputs.back().as<T>() : nullptr;
#pragma omp parallel for schedule(static) if (double(rows * n) > 65536.0 * parallelGrain())
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j)
      out[i * n + j] = applyEpilogue(ep, out[i * n + j], b ? b[j] : T(0),
                                     last ? last[i * n + j] : T(0));
}

/// Whether this thread's session runs beside other ranks of its process
/// with several threads (setBlasShared).
thread_local bool tBlasShared = false;

/// OpenBLAS's OpenMP build has one buffer for multithreaded calls (its
/// NUM_PARALLEL, 1 in Debian's build): a second rank's call spins until the
/// first finishes, burning the core the first one needs (ranks as threads,
/// two threads each, measured 5-13x slower than one thread each on 2
/// cores). Such calls take this lock instead, and wait asleep.
std::mutex &blasMutex() {
  static std::mutex m;
  return m;
}

/// The threads a BLAS call of this kernel may use: one per 4 MFLOP of the
/// product, at most the session's (OpenBLAS's OpenMP build reads the
/// calling thread's OpenMP count at each call; its own threshold lets a
/// 128 x 128 x 64 product wake every thread, which costs more than the
/// product, and several times more on oversubscribed cores). Restored on
/// scope exit.
class BlasThreads {
public:
  explicit BlasThreads(const KernelCall &call) {
#ifdef _OPENMP
    const TensorRef &a = call.inputs[0], &y = call.outputs[0];
    bool ta = call.attrInt("transpose_lhs", 0);
    int64_t k = a.rank() >= 2 ? (ta ? a.shape[a.rank() - 2] : a.shape.back()) : 1;
    double flops = 2.0 * double(y.numel()) * double(k);
    saved_ = omp_get_max_threads();
    want_ = int(std::clamp<double>(flops / (4e6 * parallelGrain()), 1.0, double(saved_)));
    if (want_ != saved_)
      omp_set_num_threads(want_);
    else
      saved_ = 0;
#else
    (void)call;
#endif
  }
  ~BlasThreads() {
#ifdef _OPENMP
    if (saved_)
      omp_set_num_threads(saved_);
#endif
  }
  /// The threads the call uses.
  int count() const { return want_; }

private:
  int saved_ = 0;
  int want_ = 1;
};

Status matmul(const KernelCall &call) {
  if (call.state)
    return runPreparedGemm(call);
  BlasThreads threads(call);
  // (A one-thread call takes no shared buffer: no turns.)
  std::unique_lock<std::mutex> shared;
  if (tBlasShared && threads.count() > 1)
    shared = std::unique_lock<std::mutex>(blasMutex());
  GemmEpilogue ep;
  if (Status s = GemmEpilogue::parse(call, ep); !s.ok())
    return s;
  const TensorRef &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  bool ta = call.attrInt("transpose_lhs", 0), tb = call.attrInt("transpose_rhs", 0);
  switch (a.dtype) {
  case DType::F32:
    gemmBatched<float>(a, b, y, ta, tb);
    if (ep.any())
      epilogue<float>(call, ep);
    break;
  case DType::F64:
    gemmBatched<double>(a, b, y, ta, tb);
    if (ep.any())
      epilogue<double>(call, ep);
    break;
  case DType::I64: gemmBatched<int64_t>(a, b, y, ta, tb); break;
  case DType::I32: gemmBatched<int32_t>(a, b, y, ta, tb); break;
  default: return call.error("unsupported element type");
  }
  return Status::okStatus();
}

enum class Reduce { Sum, Mean, Max, Min, Prod };

template <Reduce K> inline void accumulate(double &a, double v) {
  if constexpr (K == Reduce::Max) a = std::max(a, v);
  else if constexpr (K == Reduce::Min) a = std::min(a, v);
  else if constexpr (K == Reduce::Prod) a *= v;
  else a += v;
}

template <Reduce K> constexpr double reduceInit() {
  return K == Reduce::Max   ? -std::numeric_limits<double>::infinity()
         : K == Reduce::Min ? std::numeric_limits<double>::infinity()
         : K == Reduce::Prod ? 1.0
                             : 0.0;
}

/// Reduction over one contiguous run of axes: x is [outer, count, inner].
/// Each output accumulates in double, in index order, so results do not
/// depend on the thread count; the work splits over outputs, and a long
/// reduction to few outputs over fixed-size chunks summed in order.
template <Reduce K, typename T>
void reduceContiguous(const T *in, T *out, int64_t outer, int64_t count, int64_t inner) {
  double scale = K == Reduce::Mean ? 1.0 / double(count) : 1.0;
  constexpr int64_t kChunk = 1 << 16;
  if (inner == 1 && outer < 16 && count > 4 * kChunk) {
    int64_t chunks = (count + kChunk - 1) / kChunk;
    std::vector<double> partial(size_t(outer * chunks), reduceInit<K>());
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < outer * chunks; ++t) {
      int64_t o = t / chunks, c = t % chunks;
      const T *x = in + o * count;
      double a = reduceInit<K>();
      for (int64_t k = c * kChunk; k < std::min(count, (c + 1) * kChunk); ++k)
        accumulate<K>(a, double(x[k]));
      partial[size_t(t)] = a;
    }
    for (int64_t o = 0; o < outer; ++o) {
      double a = reduceInit<K>();
      for (int64_t c = 0; c < chunks; ++c)
        accumulate<K>(a, partial[size_t(o * chunks + c)]);
      out[o] = T(a * scale);
    }
    return;
  }
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (double(outer * count) > 65536.0 * parallelGrain())
    for (int64_t o = 0; o < outer; ++o) {
      const T *x = in + o * count;
      double a = reduceInit<K>();
      for (int64_t k = 0; k < count; ++k)
        accumulate<K>(a, double(x[k]));
      out[o] = T(a * scale);
    }
    return;
  }
  // Rows of `inner` outputs: accumulate row after row, a block of outputs
  // per task.
  constexpr int64_t kBlock = 256;
  int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (double(outer * count * inner) > 65536.0 * parallelGrain())
  for (int64_t t = 0; t < outer * blocks; ++t) {
    int64_t o = t / blocks, b0 = (t % blocks) * kBlock, b1 = std::min(inner, b0 + kBlock);
    double acc[kBlock];
    for (int64_t i = b0; i < b1; ++i)
      acc[i - b0] = reduceInit<K>();
    for (int64_t k = 0; k < count; ++k) {
      const T *x = in + (o * count + k) * inner;
      for (int64_t i = b0; i < b1; ++i)
        accumulate<K>(acc[i - b0], double(x[i]));
    }
    for (int64_t i = b0; i < b1; ++i)
      out[o * inner + i] = T(acc[i - b0] * scale);
  }
}

template <Reduce K, typename T> void reduceTyped(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  std::vector<int64_t> axes = call.attrInts("axes");
  size_t rank = x.shape.size();
  // The common case: the reduced axes are one contiguous run.
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  bool run = !sorted.empty();
  for (size_t i = 1; i < sorted.size(); ++i)
    run &= sorted[i] == sorted[i - 1] + 1;
  if (run) {
    int64_t outer = 1, count = 1, inner = 1;
    for (int64_t d = 0; d < int64_t(rank); ++d)
      (d < sorted.front() ? outer : d > sorted.back() ? inner : count) *= x.shape[size_t(d)];
    reduceContiguous<K, T>(x.as<T>(), y.as<T>(), outer, count, inner);
    return;
  }
  std::vector<bool> reduced(rank, false);
  int64_t count = 1;
  for (int64_t a : axes) {
    reduced[a] = true;
    count *= x.shape[a];
  }
  // Output strides over the input's dimensions (0 on reduced ones).
  std::vector<int64_t> outStride(rank, 0);
  int64_t stride = 1;
  for (int64_t d = int64_t(rank) - 1; d >= 0; --d)
    if (!reduced[d]) {
      outStride[d] = stride;
      stride *= x.shape[d];
    }
  int64_t outN = y.numel();
  double init = K == Reduce::Max   ? -std::numeric_limits<double>::infinity()
                : K == Reduce::Min ? std::numeric_limits<double>::infinity()
                : K == Reduce::Prod ? 1.0
                                    : 0.0;
  std::vector<double> acc(size_t(outN), init);
  const T *in = x.as<T>();
  std::vector<int64_t> idx(rank, 0);
  int64_t n = x.numel();
  int64_t o = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = double(in[i]);
    double &a = acc[size_t(o)];
    if constexpr (K == Reduce::Max) a = std::max(a, v);
    else if constexpr (K == Reduce::Min) a = std::min(a, v);
    else if constexpr (K == Reduce::Prod) a *= v;
    else a += v;
    for (int64_t d = int64_t(rank) - 1; d >= 0; --d) {
      ++idx[d];
      o += outStride[d];
      if (idx[d] < x.shape[d])
        break;
      o -= outStride[d] * idx[d];
      idx[d] = 0;
    }
  }
  T *out = y.as<T>();
  for (int64_t i = 0; i < outN; ++i)
    out[i] = T(K == Reduce::Mean ? acc[size_t(i)] / double(count) : acc[size_t(i)]);
}

template <Reduce K> Status reduce(const KernelCall &call) {
  switch (call.inputs[0].dtype) {
  case DType::F32: reduceTyped<K, float>(call); break;
  case DType::F64: reduceTyped<K, double>(call); break;
  case DType::I64: reduceTyped<K, int64_t>(call); break;
  case DType::I32: reduceTyped<K, int32_t>(call); break;
  default: return call.error("unsupported element type");
  }
  return Status::okStatus();
}

template <typename T> void softmaxRows(const T *in, T *out, int64_t outer,
                                       int64_t dim, int64_t inner) {
#pragma omp parallel for schedule(static) if (double(outer * dim * inner) > 16384.0 * parallelGrain())
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const T *x = in + o * dim * inner + i;
      T *y = out + o * dim * inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t d = 0; d < dim; ++d)
        m = std::max(m, x[d * inner]);
      if (std::isinf(m) && m < 0) { // every entry masked: ONNX gives NaN
        for (int64_t d = 0; d < dim; ++d)
          y[d * inner] = std::numeric_limits<T>::quiet_NaN();
        continue;
      }
      T sum = 0;
      for (int64_t d = 0; d < dim; ++d) {
        T e = std::exp(x[d * inner] - m);
        y[d * inner] = e;
        sum += e;
      }
      T inv = T(1) / sum;
      for (int64_t d = 0; d < dim; ++d)
        y[d * inner] *= inv;
    }
}

Status softmax(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  int64_t outer, dim, inner;
  splitAt(x.shape, call.attrInt("axis", x.rank() - 1), outer, dim, inner);
  if (x.dtype == DType::F32)
    softmaxRows(x.as<float>(), y.as<float>(), outer, dim, inner);
  else if (x.dtype == DType::F64)
    softmaxRows(x.as<double>(), y.as<double>(), outer, dim, inner);
  else
    return call.error("unsupported element type");
  return Status::okStatus();
}

/// layer_norm (centered) and rms_norm over the trailing axes from `axis`.
template <typename T>
void normRows(const KernelCall &call, bool centered) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  const T *scale = call.inputs[1].as<T>();
  const T *bias = call.inputs.size() > 2 ? call.inputs[2].as<T>() : nullptr;
  int64_t axis = call.attrInt("axis", x.rank() - 1);
  double eps = call.attrFloat("epsilon", 1e-5);
  int64_t rows = 1, cols = 1;
  for (int64_t d = 0; d < x.rank(); ++d)
    (d < axis ? rows : cols) *= x.shape[d];
  const T *in = x.as<T>();
  T *out = y.as<T>();
#pragma omp parallel for schedule(static) if (double(rows * cols) > 16384.0 * parallelGrain())
  for (int64_t r = 0; r < rows; ++r) {
    const T *row = in + r * cols;
    // Sums in double over eight interleaved accumulators (the compiler
    // vectorises them; one accumulator would be a serial chain).
    auto sum = [&](auto term) {
      double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t c = 0;
      for (; c + 8 <= cols; c += 8)
        for (int l = 0; l < 8; ++l)
          acc[l] += term(double(row[c + l]));
      for (; c < cols; ++c)
        acc[0] += term(double(row[c]));
      return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    };
    double mean = centered ? sum([](double v) { return v; }) / double(cols) : 0.0;
    double var = sum([&](double v) { return (v - mean) * (v - mean); }) / double(cols);
    double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) {
      double v = (double(row[c]) - mean) * inv * double(scale[c]);
      if (bias)
        v += double(bias[c]);
      out[r * cols + c] = T(v);
    }
  }
}

template <bool Centered> Status norm(const KernelCall &call) {
  if (call.inputs[0].dtype == DType::F32)
    normRows<float>(call, Centered);
  else if (call.inputs[0].dtype == DType::F64)
    normRows<double>(call, Centered);
  else
    return call.error("unsupported element type");
  return Status::okStatus();
}

} // namespace

namespace {

/// Cumulative sums along an axis, in order (exclusive: before each element;
/// reverse: from the end). Floats accumulate in double.
template <typename T, typename Acc>
void cumsumTyped(const TensorRef &x, const TensorRef &y, int64_t axis, bool exclusive,
                 bool reverse) {
  int64_t outer = 1, inner = 1, dim = x.shape[size_t(axis)];
  for (int64_t d = 0; d < axis; ++d)
    outer *= x.shape[size_t(d)];
  for (int64_t d = axis + 1; d < x.rank(); ++d)
    inner *= x.shape[size_t(d)];
  const T *in = x.as<T>();
  T *out = y.as<T>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t n = 0; n < inner; ++n) {
      Acc acc = 0;
      for (int64_t s = 0; s < dim; ++s) {
        int64_t at = (o * dim + (reverse ? dim - 1 - s : s)) * inner + n;
        Acc v = Acc(in[at]);
        if (!exclusive)
          acc += v;
        out[at] = T(acc);
        if (exclusive)
          acc += v;
      }
    }
}

Status cumsum(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  int64_t axis = call.attrInt("axis", -1);
  if (axis < 0 || axis >= x.rank() || x.shape != y.shape || x.dtype != y.dtype)
    return call.error("inconsistent shapes");
  bool exclusive = call.hasAttr("exclusive"), reverse = call.hasAttr("reverse");
  switch (x.dtype) {
  case DType::F32: cumsumTyped<float, double>(x, y, axis, exclusive, reverse); break;
  case DType::F64: cumsumTyped<double, double>(x, y, axis, exclusive, reverse); break;
  case DType::I64: cumsumTyped<int64_t, int64_t>(x, y, axis, exclusive, reverse); break;
  case DType::I32: cumsumTyped<int32_t, int64_t>(x, y, axis, exclusive, reverse); break;
  default: return call.error("unsupported element type");
  }
  return Status::okStatus();
}

} // namespace

void setBlasShared(bool shared) { tBlasShared = shared; }

namespace {
thread_local double tParallelGrain = 1.0;
} // namespace

void setParallelGrain(double grain) { tParallelGrain = grain < 1.0 ? 1.0 : grain; }
double parallelGrain() { return tParallelGrain; }

void registerLinalgKernels(KernelTable &t) {
  t["cumsum"] = cumsum;
  t["matmul"] = matmul;
  t["reduce_sum"] = reduce<Reduce::Sum>;
  t["reduce_mean"] = reduce<Reduce::Mean>;
  t["reduce_max"] = reduce<Reduce::Max>;
  t["reduce_min"] = reduce<Reduce::Min>;
  t["reduce_prod"] = reduce<Reduce::Prod>;
  t["softmax"] = softmax;
  t["layer_norm"] = norm<true>;
  t["rms_norm"] = norm<false>;
}

} // namespace tessera::rt::cpu
