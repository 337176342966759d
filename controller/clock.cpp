#include "controller/clock.h"

#include <algorithm>

namespace ipsecd::controller {

Clock& real_clock() {
  static RealClock clock;
  return clock;
}

FakeClock::FakeClock()
    : mono_(MonoTime{} + std::chrono::hours(1)),
      // 2026-01-01T00:00:00Z
      wall_(WallTime{} + std::chrono::seconds(1767225600)) {}

FakeClock::~FakeClock() = default;

MonoTime FakeClock::now() const {
  std::lock_guard guard(mu_);
  return mono_;
}

WallTime FakeClock::wall_now() const {
  std::lock_guard guard(mu_);
  return wall_;
}

size_t FakeClock::waiters() const {
  std::lock_guard guard(mu_);
  return waiters_.size();
}

void FakeClock::set_wall(WallTime to) {
  std::lock_guard guard(mu_);
  wall_ = to;
}

void FakeClock::wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                           MonoTime deadline) {
  auto waiter = std::make_shared<Waiter>(Waiter{&cv, lock.mutex(), deadline});
  {
    // Checking the time and registering in one step: an advance() either
    // came before (we see its time) or sees us and notifies us.
    std::lock_guard guard(mu_);
    if (mono_ >= deadline) {
      return;
    }
    waiters_.push_back(waiter);
  }
  cv.wait(lock);
  // advance() may be blocked on the caller's mutex to notify us: release it
  // while waiting for advance() to let go of our cv and mutex.
  lock.unlock();
  {
    std::unique_lock guard(mu_);
    std::erase(waiters_, waiter);
    released_.wait(guard, [&] { return waiter.use_count() == 1; });
  }
  lock.lock();
}

void FakeClock::advance(Duration by) {
  std::vector<std::shared_ptr<Waiter>> due;
  {
    std::lock_guard guard(mu_);
    mono_ += by;
    wall_ += std::chrono::duration_cast<WallTime::duration>(by);
    for (const auto& w : waiters_) {
      if (w->deadline <= mono_) {
        due.push_back(w);
      }
    }
  }
  for (const auto& w : due) {
    // Notifying under the waiter's mutex: it is either inside cv.wait or
    // has not yet checked the time, so the wake-up cannot be lost.
    std::lock_guard waiter_lock(*w->mutex);
    w->cv->notify_all();
  }
  {
    std::lock_guard guard(mu_);
    due.clear();
  }
  released_.notify_all();
}

}  // namespace ipsecd::controller
