//===- Roles.h - the roles of a package's programs and tensors --*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// What the compiler writes into a package's program roles and tensor names,
// and the runtime reads back, in one place: written by `str()`, read by
// `parse()` and the `is...` predicates. Plain C++ (the compiler's passes and
// the runtime both include it).
//
//   program roles   "train:<phase>:<once|forward|backward>:<level>"  a segment
//                   of a pipelined training step (SegmentRole)
//                   "prefill:<length>"  a prompt program beside a decode step
//                   "encoder"           an encoder-decoder's encoder
//                   "eval"              a training step's validation program
//   tensor names    "update:<state>"    a result that is the new value of <state>
//                   "x:<n>"             a value between training segments
//                   "pipe.acc:<n>"      a running sum over micro-batches (state)
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_ROLES_H
#define TESSERA_RUNTIME_ROLES_H

#include <cstdint>
#include <climits>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::roles {

inline constexpr std::string_view kUpdatePrefix = "update:";
inline constexpr std::string_view kValuePrefix = "x:";
inline constexpr std::string_view kAccumulatorPrefix = "pipe.acc:";
inline constexpr std::string_view kSegmentPrefix = "train:";
inline constexpr std::string_view kPrefillPrefix = "prefill:";

inline bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

/// A result that is the new value of a state tensor: "update:<state>".
inline std::string updateName(std::string_view state) {
  return std::string(kUpdatePrefix) + std::string(state);
}
inline bool isUpdate(std::string_view name) { return startsWith(name, kUpdatePrefix); }
/// A value between pipelined training segments: "x:<n>".
inline std::string valueName(int64_t n) { return std::string(kValuePrefix) + std::to_string(n); }
inline bool isValue(std::string_view name) { return startsWith(name, kValuePrefix); }
/// A running sum over micro-batches, zeroed before each step: "pipe.acc:<n>".
inline std::string accumulatorName(int64_t n) {
  return std::string(kAccumulatorPrefix) + std::to_string(n);
}
inline bool isAccumulator(std::string_view name) { return startsWith(name, kAccumulatorPrefix); }

/// Parses the decimal number `text` is made of (no sign, no other character).
inline std::optional<int64_t> parseCount(std::string_view text) {
  if (text.empty() || text.size() > 18)
    return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

/// Whether a program's role names a training segment ("train:...").
inline bool isSegment(std::string_view role) { return startsWith(role, kSegmentPrefix); }

/// A segment of a pipelined training step: its phase (the step's program
/// order), its kind (run once per step, or per micro-batch forward or
/// backward) and its level within the phase.
struct SegmentRole {
  enum class Kind { Once, Forward, Backward };
  int phase = 0;
  Kind kind = Kind::Once;
  int level = 0;

  static const char *kindName(Kind k) {
    return k == Kind::Forward ? "forward" : k == Kind::Backward ? "backward" : "once";
  }
  std::string str() const {
    return std::string(kSegmentPrefix) + std::to_string(phase) + ":" + kindName(kind) + ":" +
           std::to_string(level);
  }
  /// "train:<phase>:<once|forward|backward>:<level>", or nullopt.
  static std::optional<SegmentRole> parse(std::string_view role) {
    if (!startsWith(role, kSegmentPrefix))
      return std::nullopt;
    role.remove_prefix(kSegmentPrefix.size());
    size_t a = role.find(':'), b = a == role.npos ? a : role.find(':', a + 1);
    if (b == role.npos)
      return std::nullopt;
    std::optional<int64_t> phase = parseCount(role.substr(0, a));
    std::optional<int64_t> level = parseCount(role.substr(b + 1));
    std::string_view kind = role.substr(a + 1, b - a - 1);
    if (!phase || !level || *phase > INT32_MAX || *level > INT32_MAX)
      return std::nullopt;
    SegmentRole r;
    r.phase = int(*phase);
    r.level = int(*level);
    if (kind == "forward")
      r.kind = Kind::Forward;
    else if (kind == "backward")
      r.kind = Kind::Backward;
    else if (kind != "once")
      return std::nullopt;
    return r;
  }
};

/// An encoder-decoder's encoder program beside its decode step (run once per
/// generation on the prompt).
inline constexpr std::string_view kEncoderRole = "encoder";

/// A training package's validation program beside its training step: the
/// step's forward pass and loss alone (no gradients, no optimizer, no
/// dropout), reading the step's weights in place.
inline constexpr std::string_view kEvalRole = "eval";

/// A prompt program of `length` positions beside a decode step.
struct PrefillRole {
  int64_t length = 0;

  std::string str() const { return std::string(kPrefillPrefix) + std::to_string(length); }
  /// "prefill:<length>", or nullopt.
  static std::optional<PrefillRole> parse(std::string_view role) {
    if (!startsWith(role, kPrefillPrefix))
      return std::nullopt;
    std::optional<int64_t> length = parseCount(role.substr(kPrefillPrefix.size()));
    if (!length)
      return std::nullopt;
    return PrefillRole{*length};
  }
};

} // namespace tessera::roles

#endif // TESSERA_RUNTIME_ROLES_H
