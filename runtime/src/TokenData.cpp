//===- TokenData.cpp - token streams for training -------------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/TokenData.h"
#include "tessera/runtime/Npy.h"
#include "tessera/runtime/Tokenizer.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tessera::rt {

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Status readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status(StatusCode::NotFound, "--data " + path + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return Status::okStatus();
}

uint64_t fnv1a(const std::string &bytes, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : bytes)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// The ids of a text file: cached beside it, keyed by the text and the
/// tokenizer, else encoded (and cached when the folder is writable).
Status readText(const std::string &path, const std::string &tokenizerPath,
                std::vector<int64_t> &out, std::string &source) {
  if (tokenizerPath.empty())
    return Status(StatusCode::InvalidArgument,
                  "--data " + path + ": not .npy or .bin, so text: give --tokenizer "
                                     "tokenizer.json to tokenize it");
  std::string text, tokenizerText;
  if (Status s = readFile(path, text); !s.ok())
    return s;
  if (Status s = readFile(tokenizerPath, tokenizerText); !s.ok())
    return s;
  char key[17];
  std::snprintf(key, sizeof key, "%016llx",
                (unsigned long long)fnv1a(tokenizerText, fnv1a(text)));
  std::string cache = path + "." + key + ".tokens.npy";
  HostTensor cached;
  if (readNpy(cache, cached).ok() && cached.dtype == DType::I64 && cached.shape.size() == 1) {
    const auto *v = reinterpret_cast<const int64_t *>(cached.data.data());
    out.insert(out.end(), v, v + cached.shape[0]);
    source = "text, tokens cached in " + cache;
    return Status::okStatus();
  }
  std::unique_ptr<Tokenizer> tokenizer;
  if (Status s = Tokenizer::load(tokenizerPath, tokenizer); !s.ok())
    return s;
  std::vector<int64_t> ids;
  if (Status s = tokenizer->encode(text, ids); !s.ok())
    return Status(s.code(), "--data " + path + ": " + s.message());
  HostTensor t{DType::I64, {int64_t(ids.size())}, std::vector<uint8_t>(ids.size() * 8)};
  std::memcpy(t.data.data(), ids.data(), ids.size() * 8);
  source = writeNpy(cache, t).ok() ? "text, tokenized (cached in " + cache + ")"
                                   : "text, tokenized (not cached: " + cache + " unwritable)";
  out.insert(out.end(), ids.begin(), ids.end());
  return Status::okStatus();
}

} // namespace

Status TokenData::open(const TokenDataOptions &options, std::unique_ptr<TokenData> &out) {
  if (options.files.empty())
    return Status(StatusCode::InvalidArgument, "--data: no files");
  if (options.binDType != "uint16" && options.binDType != "uint32")
    return Status(StatusCode::InvalidArgument,
                  "--data-dtype '" + options.binDType + "': uint16 or uint32");
  auto data = std::unique_ptr<TokenData>(new TokenData());
  data->shuffle_ = options.shuffle;
  data->seed_ = options.seed;
  for (const std::string &path : options.files) {
    std::string source;
    if (endsWith(path, ".npy")) {
      HostTensor t;
      if (Status s = readNpy(path, t); !s.ok())
        return s;
      if (t.shape.size() != 1 || (t.dtype != DType::I64 && t.dtype != DType::I32))
        return Status(StatusCode::InvalidArgument,
                      "--data " + path + ": expected a 1-D int32/int64 token stream");
      for (int64_t i = 0; i < t.shape[0]; ++i)
        data->tokens_.push_back(t.dtype == DType::I64
                                    ? reinterpret_cast<const int64_t *>(t.data.data())[i]
                                    : reinterpret_cast<const int32_t *>(t.data.data())[i]);
      source = "npy";
    } else if (endsWith(path, ".bin")) {
      std::string bytes;
      if (Status s = readFile(path, bytes); !s.ok())
        return s;
      size_t width = options.binDType == "uint16" ? 2 : 4;
      if (bytes.size() % width)
        return Status(StatusCode::InvalidArgument,
                      "--data " + path + ": " + std::to_string(bytes.size()) +
                          " bytes, not a whole number of " + options.binDType +
                          " tokens (--data-dtype)");
      for (size_t i = 0; i < bytes.size(); i += width) {
        uint32_t v = 0;
        for (size_t b = 0; b < width; ++b) // little-endian
          v |= uint32_t(uint8_t(bytes[i + b])) << (8 * b);
        data->tokens_.push_back(int64_t(v));
      }
      source = "bin " + options.binDType;
    } else if (Status s = readText(path, options.tokenizer, data->tokens_, source); !s.ok()) {
      return s;
    }
    data->sources_.push_back(path + " (" + source + ")");
  }
  for (int64_t t : data->tokens_)
    if (t < 0)
      return Status(StatusCode::InvalidArgument, "--data: negative token id " +
                                                     std::to_string(t));
  out = std::move(data);
  return Status::okStatus();
}

int64_t TokenData::windowStart(int64_t step, int64_t row, int64_t batch, int64_t seq) const {
  int64_t n = size();
  if (!shuffle_)
    return ((step * batch + row) * seq) % n;
  // A window wholly inside the stream, drawn from (seed, step, row) alone.
  uint64_t draw = splitmix(seed_ ^ splitmix(uint64_t(step) * 0x100000001B3ull + uint64_t(row)));
  int64_t starts = n - seq; // starts whose S + 1 tokens fit
  return starts > 0 ? int64_t(draw % uint64_t(starts)) : 0;
}

void TokenData::windows(int64_t step, int64_t batch, int64_t seq, int64_t *ids,
                        int64_t *labels) const {
  int64_t n = size();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t start = windowStart(step, b, batch, seq);
    for (int64_t s = 0; s < seq; ++s) {
      ids[b * seq + s] = tokens_[size_t((start + s) % n)];
      labels[b * seq + s] = tokens_[size_t((start + s + 1) % n)];
    }
  }
}

double TokenData::epochs(int64_t steps, int64_t batch, int64_t seq) const {
  return size() ? double(steps) * double(batch) * double(seq) / double(size()) : 0.0;
}

} // namespace tessera::rt
