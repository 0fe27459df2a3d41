//===- ElementwiseKernels.cpp - unary, binary, compare, select, cast ------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "cpu/Kernels.h"

#include <cmath>
#include <cstring>

namespace tessera::rt::cpu {

const tpkg::Attr *KernelCall::attr(const char *name) const {
  if (!kernel->attrs())
    return nullptr;
  for (const tpkg::Attr *a : *kernel->attrs())
    if (a->name() && std::strcmp(a->name()->c_str(), name) == 0)
      return a;
  return nullptr;
}

int64_t KernelCall::attrInt(const char *name, int64_t defaultValue) const {
  const tpkg::Attr *a = attr(name);
  return a && a->ints() && a->ints()->size() ? a->ints()->Get(0) : defaultValue;
}

double KernelCall::attrFloat(const char *name, double defaultValue) const {
  const tpkg::Attr *a = attr(name);
  return a && a->floats() && a->floats()->size() ? a->floats()->Get(0)
                                                 : defaultValue;
}

std::vector<int64_t> KernelCall::attrInts(const char *name) const {
  const tpkg::Attr *a = attr(name);
  if (!a || !a->ints())
    return {};
  return {a->ints()->begin(), a->ints()->end()};
}

Status KernelCall::error(const std::string &message) const {
  std::string where = kernel->location() ? kernel->location()->str() : "?";
  return Status(StatusCode::Unimplemented, "kernel " + kernel->op()->str() +
                                               " (node '" + where +
                                               "'): " + message);
}

void splitAt(const std::vector<int64_t> &shape, int64_t axis, int64_t &outer,
             int64_t &dim, int64_t &inner) {
  outer = 1;
  inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[size_t(d)];
  dim = shape[size_t(axis)];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d)
    inner *= shape[d];
}

