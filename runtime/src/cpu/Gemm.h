//===- Gemm.h - the CPU backend's GEMM paths ----------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A matmul kernel runs on one of four paths behind the same kernel:
//  - prepared, one row (a decode step's x W): the weight, which no run
//    writes, copied once into panels of 16 columns ([n/16][k][16]) that a
//    matrix-vector kernel streams front to back, each thread its own panels,
//    with the epilogue applied while the row's 16 values are in registers
//    (PackedGemv.cpp; any x86-64 with AVX2/FMA);
//  - prepared, several rows: a library GEMM (oneDNN, where the runtime was
//    built with it) created once per kernel for the kernel's fixed shapes,
//    the weight packed once into the library's blocked layout, the epilogue
//    (bias, activation, residual add) as post-ops while the output tile is
//    in cache;
//  - prepared, several rows, where oneDNN would run at AVX2 or below: the
//    same panels read by a blocked 6 x 16 AVX2 GEMM (PanelGemm.cpp);
//  - BLAS: cblas_sgemm/sgemv (OpenBLAS) and the epilogue as one pass after
//    it, for everything else: training steps (their weights change every
//    run), products of two activations, batched right operands, integer and
//    f64 GEMMs, a runtime built without oneDNN, and TESSERA_GEMM=blas (to
//    measure one against the other).
// Packed copies are shared by the sessions of a package
// (Package::packedWeight): a generation package's prefill and decode
// programs, ranks run as threads. tools/bench/cpu_vs_ort.py measured the
// choice (README, "CPU speed").
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_CPU_GEMM_H
#define TESSERA_RUNTIME_CPU_GEMM_H

#include "cpu/Kernels.h"
#include "tessera/runtime/Package.h"

namespace tessera::rt::cpu {

/// What a matmul kernel does after the product (its attributes):
/// `epilogue` 1 adds a bias over the last dimension (input 2), 2 and 3 then
/// apply GELU (tanh form / exact), 4 ReLU, 6 SiLU; 5 applies SiLU without a
/// bias. Then `residual` = 1 adds a tensor of the result's shape (the last
/// input), or `gate` = 1 multiplies by one (SwiGLU's silu(x Wg) * x Wu).
struct GemmEpilogue {
  enum Activation { None, GeluTanh, GeluErf, Relu, Silu };
  bool bias = false;
  Activation activation = None;
  bool residual = false;
  bool gate = false;

  /// Reads the attributes; an error names the malformed ones.
  static Status parse(const KernelCall &call, GemmEpilogue &out);
  bool any() const { return bias || activation != None || residual || gate; }
  /// The last input: the residual or the gate.
  bool lastInput() const { return residual || gate; }
};

/// One value through the epilogue: + `bias`, the activation, then + or x
/// `last` (the residual or the gate; unused without them).
template <typename T>
inline T applyEpilogue(const GemmEpilogue &ep, T v, T bias, T last) {
  v += bias;
  switch (ep.activation) {
  case GemmEpilogue::GeluTanh: v = gelu(v, /*tanhForm=*/true); break;
  case GemmEpilogue::GeluErf: v = gelu(v, /*tanhForm=*/false); break;
  case GemmEpilogue::Relu: v = v > T(0) ? v : T(0); break;
  case GemmEpilogue::Silu: v = v / (T(1) + std::exp(-v)); break;
  case GemmEpilogue::None: break;
  }
  if (ep.residual)
    v += last;
  else if (ep.gate)
    v *= last;
  return v;
}

/// What a prepared path keeps in its call's state.
struct PreparedGemm : KernelState {
  virtual Status run(const KernelCall &call) const = 0;
};

/// Prepares a matmul call on the path that covers it (see above); leaves
/// `call.state` unset for the BLAS path.
Status prepareGemm(KernelCall &call, const PrepareContext &context);

/// Runs a call prepared by prepareGemm.
Status runPreparedGemm(const KernelCall &call);

/// A packed copy, `bytes` long, of the weight at `weight` in `layout`: the
/// package's shared one, made by `make` when no session has made it yet
/// (`make`'s own without a package); null when the session's budget for
/// packed copies is spent.
Status packedCopy(const PrepareContext &context, const void *weight, const std::string &layout,
                  uint64_t bytes, const Package::PackMaker &make, std::shared_ptr<void> &out);

/// The one-row path: sets `call.state` when the machine has AVX2/FMA.
/// `y = x W` with x the call's first input (k values), W its second input
/// ([k, n], or [n, k] when `transposed`).
Status preparePackedGemv(KernelCall &call, const GemmEpilogue &epilogue,
                         const PrepareContext &context, int64_t k, int64_t n,
                         bool transposed);

/// The library the prepared path uses ("oneDNN 2.6.3"), or "" without one.
std::string gemmLibrary();

} // namespace tessera::rt::cpu

#endif // TESSERA_RUNTIME_CPU_GEMM_H
