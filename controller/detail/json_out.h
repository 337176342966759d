#pragma once
// The small pieces the controller's to_json() functions are written with:
// one place for how a field, a list, a time and a boolean are spelled.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/clock.h"
#include "controller/conditions.h"

namespace ipsecd::controller::detail {

// RFC 3339 in quotes, or null.
inline std::string time_json(const std::optional<WallTime>& t) {
  return t ? json_quote(format_rfc3339(*t)) : "null";
}

inline std::string strings_json(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& s : items) {
    out += (out.size() > 1 ? "," : "") + json_quote(s);
  }
  return out + "]";
}

// A JSON array of to_json(item) for each item (found by argument-dependent lookup).
template <class T>
std::string array_json(const std::vector<T>& items) {
  std::string out = "[";
  for (const T& item : items) {
    out += (out.size() > 1 ? "," : "") + to_json(item);
  }
  return out + "]";
}

// ,"key":value (no comma before the first field of an object).
inline std::string field(std::string_view key, const std::string& json_value, bool first = false) {
  return (first ? "" : ",") + json_quote(key) + ":" + json_value;
}

inline std::string boolean(bool b) {
  return b ? "true" : "false";
}

}  // namespace ipsecd::controller::detail
