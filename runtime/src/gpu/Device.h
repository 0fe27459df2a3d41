//===- Device.h - what the GPU executor needs of a device -------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The executor of --target=cuda packages (DeviceProgram) talks to a Device:
// memory, the package's generated module, kernel launches on one stream,
// GEMMs. Two devices implement it: CudaDevice (the CUDA driver and cuBLASLt,
// loaded at run time) and HostDevice (the same generated kernels compiled for
// the host and run by an emulator: how the generator and the executor are
// tested on machines without a GPU).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_GPU_DEVICE_H
#define TESSERA_RUNTIME_GPU_DEVICE_H

#include "tessera/runtime/DType.h"
#include "tessera/runtime/Status.h"
#include "tessera/runtime/tpkg_generated.h"

#include <cstdint>
#include <memory>
#include <string>

namespace tessera::rt::gpu {

/// Row-major C[i] = op(A[i]) op(B[i]) for i < batch, fp32 accumulation.
struct GemmDesc {
  DType dtype = DType::F32;
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t batch = 1;
  int64_t strideA = 0, strideB = 0, strideC = 0; ///< elements between batches
  /// 0: none; 1: C += bias (a vector of n, over C's last dimension); 2: then
  /// GELU (tanh form) - cuBLASLt's BIAS and GELU_BIAS epilogues.
  int epilogue = 0;
  const void *bias = nullptr;
};

class Device {
public:
  virtual ~Device() = default;
  /// E.g. "NVIDIA H100 80GB HBM3 (sm_90)" or "host emulation".
  virtual std::string name() const = 0;
  virtual Status alloc(size_t bytes, void **ptr) = 0;
  virtual void release(void *ptr) = 0;
  virtual Status upload(void *dst, const void *src, size_t bytes) = 0;
  virtual Status download(void *dst, const void *src, size_t bytes) = 0;
  virtual Status copy(void *dst, const void *src, size_t bytes) = 0;
  /// `height` rows of `width` bytes, rows `srcPitch` / `dstPitch` apart.
  virtual Status copy2D(void *dst, size_t dstPitch, const void *src, size_t srcPitch,
                        size_t width, size_t height) = 0;
  /// Whether device memory is host memory (the host emulation): collectives
  /// of host communicators then work on it in place.
  virtual bool hostMemory() const { return false; }
  /// Loads the package's module (an image for this device, or its source).
  virtual Status loadModule(const tpkg::CudaModule &module) = 0;
  virtual Status function(const std::string &name, void **fn) = 0;
  /// Launches `fn` with `args` (pointers to the kernel's pointer arguments).
  virtual Status launch(void *fn, const uint32_t grid[3], uint32_t block, void **args,
                        size_t count) = 0;
  virtual Status gemm(const GemmDesc &desc, const void *a, const void *b, void *c) = 0;
  /// Waits for everything queued.
  virtual Status synchronize() = 0;
  /// Graphs: record what is queued between beginCapture and endCapture
  /// (nothing runs), then replay it with one launch. Devices without them
  /// return false from beginCapture.
  virtual bool beginCapture() { return false; }
  virtual Status endCapture() { return Status(StatusCode::Unimplemented, "no graphs"); }
  virtual Status replay() { return Status(StatusCode::Unimplemented, "no graphs"); }
};

/// The CUDA device `ordinal` (a new stream on its primary context), or for
/// ordinal -1 - r, rank r's share of the GPUs (r modulo their count); fails
/// with a clear message where there is no driver or no GPU.
Status createCudaDevice(int ordinal, std::unique_ptr<Device> &out);
/// Whether a CUDA driver and at least one GPU are present (`why` if not).
bool cudaAvailable(std::string &why);
/// The host emulation of a CUDA device.
Status createHostDevice(std::unique_ptr<Device> &out);

} // namespace tessera::rt::gpu

#endif // TESSERA_RUNTIME_GPU_DEVICE_H
