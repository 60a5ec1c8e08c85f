// What the Rust filters get from filters/common: configuration loading with the same log
// messages (`<filter>: missing configuration`, `<filter>: bad configuration: <why>`, at warn).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "json.h"
#include "proxy_wasm_intrinsics.h"

namespace filterbench {

// Reads the plugin configuration (`configuration_size` bytes, as onConfigure gets it) and
// parses it as JSON into `doc`. An absent or empty configuration logs
// `<filter>: missing configuration`, malformed JSON `<filter>: bad configuration: <error>`;
// both return false.
bool loadConfigJson(std::string_view filter, size_t configuration_size, json::Value& doc);

// Logs `<filter>: bad configuration: <why>` and returns false.
bool badConfig(std::string_view filter, std::string_view why);

// Rust's u8::is_ascii_whitespace: space, \t, \n, \x0C, \r (not \x0B).
inline bool isAsciiWhitespace(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0C' || c == '\r';
}
inline std::string_view trimAsciiStart(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && isAsciiWhitespace(static_cast<unsigned char>(s[i]))) i++;
  return s.substr(i);
}
inline std::string_view trimAsciiEnd(std::string_view s) {
  size_t n = s.size();
  while (n > 0 && isAsciiWhitespace(static_cast<unsigned char>(s[n - 1]))) n--;
  return s.substr(0, n);
}
inline std::string_view trimAscii(std::string_view s) { return trimAsciiEnd(trimAsciiStart(s)); }

inline char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline void makeAsciiLowercase(std::string& s) {
  for (char& c : s) c = asciiLower(c);
}
inline bool eqIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  return true;
}

}  // namespace filterbench
