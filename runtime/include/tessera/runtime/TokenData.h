//===- TokenData.h - token streams for training -----------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// What `tessera-run train.tpkg --data FILE...` reads: one stream of tokens
// from any number of files, in order: `.npy` (1-D int32/int64), `.bin` (the
// raw little-endian uint16 or uint32 streams nanoGPT and Megatron-style
// pipelines write), or text tokenized with a tokenizer.json (once: the ids
// are cached beside the text, `FILE.<checksum>.tokens.npy`, the checksum of
// the text and the tokenizer). A training step of batch B and sequence S
// reads B windows of S + 1 tokens (inputs and the labels shifted by one):
// consecutive windows (window w of step t is t * B + w, from token
// (t * B + w) * S, wrapping around), or with `shuffle` windows starting at
// positions drawn from (seed, step, row) alone, so that a resumed run reads
// the same windows as an uninterrupted one.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_TOKENDATA_H
#define TESSERA_RUNTIME_TOKENDATA_H

#include "tessera/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

struct TokenDataOptions {
  std::vector<std::string> files;
  std::string tokenizer;          ///< tokenizer.json, for text files
  std::string binDType = "uint16"; ///< `.bin` files: uint16 or uint32
  bool shuffle = false;
  uint64_t seed = 0;
};

class TokenData {
public:
  static Status open(const TokenDataOptions &options, std::unique_ptr<TokenData> &out);

  /// Tokens in the stream (every file's, in order).
  int64_t size() const { return int64_t(tokens_.size()); }
  /// Files read and where each came from ("npy", "bin uint16", "text, cached").
  const std::vector<std::string> &sources() const { return sources_; }

  /// The windows of training step `step` (counted from the first step ever,
  /// so a resumed run continues), `batch` rows of `seq` tokens: inputs into
  /// `ids`, the next tokens into `labels` (each batch * seq).
  void windows(int64_t step, int64_t batch, int64_t seq, int64_t *ids, int64_t *labels) const;
  /// Where row `row` of step `step` starts in the stream.
  int64_t windowStart(int64_t step, int64_t row, int64_t batch, int64_t seq) const;
  /// Passes over the stream that `steps` steps read.
  double epochs(int64_t steps, int64_t batch, int64_t seq) const;

private:
  std::vector<int64_t> tokens_;
  std::vector<std::string> sources_;
  bool shuffle_ = false;
  uint64_t seed_ = 0;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_TOKENDATA_H
