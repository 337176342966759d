#include "controller/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ipsecd::controller {
namespace {

using namespace std::chrono_literals;

// Spins (briefly, in real time) until the fake clock has `n` parked waiters.
void wait_for_waiters(const FakeClock& clock, size_t n) {
  while (clock.waiters() != n) {
    std::this_thread::sleep_for(100us);
  }
}

TEST(FakeClock, StandsStillUntilAdvanced) {
  FakeClock clock;
  MonoTime t0 = clock.now();
  WallTime w0 = clock.wall_now();
  EXPECT_EQ(clock.now(), t0);
  clock.advance(250ms);
  EXPECT_EQ(clock.now() - t0, 250ms);
  EXPECT_EQ(clock.wall_now() - w0, 250ms);
}

TEST(FakeClock, WallStepLeavesMonotonicAlone) {
  FakeClock clock;
  MonoTime t0 = clock.now();
  clock.set_wall(WallTime{} + std::chrono::seconds(42));
  EXPECT_EQ(clock.wall_now(), WallTime{} + std::chrono::seconds(42));
  EXPECT_EQ(clock.now(), t0);
}

TEST(FakeClock, WaitUntilPastDeadlineReturnsAtOnce) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  clock.wait_until(cv, lock, clock.now());
  EXPECT_TRUE(lock.owns_lock());
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(FakeClock, AdvanceWakesOnlyAtTheDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<bool> woke{false};
  MonoTime deadline = clock.now() + 100ms;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    while (clock.now() < deadline) {
      clock.wait_until(cv, lock, deadline);
    }
    woke = true;
  });
  wait_for_waiters(clock, 1);
  clock.advance(99ms);
  // Not due: the waiter stays parked.
  EXPECT_EQ(clock.waiters(), 1u);
  EXPECT_FALSE(woke);
  clock.advance(1ms);
  waiter.join();
  EXPECT_TRUE(woke);
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(FakeClock, NotifyStillWakesAWaiter) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  std::thread waiter([&] {
    std::unique_lock lock(mu);
    while (!flag) {
      clock.wait_until(cv, lock, clock.now() + 1h);
    }
  });
  wait_for_waiters(clock, 1);
  {
    std::lock_guard guard(mu);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(FakeClock, ManyWaitersManyAdvances) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  MonoTime start = clock.now();
  std::vector<std::thread> threads;
  for (int i = 1; i <= 8; ++i) {
    threads.emplace_back([&, i] {
      MonoTime deadline = start + std::chrono::milliseconds(i * 10);
      std::unique_lock lock(mu);
      while (clock.now() < deadline) {
        clock.wait_until(cv, lock, deadline);
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    clock.advance(1ms);
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(clock.waiters(), 0u);
}

TEST(RealClock, WaitUntilReturnsAfterTheDeadline) {
  Clock& clock = real_clock();
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock lock(mu);
  MonoTime deadline = clock.now() + 2ms;
  while (clock.now() < deadline) {
    clock.wait_until(cv, lock, deadline);
  }
  EXPECT_GE(clock.now(), deadline);
  EXPECT_GT(clock.wall_now().time_since_epoch().count(), 0);
}

}  // namespace
}  // namespace ipsecd::controller
