//===- Panels.h - weights packed into panels of 16 columns --------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A constant [k, n] weight copied once into panels of 16 columns
// ([n/16][k][16], the last panel zero-padded, 2 MiB aligned): the layout
// the one-row GEMV (PackedGemv.cpp) streams and the multi-row panel GEMM
// (PanelGemm.cpp) reads a [kc, 16] block at a time. Both paths of a
// generation package (decode and prefill) share one copy.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CPU_PANELS_H
#define TESSERA_RUNTIME_CPU_PANELS_H

#include "cpu/Gemm.h"

#include <memory>
#include <string>

namespace tessera::rt::cpu {

constexpr int64_t kPanel = 16;

/// A weight in panels, aligned for the vector loads.
struct Panels {
  float *data = nullptr;
  int64_t k = 0, n = 0;
  ~Panels();
};

/// The bytes of a [k, n] weight in panels.
uint64_t panelBytes(int64_t k, int64_t n);

/// What both panel paths keep in a call's state: the shared packed weight
/// and the epilogue.
struct PanelState : PreparedGemm {
  std::shared_ptr<const Panels> weight;
  GemmEpilogue epilogue;
};

/// Sets `call.state` to `state`, its weight the shared copy of `call`'s
/// weight (input 1: [k, n], or [n, k] when `transposed`) in panels, where
/// the CPU path has AVX2/FMA; leaves it unset otherwise and over the
/// session's budget (the BLAS path).
Status attachPanels(KernelCall &call, const PrepareContext &context, int64_t k, int64_t n,
                    bool transposed, std::shared_ptr<PanelState> state);

/// Several rows on panels: `call.state` for y[m, n] = A[m, k] W (+ the
/// epilogue), A row-major with k columns. Leaves it unset over the budget.
Status preparePanelGemm(KernelCall &call, const GemmEpilogue &epilogue,
                        const PrepareContext &context, int64_t m, int64_t k, int64_t n,
                        bool transposed);

/// The epilogue over `count` consecutive values of one output row starting
/// at column `first` (AVX2 eight at a time where the CPU path allows).
void applyEpilogueRow(const GemmEpilogue &ep, float *y, int64_t first, int64_t count,
                      const float *bias, const float *last);

} // namespace tessera::rt::cpu

#endif // TESSERA_RUNTIME_CPU_PANELS_H
