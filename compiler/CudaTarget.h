//===- CudaTarget.h - --target=cuda packages ---------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_CUDATARGET_H
#define TESSERA_COMPILER_CUDATARGET_H

#include "compiler/PackageWriter.h"

#include <string>
#include <vector>

namespace tessera {

/// --dtype bf16/fp16: every f32 tensor of `programs` (activations, weights,
/// constants) becomes `dtype`; kernels still accumulate in f32. Arena
/// offsets stay those of the f32 plan (each narrowed tensor fits its slot).
void narrowPrograms(std::vector<lower::ProgramPlan> &programs, lower::ElementType dtype);

/// Generates each program's CUDA module (modules equal across ranks are
/// kept once) and compiles every distinct module with NVRTC for `archs`
/// ("sm_80", "sm_90": cubins; "compute_80": PTX). Without NVRTC the package
/// keeps the source only (the runtime JITs it) and `warning` says so.
bool buildCuda(const std::vector<lower::ProgramPlan> &programs,
               const std::vector<std::string> &archs, PackageCuda &cuda, std::string &error,
               std::string &warning);

} // namespace tessera

#endif // TESSERA_COMPILER_CUDATARGET_H
