//===- Generate.h - tessera-run's generation loop ---------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TOOLS_TESSERA_RUN_GENERATE_H
#define TESSERA_TOOLS_TESSERA_RUN_GENERATE_H

#include "tessera/runtime/Generate.h"

#include <string>

namespace tessera::tools {

struct GenerateCliOptions {
  std::string promptIds;  ///< "1,2,3;4,5": one prompt per sequence
  std::vector<std::string> prompts; ///< text prompts (with `tokenizer`)
  std::string tokenizer;  ///< a Hugging Face tokenizer.json
  std::string outputIds;  ///< .npy: int64 [sequences, prompt + new], padded with -1
  rt::GenerateOptions generate;
  bool profile = false;   ///< prefill time, time per token, tokens/s
  bool stream = false;    ///< print tokens as they come
};

/// Parses "1,2,3;4,5" into prompts; false (with a message) on bad text.
bool parsePrompts(const std::string &text, std::vector<std::vector<int64_t>> &prompts,
                  std::string &error);

/// Generates from a package compiled with --generate with `runner` (one
/// session, or all ranks); `session` is rank 0's (its profile is printed).
int runGeneration(const rt::Package &package, rt::DecodeRunner &runner, rt::Session &session,
                  const GenerateCliOptions &options,
                  const std::vector<rt::PrefillSession> &prefills = {},
                  rt::DecodeRunner *encoder = nullptr);

/// --profile's line on the weights the CPU kernels repacked (none: nothing).
void printPackedWeights(const rt::Package &package);

} // namespace tessera::tools

#endif // TESSERA_TOOLS_TESSERA_RUN_GENERATE_H
