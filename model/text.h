#pragma once
// ASCII case helpers for keywords and algorithm names (internal to model/).
// Configuration syntax is ASCII; the C locale's tolower is neither needed nor fast.

#include <string>
#include <string_view>

namespace ipsecd::model::detail {

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

}  // namespace ipsecd::model::detail
