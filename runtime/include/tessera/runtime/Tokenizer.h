//===- Tokenizer.h - Hugging Face tokenizer.json, BPE -----------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// Encodes text to token ids and decodes them back the way the Hugging Face
// `tokenizers` library does for the BPE models it saves in tokenizer.json:
//
// - byte-level BPE (GPT-2 and its descendants): the ByteLevel pre-tokenizer
//   with GPT-2's split pattern, bytes mapped to printable characters, the
//   ByteLevel decoder;
// - SentencePiece-style BPE (Llama 2): the normalizer Prepend("▁") +
//   Replace(" ", "▁") or the Metaspace pre-tokenizer, byte fallback
//   (<0xHH> tokens), the Replace / ByteFallback / Fuse / Strip or Metaspace
//   decoders.
//
// Added tokens (<|endoftext|>, <s>) are matched in the text first. encode()
// adds no special tokens (Hugging Face's add_special_tokens=False). A
// component the file names that is not one of these (another model type, a
// Split pattern other than GPT-2's, Unicode normalization) is refused by name
// at load time rather than encoded differently.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_TOKENIZER_H
#define TESSERA_RUNTIME_TOKENIZER_H

#include "tessera/runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt {

class Tokenizer {
public:
  ~Tokenizer();
  /// Reads a tokenizer.json file.
  static Status load(const std::string &path, std::unique_ptr<Tokenizer> &out);
  /// Parses tokenizer.json text; `name` is used in messages.
  static Status parse(const std::string &text, const std::string &name,
                      std::unique_ptr<Tokenizer> &out);

  Status encode(const std::string &text, std::vector<int64_t> &ids) const;
  /// The text of `ids` (unknown ids are skipped).
  std::string decode(const std::vector<int64_t> &ids) const;
  /// One more than the largest id.
  int64_t vocabSize() const;
  /// The id of a token (an added token or a vocabulary entry), or -1.
  int64_t tokenId(const std::string &token) const;

private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace tessera::rt

#endif // TESSERA_RUNTIME_TOKENIZER_H
