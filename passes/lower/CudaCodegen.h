//===- CudaCodegen.h - CUDA C++ for a rank's program -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Generates one CUDA C++ module for a ProgramPlan: a kernel specialised to
// the static shapes and element types of every op that is not a GEMM, a
// collective or a view (elementwise ops and fused elementwise chains, casts,
// shape ops, gathers, reductions, softmax, norms, rotary, and attention from
// kernels/cuda/attention.cuh). Identical kernels (the layers of a
// transformer) share one function. The source is self-contained (the
// prelude is inlined) so the runtime can JIT it for other architectures.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_PASSES_LOWER_CUDACODEGEN_H
#define TESSERA_PASSES_LOWER_CUDACODEGEN_H

#include "passes/lower/ProgramPlan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::lower {

/// How the CUDA backend runs one kernel of the plan.
struct CudaLaunch {
  enum class Kind : uint8_t {
    Generated, ///< `function` of the module, on `grid` x `block`
    Gemm,      ///< cuBLASLt (matmul)
    Collective, ///< NCCL or the rank's communicator
    Copy,      ///< a device-to-device copy (reshape), or nothing for a view
  };
  Kind kind = Kind::Generated;
  std::string function;
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block = 1;
};

struct CudaModule {
  std::string source;                  ///< self-contained CUDA C++
  std::vector<std::string> functions;  ///< every generated function, once
  std::vector<CudaLaunch> launches;    ///< one per kernel of the plan
};

/// Generates the module of `plan`; on an op it cannot generate, returns
/// false with `error` naming the kernel's op and location.
bool generateCuda(const ProgramPlan &plan, CudaModule &module, std::string &error);

/// The helpers and library kernels every module includes (kernels/cuda).
const char *cudaPreludeSource();
const char *cudaAttentionSource();
const char *cudaAttentionTcSource();
const char *cudaEmulationHeader();

} // namespace tessera::lower

#endif // TESSERA_PASSES_LOWER_CUDACODEGEN_H
