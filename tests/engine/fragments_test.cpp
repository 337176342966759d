// RFC 7383 reassembly (engine/wire/fragments.h): orders, duplicates, a peer that
// fragments again, message IDs, and every limit.
#include "engine/wire/fragments.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ipsecd::engine::wire {
namespace {

using Status = Reassembler::Status;
using Clock = Reassembler::Clock;

EncryptedFragmentPayload skf(uint16_t number, uint16_t total) {
  EncryptedFragmentPayload f;
  f.number = number;
  f.total = total;
  f.first_inner = number == 1 ? PayloadType::kIdi : PayloadType::kNone;
  return f;
}

std::vector<uint8_t> bytes(const std::string& s) {
  return {s.begin(), s.end()};
}

const Clock::time_point t0{};

TEST(Reassembler, AnyOrderMakesTheWholeContent) {
  for (const std::vector<uint16_t>& order :
       std::vector<std::vector<uint16_t>>{{1, 2, 3}, {3, 1, 2}, {2, 3, 1}}) {
    Reassembler r;
    Reassembler::Outcome last;
    for (uint16_t n : order) {
      ASSERT_NE(last.status, Status::kComplete);
      last = r.add(7, skf(n, 3), bytes("<" + std::to_string(n) + ">"), t0);
    }
    ASSERT_EQ(last.status, Status::kComplete) << last.reason;
    EXPECT_EQ(last.first, PayloadType::kIdi);
    EXPECT_EQ(last.bytes, bytes("<1><2><3>"));
    EXPECT_TRUE(r.idle());
  }
}

TEST(Reassembler, DuplicatesAndStaleFragmentsAreIgnored) {
  Reassembler r;
  EXPECT_EQ(r.add(5, skf(1, 2), bytes("a"), t0).status, Status::kIncomplete);
  Reassembler::Outcome dup = r.add(5, skf(1, 2), bytes("X"), t0);
  EXPECT_EQ(dup.status, Status::kIgnored);
  EXPECT_EQ(dup.reason, "SKF fragment 1 again");
  EXPECT_EQ(r.add(4, skf(2, 2), bytes("old"), t0).status, Status::kIgnored);
  Reassembler::Outcome done = r.add(5, skf(2, 2), bytes("b"), t0);
  ASSERT_EQ(done.status, Status::kComplete);
  EXPECT_EQ(done.bytes, bytes("ab"));  // the first copy of fragment 1 kept
}

TEST(Reassembler, ANewerMessageOrALargerTotalStartsAgain) {
  Reassembler r;
  EXPECT_EQ(r.add(5, skf(1, 2), bytes("a"), t0).status, Status::kIncomplete);
  EXPECT_EQ(r.add(6, skf(2, 2), bytes("B"), t0).status, Status::kIncomplete);
  EXPECT_EQ(r.add(6, skf(1, 2), bytes("A"), t0).bytes, bytes("AB"));

  // RFC 7383 2.6.2: the peer fragments again, smaller, for a smaller MTU.
  EXPECT_EQ(r.add(9, skf(1, 2), bytes("big"), t0).status, Status::kIncomplete);
  EXPECT_EQ(r.add(9, skf(1, 3), bytes("s1"), t0).status, Status::kIncomplete);
  EXPECT_EQ(r.add(9, skf(2, 2), bytes("big2"), t0).status, Status::kIgnored);  // the old Total
  EXPECT_EQ(r.add(9, skf(2, 3), bytes("s2"), t0).status, Status::kIncomplete);
  EXPECT_EQ(r.add(9, skf(3, 3), bytes("s3"), t0).bytes, bytes("s1s2s3"));
}

TEST(Reassembler, APartialMessageTimesOut) {
  Reassembler r(Reassembler::Limits{64, 1024, std::chrono::seconds(30)});
  EXPECT_EQ(r.add(3, skf(2, 2), bytes("late"), t0).status, Status::kIncomplete);
  // Thirty-one seconds on, fragment 1 finds nothing to complete.
  EXPECT_EQ(r.add(3, skf(1, 2), bytes("x"), t0 + std::chrono::seconds(31)).status,
            Status::kIncomplete);
  EXPECT_EQ(r.held_bytes(), 1u);
}

TEST(Reassembler, RefusalsSayWhyAndDropThePartialMessage) {
  Reassembler r(Reassembler::Limits{4, 10, std::chrono::seconds(30)});
  struct Case {
    uint16_t number, total;
    PayloadType first;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {0, 2, PayloadType::kNone,
            "SKF fragment 0 of 2: numbers run from 1 to Total Fragments "
            "(RFC 7383 2.5)"},
           {3, 2, PayloadType::kNone,
            "SKF fragment 3 of 2: numbers run from 1 to Total Fragments "
            "(RFC 7383 2.5)"},
           {1, 5, PayloadType::kIdi, "SKF Total Fragments 5 is above the limit of 4"},
           {1, 2, PayloadType::kNone, "SKF fragment 1 names no first inner payload"},
           {2, 2, PayloadType::kAuth,
            "SKF fragment 2 names a first inner payload; only "
            "fragment 1 may"},
       }) {
    ASSERT_EQ(r.add(1, skf(1, 2), bytes("k"), t0).status, Status::kIncomplete);
    EncryptedFragmentPayload f;
    f.number = c.number;
    f.total = c.total;
    f.first_inner = c.first;
    Reassembler::Outcome o = r.add(1, f, bytes("x"), t0);
    EXPECT_EQ(o.status, Status::kRefused);
    EXPECT_EQ(o.reason, c.reason);
    EXPECT_TRUE(r.idle());
  }
  EXPECT_EQ(r.add(2, skf(1, 3), bytes("123456"), t0).status, Status::kIncomplete);
  Reassembler::Outcome big = r.add(2, skf(2, 3), bytes("78901"), t0);
  EXPECT_EQ(big.status, Status::kRefused);
  EXPECT_EQ(big.reason, "the SKF fragments of message 2 exceed the reassembly limit of 10 bytes");
  EXPECT_TRUE(r.idle());
  EXPECT_EQ(r.held_bytes(), 0u);
}

}  // namespace
}  // namespace ipsecd::engine::wire
