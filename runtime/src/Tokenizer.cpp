//===- Tokenizer.cpp - Hugging Face tokenizer.json, BPE -------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "tessera/runtime/Tokenizer.h"

#include "Json.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cwctype>
#include <fstream>
#include <locale.h>
#include <sstream>
#include <unordered_map>

namespace tessera::rt {

using json::appendUtf8;

namespace {

/// Code points of UTF-8 text; invalid bytes become U+FFFD.
std::vector<uint32_t> codePoints(const std::string &s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + size_t(n) > s.size()) {
      out.push_back(0xFFFD);
      ++i;
      continue;
    }
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    bool ok = true;
    for (int k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + size_t(k)]);
      ok &= (d >> 6) == 2;
      cp = (cp << 6) | (d & 0x3F);
    }
    out.push_back(ok ? cp : 0xFFFD);
    i += ok ? size_t(n) : 1;
  }
  return out;
}

/// UTF-8 characters of `s`, each as its own string.
std::vector<std::string> characters(const std::string &s) {
  std::vector<std::string> out;
  for (uint32_t c : codePoints(s)) {
    out.emplace_back();
    appendUtf8(out.back(), c);
  }
  return out;
}

/// Whether `bytes` is valid UTF-8.
bool validUtf8(const std::string &bytes) {
  for (size_t i = 0; i < bytes.size();) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + size_t(n) > bytes.size())
      return false;
    for (int k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(bytes[i + size_t(k)]) >> 6) != 2)
        return false;
    i += size_t(n);
  }
  return true;
}

