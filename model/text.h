#pragma once
// Text helpers for configuration syntax, used across model/ and by the folders
// that read the same files or show what they hold (controller/, cli/).
// Configuration syntax is ASCII; the C locale's tolower is neither needed nor fast.

#include <chrono>
#include <string>
#include <string_view>

namespace ipsecd::model::text {

inline char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = to_lower(c);
  }
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (to_lower(a[i]) != to_lower(b[i])) {
      return false;
    }
  }
  return true;
}

// Blanks inside a value: space and tab, as libreswan's parsers skip them.
inline constexpr std::string_view kBlanks = " \t";
// Blanks around a line of a file: also CR (files written on Windows), FF and VT.
inline constexpr std::string_view kLineBlanks = " \t\r\f\v";

// S without the leading and trailing characters found in BLANKS.
inline std::string_view trim(std::string_view s, std::string_view blanks = kBlanks) {
  const size_t b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) {
    return {};
  }
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

// 0-15 for a hex digit (either case), -1 for anything else.
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// TEXT as a JSON string literal, quotes included; bytes that are not UTF-8
// become U+FFFD, so the output is always valid JSON whatever a file held.
std::string json_quote(std::string_view text);

// "2026-11-27T10:00:00Z": RFC 3339, UTC, whole seconds rounded down (as Kubernetes
// prints).
std::string format_rfc3339(std::chrono::system_clock::time_point time);

}  // namespace ipsecd::model::text
