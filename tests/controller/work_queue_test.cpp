#include "controller/work_queue.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace ipsecd::controller {
namespace {

using namespace std::chrono_literals;

WorkQueueOptions no_bucket() {
  WorkQueueOptions options;
  options.qps = 0;
  return options;
}

void wait_for_waiters(const FakeClock& clock, size_t n) {
  while (clock.waiters() != n) {
    std::this_thread::sleep_for(100us);
  }
}

TEST(WorkQueue, KeyQueuedTwiceIsHandedOutOnce) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add("b");
  q.add("a");
  EXPECT_EQ(q.depth(), 2u);
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.try_get(), "b");
  EXPECT_EQ(q.try_get(), std::nullopt);
  EXPECT_EQ(q.in_flight(), 2u);
}

TEST(WorkQueue, KeyInFlightIsNotHandedOutAgainUntilDone) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  ASSERT_EQ(q.try_get(), "a");
  q.add("a");
  q.add("a");
  // Dirty but held by a worker: not handed to a second one.
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.try_get(), std::nullopt);
  q.done("a");
  EXPECT_EQ(q.depth(), 1u);
  EXPECT_EQ(q.try_get(), "a");
  q.done("a");
  // Not dirtied the second time: done() does not queue it.
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_TRUE(q.idle());
}

TEST(WorkQueue, DoneOfAnUnknownKeyChangesNothing) {
  FakeClock clock;
  WorkQueue q(clock);
  q.done("never-handed-out");
  EXPECT_TRUE(q.idle());
}

TEST(WorkQueue, HandsOutInArrivalOrder) {
  FakeClock clock;
  WorkQueue q(clock);
  for (const char* k : {"c", "a", "b"}) {
    q.add(k);
  }
  EXPECT_EQ(q.try_get(), "c");
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.try_get(), "b");
}

TEST(WorkQueue, AddAfterWaitsForTheClock) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("a", 100ms);
  EXPECT_EQ(q.depth(), 0u);
  EXPECT_EQ(q.waiting(), 1u);
  clock.advance(99ms);
  EXPECT_EQ(q.try_get(), std::nullopt);
  clock.advance(1ms);
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.waiting(), 0u);
}

TEST(WorkQueue, AddAfterZeroIsAdd) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("a", 0ms);
  q.add_after("b", -5ms);
  EXPECT_EQ(q.depth(), 2u);
}

TEST(WorkQueue, EarlierAddAfterWinsLaterOneDoesNotPostpone) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("a", 100ms);
  q.add_after("a", 10ms);
  q.add_after("a", 500ms);
  EXPECT_EQ(q.waiting(), 1u);
  clock.advance(10ms);
  EXPECT_EQ(q.try_get(), "a");
  q.done("a");
  clock.advance(1s);
  // The 100 ms and 500 ms requests were folded into the 10 ms one.
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(WorkQueue, DelayedKeyAlreadyQueuedIsHandedOutOnce) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add_after("a", 5ms);
  clock.advance(5ms);
  EXPECT_EQ(q.depth(), 1u);
  EXPECT_EQ(q.try_get(), "a");
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(WorkQueue, BlockedGetWakesWhenTheDelayPasses) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("a", 1s);
  std::optional<std::string> got;
  std::thread worker([&] { got = q.get(); });
  wait_for_waiters(clock, 1);
  clock.advance(999ms);
  EXPECT_EQ(clock.waiters(), 1u);
  clock.advance(1ms);
  worker.join();
  EXPECT_EQ(got, "a");
}

TEST(WorkQueue, BlockedGetSeesAnEarlierDelayAddedWhileParked) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("late", 1h);
  std::optional<std::string> got;
  std::thread worker([&] { got = q.get(); });
  wait_for_waiters(clock, 1);
  q.add_after("soon", 10ms);
  clock.advance(10ms);
  worker.join();
  EXPECT_EQ(got, "soon");
}

TEST(WorkQueue, BlockedGetWakesOnAdd) {
  WorkQueue q;
  std::optional<std::string> got;
  std::thread worker([&] { got = q.get(); });
  std::this_thread::sleep_for(1ms);
  q.add("a");
  worker.join();
  EXPECT_EQ(got, "a");
}