/// Unicode letter / number classes of the split patterns (\p{L}, \p{N}):
/// exact for ASCII, the C.UTF-8 locale's classes beyond.
locale_t utf8Locale() {
  static locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t(0));
  return loc;
}
bool isLetter(uint32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  locale_t loc = utf8Locale();
  return loc ? iswalpha_l(wint_t(c), loc) && !iswdigit_l(wint_t(c), loc) : true;
}
bool isNumber(uint32_t c) {
  if (c < 0x80)
    return c >= '0' && c <= '9';
  // Superscripts, fractions and other \p{N} code points outside ASCII.
  return (c >= 0xB2 && c <= 0xB3) || c == 0xB9 || (c >= 0xBC && c <= 0xBE) ||
         (c >= 0x660 && c <= 0x669) || (c >= 0x6F0 && c <= 0x6F9) ||
         (c >= 0x2070 && c <= 0x2079) || (c >= 0x2080 && c <= 0x2089) ||
         (c >= 0x2150 && c <= 0x2189) || (c >= 0x2460 && c <= 0x249B) ||
         (c >= 0xFF10 && c <= 0xFF19);
}
bool isSpace(uint32_t c) {
  if (c < 0x80)
    return c == ' ' || (c >= '\t' && c <= '\r');
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// GPT-2's split pattern, by hand:
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::string> splitGpt2(const std::string &text) {
  std::vector<uint32_t> cp = codePoints(text);
  size_t n = cp.size();
  std::vector<std::string> out;
  auto emit = [&](size_t from, size_t to) {
    std::string piece;
    for (size_t k = from; k < to; ++k)
      appendUtf8(piece, cp[k]);
    out.push_back(std::move(piece));
  };
  size_t i = 0;
  while (i < n) {
    if (cp[i] == '\'' && i + 1 < n) {
      uint32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
      size_t len = (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') ? 3
                   : a == 's' || a == 't' || a == 'm' || a == 'd'                            ? 2
                                                                                              : 0;
      if (len) {
        emit(i, i + len);
        i += len;
        continue;
      }
    }
    bool matched = false;
    for (auto cls : {isLetter, isNumber, +[](uint32_t c) {
                       return !isSpace(c) && !isLetter(c) && !isNumber(c);
                     }}) {
      size_t j = i;
      if (cp[j] == ' ' && j + 1 < n && cls(cp[j + 1]))
        ++j;
      if (!cls(cp[j]))
        continue;
      while (j < n && cls(cp[j]))
        ++j;
      emit(i, j);
      i = j;
      matched = true;
      break;
    }
    if (matched)
      continue;
    // Whitespace: a run followed by a non-space leaves its last character
    // to the next piece (\s+(?!\S)), unless it is that one character (\s+).
    size_t j = i;
    while (j < n && isSpace(cp[j]))
      ++j;
    if (j == i) { // cannot happen: every code point is in one of the classes
      emit(i, i + 1);
      ++i;
      continue;
    }
    if (j < n && j - i > 1)
      --j;
    emit(i, j);
    i = j;
  }
  return out;
}

/// GPT-2's reversible map of bytes to printable characters.
struct ByteMap {
  std::string toChar[256];
  std::unordered_map<uint32_t, uint8_t> toByte;
  ByteMap() {
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      uint32_t c = printable ? uint32_t(b) : uint32_t(256 + extra++);
      appendUtf8(toChar[b], c);
      toByte[c] = uint8_t(b);
    }
  }
};
const ByteMap &byteMap() {
  static const ByteMap map;
  return map;
}

std::string replaceAll(std::string s, const std::string &from, const std::string &to) {
  if (from.empty())
    return s;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

} // namespace

struct Tokenizer::Impl {
  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> tokens; ///< by id
  std::unordered_map<std::string, int> ranks; ///< "a\0b" -> merge rank
  struct Added {
    std::string content;
    int64_t id;
  };
  std::vector<Added> added; ///< longest first
  // Normalizer steps: Prepend (a) or Replace (a -> b).
  struct Step {
    std::string kind, a, b;
    int64_t start = 0, stop = 0;
  };
  std::vector<Step> normalizer;
  // Pre-tokenizer.
  bool byteLevel = false, addPrefixSpace = false, useRegex = true;
  bool metaspace = false, metaspaceSplit = true;
  std::string replacement = "\xE2\x96\x81", prependScheme = "always";
  // Model.
  bool byteFallback = false, fuseUnk = false, ignoreMerges = false;
  int64_t unk = -1;
  // Decoder steps: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace.
  std::vector<Step> decoder;

  Status bpe(const std::string &piece, std::vector<int64_t> &ids) const;
  Status encodeSegment(std::string text, bool first, std::vector<int64_t> &ids) const;
};

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

Status Tokenizer::load(const std::string &path, std::unique_ptr<Tokenizer> &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status(StatusCode::NotFound, path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, out);
}

Status Tokenizer::parse(const std::string &text, const std::string &name,
                        std::unique_ptr<Tokenizer> &out) {
  using json::Value;
  auto bad = [&](const std::string &why) {
    return Status(StatusCode::InvalidArgument, name + ": " + why);
  };
  Value root;
  std::string error;
  if (!json::parse(text, root, error))
    return bad("not JSON: " + error);
  if (!root.isObject())
    return bad("not a tokenizer.json object");
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  Impl &t = *tok->impl_;

  const Value &model = root["model"];
  if (model.str("type", "BPE") != "BPE" || !model["vocab"].isObject())
    return bad("model type '" + model.str("type", "?") +
               "' is not supported (BPE with a vocabulary is)");
  if (!model["continuing_subword_prefix"].isNull() || !model["end_of_word_suffix"].isNull())
    return bad("BPE with a continuing-subword prefix or end-of-word suffix is not supported");
  if (model["dropout"].kind == Value::Kind::Number && model["dropout"].number > 0)
    return bad("BPE dropout is not supported (it is random)");
  auto setToken = [&](const std::string &token, double id) -> bool {
    if (!(id >= 0 && id < double(1 << 26)))
      return false;
    int64_t i = int64_t(id);
    t.vocab[token] = i;
    if (size_t(i) >= t.tokens.size())
      t.tokens.resize(size_t(i) + 1);
    t.tokens[size_t(i)] = token;
    return true;
  };
  for (const auto &[token, id] : model["vocab"].object)
    if (id.kind != Value::Kind::Number || !setToken(token, id.number))
      return bad("vocabulary entry '" + token + "' has no valid id");
  int rank = 0;
  for (const Value &m : model["merges"].array) {
    std::string a, b;
    if (m.isString()) {
      size_t space = m.string.find(' ', 1);
      if (space == std::string::npos)
        return bad("merge '" + m.string + "' is not 'A B'");
      a = m.string.substr(0, space);
      b = m.string.substr(space + 1);
    } else if (m.isArray() && m.array.size() == 2 && m.array[0].isString() &&
               m.array[1].isString()) {
      a = m.array[0].string;
      b = m.array[1].string;
    } else {
      return bad("merge #" + std::to_string(rank) + " is not 'A B' or [A, B]");
    }
    t.ranks.emplace(a + std::string(1, '\0') + b, rank++);
  }
  t.byteFallback = model.flag("byte_fallback", false);
  t.fuseUnk = model.flag("fuse_unk", false);
  t.ignoreMerges = model.flag("ignore_merges", false);
  if (model["unk_token"].isString()) {
    auto it = t.vocab.find(model["unk_token"].string);
    if (it == t.vocab.end())
      return bad("the unknown token '" + model["unk_token"].string + "' is not in the vocabulary");
    t.unk = it->second;
  }
  for (const Value &a : root["added_tokens"].array) {
    if (!a["content"].isString() || a["id"].kind != Value::Kind::Number ||
        !setToken(a["content"].string, a["id"].number))
      return bad("an added token has no content or id");
    t.added.push_back({a["content"].string, int64_t(a["id"].number)});
  }
  std::stable_sort(t.added.begin(), t.added.end(), [](const Impl::Added &x, const Impl::Added &y) {
    return x.content.size() > y.content.size();
  });

  // Normalizer.
  std::vector<const Value *> steps;
  auto flatten = [&](const Value &v, const char *what, auto &&self) -> Status {
    if (v.isNull())
      return Status::okStatus();
    if (v.str("type") == "Sequence") {
      const Value &list = v[std::string(what) == "normalizer" ? "normalizers"
                            : std::string(what) == "decoder"  ? "decoders"
                                                               : "pretokenizers"];
      for (const Value &e : list.array)
        if (Status s = self(e, what, self); !s.ok())
          return s;
      return Status::okStatus();
    }
    steps.push_back(&v);
    return Status::okStatus();
  };
  if (Status s = flatten(root["normalizer"], "normalizer", flatten); !s.ok())
    return s;
  for (const Value *v : steps) {
    std::string type = v->str("type");
    if (type == "Prepend") {
      t.normalizer.push_back({"Prepend", v->str("prepend"), ""});
    } else if (type == "Replace" && (*v)["pattern"]["String"].isString()) {
      t.normalizer.push_back({"Replace", (*v)["pattern"]["String"].string, v->str("content")});
    } else {
      return bad("normalizer '" + type +
                 "' is not supported (Prepend, Replace of a string, Sequence are)");
    }
  }
  // Pre-tokenizer.
  steps.clear();
  if (Status s = flatten(root["pre_tokenizer"], "pre_tokenizer", flatten); !s.ok())
    return s;
  for (const Value *v : steps) {
    std::string type = v->str("type");
    if (type == "ByteLevel") {
      t.byteLevel = true;
      t.addPrefixSpace = v->flag("add_prefix_space", false);
      t.useRegex = v->flag("use_regex", true);
    } else if (type == "Metaspace") {
      t.metaspace = true;
      t.replacement = v->str("replacement", t.replacement);
      t.prependScheme = v->str("prepend_scheme", v->flag("add_prefix_space", true) ? "always"
                                                                                     : "never");
      t.metaspaceSplit = v->flag("split", true);
    } else {
      return bad("pre-tokenizer '" + type +
                 "' is not supported (ByteLevel with GPT-2's pattern, Metaspace are)");
    }
  }
  // Decoder.
  steps.clear();
  if (Status s = flatten(root["decoder"], "decoder", flatten); !s.ok())
    return s;
  for (const Value *v : steps) {
    std::string type = v->str("type");
    Impl::Step step{type, "", ""};
    if (type == "Replace" && (*v)["pattern"]["String"].isString()) {
      step.a = (*v)["pattern"]["String"].string;
      step.b = v->str("content");
    } else if (type == "Strip") {
      step.a = v->str("content", " ");
      step.start = int64_t((*v)["start"].number);
      step.stop = int64_t((*v)["stop"].number);
    } else if (type == "Metaspace") {
      step.a = v->str("replacement", t.replacement);
      step.b = v->str("prepend_scheme", v->flag("add_prefix_space", true) ? "always" : "never");
    } else if (type != "ByteLevel" && type != "ByteFallback" && type != "Fuse") {
      return bad("decoder '" + type +
                 "' is not supported (ByteLevel, Metaspace, Replace, ByteFallback, Fuse, "
                 "Strip are)");
    }
    t.decoder.push_back(step);
  }
  out = std::move(tok);
  return Status::okStatus();
}

int64_t Tokenizer::vocabSize() const { return int64_t(impl_->tokens.size()); }

int64_t Tokenizer::tokenId(const std::string &token) const {
  auto it = impl_->vocab.find(token);
  return it == impl_->vocab.end() ? -1 : it->second;
}

Status Tokenizer::Impl::bpe(const std::string &piece, std::vector<int64_t> &ids) const {
  if (piece.empty())
    return Status::okStatus();
  if (ignoreMerges)
    if (auto it = vocab.find(piece); it != vocab.end()) {
      ids.push_back(it->second);
      return Status::okStatus();
    }
  std::vector<std::string> symbols = characters(piece);
  // Merge the adjacent pair of lowest rank (the leftmost of equals) until
  // none is in the merges.
  while (symbols.size() > 1) {
    int best = INT_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = ranks.find(symbols[i] + std::string(1, '\0') + symbols[i + 1]);
      if (it != ranks.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == INT_MAX)
      break;
    symbols[at] += symbols[at + 1];
    symbols.erase(symbols.begin() + std::ptrdiff_t(at) + 1);
  }
  bool lastUnk = false;
  for (const std::string &s : symbols) {
    if (auto it = vocab.find(s); it != vocab.end()) {
      ids.push_back(it->second);
      lastUnk = false;
      continue;
    }
    if (byteFallback) {
      bool all = true;
      std::vector<int64_t> bytes;
      for (unsigned char c : s) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", c);
        auto it = vocab.find(name);
        if (it == vocab.end()) {
          all = false;
          break;
        }
        bytes.push_back(it->second);
      }
      if (all) {
        ids.insert(ids.end(), bytes.begin(), bytes.end());
        lastUnk = false;
        continue;
      }
    }
    if (unk < 0)
      return Status(StatusCode::InvalidArgument,
                    "tokenizer: '" + s + "' is not in the vocabulary and there is no unknown token");
    if (!(fuseUnk && lastUnk))
      ids.push_back(unk);
    lastUnk = true;
  }
  return Status::okStatus();
}

