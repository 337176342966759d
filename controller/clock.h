#pragma once
// Time for the controller, injected: a monotonic clock for delays and backoff,
// a wall clock for timestamps shown to operators (lastTransitionTime). Tests
// use FakeClock and move time by hand, so backoff is tested without sleeping.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace ipsecd::controller {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wall_now() const = 0;
  // Blocks, with `lock` released, until `cv` is notified or this clock reaches
  // `deadline`. Like std::condition_variable, it may return early: callers
  // re-check their condition.
  virtual void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                          MonoTime deadline) = 0;
};

// steady_clock and system_clock.
class RealClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  MonoTime deadline) override {
    cv.wait_until(lock, deadline);
  }
};

// The process-wide real clock.
Clock& real_clock();

// Time stands still until advance(); advance() wakes every wait_until whose
// deadline it reaches. Both clocks move together.
class FakeClock final : public Clock {
 public:
  // Starts one hour past the steady epoch (so now() - 5 min is still a valid
  // time point) and at 2026-01-01T00:00:00Z on the wall.
  FakeClock();
  ~FakeClock() override;
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  MonoTime now() const override;
  WallTime wall_now() const override;
  void wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                  MonoTime deadline) override;

  void advance(Duration by);
  // Moves only the wall clock (a settimeofday or NTP step): monotonic time is unaffected.
  void set_wall(WallTime to);
  // How many threads are blocked in wait_until right now (lets tests wait
  // until a worker is parked before moving time).
  size_t waiters() const;

 private:
  struct Waiter {
    std::condition_variable* cv;
    std::mutex* mutex;
    MonoTime deadline;
  };
  mutable std::mutex mu_;
  std::condition_variable released_;  // signalled when advance() drops its waiter references
  MonoTime mono_;
  WallTime wall_;
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace ipsecd::controller
