#include "controller/conditions.h"

#include <algorithm>

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
