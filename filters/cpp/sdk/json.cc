// See json.h.
#include "json.h"

#include <cmath>
#include <cstdlib>

namespace json {

namespace {

constexpr int kMaxDepth = 128;  // serde_json's recursion limit

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  bool document(Value& out, std::string& error) {
    if (!value(out, 0)) {
      error = error_;
      return false;
    }
    skipWs();
    if (i_ < s_.size()) {
      advance();
      error = at("trailing characters", pos_);
      return false;
    }
    return true;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  Pos pos_;
  std::string error_;

  bool eof() const { return i_ >= s_.size(); }
  unsigned char peek() const { return static_cast<unsigned char>(s_[i_]); }
  unsigned char advance() {
    unsigned char c = static_cast<unsigned char>(s_[i_++]);
    if (c == '\n') {
      pos_.line++;
      pos_.column = 0;
    } else {
      pos_.column++;
    }
    return c;
  }
  void skipWs() {
    while (!eof() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      advance();
  }
  bool fail(const char* message) {
    error_ = at(message, pos_);
    return false;
  }

  bool ident(const char* rest) {
    for (const char* p = rest; *p; p++) {
      if (eof()) return fail("EOF while parsing a value");
      if (advance() != static_cast<unsigned char>(*p)) return fail("expected ident");
    }
    return true;
  }

  bool value(Value& v, int depth) {
    skipWs();
    if (eof()) return fail("EOF while parsing a value");
    unsigned char c = peek();
    v.start = pos_;
    switch (c) {
      case 'n':
        advance();
        if (!ident("ull")) return false;
        v.type = Type::Null;
        break;
      case 't':
        advance();
        if (!ident("rue")) return false;
        v.type = Type::Bool;
        v.boolean = true;
        break;
      case 'f':
        advance();
        if (!ident("alse")) return false;
        v.type = Type::Bool;
        v.boolean = false;
        break;
      case '"':
        advance();
        v.type = Type::String;
        if (!string(v.str, v.valid)) return false;
        break;
      case '[':
        if (depth >= kMaxDepth) return fail("recursion limit exceeded");
        advance();
        v.type = Type::Array;
        if (!array(v, depth + 1)) return false;
        break;
      case '{':
        if (depth >= kMaxDepth) return fail("recursion limit exceeded");
        advance();
        v.type = Type::Object;
        if (!object(v, depth + 1)) return false;
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) {
          v.type = Type::Number;
          if (!number(v)) return false;
          break;
        }
        advance();
        return fail("expected value");
    }
    v.end = pos_;
    return true;
  }

  bool digit() const { return !eof() && peek() >= '0' && peek() <= '9'; }

  bool number(Value& v) {
    size_t start = i_;
    bool integer = true;
    if (peek() == '-') {
      advance();
      if (eof()) return fail("EOF while parsing a value");
      if (!digit()) {
        advance();
        return fail("invalid number");
      }
    }
    if (peek() == '0') {
      advance();
      if (digit()) {
        advance();
        return fail("invalid number");
      }
    } else {
      while (digit()) advance();
    }
    if (!eof() && peek() == '.') {
      integer = false;
      advance();
      if (eof()) return fail("EOF while parsing a value");
      if (!digit()) {
        advance();
        return fail("invalid number");
      }
      while (digit()) advance();
    }
    if (!eof() && (peek() == 'e' || peek() == 'E')) {
      integer = false;
      advance();
      if (!eof() && (peek() == '+' || peek() == '-')) advance();
      if (eof()) return fail("EOF while parsing a value");
      if (!digit()) {
        advance();
        return fail("invalid number");
      }
      while (digit()) advance();
    }
    v.number.assign(s_.substr(start, i_ - start));
    v.integer = integer;
    return true;
  }

  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool hex4(uint32_t& out) {
    out = 0;
    for (int k = 0; k < 4; k++) {
      if (eof()) return fail("EOF while parsing a string");
      unsigned char c = advance();
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return fail("invalid escape");
      }
      out = out * 16 + d;
    }
    return true;
  }

  // After the opening quote. `valid` turns false on invalid UTF-8 or a lone surrogate.
  bool string(std::string& out, bool& valid) {
    out.clear();
    valid = true;
    for (;;) {
      if (eof()) return fail("EOF while parsing a string");
      unsigned char c = advance();
      if (c == '"') break;
      if (c < 0x20) return fail("control character (\\u0000-\\u001F) found while parsing a string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (eof()) return fail("EOF while parsing a string");
      unsigned char e = advance();
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A lead surrogate needs a trail surrogate escape right after it.
            if (i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
              advance();
              advance();
              uint32_t lo;
              if (!hex4(lo)) return false;
              if (lo >= 0xDC00 && lo <= 0xDFFF) {
                utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
              } else {
                valid = false;
                if (lo < 0xD800 || lo > 0xDFFF) utf8(out, lo);
              }
            } else {
              valid = false;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            valid = false;
          } else {
            utf8(out, cp);
          }
          break;
        }
        default:
          return fail("invalid escape");
      }
    }
    if (valid) valid = validUtf8(out);
    return true;
  }