Status Tokenizer::Impl::encodeSegment(std::string text, bool first,
                                      std::vector<int64_t> &ids) const {
  for (const Step &s : normalizer) {
    if (s.kind == "Prepend" && !text.empty())
      text = s.a + text;
    else if (s.kind == "Replace")
      text = replaceAll(text, s.a, s.b);
  }
  std::vector<std::string> pieces = {text};
  if (metaspace) {
    std::string replaced = replaceAll(text, " ", replacement);
    bool prepend = prependScheme == "always" || (prependScheme == "first" && first);
    if (prepend && replaced.compare(0, replacement.size(), replacement) != 0)
      replaced = replacement + replaced;
    pieces.clear();
    if (!metaspaceSplit) {
      pieces.push_back(replaced);
    } else {
      // Each piece starts at a replacement character (merged with the next).
      size_t start = 0;
      for (size_t at = replaced.find(replacement, 1); at != std::string::npos;
           at = replaced.find(replacement, at + 1)) {
        pieces.push_back(replaced.substr(start, at - start));
        start = at;
      }
      pieces.push_back(replaced.substr(start));
    }
  }
  if (byteLevel) {
    std::vector<std::string> split;
    for (std::string &p : pieces) {
      if (addPrefixSpace && !p.empty() && p[0] != ' ')
        p = " " + p;
      std::vector<std::string> parts = useRegex ? splitGpt2(p) : std::vector<std::string>{p};
      for (const std::string &part : parts) {
        std::string mapped;
        for (unsigned char c : part)
          mapped += byteMap().toChar[c];
        split.push_back(std::move(mapped));
      }
    }
    pieces = std::move(split);
  }
  for (const std::string &p : pieces)
    if (Status s = bpe(p, ids); !s.ok())
      return s;
  return Status::okStatus();
}

