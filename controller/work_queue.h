#pragma once
// The controller's work queue, with client-go's semantics: keys (connection
// names) are deduplicated; a key is never handed to two workers at once; a key
// added while a worker holds it is handed out again after done(); failed keys
// come back after a per-key exponential backoff, under a global token bucket.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "controller/clock.h"

namespace ipsecd::controller {

struct WorkQueueOptions {
  // Per-key backoff for add_rate_limited(): base_delay * 2^(failures), capped.
  Duration base_delay = std::chrono::milliseconds(5);
  Duration max_delay = std::chrono::minutes(5);
  // Global token bucket shared by every add_rate_limited(); qps <= 0 turns it off.
  double qps = 10;
  int burst = 100;
};

class WorkQueue {
 public:
  explicit WorkQueue(Clock& clock = real_clock(), WorkQueueOptions options = {});
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues the key unless it is already queued; a key a worker holds is
  // marked dirty and queued again by done(). Ignored after shut_down().
  void add(const std::string& key);
  // add() once `delay` has passed; a key already waiting keeps the earlier time.
  void add_after(const std::string& key, Duration delay);
  // add_after() with the longer of the key's backoff and the token bucket's
  // wait; each call doubles the key's next backoff.
  void add_rate_limited(const std::string& key);
  // The key succeeded: its backoff starts again from base_delay.
  void forget(const std::string& key);
  // How many add_rate_limited() calls since the last forget().
  uint32_t num_requeues(const std::string& key) const;

  // Blocks until a key is ready and hands it out; the caller owns it until
  // done(key). After shut_down() the keys still queued are handed out, then
  // nullopt (keys waiting for a delay are dropped).
  std::optional<std::string> get();
  // get() without blocking: nullopt when no key is ready now.
  std::optional<std::string> try_get();
  void done(const std::string& key);

  // Wakes every get(); add() is ignored from now on.
  void shut_down();
  bool shutting_down() const;

  size_t depth();            // keys ready to be handed out (due delayed ones included)
  size_t waiting();          // keys still waiting for their delay
  size_t in_flight() const;  // keys handed out and not yet done
  // Nothing queued, waiting or in flight (one consistent look at all three).
  bool idle();

 private:
  void add_locked(const std::string& key);
  void add_after_locked(const std::string& key, MonoTime ready_at);
  // Moves every waiting key whose time has come into the queue.
  void promote_ready_locked(MonoTime now);
  std::optional<std::string> pop_locked();
  Duration bucket_delay_locked(MonoTime now);

  Clock& clock_;
  const WorkQueueOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutting_down_ = false;

  std::deque<std::string> queue_;               // ready, in order
  std::unordered_set<std::string> dirty_;       // needs processing (queued or re-queue on done)
  std::unordered_set<std::string> processing_;  // handed out
  // Delayed keys: by ready time, and each key's ready time.
  std::multimap<MonoTime, std::string> waiting_by_time_;
  std::unordered_map<std::string, MonoTime> waiting_;
  std::unordered_map<std::string, uint32_t> failures_;

  double tokens_;
  MonoTime tokens_at_;
};

}  // namespace ipsecd::controller
