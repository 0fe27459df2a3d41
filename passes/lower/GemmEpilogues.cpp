//===- GemmEpilogues.cpp - bias and GELU into the GEMM --------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/GemmEpilogues.h"
#include "passes/lower/PlanRewrite.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

namespace tessera::lower {

namespace {

int64_t elements(const PlannedTensor &t) {
  int64_t n = 1;
  for (int64_t d : t.shape)
    n *= d;
  return n;
}

/// The chain of elementwise kernels after one matmul that its epilogue can
/// take, walked kernel by kernel.
struct Chain {
  ProgramPlan &plan;
  uint32_t value;  ///< what the chain has computed so far
  size_t next;     ///< the kernel after it
  int64_t rows, n; ///< the GEMM's result: rows x n elements

  /// The kernel at `next` if it is `op` and the only reader of `value`
  /// (through any view with rows of n); sets `other` to its other operand.
  const PlannedKernel *take(const char *op, int &other) const {
    if (next >= plan.kernels.size())
      return nullptr;
    const PlannedKernel &k = plan.kernels[next];
    uint32_t root = rootOf(plan, value);
    if (k.op != op || k.outputs.size() != 1 || readersOf(plan, root) != 1)
      return nullptr;
    const PlannedTensor &out = plan.tensors[k.outputs[0]];
    if (out.shape.empty() || out.shape.back() != n || elements(out) != rows * n)
      return nullptr;
    for (auto [i, in] : llvm::enumerate(k.inputs))
      if (rootOf(plan, in) == root && !plan.tensors[in].shape.empty() &&
          plan.tensors[in].shape.back() == n) {
        other = k.inputs.size() == 2 ? int(1 - i) : -1;
        return &k;
      }
    return nullptr;
  }
  void advance(const PlannedKernel &k) {
    value = k.outputs[0];
    ++next;
  }
};

} // namespace

int fuseGemmEpilogues(ProgramPlan &plan, const GemmEpilogueOptions &options) {
  int fused = 0;
  for (size_t i = 0; i + 1 < plan.kernels.size(); ++i) {
    PlannedKernel &mm = plan.kernels[i];
    if (mm.op != "matmul" || mm.inputs.size() != 2 || mm.outputs.size() != 1)
      continue;
    uint32_t t = mm.outputs[0];
    const PlannedTensor tt = plan.tensors[t];
    if (tt.aliasOf >= 0 || tt.kind != PlannedTensor::Kind::Arena || tt.shape.empty() ||
        (tt.dtype != ElementType::F32 && tt.dtype != ElementType::F64))
      continue;
    int64_t n = tt.shape.back();
    Chain chain{plan, t, i + 1, n ? elements(tt) / n : 0, n};
    int64_t epilogue = 0;
    std::vector<uint32_t> extra; // bias, residual
    int other = -1;
    // + a bias vector of n (a weight or constant), then an activation.
    if (const PlannedKernel *add = chain.take("add", other); add && other >= 0) {
      uint32_t biasId = add->inputs[size_t(other)];
      const PlannedTensor &bias = plan.tensors[biasId];
      if (bias.dtype == tt.dtype && bias.kind != PlannedTensor::Kind::Arena &&
          elements(bias) == n && (bias.shape.empty() || bias.shape.back() == n)) {
        extra.push_back(biasId);
        epilogue = 1;
        chain.advance(*add);
        if (const PlannedKernel *g = chain.take("gelu", other)) {
          bool tanhForm = intAttr(*g, "approximate", 0) == 1;
          if (tanhForm || options.cpu) {
            epilogue = tanhForm ? 2 : 3;
            chain.advance(*g);
          }
        } else if (const PlannedKernel *r = options.cpu ? chain.take("relu", other) : nullptr) {
          epilogue = 4;
          chain.advance(*r);
        }
      }
    }
    // + a residual of the result's shape (the CPU's binary post-op).
    bool residual = false;
    if (options.cpu)
      if (const PlannedKernel *add = chain.take("add", other); add && other >= 0) {
        uint32_t r = add->inputs[size_t(other)];
        const PlannedTensor &rt = plan.tensors[r];
        if (rt.dtype == tt.dtype && rt.shape == plan.tensors[add->outputs[0]].shape &&
            rootOf(plan, r) != rootOf(plan, chain.value)) {
          extra.push_back(r);
          residual = true;
          chain.advance(*add);
        }
      }
    size_t consumed = chain.next - i - 1;
    if (!consumed)
      continue;
    // The result is born at the GEMM now: memory is planned again after.
    uint32_t out = chain.value;
    const PlannedTensor &o = plan.tensors[rootOf(plan, out)];
    if (o.kind != PlannedTensor::Kind::Arena)
      continue;
    // The GEMM writes `out` in its own shape: a view of `out` shaped like t.
    uint32_t target = out;
    if (plan.tensors[out].shape != tt.shape) {
      PlannedTensor view = tt;
      view.name = tt.name + ".epilogue";
      view.aliasOf = int32_t(rootOf(plan, out));
      view.offset = o.offset;
      view.dtype = o.dtype;
      plan.tensors.push_back(view);
      target = uint32_t(plan.tensors.size() - 1);
    }
    PlannedKernel &k = plan.kernels[i];
    k.inputs.insert(k.inputs.end(), extra.begin(), extra.end());
    k.outputs = {target};
    if (epilogue)
      k.attrs.push_back({"epilogue", {epilogue}, {}});
    if (residual)
      k.attrs.push_back({"residual", {1}, {}});
    for (size_t c = 1; c <= consumed; ++c)
      k.predictedSeconds += plan.kernels[i + c].predictedSeconds;
    plan.kernels.erase(plan.kernels.begin() + long(i) + 1,
                       plan.kernels.begin() + long(i) + 1 + long(consumed));
    ++fused;
  }
  if (fused)
    compactAndReplan(plan);
  return fused;
}

} // namespace tessera::lower
