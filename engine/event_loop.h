#pragma once
// The loop that owns all engine state: timers, posted callbacks and (for the
// real loop) readable file descriptors. EpollLoop runs on the daemon's thread;
// SimulatedLoop is driven by a ManualClock so tests are deterministic.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/clock.h"

namespace ipsecd::engine {

class EventLoop {
 public:
  using Callback = std::function<void()>;
  using TimerId = uint64_t;  // 0 is never a timer

  explicit EventLoop(const Clock& clock) : clock_(clock) {}
  virtual ~EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  const Clock& clock() const { return clock_; }
  Clock::SteadyTime now() const { return clock_.now(); }

  // Runs cb on the loop thread once `delay` has passed.
  TimerId schedule(Clock::Duration delay, Callback cb) {
    return schedule_at(clock_.now() + delay, std::move(cb));
  }
  TimerId schedule_at(Clock::SteadyTime when, Callback cb);
  // Cancelling a fired or unknown timer does nothing.
  void cancel(TimerId id);
  std::size_t pending_timers() const { return callbacks_.size(); }

  // Runs cb on the loop thread soon; the one call that is safe from any thread.
  void post(Callback cb);

  // Calls on_readable on the loop thread whenever fd is readable. An empty
  // string on success, else why it failed.
  virtual std::string watch(int fd, Callback on_readable) = 0;
  virtual void unwatch(int fd) = 0;

 protected:
  // Runs posted callbacks, then timers due now; true when anything ran.
  bool run_ready();
  // The earliest live timer, or max() when there is none.
  Clock::SteadyTime next_deadline();
  virtual void wake() {}

 private:
  struct Entry {
    Clock::SteadyTime when;
    uint64_t id;  // also the tie-break: earlier scheduled first
    bool operator>(const Entry& o) const { return when != o.when ? when > o.when : id > o.id; }
  };
  const Clock& clock_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_map<uint64_t, Callback> callbacks_;  // live timers; cancelled ones are absent
  uint64_t next_id_ = 1;
  std::mutex posted_mutex_;
  std::vector<Callback> posted_;
};

// The daemon's loop: epoll over the watched descriptors, an eventfd for post().
class EpollLoop final : public EventLoop {
 public:
  explicit EpollLoop(const Clock& clock);
  ~EpollLoop() override;

  std::string watch(int fd, Callback on_readable) override;
  void unwatch(int fd) override;
  // Runs until stop() is called (from the loop or any thread).
  void run();
  // One pass: waits up to `max_wait` for something to do and does it.
  void run_once(Clock::Duration max_wait);
  void stop();

 protected:
  void wake() override;

 private:
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopped_{false};
  std::unordered_map<int, Callback> watched_;
};

// Deterministic loop for tests: time moves only through ManualClock, to the
// next timer at a time; no descriptors.
class SimulatedLoop final : public EventLoop {
 public:
  explicit SimulatedLoop(ManualClock& clock) : EventLoop(clock), manual_(clock) {}

  std::string watch(int fd, Callback on_readable) override;
  void unwatch(int) override {}

  // Runs everything due now, without moving time.
  void run_until_idle();
  // Moves time forward by `d`, firing timers in order at their deadlines.
  void advance(Clock::Duration d);
  // Moves time from timer to timer until done() is true or `limit` has
  // passed; returns done().
  bool run_until(const std::function<bool()>& done, Clock::Duration limit);

 private:
  ManualClock& manual_;
};

}  // namespace ipsecd::engine
