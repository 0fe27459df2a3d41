//===- CudaTarget.cpp - --target=cuda packages ----------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "compiler/CudaTarget.h"

#include "tessera/runtime/DType.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstring>
#include <map>

namespace tessera {


void narrowPrograms(std::vector<lower::ProgramPlan> &programs, lower::ElementType dtype) {
  for (lower::ProgramPlan &plan : programs)
    for (lower::PlannedTensor &t : plan.tensors) {
      if (t.dtype != lower::ElementType::F32)
        continue;
      t.dtype = dtype;
      t.size /= 2;
      if (t.kind == lower::PlannedTensor::Kind::Constant && !t.bytes.empty()) {
        std::vector<uint8_t> out(t.bytes.size() / 2);
        for (size_t i = 0; i < t.bytes.size() / 4; ++i) {
          float f;
          std::memcpy(&f, t.bytes.data() + 4 * i, 4);
          uint16_t h = rt::floatToHalfBits(
              dtype == lower::ElementType::BF16 ? rt::DType::BF16 : rt::DType::F16, f);
          std::memcpy(out.data() + 2 * i, &h, 2);
        }
        t.bytes = std::move(out);
      }
    }
}

bool buildCuda(const std::vector<lower::ProgramPlan> &programs,
               const std::vector<std::string> &archs, PackageCuda &cuda, std::string &error,
               std::string &warning) {
  std::map<std::string, int> bySource;
  cuda.programModule.clear();
  cuda.launches.clear();
  for (const lower::ProgramPlan &plan : programs) {
    lower::CudaModule module;
    if (!lower::generateCuda(plan, module, error))
      return false;
    auto [it, fresh] = bySource.try_emplace(module.source, int(cuda.modules.size()));
    if (fresh)
      cuda.modules.push_back({module.source, module.functions, {}});
    cuda.programModule.push_back(it->second);
    cuda.launches.push_back(std::move(module.launches));
  }
  std::string why;
  if (!nvrtcAvailable(why)) {
    warning = "NVRTC is not available (" + why +
              "): the package carries CUDA source only; the runtime compiles it on the GPU host";
    return true;
  }
  for (size_t m = 0; m < cuda.modules.size(); ++m) {
    PackageCuda::Module &module = cuda.modules[m];
    for (const std::string &arch : archs) {
      auto start = std::chrono::steady_clock::now();
      CudaImage image;
      if (!nvrtcCompile(module.source, "tessera_module_" + std::to_string(m) + ".cu", arch,
                        image, error))
        return false;
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                           .count();
      llvm::errs() << "tessera-compile: CUDA module " << m + 1 << "/" << cuda.modules.size()
                   << " (" << module.functions.size() << " kernels) -> " << arch << " ("
                   << image.data.size() << " bytes, " << llvm::format("%.1f", seconds)
                   << " s)\n";
      module.images.push_back(std::move(image));
    }
  }
  return true;
}

} // namespace tessera