TEST(WorkQueue, BackoffDoublesFromFiveMilliseconds) {
  FakeClock clock;
  WorkQueue q(clock, no_bucket());
  Duration expected = 5ms;
  for (int attempt = 0; attempt < 6; ++attempt) {
    q.add_rate_limited("a");
    EXPECT_EQ(q.num_requeues("a"), static_cast<uint32_t>(attempt + 1));
    clock.advance(expected - 1ns);
    ASSERT_EQ(q.try_get(), std::nullopt) << "attempt " << attempt;
    clock.advance(1ns);
    ASSERT_EQ(q.try_get(), "a") << "attempt " << attempt;
    q.done("a");
    expected *= 2;
  }
}

TEST(WorkQueue, BackoffIsCappedAtFiveMinutes) {
  FakeClock clock;
  WorkQueue q(clock, no_bucket());
  for (int i = 0; i < 100; ++i) {
    q.add_rate_limited("a");
    clock.advance(5min);
    ASSERT_EQ(q.try_get(), "a");
    q.done("a");
  }
  q.add_rate_limited("a");
  clock.advance(5min - 1ms);
  EXPECT_EQ(q.try_get(), std::nullopt);
  clock.advance(1ms);
  EXPECT_EQ(q.try_get(), "a");
}

TEST(WorkQueue, ForgetRestartsTheBackoff) {
  FakeClock clock;
  WorkQueue q(clock, no_bucket());
  for (int i = 0; i < 5; ++i) {
    q.add_rate_limited("a");
    clock.advance(1s);
    ASSERT_EQ(q.try_get(), "a");
    q.done("a");
  }
  q.forget("a");
  EXPECT_EQ(q.num_requeues("a"), 0u);
  q.add_rate_limited("a");
  clock.advance(5ms);
  EXPECT_EQ(q.try_get(), "a");
}

TEST(WorkQueue, BackoffIsPerKey) {
  FakeClock clock;
  WorkQueue q(clock, no_bucket());
  for (int i = 0; i < 4; ++i) {
    q.add_rate_limited("slow");
    clock.advance(1s);
    ASSERT_EQ(q.try_get(), "slow");
    q.done("slow");
  }
  q.add_rate_limited("slow");   // 80 ms
  q.add_rate_limited("fresh");  // 5 ms
  clock.advance(5ms);
  EXPECT_EQ(q.try_get(), "fresh");
  EXPECT_EQ(q.try_get(), std::nullopt);
}

TEST(WorkQueue, CustomBackoffSettings) {
  FakeClock clock;
  WorkQueueOptions options = no_bucket();
  options.base_delay = 1s;
  options.max_delay = 3s;
  WorkQueue q(clock, options);
  for (Duration d : {Duration(1s), Duration(2s), Duration(3s), Duration(3s)}) {
    q.add_rate_limited("a");
    clock.advance(d - 1ms);
    ASSERT_EQ(q.try_get(), std::nullopt);
    clock.advance(1ms);
    ASSERT_EQ(q.try_get(), "a");
    q.done("a");
  }
}

TEST(WorkQueue, TokenBucketAllowsABurstThenTenPerSecond) {
  FakeClock clock;
  WorkQueue q(clock);  // 10 qps, burst 100
  for (int i = 0; i < 103; ++i) {
    q.add_rate_limited("k" + std::to_string(i));
  }
  // The burst only pays each key's own 5 ms backoff.
  clock.advance(5ms);
  EXPECT_EQ(q.depth(), 100u);
  clock.advance(95ms - 1ns);
  EXPECT_EQ(q.depth(), 100u);
  clock.advance(1ns);  // t = 100 ms: the 101st token
  EXPECT_EQ(q.depth(), 101u);
  clock.advance(100ms);
  EXPECT_EQ(q.depth(), 102u);
  clock.advance(100ms);
  EXPECT_EQ(q.depth(), 103u);
}

TEST(WorkQueue, TokenBucketRefillsUpToTheBurst) {
  FakeClock clock;
  WorkQueueOptions options;
  options.qps = 2;
  options.burst = 3;
  WorkQueue q(clock, options);
  for (int i = 0; i < 3; ++i) {
    q.add_rate_limited("a" + std::to_string(i));
  }
  // Idle long enough to refill far past the burst: still only 3 free tokens.
  clock.advance(1h);
  for (int i = 0; i < 4; ++i) {
    q.add_rate_limited("b" + std::to_string(i));
  }
  clock.advance(5ms);
  EXPECT_EQ(q.depth(), 3u + 3u);
  clock.advance(495ms);  // 500 ms at 2 qps: the 4th token
  EXPECT_EQ(q.depth(), 7u);
}

