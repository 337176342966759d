#pragma once
// Kubernetes-style status conditions (metav1.Condition): what an operator
// reads to know where a connection stands. lastTransitionTime says when the
// status last flipped, not when it was last looked at.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/clock.h"
#include "model/text.h"

namespace ipsecd::controller {

enum class ConditionStatus : uint8_t { kTrue, kFalse, kUnknown };
std::string_view status_name(ConditionStatus status);  // "True", "False", "Unknown"

// The condition types a connection reports.
inline constexpr std::string_view kConditionLoaded = "Loaded";
inline constexpr std::string_view kConditionRouted = "Routed";
inline constexpr std::string_view kConditionEstablished = "Established";
inline constexpr std::string_view kConditionReady = "Ready";

struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;   // CamelCase, machine-readable ("PeerNotResponding")
  std::string message;  // for people
  WallTime last_transition_time{};
  uint64_t observed_generation = 0;  // the Store generation this was computed for

  bool operator==(const Condition&) const = default;
};

// One object's conditions, at most one per type, in the order first set.
class Conditions {
 public:
  // Adds the condition or updates the one of its type. lastTransitionTime
  // becomes `now` when the condition is new or its status changes, and stays
  // otherwise; the condition's own last_transition_time is ignored. Returns
  // whether anything an observer can see changed.
  bool set_condition(Condition condition, WallTime now);
  bool remove(std::string_view type);
  const Condition* find(std::string_view type) const;
  bool is_true(std::string_view type) const;
  const std::vector<Condition>& all() const { return conditions_; }

 private:
  std::vector<Condition> conditions_;
};

// "2026-11-27T10:00:00Z" (model/text.h): the times of conditions and of every answer.
using model::text::format_rfc3339;

// {"type": ..., "status": ..., "reason": ..., "message": ...,
//  "lastTransitionTime": ..., "observedGeneration": N}
std::string to_json(const Condition& condition);
// A JSON array of to_json() objects.
std::string to_json(const Conditions& conditions);

// JSON string literals (model/text.h), as every to_json of the controller writes them.
using model::text::json_quote;

}  // namespace ipsecd::controller
