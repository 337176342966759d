#include "controller/work_queue.h"

#include <algorithm>
#include <cmath>

namespace ipsecd::controller {

WorkQueue::WorkQueue(Clock& clock, WorkQueueOptions options)
    : clock_(clock),
      options_(options),
      tokens_(static_cast<double>(std::max(options.burst, 1))),
      tokens_at_(clock.now()) {}

void WorkQueue::add(const std::string& key) {
  std::lock_guard guard(mu_);
  add_locked(key);
}

void WorkQueue::add_locked(const std::string& key) {
  if (shutting_down_ || dirty_.contains(key)) {
    return;
  }
  dirty_.insert(key);
  if (processing_.contains(key)) {
    return;
  }
  queue_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add_after(const std::string& key, Duration delay) {
  std::lock_guard guard(mu_);
  if (delay <= Duration::zero()) {
    add_locked(key);
    return;
  }
  add_after_locked(key, clock_.now() + delay);
}

void WorkQueue::add_after_locked(const std::string& key, MonoTime ready_at) {
  if (shutting_down_) {
    return;
  }
  auto it = waiting_.find(key);
  if (it != waiting_.end()) {
    if (it->second <= ready_at) {
      return;
    }
    // Earlier wins: take the key out of its later slot.
    auto [first, last] = waiting_by_time_.equal_range(it->second);
    for (auto slot = first; slot != last; ++slot) {
      if (slot->second == key) {
        waiting_by_time_.erase(slot);
        break;
      }
    }
    it->second = ready_at;
  } else {
    waiting_.emplace(key, ready_at);
  }
  waiting_by_time_.emplace(ready_at, key);
  // A get() parked on a later deadline (or none) must recompute its wait.
  cv_.notify_all();
}

Duration WorkQueue::bucket_delay_locked(MonoTime now) {
  if (options_.qps <= 0) {
    return Duration::zero();
  }
  double burst = static_cast<double>(std::max(options_.burst, 1));
  double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
  tokens_ = std::min(burst, tokens_ + elapsed * options_.qps);
  tokens_at_ = now;
  // A reservation: the token is taken now, and the debt says how long to wait.
  tokens_ -= 1;
  if (tokens_ >= 0) {
    return Duration::zero();
  }
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(-tokens_ / options_.qps));
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::lock_guard guard(mu_);
  MonoTime now = clock_.now();
  uint32_t& failures = failures_[key];
  // 2^failures overflows nothing: past 62 doublings the cap applies anyway.
  Duration backoff = options_.max_delay;
  if (failures < 62) {
    double factor = std::ldexp(1.0, static_cast<int>(failures));
    double ns = static_cast<double>(options_.base_delay.count()) * factor;
    if (ns < static_cast<double>(options_.max_delay.count())) {
      backoff = Duration(static_cast<Duration::rep>(ns));
    }
  }
  ++failures;
  Duration delay = std::max(backoff, bucket_delay_locked(now));
  if (delay <= Duration::zero()) {
    add_locked(key);
    return;
  }
  add_after_locked(key, now + delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard guard(mu_);
  failures_.erase(key);
}

uint32_t WorkQueue::num_requeues(const std::string& key) const {
  std::lock_guard guard(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promote_ready_locked(MonoTime now) {
  while (!waiting_by_time_.empty() && waiting_by_time_.begin()->first <= now) {
    std::string key = std::move(waiting_by_time_.begin()->second);
    waiting_by_time_.erase(waiting_by_time_.begin());
    waiting_.erase(key);
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::pop_locked() {
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mu_);
  while (true) {
    if (!shutting_down_) {
      promote_ready_locked(clock_.now());
    }
    if (!queue_.empty()) {
      return pop_locked();
    }
    if (shutting_down_) {
      return std::nullopt;
    }
    if (waiting_by_time_.empty()) {
      cv_.wait(lock);
    } else {
      clock_.wait_until(cv_, lock, waiting_by_time_.begin()->first);
    }
  }
}

std::optional<std::string> WorkQueue::try_get() {
  std::lock_guard guard(mu_);
  if (!shutting_down_) {
    promote_ready_locked(clock_.now());
  }
  if (queue_.empty()) {
    return std::nullopt;
  }
  return pop_locked();
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard guard(mu_);
  if (processing_.erase(key) == 0) {
    return;
  }
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::shut_down() {
  std::lock_guard guard(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_by_time_.clear();
  cv_.notify_all();
}

bool WorkQueue::shutting_down() const {
  std::lock_guard guard(mu_);
  return shutting_down_;
}

size_t WorkQueue::depth() {
  std::lock_guard guard(mu_);
  if (!shutting_down_) {
    promote_ready_locked(clock_.now());
  }
  return queue_.size();
}

size_t WorkQueue::waiting() {
  std::lock_guard guard(mu_);
  if (!shutting_down_) {
    promote_ready_locked(clock_.now());
  }
  return waiting_.size();
}

size_t WorkQueue::in_flight() const {
  std::lock_guard guard(mu_);
  return processing_.size();
}

bool WorkQueue::idle() {
  std::lock_guard guard(mu_);
  return queue_.empty() && waiting_.empty() && processing_.empty();
}

}  // namespace ipsecd::controller
