//===- PackageWriter.h - writing .tpkg files --------------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_COMPILER_PACKAGEWRITER_H
#define TESSERA_COMPILER_PACKAGEWRITER_H

#include "compiler/Nvrtc.h"
#include "passes/lower/CudaCodegen.h"
#include "passes/lower/ProgramPlan.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace tessera::onnx {
struct ModelFile;
} // namespace tessera::onnx

namespace tessera {

/// The cost model's prediction for the whole plan, recorded in the package.
struct PackagePrediction {
  std::string cluster, objective;
  double batchSeconds = 0, computeSeconds = 0, communicationSeconds = 0,
         bubbleSeconds = 0, deviceMemoryBytes = 0;
  std::vector<double> sendSeconds; ///< per pipeline stage
};

/// --target=cuda: the distinct CUDA modules of the ranks' programs and
/// their images, and per program its module and launches.
struct PackageCuda {
  struct Module {
    std::string source;
    std::vector<std::string> functions;
    std::vector<CudaImage> images;
  };
  std::vector<Module> modules;
  std::vector<int> programModule;
  std::vector<std::vector<lower::CudaLaunch>> launches;
};

/// --generate: the decode step's inputs and outputs by role.
struct PackageGeneration {
  std::string ids, positions, logits, mask, positionIds;
  std::string lastPositions; ///< the prefill programs' input (none: no prefill)
  unsigned maxSeq = 0, batch = 1;
  /// Encoder-decoders (tpkg.fbs Generation): the encoder program's token and
  /// mask inputs and its output, the decode step's inputs they feed, the
  /// decoder's start token. Empty: a decoder.
  std::string encoderIds, encoderMask, encoderOutput, encoderStates, encoderStatesMask;
  int64_t decoderStart = 0;
};

struct PackageStats {
  uint64_t fileBytes = 0;
  uint64_t weightBytes = 0;
  uint64_t arenaBytes = 0;
  uint64_t kernels = 0;
};

/// Writes one package holding `programs` (one per rank), copying weights
/// from `model`'s files in chunks; shows progress on stderr for large
/// models when `progress` is set. With `externalWeights`, weights that live
/// in files (the .onnx itself or its external data) are referenced there,
/// by path relative to the package, instead of copied.
llvm::Expected<PackageStats>
writePackage(const std::string &path, const std::vector<lower::ProgramPlan> &programs,
             const std::vector<unsigned> &mesh, const onnx::ModelFile &model,
             const std::string &producer, bool progress,
             bool externalWeights = false, unsigned stages = 1,
             unsigned microbatches = 1,
             const PackagePrediction *prediction = nullptr,
             const PackageCuda *cuda = nullptr,
             const PackageGeneration *generation = nullptr);

} // namespace tessera

#endif // TESSERA_COMPILER_PACKAGEWRITER_H
