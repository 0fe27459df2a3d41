//===- GemmEpilogues.cpp - bias and GELU into the GEMM --------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/GemmEpilogues.h"
#include "passes/lower/PlanRewrite.h"

#include <algorithm>

namespace tessera::lower {

int fuseGemmEpilogues(ProgramPlan &plan) {
  int fused = 0;
  for (size_t i = 0; i + 1 < plan.kernels.size(); ++i) {
    PlannedKernel &mm = plan.kernels[i];
    if (mm.op != "matmul" || mm.inputs.size() != 2 || mm.outputs.size() != 1)
      continue;
    uint32_t t = mm.outputs[0];
    const PlannedTensor &tt = plan.tensors[t];
    if (tt.aliasOf >= 0 || tt.kind != PlannedTensor::Kind::Arena || tt.shape.empty())
      continue;
    int64_t n = tt.shape.back();
    // The add right after it: t (or a view with the same rows) + a vector of n.
    const PlannedKernel &add = plan.kernels[i + 1];
    if (add.op != "add" || add.inputs.size() != 2 || readersOf(plan, t) != 1)
      continue;
    int xi = rootOf(plan, add.inputs[0]) == t ? 0 : rootOf(plan, add.inputs[1]) == t ? 1 : -1;
    if (xi < 0)
      continue;
    const PlannedTensor &x = plan.tensors[add.inputs[size_t(xi)]];
    uint32_t biasId = add.inputs[size_t(1 - xi)];
    const PlannedTensor &bias = plan.tensors[biasId];
    int64_t biasElems = 1;
    for (int64_t d : bias.shape)
      biasElems *= d;
    if (x.shape.empty() || x.shape.back() != n || bias.dtype != tt.dtype ||
        bias.kind == PlannedTensor::Kind::Arena || biasElems != n ||
        (!bias.shape.empty() && bias.shape.back() != n))
      continue;
    uint32_t out = add.outputs[0];
    size_t consumed = 1;
    int64_t epilogue = 1;
    // Then GELU (tanh form, what cuBLASLt's epilogue computes) of the sum.
    if (i + 2 < plan.kernels.size()) {
      const PlannedKernel &g = plan.kernels[i + 2];
      uint32_t u = rootOf(plan, out);
      if (g.op == "gelu" && intAttr(g, "approximate", 0) == 1 && g.inputs.size() == 1 &&
          rootOf(plan, g.inputs[0]) == u && readersOf(plan, u) == 1 &&
          plan.tensors[g.inputs[0]].shape.back() == n) {
        out = g.outputs[0];
        consumed = 2;
        epilogue = 2;
      }
    }
    // The result is born at the GEMM now: memory is planned again after.
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
    k.inputs.push_back(biasId);
    k.outputs = {target};
    k.attrs.push_back({"epilogue", {epilogue}, {}});
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
