//===- AttentionViews.cpp - attention reads and writes strided views ------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/AttentionViews.h"
#include "passes/lower/PlanRewrite.h"

#include <algorithm>
#include <array>

namespace tessera::lower {
namespace {

using View = std::array<int64_t, 4>; // base, batch, head, sequence strides

bool isHeadTranspose(const PlannedKernel &k) {
  return k.op == "transpose" && k.inputs.size() == 1 && k.outputs.size() == 1 &&
         intsAttr(k, "permutation") == std::vector<int64_t>{0, 2, 1, 3};
}

/// Where operand `x` ([B, H, L, E]) of attention can be read from instead:
/// the buffer and the view over it, and the kernels that become dead.
bool foldOperand(const ProgramPlan &plan, uint32_t x, uint32_t &buffer, View &view,
                 std::vector<int> &dead) {
  const PlannedTensor &t = plan.tensors[x];
  if (t.aliasOf >= 0 || t.shape.size() != 4 || readersOf(plan, x) != 1)
    return false;
  int p = producerOf(plan, x);
  if (p < 0 || !isHeadTranspose(plan.kernels[size_t(p)]))
    return false;
  uint32_t src = plan.kernels[size_t(p)].inputs[0]; // [B, L, H, E]
  const std::vector<int64_t> &s = plan.tensors[src].shape;
  if (s.size() != 4)
    return false;
  int64_t L = s[1], H = s[2], E = s[3];
  buffer = src;
  view = {0, L * H * E, E, H * E};
  dead.push_back(p);
  // One piece of a split along the last axis: read the split's input.
  uint32_t root = rootOf(plan, src);
  const std::vector<int64_t> &rs = plan.tensors[root].shape;
  bool merged = rs.size() == 3 && rs[0] == s[0] && rs[1] == L && rs[2] == H * E;
  bool same = root == src;
  int q = producerOf(plan, root);
  if ((!merged && !same) || q < 0 || readersOf(plan, root) != 1)
    return true;
  const PlannedKernel &split = plan.kernels[size_t(q)];
  if (split.op != "split" || split.inputs.size() != 1)
    return true;
  const std::vector<int64_t> &ys = plan.tensors[split.inputs[0]].shape;
  int64_t axis = intAttr(split, "axis", 0);
  if (axis < 0)
    axis += int64_t(ys.size());
  if (axis != int64_t(ys.size()) - 1 || ys.size() != rs.size())
    return true;
  int64_t at = 0;
  for (uint32_t out : split.outputs) {
    if (out == root)
      break;
    at += plan.tensors[out].shape.back();
  }
  int64_t N = ys.back();
  buffer = split.inputs[0];
  view = {at, L * N, E, N};
  return true;
}

} // namespace

int foldAttentionViews(ProgramPlan &plan) {
  int removed = 0;
  std::vector<int> dead;
  for (size_t a = 0; a < plan.kernels.size(); ++a) {
    PlannedKernel &k = plan.kernels[a];
    if (k.op != "attention" || k.inputs.size() < 3 || k.outputs.size() != 1 ||
        !intsAttr(k, "views").empty())
      continue;
    const auto &q = plan.tensors[k.inputs[0]].shape, &kk = plan.tensors[k.inputs[1]].shape,
               &v = plan.tensors[k.inputs[2]].shape;
    if (q.size() != 4 || kk.size() != 4 || v.size() != 4)
      continue;
    int64_t B = q[0], H = q[1], S = q[2], D = q[3], Hkv = kk[1], T = kk[2], Dv = v[3];
    std::array<View, 4> views = {View{0, H * S * D, S * D, D}, View{0, Hkv * T * D, T * D, D},
                                 View{0, Hkv * T * Dv, T * Dv, Dv},
                                 View{0, H * S * Dv, S * Dv, Dv}};
    bool changed = false;
    for (size_t j = 0; j < 3; ++j) {
      uint32_t buffer;
      View view;
      if (foldOperand(plan, k.inputs[j], buffer, view, dead)) {
        k.inputs[j] = buffer;
        views[j] = view;
        changed = true;
      }
    }
    // The result, when its only reader turns it back to [B, S, H, Dv].
    uint32_t y = k.outputs[0];
    if (plan.tensors[y].aliasOf < 0 && readersOf(plan, y) == 1)
      for (size_t r = a + 1; r < plan.kernels.size(); ++r) {
        const PlannedKernel &t = plan.kernels[r];
        if (t.inputs.size() == 1 && t.inputs[0] == y && isHeadTranspose(t) &&
            plan.tensors[t.outputs[0]].aliasOf < 0) {
          k.outputs[0] = t.outputs[0];
          views[3] = {0, S * H * Dv, Dv, H * Dv};
          dead.push_back(int(r));
          changed = true;
          break;
        }
      }
    if (!changed)
      continue;
    k.attrs.push_back({"dims", {B, H, Hkv, S, T, D, Dv}, {}});
    std::vector<int64_t> flat;
    for (const View &w : views)
      flat.insert(flat.end(), w.begin(), w.end());
    k.attrs.push_back({"views", flat, {}});
  }
  // Splits none of whose pieces is read any more go too.
  for (size_t s = 0; s < plan.kernels.size(); ++s) {
    const PlannedKernel &k = plan.kernels[s];
    if (k.op != "split" || std::find(dead.begin(), dead.end(), int(s)) != dead.end())
      continue;
    bool read = false;
    for (uint32_t out : k.outputs) {
      // Readers among kernels that stay.
      for (size_t r = 0; r < plan.kernels.size() && !read; ++r) {
        if (std::find(dead.begin(), dead.end(), int(r)) != dead.end())
          continue;
        for (uint32_t in : plan.kernels[r].inputs)
          read |= rootOf(plan, in) == rootOf(plan, out);
      }
      for (uint32_t id : plan.outputs)
        read |= rootOf(plan, id) == rootOf(plan, out);
    }
    if (!read)
      dead.push_back(int(s));
  }
  std::sort(dead.begin(), dead.end());
  dead.erase(std::unique(dead.begin(), dead.end()), dead.end());
  for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
    plan.kernels.erase(plan.kernels.begin() + *it);
    ++removed;
  }
  if (removed)
    compactAndReplan(plan);
  return removed;
}

} // namespace tessera::lower
