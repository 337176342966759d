#include "cli/detail/json_text.h"

#include <algorithm>
#include <cstdio>

namespace ipsecd::cli::detail {

model::Result<web::json::value> parse_answer(const std::string& body, std::string_view what) {
  try {
    return web::json::value::parse(body);
  } catch (const std::exception& e) {
    return model::Result<web::json::value>::failure("the daemon's answer to " + std::string(what) +
                                                    " is not JSON: " + e.what());
  }
}

const web::json::value* member(const web::json::value& v, std::string_view key) {
  if (!v.is_object()) {
    return nullptr;
  }
  const web::json::object& obj = v.as_object();
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &it->second;
}

std::string text(const web::json::value& v, std::string_view key, std::string_view fallback) {
  const web::json::value* m = member(v, key);
  if (m == nullptr || !m->is_string()) {
    return std::string(fallback);
  }
  return m->as_string();
}

uint64_t number(const web::json::value& v, std::string_view key) {
  const web::json::value* m = member(v, key);
  if (m == nullptr || !m->is_number()) {
    return 0;
  }
  const web::json::number& n = m->as_number();
  if (n.is_uint64()) {
    return n.to_uint64();
  }
  double d = n.to_double();
  return d > 0 ? static_cast<uint64_t>(d) : 0;
}

bool flag(const web::json::value& v, std::string_view key) {
  const web::json::value* m = member(v, key);
  return m != nullptr && m->is_boolean() && m->as_bool();
}

std::vector<web::json::value> items(const web::json::value& v, std::string_view key) {
  const web::json::value* m = member(v, key);
  if (m == nullptr || !m->is_array()) {
    return {};
  }
  const web::json::array& a = m->as_array();
  return {a.begin(), a.end()};
}

std::string joined(const web::json::value& v, std::string_view key, std::string_view sep) {
  std::string out;
  for (const web::json::value& e : items(v, key)) {
    if (!e.is_string()) {
      continue;
    }
    if (!out.empty()) {
      out += sep;
    }
    out += e.as_string();
  }
  return out;
}

std::optional<std::time_t> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    if (pos + n > s.size()) {
      return std::nullopt;
    }
    int value = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') {
        return std::nullopt;
      }
      value = value * 10 + (s[i] - '0');
    }
    return value;
  };
  auto year = digits(0, 4);
  auto month = digits(5, 2);
  auto day = digits(8, 2);
  auto hour = digits(11, 2);
  auto minute = digits(14, 2);
  auto second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
      *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ++pos;
    }
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
    offset = 0;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    auto oh = digits(pos + 1, 2);
    auto om = digits(pos + 4, 2);
    if (!oh || !om) {
      return std::nullopt;
    }
    offset = (s[pos] == '-' ? -1 : 1) * (*oh * 3600L + *om * 60L);
  } else {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return ::timegm(&tm) - offset;
}

std::string display_time(std::string_view rfc3339, bool utc) {
  if (rfc3339.empty()) {
    return "-";
  }
  std::optional<std::time_t> t = parse_rfc3339(rfc3339);
  if (!t) {
    return std::string(rfc3339);
  }
  std::tm tm{};
  if (utc) {
    ::gmtime_r(&*t, &tm);
  } else {
    ::localtime_r(&*t, &tm);
  }
  char buf[64];
  size_t n =
      std::strftime(buf, sizeof buf, utc ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M:%S %Z", &tm);
  return n == 0 ? std::string(rfc3339) : std::string(buf, n);
}

std::string time_member(const web::json::value& v, std::string_view key, bool utc) {
  return display_time(text(v, key), utc);
}

std::string table(const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line += std::string(widths[i] - row[i].size() + 2, ' ');
      }
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace ipsecd::cli::detail
