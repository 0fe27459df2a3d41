//===- Json.h - a small JSON reader for the runtime -------------*- C++ -*-===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//
//
// The runtime links neither LLVM nor a JSON library (cluster nodes get only
// the runtime): this reads the JSON it needs (tokenizer.json) into a tree.
// Strings are UTF-8 (\u escapes and surrogate pairs decoded); numbers are
// doubles; depth and size are bounded against hostile files.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_RUNTIME_JSON_H
#define TESSERA_RUNTIME_JSON_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessera::rt::json {

struct Value {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object; ///< in file order

  bool isNull() const { return kind == Kind::Null; }
  bool isString() const { return kind == Kind::String; }
  bool isArray() const { return kind == Kind::Array; }
  bool isObject() const { return kind == Kind::Object; }
  /// The member `key` of an object, or a shared null value.
  const Value &operator[](const std::string &key) const;
  /// The member's string, or `fallback` when absent or not a string.
  std::string str(const std::string &key, const std::string &fallback = "") const;
  bool flag(const std::string &key, bool fallback) const;
};

/// Appends code point `c` to `out` as UTF-8.
void appendUtf8(std::string &out, uint32_t c);

/// Parses `text`; false with `error` (and the byte offset) on bad JSON.
bool parse(const std::string &text, Value &out, std::string &error);

} // namespace tessera::rt::json

#endif // TESSERA_RUNTIME_JSON_H
