// A small strict JSON parser (RFC 8259, as serde_json accepts it) into a tree, plus helpers
// that decode objects into fields with serde-style error messages ("missing field `x`",
// "unknown field `x`, expected ...", "invalid type: ..., expected ...", "... at line L column C"),
// so configuration errors read like the Rust filters'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace json {

enum class Type { Null, Bool, Number, String, Array, Object };

// Where a token ends, as serde_json reports positions (1-based line, column of the last byte).
struct Pos {
  uint32_t line = 1;
  uint32_t column = 0;
};

struct Member;

struct Value {
  Type type = Type::Null;
  bool boolean = false;
  // Number: its source text (a copy); `integer` when it has no fraction or exponent.
  std::string number;
  bool integer = false;
  // String: decoded bytes; `valid` is false for invalid UTF-8 or a lone surrogate escape
  // (acceptable only where the value is ignored, as in serde_json).
  std::string str;
  bool valid = true;
  std::vector<Value> items;
  std::vector<Member> members;
  Pos start;  // before the value's first byte (serde_json reports arrays/objects there)
  Pos end;

  // serde's description of this value in an "invalid type" error: `string "x"`, `integer `5``,
  // `floating point `1.5``, `boolean `true``, `null`, `map`, `sequence`.
  std::string unexpected() const;
};

struct Member {
  std::string key;
  bool key_valid = true;
  Pos key_end;
  Value value;
};

// Parses a whole document (trailing whitespace only). On failure returns false and sets
// `error` to a serde_json-style message including the position.
bool parse(std::string_view text, Value& out, std::string& error);

// Appends " at line L column C".
std::string at(const std::string& message, Pos pos);

// serde's `invalid type: <unexpected>, expected <expected>` at the value's position.
std::string invalidType(const Value& v, std::string_view expected);

// Decoders with serde's messages; each returns false and sets `error` on a mismatch.
bool asString(const Value& v, std::string& out, std::string& error);
bool asF64(const Value& v, double& out, std::string& error);
bool asU32(const Value& v, uint32_t& out, std::string& error);
bool asStringList(const Value& v, std::vector<std::string>& out, std::string& error);

// Walks the members of an object as serde derives do for a struct with named fields:
// `field(index_of_name, value, error)` is called for each known field in document order;
// an unknown key is an error when `deny_unknown` (else skipped), a repeated known key is a
// "duplicate field" error, and a required field that is absent is a "missing field" error
// at the end of the object. `expecting` is the struct's name for type errors ("struct Config").
template <typename F>
bool decodeStruct(const Value& v, std::string_view expecting, const std::vector<const char*>& fields,
                  const std::vector<bool>& required, bool deny_unknown, F field, std::string& error);

// ---- implementation of the template ----

std::string unknownField(std::string_view key, const std::vector<const char*>& fields);

template <typename F>
bool decodeStruct(const Value& v, std::string_view expecting, const std::vector<const char*>& fields,
                  const std::vector<bool>& required, bool deny_unknown, F field,
                  std::string& error) {
  if (v.type != Type::Object) {
    error = invalidType(v, expecting);
    return false;
  }
  std::vector<bool> seen(fields.size(), false);
  for (const Member& m : v.members) {
    size_t i = 0;
    while (i < fields.size() && m.key != fields[i]) i++;
    if (i == fields.size()) {
      if (deny_unknown) {
        error = at(unknownField(m.key, fields), m.key_end);
        return false;
      }
      continue;
    }
    if (seen[i]) {
      error = at(std::string("duplicate field `") + fields[i] + "`", m.key_end);
      return false;
    }
    seen[i] = true;
    std::string e;
    if (!field(i, m.value, e)) {
      error = e;
      return false;
    }
  }
  for (size_t i = 0; i < fields.size(); i++) {
    if (required[i] && !seen[i]) {
      error = at(std::string("missing field `") + fields[i] + "`", v.end);
      return false;
    }
  }
  return true;
}

}  // namespace json
