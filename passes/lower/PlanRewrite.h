//===- PlanRewrite.h - helpers for rewriting a ProgramPlan -------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_PLANREWRITE_H
#define TESSERA_PASSES_LOWER_PLANREWRITE_H

#include "passes/lower/ProgramPlan.h"

namespace tessera::lower {

/// The tensor that owns `id`'s memory (itself, or what it is a view of).
inline uint32_t rootOf(const ProgramPlan &plan, uint32_t id) {
  int32_t a = plan.tensors[id].aliasOf;
  return a >= 0 ? uint32_t(a) : id;
}

/// How many kernel inputs and graph outputs read `root` or a view of it.
int readersOf(const ProgramPlan &plan, uint32_t root);

/// The index of the kernel writing `id` (or a view's root), or -1.
int producerOf(const ProgramPlan &plan, uint32_t id);

/// An integer attribute of `k`, or `dflt`.
int64_t intAttr(const PlannedKernel &k, const char *name, int64_t dflt);
std::vector<int64_t> intsAttr(const PlannedKernel &k, const char *name);

/// Drops tensors no kernel, graph input or output (or view of one) refers
/// to, renumbers the rest, and plans memory again.
void compactAndReplan(ProgramPlan &plan);

} // namespace tessera::lower

#endif // TESSERA_PASSES_LOWER_PLANREWRITE_H