Status Tokenizer::encode(const std::string &text, std::vector<int64_t> &ids) const {
  ids.clear();
  // Added tokens first: the text between them is encoded on its own.
  size_t start = 0, at = 0;
  bool first = true;
  while (at <= text.size()) {
    const Impl::Added *match = nullptr;
    if (at < text.size())
      for (const Impl::Added &a : impl_->added)
        if (!a.content.empty() && text.compare(at, a.content.size(), a.content) == 0) {
          match = &a;
          break;
        }
    if (!match && at < text.size()) {
      ++at;
      continue;
    }
    if (at > start) {
      if (Status s = impl_->encodeSegment(text.substr(start, at - start), first, ids); !s.ok())
        return s;
      first = false;
    }
    if (!match)
      break;
    ids.push_back(match->id);
    first = false;
    at += match->content.size();
    start = at;
  }
  return Status::okStatus();
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids) const {
  const Impl &t = *impl_;
  std::vector<std::string> tokens;
  for (int64_t id : ids)
    if (id >= 0 && size_t(id) < t.tokens.size())
      tokens.push_back(t.tokens[size_t(id)]);
  for (const Impl::Step &s : t.decoder) {
    if (s.kind == "ByteLevel") {
      std::string joined, bytes;
      for (const std::string &tok : tokens)
        joined += tok;
      for (uint32_t c : codePoints(joined)) {
        auto it = byteMap().toByte.find(c);
        if (it != byteMap().toByte.end())
          bytes += char(it->second);
        else
          appendUtf8(bytes, c);
      }
      // Invalid UTF-8 becomes U+FFFD, as from_utf8_lossy does.
      std::string text;
      for (uint32_t c : codePoints(bytes))
        appendUtf8(text, c);
      tokens = {text};
    } else if (s.kind == "Replace") {
      for (std::string &tok : tokens)
        tok = replaceAll(tok, s.a, s.b);
    } else if (s.kind == "ByteFallback") {
      std::vector<std::string> out;
      std::string pending;
      size_t count = 0;
      auto flush = [&]() {
        if (count == 0)
          return;
        if (validUtf8(pending))
          out.push_back(pending);
        else
          for (size_t k = 0; k < count; ++k)
            out.push_back("\xEF\xBF\xBD");
        pending.clear();
        count = 0;
      };
      for (const std::string &tok : tokens) {
        unsigned v = 0;
        char tail = 0;
        if (tok.size() == 6 && std::sscanf(tok.c_str(), "<0x%2X%c", &v, &tail) == 2 &&
            tail == '>') {
          pending += char(v);
          ++count;
          continue;
        }
        flush();
        out.push_back(tok);
      }
      flush();
      tokens = std::move(out);
    } else if (s.kind == "Fuse") {
      std::string joined;
      for (const std::string &tok : tokens)
        joined += tok;
      tokens = {joined};
    } else if (s.kind == "Strip") {
      for (std::string &tok : tokens) {
        for (int64_t k = 0; k < s.start && tok.compare(0, s.a.size(), s.a) == 0; ++k)
          tok.erase(0, s.a.size());
        for (int64_t k = 0; k < s.stop && tok.size() >= s.a.size() &&
                            tok.compare(tok.size() - s.a.size(), s.a.size(), s.a) == 0;
             ++k)
          tok.erase(tok.size() - s.a.size());
      }
    } else if (s.kind == "Metaspace") {
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replaceAll(tokens[i], s.a, " ");
        if (i == 0 && s.b != "never" && !tokens[i].empty() && tokens[i][0] == ' ')
          tokens[i].erase(0, 1);
      }
    }
  }
  std::string text;
  for (const std::string &tok : tokens)
    text += tok;
  return text;
}

} // namespace tessera::rt
