//===- Summary.h - what each rank of a package holds and does ---*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The per-rank figures tessera-inspect prints (parameters, arena, FLOPs,
// collective traffic, kernels) and its JSON form (schema tessera-inspect/1),
// which the Python package returns from Package.inspect().
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TESSERA_INSPECT_SUMMARY_H
#define TESSERA_TOOLS_TESSERA_INSPECT_SUMMARY_H

#include "tessera/runtime/Package.h"
#include "tessera/runtime/tpkg_generated.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera {

struct RankSummary {
  int rank = 0;
  unsigned stage = 0;
  double predictedSeconds = 0;
  /// Bytes per batch: all_reduce, all_gather, reduce_scatter, send.
  std::map<std::string, double> traffic;
  std::string firstLayer, lastLayer;
  uint64_t parameterBytes = 0;
  /// Training packages: of parameterBytes, the optimizer state (moments, the
  /// step) and the number of tensors each step updates.
  uint64_t optimizerBytes = 0;
  int stateUpdates = 0;
  uint64_t arenaBytes = 0;
  double flops = 0;
  std::map<std::string, int> kernels;
  std::vector<std::string> inputs, outputs;
};

/// "name: f32 4x128" (with the split axis when there is one).
std::string describe(const tpkg::Tensor *t);

/// One row per rank of the main programs (in package order); generation
/// packages' prefill programs go to `prefills` when given.
std::vector<RankSummary> summarizeRanks(const tpkg::Package &plan,
                                        std::vector<const tpkg::Program *> *prefills = nullptr);

/// `s` as a JSON string literal.
std::string jsonString(const std::string &s);

/// `tessera-inspect --json` of the package read from `path`.
std::string inspectJson(const rt::Package &package, const std::string &path);

} // namespace tessera

#endif // TESSERA_TOOLS_TESSERA_INSPECT_SUMMARY_H
