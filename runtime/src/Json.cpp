//===- Json.cpp - a small JSON reader for the runtime ---------------------===//
//
// Part of Tessera.
//
//===----------------------------------------------------------------------===//

#include "Json.h"

#include <cstdlib>

namespace tessera::rt::json {

const Value &Value::operator[](const std::string &key) const {
  static const Value null;
  if (kind == Kind::Object)
    for (const auto &[k, v] : object)
      if (k == key)
        return v;
  return null;
}

std::string Value::str(const std::string &key, const std::string &fallback) const {
  const Value &v = (*this)[key];
  return v.isString() ? v.string : fallback;
}

bool Value::flag(const std::string &key, bool fallback) const {
  const Value &v = (*this)[key];
  return v.kind == Kind::Bool ? v.boolean : fallback;
}

void appendUtf8(std::string &out, uint32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6));
    out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  } else {
    out += char(0xF0 | (c >> 18));
    out += char(0x80 | ((c >> 12) & 0x3F));
    out += char(0x80 | ((c >> 6) & 0x3F));
    out += char(0x80 | (c & 0x3F));
  }
}

namespace {

class Parser {
public:
  explicit Parser(const std::string &text) : s(text) {}

  bool document(Value &out, std::string &error) {
    if (!value(out, 0) || (skip(), i != s.size())) {
      error = (message.empty() ? "unexpected text" : message) + " at byte " + std::to_string(i);
      return false;
    }
    return true;
  }

private:
  const std::string &s;
  size_t i = 0;
  std::string message;

  bool fail(const char *why) {
    if (message.empty())
      message = why;
    return false;
  }
  void skip() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
      ++i;
  }
  bool literal(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (s.compare(i, n, word) != 0)
      return fail("bad literal");
    i += n;
    return true;
  }
  bool hex4(uint32_t &c) {
    if (i + 4 > s.size())
      return fail("truncated \\u escape");
    c = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s[i++];
      c <<= 4;
      if (h >= '0' && h <= '9')
        c |= uint32_t(h - '0');
      else if (h >= 'a' && h <= 'f')
        c |= uint32_t(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        c |= uint32_t(h - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    return true;
  }
  bool string(std::string &out) {
    ++i; // the opening quote
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        if (static_cast<unsigned char>(c) < 0x20)
          return fail("control character in a string");
        out += c;
        continue;
      }
      if (i >= s.size())
        return fail("truncated escape");
      char e = s[i++];
      switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t c1;
        if (!hex4(c1))
          return false;
        if (c1 >= 0xD800 && c1 < 0xDC00 && i + 1 < s.size() && s[i] == '\\' &&
            s[i + 1] == 'u') {
          i += 2;
          uint32_t c2;
          if (!hex4(c2))
            return false;
          if (c2 >= 0xDC00 && c2 < 0xE000)
            c1 = 0x10000 + ((c1 - 0xD800) << 10) + (c2 - 0xDC00);
          else
            return fail("unpaired surrogate");
        }
        appendUtf8(out, c1);
        break;
      }
      default: return fail("bad escape");
      }
    }
    if (i >= s.size())
      return fail("unterminated string");
    ++i;
    return true;
  }
  bool value(Value &out, int depth) {
    if (depth > 256)
      return fail("nested too deeply");
    skip();
    if (i >= s.size())
      return fail("unexpected end");
    char c = s[i];
    if (c == '{') {
      out.kind = Value::Kind::Object;
      ++i;
      skip();
      if (i < s.size() && s[i] == '}')
        return ++i, true;
      while (true) {
        skip();
        if (i >= s.size() || s[i] != '"')
          return fail("expected a key");
        std::string key;
        if (!string(key))
          return false;
        skip();
        if (i >= s.size() || s[i] != ':')
          return fail("expected ':'");
        ++i;
        out.object.emplace_back(std::move(key), Value());
        if (!value(out.object.back().second, depth + 1))
          return false;
        skip();
        if (i < s.size() && s[i] == ',') {
          ++i;
          continue;
        }
        if (i < s.size() && s[i] == '}')
          return ++i, true;
        return fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      out.kind = Value::Kind::Array;
      ++i;
      skip();
      if (i < s.size() && s[i] == ']')
        return ++i, true;
      while (true) {
        out.array.emplace_back();
        if (!value(out.array.back(), depth + 1))
          return false;
        skip();
        if (i < s.size() && s[i] == ',') {
          ++i;
          continue;
        }
        if (i < s.size() && s[i] == ']')
          return ++i, true;
        return fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      out.kind = Value::Kind::String;
      return string(out.string);
    }
    if (c == 't' || c == 'f') {
      out.kind = Value::Kind::Bool;
      out.boolean = c == 't';
      return literal(c == 't' ? "true" : "false");
    }
    if (c == 'n')
      return literal("null");
    const char *start = s.c_str() + i;
    char *end = nullptr;
    out.number = std::strtod(start, &end);
    if (end == start)
      return fail("unexpected character");
    out.kind = Value::Kind::Number;
    i += size_t(end - start);
    return true;
  }
};

} // namespace

bool parse(const std::string &text, Value &out, std::string &error) {
  out = Value();
  return Parser(text).document(out, error);
}

} // namespace tessera::rt::json