  static bool validUtf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        i++;
        continue;
      }
      size_t n;
      uint32_t cp;
      if (c >= 0xC2 && c <= 0xDF) {
        n = 1;
        cp = c & 0x1F;
      } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2;
        cp = c & 0x0F;
      } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3;
        cp = c & 0x07;
      } else {
        return false;
      }
      if (i + n >= s.size()) return false;
      for (size_t k = 1; k <= n; k++) {
        unsigned char d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xC0) != 0x80) return false;
        cp = (cp << 6) | (d & 0x3F);
      }
      if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
          (cp >= 0xD800 && cp <= 0xDFFF))
        return false;
      i += n + 1;
    }
    return true;
  }

  bool array(Value& v, int depth) {
    skipWs();
    if (eof()) return fail("EOF while parsing a list");
    if (peek() == ']') {
      advance();
      return true;
    }
    for (;;) {
      v.items.emplace_back();
      if (!value(v.items.back(), depth)) return false;
      skipWs();
      if (eof()) return fail("EOF while parsing a list");
      unsigned char c = advance();
      if (c == ']') return true;
      if (c != ',') return fail("expected `,` or `]`");
      skipWs();
      if (!eof() && peek() == ']') {
        advance();
        return fail("trailing comma");
      }
    }
  }

  bool object(Value& v, int depth) {
    skipWs();
    if (eof()) return fail("EOF while parsing an object");
    if (peek() == '}') {
      advance();
      return true;
    }
    for (bool first = true;; first = false) {
      skipWs();
      if (eof()) return fail(first ? "EOF while parsing an object" : "EOF while parsing a value");
      if (peek() != '"') {
        advance();
        return fail(peek() == '}' ? "trailing comma" : "key must be a string");
      }
      advance();
      v.members.emplace_back();
      Member& m = v.members.back();
      if (!string(m.key, m.key_valid)) return false;
      m.key_end = pos_;
      skipWs();
      if (eof()) return fail("EOF while parsing an object");
      if (advance() != ':') return fail("expected `:`");
      if (!value(m.value, depth)) return false;
      skipWs();
      if (eof()) return fail("EOF while parsing an object");
      unsigned char c = advance();
      if (c == '}') return true;
      if (c != ',') return fail("expected `,` or `}`");
      skipWs();
      if (!eof() && peek() == '}') {
        advance();
        return fail("trailing comma");
      }
    }
  }
};

std::string debugString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          const char* hex = "0123456789abcdef";
          out += "\\u{";
          if (c >= 16) out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
          out += "}";
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

}  // namespace

bool parse(std::string_view text, Value& out, std::string& error) {
  out = Value();
  Parser p(text);
  return p.document(out, error);
}

std::string at(const std::string& message, Pos pos) {
  return message + " at line " + std::to_string(pos.line) + " column " + std::to_string(pos.column);
}

std::string Value::unexpected() const {
  switch (type) {
    case Type::Null: return "null";
    case Type::Bool: return boolean ? "boolean `true`" : "boolean `false`";
    case Type::Number:
      return (integer ? "integer `" : "floating point `") + number + "`";
    case Type::String: return "string " + debugString(str);
    case Type::Array: return "sequence";
    case Type::Object: return "map";
  }
  return "value";
}

std::string invalidType(const Value& v, std::string_view expected) {
  bool container = v.type == Type::Array || v.type == Type::Object;
  return at("invalid type: " + v.unexpected() + ", expected " + std::string(expected),
            container ? v.start : v.end);
}

std::string unknownField(std::string_view key, const std::vector<const char*>& fields) {
  std::string m = "unknown field `" + std::string(key) + "`, ";
  if (fields.empty()) return m + "there are no fields";
  m += "expected ";
  if (fields.size() == 1) return m + "`" + fields[0] + "`";
  if (fields.size() == 2) return m + "`" + fields[0] + "` or `" + fields[1] + "`";
  m += "one of ";
  for (size_t i = 0; i < fields.size(); i++) {
    if (i) m += ", ";
    m += "`" + std::string(fields[i]) + "`";
  }
  return m;
}

bool asString(const Value& v, std::string& out, std::string& error) {
  if (v.type != Type::String) {
    error = invalidType(v, "a string");
    return false;
  }
  if (!v.valid) {
    error = at("invalid unicode code point", v.end);
    return false;
  }
  out = v.str;
  return true;
}

bool asF64(const Value& v, double& out, std::string& error) {
  if (v.type != Type::Number) {
    error = invalidType(v, "f64");
    return false;
  }
  double d = std::strtod(v.number.c_str(), nullptr);
  if (std::isinf(d)) {
    error = at("number out of range", v.end);
    return false;
  }
  out = d;
  return true;
}

bool asU32(const Value& v, uint32_t& out, std::string& error) {
  if (v.type != Type::Number || !v.integer) {
    error = invalidType(v, "u32");
    return false;
  }
  bool negative = v.number[0] == '-';
  std::string_view digits = std::string_view(v.number).substr(negative ? 1 : 0);
  uint64_t n = 0;
  bool overflow = false;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) overflow = true;
    n = n * 10 + d;
  }
  if (negative && n != 0) {
    error = at("invalid value: integer `" + v.number + "`, expected u32", v.end);
    return false;
  }
  if (overflow || n > UINT32_MAX) {
    error = at("invalid value: integer `" + v.number + "`, expected u32", v.end);
    return false;
  }
  out = static_cast<uint32_t>(n);
  return true;
}

bool asStringList(const Value& v, std::vector<std::string>& out, std::string& error) {
  if (v.type != Type::Array) {
    error = invalidType(v, "a sequence");
    return false;
  }
  out.clear();
  for (const Value& item : v.items) {
    std::string s;
    if (!asString(item, s, error)) return false;
    out.push_back(std::move(s));
  }
  return true;
}

}  // namespace json
