//===- Generate.h - text generation with a decode package -------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// A package compiled with `--generate` holds one decode step: the token of
// each sequence at its position in, the next-token logits out, the KV cache
// kept by the session between steps. generate() runs the loop Hugging Face's
// `generate` runs: prompts are fed position by position (several prompts of
// different lengths fill the batch; each starts producing tokens after its
// last prompt token), then each step's logits give the next token, greedily
// or sampled (temperature, top-k, top-p with Hugging Face's semantics, a
// seeded generator so that runs repeat).
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_GENERATE_H
#define TESSERA_RUNTIME_GENERATE_H

#include "tessera/runtime/Communicator.h"
#include "tessera/runtime/Session.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

struct SamplingOptions {
  double temperature = 0; ///< 0: greedy (the most likely token, the first of ties)
  int64_t topK = 0;       ///< keep the k most likely tokens (0: all)
  double topP = 1.0;      ///< keep the most likely tokens whose probabilities reach p
  uint64_t seed = 0;
};

/// Picks tokens from logits: greedy, or sampled from the softmax of the
/// tempered, top-k and top-p filtered logits with a seeded generator.
class Sampler {
public:
  explicit Sampler(const SamplingOptions &options);
  /// The next token of one sequence from its `vocab` logits.
  int64_t next(const float *logits, int64_t vocab);
  /// The probabilities next() samples from (tests): zero outside the kept set.
  std::vector<double> distribution(const float *logits, int64_t vocab) const;

private:
  SamplingOptions options_;
  uint64_t state_;
  double uniform();
};

struct GenerateOptions {
  int64_t maxNewTokens = 20;
  std::vector<int64_t> stopIds; ///< a sequence ends after producing one of these
  SamplingOptions sampling;
  /// Called for every new token, as it comes (sequence index, token).
  std::function<void(size_t, int64_t)> onToken;
  /// Called after every decode step with each running sequence's logits at
  /// the position it fed (prompt positions too, when the prompt is read step
  /// by step: no prefill).
  std::function<void(size_t, int64_t, const float *, int64_t)> onLogits;
};

struct GenerateResult {
  std::vector<std::vector<int64_t>> tokens; ///< per sequence: the new tokens only
  double promptSeconds = 0;  ///< the prefill run and steps that only read prompt tokens
  double decodeSeconds = 0;  ///< steps that produced a token
  int64_t promptSteps = 0, decodeSteps = 0;
  int64_t decodeTokens = 0;  ///< tokens produced by the decode steps
};

class DecodeRunner;

/// One of the package's prompt programs (role "prefill:<length>"): the
/// prompt, right-padded to `length`, in one run. `session` runs it where the
/// package has one rank; `runner` runs it on every rank (PromptPrograms).
struct PrefillSession {
  int64_t length = 0;
  Session *session = nullptr;
  DecodeRunner *runner = nullptr;
};

/// One decode step of a package: its inputs and outputs by name, the run,
/// and the KV cache. A single session, or every rank of a partitioned
/// package run as threads (tensor, data and pipeline parallel).
class DecodeRunner {
public:
  virtual ~DecodeRunner() = default;
  virtual const std::vector<TensorInfo> &inputs() const = 0;
  virtual const std::vector<TensorInfo> &outputs() const = 0;
  virtual Status setInput(const std::string &name, const HostTensor &value) = 0;
  virtual Status run() = 0;
  virtual Status getOutput(const std::string &name, HostTensor &out) = 0;
  /// Zeros every rank's KV cache.
  virtual Status resetState() = 0;
  /// Every rank's session, rank by rank (the caches a prompt run fills).
  virtual std::vector<Session *> rankSessions() = 0;
};

/// `sessions[k]` runs rank k of `package` with `comms[k]` (null for one
/// rank); every rank of the package, in this process. `role`: the programs
/// the sessions run ("" the decode step, "prefill:<length>" a prompt
/// program).
std::unique_ptr<DecodeRunner> makeDecodeRunner(const Package &package,
                                               std::vector<Session *> sessions,
                                               std::vector<Communicator *> comms,
                                               const std::string &role = "");

/// The package's prompt programs on every rank, beside the decode step's
/// sessions: per --prefill length, one session per rank (options' role set
/// to "prefill:<length>") bound to that rank's communicator in `comms` (the
/// decode step's: the prompt and the decode steps never run at once), and
/// a runner over them.
class PromptPrograms {
public:
  static Status create(const std::shared_ptr<Package> &package, const SessionOptions &options,
                       const std::vector<Communicator *> &comms,
                       std::unique_ptr<PromptPrograms> &out);
  /// What generate() takes.
  const std::vector<PrefillSession> &list() const { return list_; }
  /// An encoder-decoder's encoder program on every rank (role "encoder"),
  /// or null.
  DecodeRunner *encoder() const { return encoder_; }

private:
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<std::unique_ptr<DecodeRunner>> runners_;
  std::vector<PrefillSession> list_;
  DecodeRunner *encoder_ = nullptr;
};

/// Whether `package` is an encoder-decoder's (an encoder program beside the
/// decode step), and the token its decoder starts from.
bool isEncoderDecoder(const Package &package);
int64_t decoderStartToken(const Package &package);

/// The prompt lengths of the package's prefill programs for `rank`.
std::vector<int64_t> prefillLengths(const Package &package, int rank = 0);

/// Whether `package` was compiled with --generate.
bool isGenerationPackage(const Package &package);

/// Generates up to `options.maxNewTokens` tokens after each prompt (at most
/// the package's batch of prompts; each non-empty) with the decode step's
/// `session`. With `prefills`, the prompts are read in one run of the
/// smallest that holds the longest (or the longest, the rest step by step)
/// and each rank's cache copied into its decode session; without, the
/// caches are reset and the prompts read step by step. Fails if a prompt and
/// its new tokens exceed the cache.
Status generate(Session &session, const Package &package,
                const std::vector<std::vector<int64_t>> &prompts,
                const GenerateOptions &options, GenerateResult &result,
                const std::vector<PrefillSession> &prefills = {});
/// The same with any decode runner (prompt programs of as many ranks). An
/// encoder-decoder's package needs `encoder` (PromptPrograms::encoder()):
/// the prompts are the encoder's, read once (right-padded to its length,
/// masked), and every sequence's decoder starts from the decoder's start
/// token; `result.tokens` are the tokens after it.
Status generate(DecodeRunner &runner, const Package &package,
                const std::vector<std::vector<int64_t>> &prompts,
                const GenerateOptions &options, GenerateResult &result,
                const std::vector<PrefillSession> &prefills = {},
                DecodeRunner *encoder = nullptr);

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_GENERATE_H
