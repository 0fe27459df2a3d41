//===- PlanRewrite.cpp - helpers for rewriting a ProgramPlan --------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "passes/lower/PlanRewrite.h"

namespace tessera::lower {

int64_t intAttr(const PlannedKernel &k, const char *name, int64_t dflt) {
  for (const PlannedAttr &a : k.attrs)
    if (a.name == name && !a.ints.empty())
      return a.ints[0];
  return dflt;
}

int readersOf(const ProgramPlan &plan, uint32_t root) {
  int n = 0;
  for (const PlannedKernel &k : plan.kernels)
    for (uint32_t id : k.inputs)
      n += rootOf(plan, id) == root;
  for (uint32_t id : plan.outputs)
    n += rootOf(plan, id) == root;
  return n;
}

void compactAndReplan(ProgramPlan &plan) {
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
  for (auto [state, value] : plan.stateUpdates)
    used[state] = used[value] = true;
  for (const ProgramPlan::TiedWeight &tie : plan.tiedWeights)
    used[tie.state] = true;
  for (const ProgramPlan::HeldInput &held : plan.heldInputs)
    used[held.data] = true;
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
  for (auto &[state, value] : plan.stateUpdates) {
    state = renumber[state];
    value = renumber[value];
  }
  for (ProgramPlan::TiedWeight &tie : plan.tiedWeights)
    tie.state = renumber[tie.state];
  for (ProgramPlan::HeldInput &held : plan.heldInputs)
    held.data = renumber[held.data];
  plan.tensors = std::move(kept);
  planMemory(plan);
}

std::vector<int64_t> intsAttr(const PlannedKernel &k, const char *name) {
  for (const PlannedAttr &a : k.attrs)
    if (a.name == name)
      return a.ints;
  return {};
}

int producerOf(const ProgramPlan &plan, uint32_t id) {
  uint32_t root = rootOf(plan, id);
  for (size_t k = 0; k < plan.kernels.size(); ++k)
    for (uint32_t out : plan.kernels[k].outputs)
      if (rootOf(plan, out) == root)
        return int(k);
  return -1;
}

} // namespace tessera::lower
