#pragma once
// Time for the engine, injected: a real clock for the daemon and a manual one
// that tests move by hand, so retransmits and timeouts run in microseconds.

#include <chrono>

namespace ipsecd::engine {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Clock() = default;
  // Monotonic time for timers and ages.
  virtual SteadyTime now() const = 0;
  // Calendar time for what operators read (established at ...).
  virtual WallTime wall() const = 0;
};

class RealClock final : public Clock {
 public:
  SteadyTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall() const override { return std::chrono::system_clock::now(); }
};

// Starts at a fixed point and moves only when told; wall time moves with it.
class ManualClock final : public Clock {
 public:
  ManualClock();
  SteadyTime now() const override { return now_; }
  WallTime wall() const override { return wall_start_ + (now_ - steady_start_); }
  void advance(Duration d) { now_ += d; }
  // Never moves backwards: a later time only.
  void set(SteadyTime t) {
    if (t > now_) {
      now_ = t;
    }
  }

 private:
  SteadyTime steady_start_;
  WallTime wall_start_;
  SteadyTime now_;
};

}  // namespace ipsecd::engine
