//===- GemmEpilogues.h - bias and GELU into the GEMM -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A matmul followed at once by the add of a bias vector (over the last
// dimension), and possibly by an activation of that sum, becomes one matmul
// with inputs (a, b, bias) and attribute epilogue = 1 (bias), 2 (bias, then
// tanh-form GELU), 3 (bias, then exact GELU) or 4 (bias, then ReLU); then,
// on the CPU, the add of a residual of the result's shape (attribute
// residual = 1, the last input), with or without a bias before it. On the
// CPU the chain may also be one generated elementwise kernel whose program is
// exactly such an epilogue (the elementwise fusion runs first), and
// SwiGLU's silu(x Wg) * (x Wu) - one generated kernel over two GEMMs' results
// - goes into the pair: the gate's GEMM applies SiLU (epilogue 5, or 6 after
// its bias), the later GEMM multiplies by the other's result (attribute
// gate = 1, the last input).
// For the CUDA target only 1 and 2 (cuBLASLt's BIAS and GELU_BIAS
// epilogues); on the CPU the GEMM applies them as oneDNN post-ops while the
// output tile is in cache. One pass over memory instead of up to four.
// Only where each intermediate has no other reader; memory is planned again
// afterwards (the fused result is born at the GEMM, so it must not share the
// GEMM's operands' memory).
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_GEMMEPILOGUES_H
#define TESSERA_PASSES_LOWER_GEMMEPILOGUES_H

#include "passes/lower/ProgramPlan.h"

namespace tessera::lower {

struct GemmEpilogueOptions {
  /// The CPU backend's epilogues: exact GELU, ReLU and residual adds too.
  bool cpu = false;
};

/// Rewrites `plan` in place; returns how many GEMMs took an epilogue.
int fuseGemmEpilogues(ProgramPlan &plan, const GemmEpilogueOptions &options = {});

} // namespace tessera::lower

#endif // TESSERA_PASSES_LOWER_GEMMEPILOGUES_H