TEST(WorkQueue, ShutDownWakesEveryBlockedGet) {
  WorkQueue q;
  std::atomic<int> ended{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 3; ++i) {
    workers.emplace_back([&] {
      if (!q.get()) {
        ++ended;
      }
    });
  }
  std::this_thread::sleep_for(1ms);
  q.shut_down();
  for (auto& w : workers) {
    w.join();
  }
  EXPECT_EQ(ended, 3);
}

TEST(WorkQueue, ShutDownWakesAGetParkedOnADelay) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add_after("a", 1h);
  std::optional<std::string> got = "unset";
  std::thread worker([&] { got = q.get(); });
  wait_for_waiters(clock, 1);
  q.shut_down();
  worker.join();
  EXPECT_EQ(got, std::nullopt);
}

TEST(WorkQueue, AfterShutDownQueuedKeysDrainAndAddsAreIgnored) {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add_after("later", 1ms);
  q.shut_down();
  EXPECT_TRUE(q.shutting_down());
  q.add("b");
  q.add_rate_limited("c");
  clock.advance(1s);
  EXPECT_EQ(q.get(), "a");
  EXPECT_EQ(q.get(), std::nullopt);
  EXPECT_EQ(q.waiting(), 0u);
}

// Producers bump a key's version, then add it; workers record the version
// they saw when they started. At the end every key must have been processed
// at its last version (no lost wake-up), and never by two workers at once.
struct Hammer {
  static constexpr int kKeys = 40;
  std::array<std::atomic<int>, kKeys> version{};
  std::array<std::atomic<int>, kKeys> seen{};
  std::array<std::atomic<int>, kKeys> holders{};
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};
  std::atomic<int> unknown{0};

  void work(WorkQueue& q, bool fail_some) {
    std::minstd_rand rng(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    while (std::optional<std::string> key = q.get()) {
      int k = std::stoi(key->substr(1));
      if (k < 0 || k >= kKeys || (*key)[0] != 'k') {
        ++unknown;
        q.done(*key);
        continue;
      }
      if (holders[k].fetch_add(1) != 0) {
        ++overlaps;
      }
      int v = version[k].load();
      if (rng() % 4 == 0) {
        std::this_thread::yield();
      }
      holders[k].fetch_sub(1);
      ++processed;
      if (fail_some && rng() % 3 == 0) {
        q.add_rate_limited(*key);
      } else {
        seen[k].store(std::max(seen[k].load(), v));
        q.forget(*key);
      }
      q.done(*key);
    }
  }

  void produce(WorkQueue& q, int seed, int adds) {
    std::minstd_rand rng(seed);
    for (int i = 0; i < adds; ++i) {
      int k = static_cast<int>(rng() % kKeys);
      version[k].fetch_add(1);
      q.add("k" + std::to_string(k));
    }
  }

  void run(WorkQueue& q, bool fail_some) {
    std::vector<std::thread> workers;
    for (int i = 0; i < 4; ++i) {
      workers.emplace_back([&] { work(q, fail_some); });
    }
    std::vector<std::thread> producers;
    for (int i = 0; i < 4; ++i) {
      producers.emplace_back([&, i] { produce(q, i + 1, 20000); });
    }
    for (auto& p : producers) {
      p.join();
    }
    while (!q.idle()) {
      std::this_thread::sleep_for(1ms);
    }
    q.shut_down();
    for (auto& w : workers) {
      w.join();
    }
  }
};

TEST(WorkQueue, ManyWorkersNeverShareAKeyAndNeverLoseAnAdd) {
  WorkQueue q;
  auto h = std::make_unique<Hammer>();
  h->run(q, false);
  EXPECT_EQ(h->overlaps, 0);
  EXPECT_EQ(h->unknown, 0);
  EXPECT_GT(h->processed, 0);
  // Deduplication: far fewer hand-outs than adds is allowed, more is not.
  EXPECT_LE(h->processed, 4 * 20000);
  for (int k = 0; k < Hammer::kKeys; ++k) {
    EXPECT_EQ(h->seen[k].load(), h->version[k].load()) << "key k" << k;
  }
}

TEST(WorkQueue, ManyWorkersWithFailuresAndBackoff) {
  WorkQueueOptions options;
  options.base_delay = 20us;
  options.max_delay = 500us;
  options.qps = 0;
  WorkQueue q(real_clock(), options);
  auto h = std::make_unique<Hammer>();
  h->run(q, true);
  EXPECT_EQ(h->overlaps, 0);
  for (int k = 0; k < Hammer::kKeys; ++k) {
    EXPECT_EQ(h->seen[k].load(), h->version[k].load()) << "key k" << k;
  }
}

}  // namespace
}  // namespace ipsecd::controller
