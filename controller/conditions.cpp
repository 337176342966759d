#include "controller/conditions.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace ipsecd::controller {

std::string_view status_name(ConditionStatus status) {
  switch (status) {
    case ConditionStatus::kTrue:
      return "True";
    case ConditionStatus::kFalse:
      return "False";
    case ConditionStatus::kUnknown:
      return "Unknown";
  }
  return "Unknown";
}

bool Conditions::set_condition(Condition condition, WallTime now) {
  auto it = std::find_if(conditions_.begin(), conditions_.end(),
                         [&](const Condition& c) { return c.type == condition.type; });
  if (it == conditions_.end()) {
    condition.last_transition_time = now;
    conditions_.push_back(std::move(condition));
    return true;
  }
  condition.last_transition_time = it->status != condition.status ? now : it->last_transition_time;
  if (*it == condition) {
    return false;
  }
  *it = std::move(condition);
  return true;
}

bool Conditions::remove(std::string_view type) {
  return std::erase_if(conditions_, [&](const Condition& c) { return c.type == type; }) > 0;
}

const Condition* Conditions::find(std::string_view type) const {
  auto it = std::find_if(conditions_.begin(), conditions_.end(),
                         [&](const Condition& c) { return c.type == type; });
  return it == conditions_.end() ? nullptr : &*it;
}

bool Conditions::is_true(std::string_view type) const {
  const Condition* c = find(type);
  return c != nullptr && c->status == ConditionStatus::kTrue;
}

std::string format_rfc3339(WallTime time) {
  // Whole seconds, rounded down (also before 1970).
  auto seconds = std::chrono::floor<std::chrono::seconds>(time.time_since_epoch()).count();
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) {
    return "1970-01-01T00:00:00Z";  // only for years that do not fit struct tm
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buffer;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
size_t utf8_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len = 0;
  uint32_t min = 0;
  uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    min = 0x80;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    min = 0x800;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    min = 0x10000;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
    return 0;
  }
  return len;
}

}  // namespace

std::string json_quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t len = utf8_length(text, i);
      if (len == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string to_json(const Condition& condition) {
  std::string out = "{\"type\":" + json_quote(condition.type);
  out += ",\"status\":" + json_quote(status_name(condition.status));
  out += ",\"reason\":" + json_quote(condition.reason);
  out += ",\"message\":" + json_quote(condition.message);
  out += ",\"lastTransitionTime\":" + json_quote(format_rfc3339(condition.last_transition_time));
  out += ",\"observedGeneration\":" + std::to_string(condition.observed_generation);
  out += '}';
  return out;
}

std::string to_json(const Conditions& conditions) {
  std::string out = "[";
  for (const Condition& c : conditions.all()) {
    if (out.size() > 1) {
      out += ',';
    }
    out += to_json(c);
  }
  out += ']';
  return out;
}

}  // namespace ipsecd::controller
