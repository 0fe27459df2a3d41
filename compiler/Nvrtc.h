//===- Nvrtc.h - compiling generated CUDA with NVRTC -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// NVRTC is loaded at run time (dlopen), so the compiler builds and runs on
// machines without the CUDA toolkit: there, CUDA packages carry the source
// only and the runtime compiles it on the GPU host.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_NVRTC_H
#define TESSERA_COMPILER_NVRTC_H

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct CudaImage {
  std::string arch; ///< "sm_90" (a cubin) or "compute_80" (PTX)
  bool ptx = false;
  std::vector<uint8_t> data;
};

/// Whether NVRTC could be loaded; if not, `why` says what was tried.
bool nvrtcAvailable(std::string &why);

/// Compiles `source` for `arch` ("sm_XX": a cubin; "compute_XX": PTX).
/// On failure returns false with NVRTC's log in `error`.
bool nvrtcCompile(const std::string &source, const std::string &name,
                  const std::string &arch, CudaImage &image, std::string &error);

} // namespace tessera

#endif // TESSERA_COMPILER_NVRTC_H
