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
