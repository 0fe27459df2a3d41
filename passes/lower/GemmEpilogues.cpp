//===- GemmEpilogues.cpp - bias and GELU into the GEMM --------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/GemmEpilogues.h"

#include <algorithm>

namespace tessera::lower {
namespace {

uint32_t rootOf(const ProgramPlan &plan, uint32_t id) {
  int32_t a = plan.tensors[id].aliasOf;
  return a >= 0 ? uint32_t(a) : id;
}

int64_t attrInt(const PlannedKernel &k, const char *name, int64_t dflt) {
  for (const PlannedAttr &a : k.attrs)
    if (a.name == name && !a.ints.empty())
      return a.ints[0];
  return dflt;
}

/// How many kernel inputs (and graph outputs) read tensor `root` or a view of it.
int readers(const ProgramPlan &plan, uint32_t root) {
  int n = 0;
  for (const PlannedKernel &k : plan.kernels)
    for (uint32_t id : k.inputs)
      n += rootOf(plan, id) == root;
  for (uint32_t id : plan.outputs)
    n += rootOf(plan, id) == root;
  return n;
}

/// Drops tensors nothing refers to any more (the GEMMs' former results) and
/// renumbers the rest.
void dropUnused(ProgramPlan &plan) {
  size_t n = plan.tensors.size();
  std::vector<bool> used(n, false);
  for (const PlannedKernel &k : plan.kernels) {
    for (uint32_t id : k.inputs)
      used[id] = true;
    for (uint32_t id : k.outputs)
      used[id] = true;
  }
  for (uint32_t id : plan.inputs)
    used[id] = true;
  for (uint32_t id : plan.outputs)
    used[id] = true;
  for (size_t id = 0; id < n; ++id)
    if (used[id] && plan.tensors[id].aliasOf >= 0)
      used[size_t(plan.tensors[id].aliasOf)] = true;
  std::vector<uint32_t> renumber(n, 0);
  std::vector<PlannedTensor> kept;
  for (size_t id = 0; id < n; ++id)
    if (used[id]) {
      renumber[id] = uint32_t(kept.size());
      kept.push_back(std::move(plan.tensors[id]));
    }
  for (PlannedTensor &t : kept)
    if (t.aliasOf >= 0)
      t.aliasOf = int32_t(renumber[size_t(t.aliasOf)]);
  for (PlannedKernel &k : plan.kernels) {
    for (uint32_t &id : k.inputs)
      id = renumber[id];
    for (uint32_t &id : k.outputs)
      id = renumber[id];
  }
  for (uint32_t &id : plan.inputs)
    id = renumber[id];
  for (uint32_t &id : plan.outputs)
    id = renumber[id];
  plan.tensors = std::move(kept);
}

} // namespace

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
    if (add.op != "add" || add.inputs.size() != 2 || readers(plan, t) != 1)
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
      if (g.op == "gelu" && attrInt(g, "approximate", 0) == 1 && g.inputs.size() == 1 &&
          rootOf(plan, g.inputs[0]) == u && readers(plan, u) == 1 &&
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
  if (fused) {
    dropUnused(plan);
    planMemory(plan);
  }
  return fused;
}

} // namespace tessera::lower
