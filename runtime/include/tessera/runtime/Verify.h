//===- Verify.h - a compiled package against its unfused reference -*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The fusion verifier's runtime half: runs a reference package (the model as
// imported: no fusion, no partitioning, one rank) and a compiled package
// (every rank as threads) on the same seeded random inputs and compares
// every output they share, element by element. `tessera-compile --verify`
// compiles the reference itself and calls this; tests call it directly.
//
// Thread safety: each call is independent.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_VERIFY_H
#define TESSERA_RUNTIME_VERIFY_H

#include "tessera/runtime/Status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera::rt {

struct VerifyOptions {
  /// The random inputs' seed.
  uint64_t seed = 1;
  /// An element differs when |compiled - reference| > atol + rtol |reference|.
  double rtol = 1e-4, atol = 1e-4;
  /// Integer inputs: values drawn from [0, bound) (token ids below the
  /// vocabulary); inputs named like a mask are all ones. Default bound 2.
  std::map<std::string, int64_t> integerBounds;
};

/// One output of both packages.
struct OutputDifference {
  std::string name;
  int64_t elements = 0;
  int64_t outside = 0; ///< elements beyond the tolerance (a NaN on one side counts)
  double maxAbs = 0;   ///< largest |compiled - reference|
  bool ok() const { return outside == 0; }
};

/// Runs both packages once on the same inputs; `out` gets one entry per
/// output of the reference that the compiled package also gives. An error
/// when the packages cannot be run or their inputs differ; differences are
/// results, not errors.
Status verifyPackages(const std::string &compiledPath, const std::string &referencePath,
                      const VerifyOptions &options, std::vector<OutputDifference> &out);

/// A generation package (--generate) against the model as imported, compiled
/// for a forward pass over the package's batch x `max_seq` tokens: random
/// prompts of max_seq tokens (ids below the bound of the package's ids
/// input), read step by step through the decode step and its KV cache on
/// every rank; the logits of each step against the reference's at that
/// position (masks all ones, position ids 0, 1, ...). One difference, named
/// after the logits.
Status verifyGeneration(const std::string &decodePath, const std::string &referencePath,
                        const VerifyOptions &options, std::vector<OutputDifference> &out);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_VERIFY_H
