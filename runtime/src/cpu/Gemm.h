//===- Gemm.h - the CPU backend's GEMM paths ----------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A matmul kernel runs on one of two paths behind the same kernel:
//  - prepared: a library GEMM (oneDNN, where the runtime was built with it)
//    created once per kernel when the session is, for the kernel's fixed
//    shapes, whose right operand is a weight no run writes: packed once into
//    the library's blocked layout, with the epilogue (bias, activation,
//    residual add) applied as post-ops while the output tile is in cache;
//  - BLAS: cblas_sgemm (OpenBLAS) and the epilogue as one pass after it, for
//    everything else: training steps (their weights change every run),
//    products of two activations, batched right operands, one-row products
//    (a matrix-vector kernel), integer and f64 GEMMs, a runtime built
//    without oneDNN, and TESSERA_GEMM=blas (to measure one against the other).
// tools/bench/cpu_vs_ort.py measured the choice (README, "CPU speed").
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CPU_GEMM_H
#define TESSERA_RUNTIME_CPU_GEMM_H

#include "cpu/Kernels.h"

namespace tessera::rt::cpu {

/// What a matmul kernel does after the product (its attributes):
/// `epilogue` 1 adds a bias over the last dimension (input 2), 2 and 3 then
/// apply GELU (tanh form / exact), 4 ReLU; `residual` = 1 then adds a tensor
/// of the result's shape (the last input).
struct GemmEpilogue {
  enum Activation { None, GeluTanh, GeluErf, Relu };
  bool bias = false;
  Activation activation = None;
  bool residual = false;

  /// Reads the attributes; an error names the malformed ones.
  static Status parse(const KernelCall &call, GemmEpilogue &out);
  bool any() const { return bias || activation != None || residual; }
};

/// Creates the prepared GEMM of a matmul call when the runtime has a GEMM
/// library and the call is one it covers; otherwise leaves `call.state`
/// unset (the BLAS path runs).
Status prepareGemm(KernelCall &call, const std::vector<bool> &constant);

/// Runs a call prepared by prepareGemm.
Status runPreparedGemm(const KernelCall &call);

/// The library the prepared path uses ("oneDNN 2.6.3"), or "" without one.
std::string gemmLibrary();

} // namespace tessera::rt::cpu

#endif // TESSERA_RUNTIME_CPU_GEMM_H