std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape,
                                      size_t rank) {
  std::vector<int64_t> strides(rank, 0);
  int64_t stride = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    size_t at = rank - shape.size() + size_t(d);
    strides[at] = shape[d] == 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

namespace {

/// Calls body.template operator()<T>() with the C++ type of `dtype`.
template <typename Body>
Status dispatch(const KernelCall &call, DType dtype, Body &&body,
                bool floatOnly = false) {
  switch (dtype) {
  case DType::F32: return body(float());
  case DType::F64: return body(double());
  default: break;
  }
  if (!floatOnly) {
    switch (dtype) {
    case DType::I64: return body(int64_t());
    case DType::I32: return body(int32_t());
    case DType::I8: return body(int8_t());
    case DType::Bool: return body(uint8_t());
    default: break;
    }
  }
  return call.error(std::string("element type ") + std::string(dtypeName(dtype)) +
                    " is not supported by the CPU backend");
}


enum class Unary { Neg, Abs, Relu, Exp, Log, Sqrt, Rsqrt, Reciprocal, Tanh, Erf,
                   Sigmoid, Sin, Cos, Silu, Not, Gelu };

template <Unary K> Status unary(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  bool tanhForm = call.attrInt("approximate", 0) == 1;
  constexpr bool floatOnly = !(K == Unary::Neg || K == Unary::Abs ||
                               K == Unary::Relu || K == Unary::Not);
  return dispatch(call, x.dtype, [&](auto sample) -> Status {
    using T = decltype(sample);
    const T *in = x.as<T>();
    T *out = y.as<T>();
    int64_t n = x.numel();
#pragma omp parallel for schedule(static) if (double(n) > 32768.0 * parallelGrain())
    for (int64_t i = 0; i < n; ++i) {
      T v = in[i];
      if constexpr (K == Unary::Neg) out[i] = T(-v);
      else if constexpr (K == Unary::Abs) out[i] = v < T(0) ? T(-v) : v;
      else if constexpr (K == Unary::Relu) out[i] = v > T(0) ? v : T(0);
      else if constexpr (K == Unary::Not) out[i] = T(!v);
      else if constexpr (std::is_floating_point_v<T>) {
        if constexpr (K == Unary::Exp) out[i] = std::exp(v);
        else if constexpr (K == Unary::Log) out[i] = std::log(v);
        else if constexpr (K == Unary::Sqrt) out[i] = std::sqrt(v);
        else if constexpr (K == Unary::Rsqrt) out[i] = T(1) / std::sqrt(v);
        else if constexpr (K == Unary::Reciprocal) out[i] = T(1) / v;
        else if constexpr (K == Unary::Tanh) out[i] = std::tanh(v);
        else if constexpr (K == Unary::Erf) out[i] = std::erf(v);
        else if constexpr (K == Unary::Sigmoid) out[i] = T(1) / (T(1) + std::exp(-v));
        else if constexpr (K == Unary::Sin) out[i] = std::sin(v);
        else if constexpr (K == Unary::Cos) out[i] = std::cos(v);
        else if constexpr (K == Unary::Silu) out[i] = v / (T(1) + std::exp(-v));
        else if constexpr (K == Unary::Gelu) out[i] = gelu(v, tanhForm);
      }
    }
    return Status::okStatus();
  }, floatOnly);
}

enum class Binary { Add, Sub, Mul, Div, Pow, Max, Min, And, Or, Xor };

template <Binary K> Status binary(const KernelCall &call) {
  const TensorRef &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  return dispatch(call, a.dtype, [&](auto sample) -> Status {
    using T = decltype(sample);
    const T *pa = a.as<T>(), *pb = b.as<T>();
    T *out = y.as<T>();
    const std::vector<int64_t> shapes[2] = {a.shape, b.shape};
    forEachBroadcast(y.shape, shapes, [&](int64_t o, const auto &idx) {
      T u = pa[idx[0]], v = pb[idx[1]];
      if constexpr (K == Binary::Add) out[o] = T(u + v);
      else if constexpr (K == Binary::Sub) out[o] = T(u - v);
      else if constexpr (K == Binary::Mul) out[o] = T(u * v);
      else if constexpr (K == Binary::Div) {
        if constexpr (std::is_floating_point_v<T>) out[o] = u / v;
        else out[o] = v == 0 ? T(0) : T(u / v); // no trap on bad data
      } else if constexpr (K == Binary::Pow) out[o] = T(std::pow(u, v));
      else if constexpr (K == Binary::Max) out[o] = u > v ? u : v;
      else if constexpr (K == Binary::Min) out[o] = u < v ? u : v;
      else if constexpr (K == Binary::And) out[o] = T(u && v);
      else if constexpr (K == Binary::Or) out[o] = T(u || v);
      else if constexpr (K == Binary::Xor) out[o] = T(bool(u) != bool(v));
    });
    return Status::okStatus();
  }, K == Binary::Pow);
}

Status compare(const KernelCall &call) {
  const TensorRef &a = call.inputs[0], &b = call.inputs[1], &y = call.outputs[0];
  int64_t predicate = call.attrInt("predicate", 0);
  return dispatch(call, a.dtype, [&](auto sample) -> Status {
    using T = decltype(sample);
    const T *pa = a.as<T>(), *pb = b.as<T>();
    uint8_t *out = y.as<uint8_t>();
    const std::vector<int64_t> shapes[2] = {a.shape, b.shape};
    forEachBroadcast(y.shape, shapes, [&](int64_t o, const auto &idx) {
      T u = pa[idx[0]], v = pb[idx[1]];
      bool r = false;
      switch (predicate) {
      case 0: r = u == v; break;
      case 1: r = u != v; break;
      case 2: r = u < v; break;
      case 3: r = u <= v; break;
      case 4: r = u > v; break;
      case 5: r = u >= v; break;
      }
      out[o] = r;
    });
    return Status::okStatus();
  });
}

Status select(const KernelCall &call) {
  const TensorRef &c = call.inputs[0], &a = call.inputs[1], &b = call.inputs[2];
  const TensorRef &y = call.outputs[0];
  size_t size = dtypeSize(y.dtype);
  const uint8_t *pc = c.as<uint8_t>();
  const std::vector<int64_t> shapes[3] = {c.shape, a.shape, b.shape};
  forEachBroadcast(y.shape, shapes, [&](int64_t o, const auto &idx) {
    const uint8_t *src = pc[idx[0]] ? a.data + idx[1] * size : b.data + idx[2] * size;
    std::memcpy(y.data + o * size, src, size);
  });
  return Status::okStatus();
}

Status castKernel(const KernelCall &call) {
  const TensorRef &x = call.inputs[0], &y = call.outputs[0];
  return dispatch(call, x.dtype, [&](auto in) -> Status {
    using From = decltype(in);
    return dispatch(call, y.dtype, [&](auto outSample) -> Status {
      using To = decltype(outSample);
      const From *src = x.as<From>();
      To *dst = y.as<To>();
      int64_t n = x.numel();
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<To, uint8_t>) // bool
          dst[i] = src[i] != From(0);
        else if constexpr (std::is_floating_point_v<From> && !std::is_floating_point_v<To>)
          dst[i] = To(std::trunc(src[i]));
        else
          dst[i] = To(src[i]);
      }
      return Status::okStatus();
    });
  });
}

} // namespace

void registerElementwiseKernels(KernelTable &t) {
  t["neg"] = unary<Unary::Neg>;
  t["abs"] = unary<Unary::Abs>;
  t["relu"] = unary<Unary::Relu>;
  t["exp"] = unary<Unary::Exp>;
  t["log"] = unary<Unary::Log>;
  t["sqrt"] = unary<Unary::Sqrt>;
  t["rsqrt"] = unary<Unary::Rsqrt>;
  t["reciprocal"] = unary<Unary::Reciprocal>;
  t["tanh"] = unary<Unary::Tanh>;
  t["erf"] = unary<Unary::Erf>;
  t["sigmoid"] = unary<Unary::Sigmoid>;
  t["sin"] = unary<Unary::Sin>;
  t["cos"] = unary<Unary::Cos>;
  t["silu"] = unary<Unary::Silu>;
  t["not"] = unary<Unary::Not>;
  t["gelu"] = unary<Unary::Gelu>;
  t["add"] = binary<Binary::Add>;
  t["sub"] = binary<Binary::Sub>;
  t["mul"] = binary<Binary::Mul>;
  t["div"] = binary<Binary::Div>;
  t["pow"] = binary<Binary::Pow>;
  t["max"] = binary<Binary::Max>;
  t["min"] = binary<Binary::Min>;
  t["and"] = binary<Binary::And>;
  t["or"] = binary<Binary::Or>;
  t["xor"] = binary<Binary::Xor>;
  t["compare"] = compare;
  t["select"] = select;
  t["cast"] = castKernel;
}

} // namespace tessera::rt::cpu
