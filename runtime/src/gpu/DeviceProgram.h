//===- DeviceProgram.h - running a rank's program on a device ---*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The executor of --target=cuda packages: one arena and the rank's weights
// in device memory (weights copied in once), the package's generated module
// loaded, and per kernel a launch: a generated function, a GEMM, a copy, or
// a collective. Collectives go through the rank's communicator: NCCL where
// the communicator works on device memory, otherwise staged through host
// memory (the `local` virtual devices on one GPU, and MPI).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_GPU_DEVICEPROGRAM_H
#define TESSERA_RUNTIME_GPU_DEVICEPROGRAM_H

#include "cpu/Kernels.h"
#include "gpu/Device.h"

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/Npy.h"
#include "tessera/runtime/Package.h"
#include "tessera/runtime/Session.h"

#include <map>
#include <string>
#include <memory>
#include <vector>

namespace tessera::rt::gpu {

class DeviceProgram {
public:
  ~DeviceProgram();
  static Status create(const Package &package, const tpkg::Program &program,
                       std::unique_ptr<Device> device, std::unique_ptr<DeviceProgram> &out,
                       uint64_t randomWeights = 0);

  Status setInput(size_t index, const HostTensor &value);
  Status getOutput(size_t index, HostTensor &out);
  Status bindCommunicator(Communicator &world);
  bool hasCollectives() const;
  /// Runs every kernel; with `spans`, synchronises after each to time it.
  Status run(std::vector<KernelSpan> *spans, std::vector<KernelProfile> *profile);
  const Device &device() const { return *device_; }

private:
  /// A tensor in device memory (`data` is a device pointer).
  using Tensor = cpu::TensorRef;
  struct Launch {
    const tpkg::Kernel *kernel = nullptr;
    tpkg::LaunchKind kind = tpkg::LaunchKind::Generated;
    void *fn = nullptr;
    uint32_t grid[3] = {1, 1, 1};
    uint32_t block = 1;
    std::vector<void *> pointers; // inputs then outputs (device)
    std::vector<GemmDesc> gemms;  // with the operands' offsets below
    std::vector<size_t> gemmOffsets; // a, b, c element offsets per GEMM
    Communicator *comm = nullptr;
  };
  Status prepareGemm(Launch &launch);
  Status collective(const Launch &launch);
  Status collectiveInPlace(const Launch &launch);

  std::unique_ptr<Device> device_;
  const tpkg::Program *program_ = nullptr;
  void *arena_ = nullptr;
  std::vector<void *> weights_; // device copies, freed with the program
  std::map<std::string, void *> randomFilled_; // --random-weights, by name
  void *scratch_ = nullptr; // collectives' block transposes
  size_t scratchBytes_ = 0;
  bool stageCollectives_ = false; // TESSERA_STAGE_COLLECTIVES=1 (tests)
  /// CUDA graphs: the second untimed run is captured and later runs replay
  /// it (programs without collectives; TESSERA_CUDA_GRAPHS=0 turns it off).
  enum class Graph { Off, Warm, Capture, Ready } graph_ = Graph::Off;
  Status launchAll(std::vector<KernelSpan> *spans, std::vector<KernelProfile> *profile,
                   bool sync = true);
  std::vector<Tensor> tensors_;
  std::vector<Launch> launches_;
  std::vector<size_t> inputIds_, outputIds_;
  std::map<std::vector<int>, std::shared_ptr<Communicator>> groups_;
};

} // namespace tessera::rt::gpu

#endif // TESSERA_RUNTIME_GPU_DEVICEPROGRAM_H
