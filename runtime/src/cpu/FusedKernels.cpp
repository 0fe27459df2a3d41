//===- FusedKernels.cpp - fused chains of elementwise ops -----------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The "elementwise" kernel runs a chain of f32 elementwise ops in one pass
// over memory. Its "program" attribute holds (opcode, a, b) triples: operand
// r >= 0 is the result of triple r, r < 0 is kernel input -1 - r (broadcast
// to the output shape). The chain is evaluated over blocks of the
// innermost dimension, each step a tight loop over the block. Output k is
// register outputs[k] (the "outputs" attribute; without it, one output: the
// last register). Every input block is read before any output block is
// written, so an output may be an input's buffer (a state updated in place).
//
//===----------------------------------------------------------------------===//

#include "cpu/Kernels.h"

#include <algorithm>
#include <cmath>

namespace tessera::rt::cpu {
namespace {

constexpr int64_t kBlock = 256;

inline float apply(int64_t code, float a, float b) {
  switch (tpkg::FusedOp(code)) {
  case tpkg::FusedOp::Add: return a + b;
  case tpkg::FusedOp::Sub: return a - b;
  case tpkg::FusedOp::Mul: return a * b;
  case tpkg::FusedOp::Div: return a / b;
  case tpkg::FusedOp::Max: return a > b ? a : b;
  case tpkg::FusedOp::Min: return a < b ? a : b;
  case tpkg::FusedOp::Pow: return std::pow(a, b);
  case tpkg::FusedOp::Neg: return -a;
  case tpkg::FusedOp::Abs: return std::fabs(a);
  case tpkg::FusedOp::Relu: return a > 0 ? a : 0.0f;
  case tpkg::FusedOp::Exp: return std::exp(a);
  case tpkg::FusedOp::Log: return std::log(a);
  case tpkg::FusedOp::Sqrt: return std::sqrt(a);
  case tpkg::FusedOp::Rsqrt: return 1.0f / std::sqrt(a);
  case tpkg::FusedOp::Reciprocal: return 1.0f / a;
  case tpkg::FusedOp::Tanh: return std::tanh(a);
  case tpkg::FusedOp::Erf: return std::erf(a);
  case tpkg::FusedOp::Sigmoid: return 1.0f / (1.0f + std::exp(-a));
  case tpkg::FusedOp::Sin: return std::sin(a);
  case tpkg::FusedOp::Cos: return std::cos(a);
  case tpkg::FusedOp::Silu: return a / (1.0f + std::exp(-a));
  case tpkg::FusedOp::GeluErf: return 0.5f * a * (1.0f + std::erf(a * 0.70710678118654752f));
  case tpkg::FusedOp::GeluTanh:
    return a / (1.0f + std::exp(-1.5957691216057308f * (a + 0.044715f * a * a * a)));
  default: return std::nanf("");
  }
}

Status elementwise(const KernelCall &call) {
  std::vector<int64_t> program = call.attrInts("program");
  if (program.empty() || program.size() % 3)
    return call.error("malformed program");
  size_t steps = program.size() / 3;
  size_t nin = call.inputs.size();
  for (size_t s = 0; s < steps; ++s)
    for (int k = 1; k <= 2; ++k) {
      int64_t r = program[3 * s + k];
      if (r >= int64_t(s) || (r < 0 && size_t(-1 - r) >= nin))
        return call.error("malformed program operand");
    }
  for (const TensorRef &t : call.inputs)
    if (t.dtype != DType::F32)
      return call.error("fused chains are f32 only");
  std::vector<int64_t> results = call.attrInts("outputs");
  if (results.empty())
    results.push_back(int64_t(steps) - 1);
  if (results.size() != call.outputs.size())
    return call.error("the program's outputs do not match the kernel's");
  for (size_t k = 0; k < results.size(); ++k)
    if (results[k] < 0 || results[k] >= int64_t(steps) ||
        call.outputs[k].shape != call.outputs[0].shape || call.outputs[k].dtype != DType::F32)
      return call.error("malformed program output");
  const TensorRef &y = call.outputs[0];
  size_t rank = y.shape.size();
  std::vector<std::vector<int64_t>> strides;
  for (const TensorRef &t : call.inputs)
    strides.push_back(broadcastStrides(t.shape, rank));
  int64_t inner = rank ? y.shape[rank - 1] : 1;
  int64_t outer = inner ? y.numel() / inner : 0;

  // Small chains (an optimizer's update of a bias) run on the calling
  // thread: waking a team costs more than the work.
  const bool parallel =
      double(y.numel()) * double(std::max<size_t>(steps, 1)) > 65536.0 * parallelGrain();
#pragma omp parallel if (parallel)
  {
    std::vector<float> regs(steps * kBlock), loads(nin * kBlock);
#pragma omp for schedule(static)
    for (int64_t row = 0; row < outer; ++row) {
      std::vector<int64_t> base(nin, 0);
      int64_t rem = row;
      for (int64_t d = int64_t(rank) - 2; d >= 0; --d) {
        int64_t i = rem % y.shape[d];
        rem /= y.shape[d];
        for (size_t o = 0; o < nin; ++o)
          base[o] += i * strides[o][d];
      }
      for (int64_t j0 = 0; j0 < inner; j0 += kBlock) {
        int64_t n = std::min(kBlock, inner - j0);
        for (size_t o = 0; o < nin; ++o) {
          const float *src = call.inputs[o].as<float>() + base[o];
          int64_t st = rank ? strides[o][rank - 1] : 0;
          float *dst = loads.data() + o * kBlock;
          if (st == 1)
            for (int64_t j = 0; j < n; ++j) dst[j] = src[j0 + j];
          else
            for (int64_t j = 0; j < n; ++j) dst[j] = src[0];
        }
        for (size_t s = 0; s < steps; ++s) {
          int64_t code = program[3 * s], a = program[3 * s + 1], b = program[3 * s + 2];
          const float *pa = a >= 0 ? regs.data() + a * kBlock : loads.data() + (-1 - a) * kBlock;
          const float *pb = b >= 0 ? regs.data() + b * kBlock : loads.data() + (-1 - b) * kBlock;
          float *r = regs.data() + s * kBlock;
          switch (tpkg::FusedOp(code)) { // the common cases as tight loops
          case tpkg::FusedOp::Add: for (int64_t j = 0; j < n; ++j) r[j] = pa[j] + pb[j]; break;
          case tpkg::FusedOp::Sub: for (int64_t j = 0; j < n; ++j) r[j] = pa[j] - pb[j]; break;
          case tpkg::FusedOp::Mul: for (int64_t j = 0; j < n; ++j) r[j] = pa[j] * pb[j]; break;
          case tpkg::FusedOp::Div: for (int64_t j = 0; j < n; ++j) r[j] = pa[j] / pb[j]; break;
          case tpkg::FusedOp::Sqrt:
            for (int64_t j = 0; j < n; ++j) r[j] = __builtin_sqrtf(pa[j]);
            break;
          default: for (int64_t j = 0; j < n; ++j) r[j] = apply(code, pa[j], pb[j]); break;
          }
        }
        for (size_t k = 0; k < results.size(); ++k) {
          const float *value = regs.data() + results[k] * kBlock;
          float *out = call.outputs[k].as<float>() + row * inner + j0;
          for (int64_t j = 0; j < n; ++j)
            out[j] = value[j];
        }
      }
    }
  }
  return Status::okStatus();
}

} // namespace

void registerFusedKernels(KernelTable &t) { t["elementwise"] = elementwise; }

} // namespace tessera::rt::cpu
