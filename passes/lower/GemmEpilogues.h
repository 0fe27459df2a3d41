//===- GemmEpilogues.h - bias and GELU into the GEMM -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// For the CUDA target: a matmul followed at once by the add of a bias vector
// (over the last dimension), and possibly by a tanh-form GELU of that sum,
// becomes one matmul with inputs (a, b, bias) and attribute epilogue = 1
// (bias) or 2 (bias, then GELU): cuBLASLt's BIAS and GELU_BIAS epilogues,
// one pass over memory instead of three. Only where the matmul's result has
// no other reader; memory is planned again afterwards (the fused result is
// born at the GEMM, so it must not share the GEMM's operands' memory).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_GEMMEPILOGUES_H
#define TESSERA_PASSES_LOWER_GEMMEPILOGUES_H

#include "passes/lower/ProgramPlan.h"

namespace tessera::lower {

/// Rewrites `plan` in place; returns how many GEMMs took an epilogue.
int fuseGemmEpilogues(ProgramPlan &plan);

} // namespace tessera::lower

#endif // TESSERA_PASSES_LOWER_GEMMEPILOGUES_H
