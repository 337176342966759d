#include "controller/conditions.h"

#include <gtest/gtest.h>

namespace ipsecd::controller {
namespace {

using namespace std::chrono_literals;

Condition ready(ConditionStatus status, std::string reason, std::string message = "",
                uint64_t generation = 1) {
  return {std::string(kConditionReady), status, std::move(reason),
          std::move(message),           {},     generation};
}

TEST(Conditions, NewConditionTakesNowAsTransitionTime) {
  FakeClock clock;
  Conditions conditions;
  EXPECT_TRUE(
      conditions.set_condition(ready(ConditionStatus::kFalse, "Connecting"), clock.wall_now()));
  const Condition* c = conditions.find(kConditionReady);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, ConditionStatus::kFalse);
  EXPECT_EQ(c->reason, "Connecting");
  EXPECT_EQ(c->last_transition_time, clock.wall_now());
  EXPECT_EQ(conditions.find(kConditionLoaded), nullptr);
}

TEST(Conditions, TransitionTimeMovesOnlyWhenStatusChanges) {
  FakeClock clock;
  Conditions conditions;
  WallTime t0 = clock.wall_now();
  conditions.set_condition(ready(ConditionStatus::kFalse, "Connecting", "sending IKE_SA_INIT"), t0);
  clock.advance(10s);
  // Same status, new reason and message: they change, the time does not.
  EXPECT_TRUE(conditions.set_condition(
      ready(ConditionStatus::kFalse, "PeerNotResponding", "no answer from 192.0.2.2"),
      clock.wall_now()));
  const Condition* c = conditions.find(kConditionReady);
  EXPECT_EQ(c->reason, "PeerNotResponding");
  EXPECT_EQ(c->message, "no answer from 192.0.2.2");
  EXPECT_EQ(c->last_transition_time, t0);
  clock.advance(5s);
  EXPECT_TRUE(
      conditions.set_condition(ready(ConditionStatus::kTrue, "Established"), clock.wall_now()));
  EXPECT_EQ(conditions.find(kConditionReady)->last_transition_time, t0 + 15s);
}

TEST(Conditions, IdenticalUpdateIsNoChange) {
  FakeClock clock;
  Conditions conditions;
  conditions.set_condition(ready(ConditionStatus::kTrue, "Established", "up", 4), clock.wall_now());
  clock.advance(1h);
  EXPECT_FALSE(conditions.set_condition(ready(ConditionStatus::kTrue, "Established", "up", 4),
                                        clock.wall_now()));
  // A new generation observed is a change an operator can see.
  EXPECT_TRUE(conditions.set_condition(ready(ConditionStatus::kTrue, "Established", "up", 5),
                                       clock.wall_now()));
  EXPECT_EQ(conditions.find(kConditionReady)->observed_generation, 5u);
  EXPECT_EQ(conditions.find(kConditionReady)->last_transition_time, clock.wall_now() - 1h);
}

TEST(Conditions, CallersTransitionTimeIsIgnored) {
  FakeClock clock;
  Conditions conditions;
  Condition c = ready(ConditionStatus::kTrue, "Established");
  c.last_transition_time = WallTime{} + 5s;
  conditions.set_condition(c, clock.wall_now());
  EXPECT_EQ(conditions.find(kConditionReady)->last_transition_time, clock.wall_now());
}

TEST(Conditions, OnePerTypeInOrderFirstSet) {
  FakeClock clock;
  Conditions conditions;
  for (std::string_view type :
       {kConditionLoaded, kConditionRouted, kConditionEstablished, kConditionLoaded}) {
    conditions.set_condition({std::string(type), ConditionStatus::kTrue, "Yes", "", {}, 1},
                             clock.wall_now());
  }
  ASSERT_EQ(conditions.all().size(), 3u);
  EXPECT_EQ(conditions.all()[0].type, "Loaded");
  EXPECT_EQ(conditions.all()[2].type, "Established");
  EXPECT_TRUE(conditions.is_true(kConditionRouted));
  EXPECT_FALSE(conditions.is_true(kConditionReady));
  EXPECT_TRUE(conditions.remove(kConditionRouted));
  EXPECT_FALSE(conditions.remove(kConditionRouted));
  EXPECT_EQ(conditions.all().size(), 2u);
}

TEST(Conditions, StatusNames) {
  EXPECT_EQ(status_name(ConditionStatus::kTrue), "True");
  EXPECT_EQ(status_name(ConditionStatus::kFalse), "False");
  EXPECT_EQ(status_name(ConditionStatus::kUnknown), "Unknown");
}

TEST(Rfc3339, UtcWholeSeconds) {
  EXPECT_EQ(format_rfc3339(WallTime{}), "1970-01-01T00:00:00Z");
  // 2026-11-27T10:05:09Z, plus a fraction that is cut off.
  WallTime t = WallTime{} + std::chrono::seconds(1795773909) + 999ms;
  EXPECT_EQ(format_rfc3339(t), "2026-11-27T10:05:09Z");
  EXPECT_EQ(format_rfc3339(WallTime{} - 500ms), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_rfc3339(WallTime{} + std::chrono::seconds(951782400)), "2000-02-29T00:00:00Z");
}

TEST(ConditionJson, HasExactlyTheKubernetesFieldNames) {
  Condition c{"Ready",
              ConditionStatus::kFalse,
              "PeerNotResponding",
              "no answer from 192.0.2.2",
              WallTime{} + std::chrono::seconds(1795773909),
              7};
  EXPECT_EQ(to_json(c),
            "{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"PeerNotResponding\","
            "\"message\":\"no answer from 192.0.2.2\",\"lastTransitionTime\":\"2026-11-27T10:05:"
            "09Z\",\"observedGeneration\":7}");
}

TEST(ConditionJson, ArrayOfConditions) {
  FakeClock clock;
  Conditions conditions;
  EXPECT_EQ(to_json(conditions), "[]");
  conditions.set_condition({"Loaded", ConditionStatus::kTrue, "Loaded", "", {}, 1},
                           clock.wall_now());
  conditions.set_condition({"Ready", ConditionStatus::kUnknown, "Pending", "", {}, 1},
                           clock.wall_now());
  EXPECT_EQ(to_json(conditions),
            "[{\"type\":\"Loaded\",\"status\":\"True\",\"reason\":\"Loaded\",\"message\":\"\","
            "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":1},"
            "{\"type\":\"Ready\",\"status\":\"Unknown\",\"reason\":\"Pending\",\"message\":\"\","
            "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\",\"observedGeneration\":1}]");
}

TEST(JsonQuote, EscapesWhatJsonRequires) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quote("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(json_quote(std::string_view("\0\x1f\x7f", 3)), "\"\\u0000\\u001f\\u007f\"");
}

TEST(JsonQuote, KeepsUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_quote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92\"");
  EXPECT_EQ(json_quote("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(json_quote("\xc3"), "\"\\ufffd\"");                                   // truncated
  EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");                        // overlong
  EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");             // surrogate
  EXPECT_EQ(json_quote("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
}

}  // namespace
}  // namespace ipsecd::controller
