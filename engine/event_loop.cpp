#include "engine/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ipsecd::engine {

EventLoop::TimerId EventLoop::schedule_at(Clock::SteadyTime when, Callback cb) {
  uint64_t id = next_id_++;
  heap_.push(Entry{when, id});
  callbacks_.emplace(id, std::move(cb));
  return id;
}

void EventLoop::cancel(TimerId id) {
  callbacks_.erase(id);
}

void EventLoop::post(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(cb));
  }
  wake();
}

bool EventLoop::run_ready() {
  bool ran = false;
  std::vector<Callback> batch;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& cb : batch) {
    cb();
    ran = true;
  }
  const auto now = clock_.now();
  while (!heap_.empty() && heap_.top().when <= now) {
    Entry e = heap_.top();
    heap_.pop();
    auto it = callbacks_.find(e.id);
    if (it == callbacks_.end()) {
      continue;  // cancelled
    }
    Callback cb = std::move(it->second);
    callbacks_.erase(it);
    cb();
    ran = true;
  }
  return ran;
}

Clock::SteadyTime EventLoop::next_deadline() {
  // Drops cancelled entries from the top so the deadline is a live one.
  while (!heap_.empty() && !callbacks_.contains(heap_.top().id)) {
    heap_.pop();
  }
  return heap_.empty() ? Clock::SteadyTime::max() : heap_.top().when;
}

// ---- EpollLoop

EpollLoop::EpollLoop(const Clock& clock) : EventLoop(clock) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    // Without epoll or eventfd no loop can run: an environment break, not bad input.
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

EpollLoop::~EpollLoop() {
  close(wake_fd_);
  close(epoll_fd_);
}

std::string EpollLoop::watch(int fd, Callback on_readable) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return std::string("cannot watch descriptor ") + std::to_string(fd) + ": " +
           std::strerror(errno);
  }
  watched_[fd] = std::move(on_readable);
  return {};
}

void EpollLoop::unwatch(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  watched_.erase(fd);
}

void EpollLoop::wake() {
  uint64_t one = 1;
  // A full counter already means "wake up"; nothing to do on EAGAIN.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EpollLoop::run_once(Clock::Duration max_wait) {
  auto deadline = next_deadline();
  auto now = clock().now();
  Clock::Duration wait = max_wait;
  if (deadline != Clock::SteadyTime::max()) {
    wait = std::min(wait, deadline > now ? deadline - now : Clock::Duration::zero());
  }
  // Round up so a timer is never polled for just before it is due.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  epoll_event events[64];
  int n = epoll_wait(epoll_fd_, events, 64, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == wake_fd_) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof count);
      continue;
    }
    auto it = watched_.find(fd);
    if (it != watched_.end()) {
      // A copy: the callback may unwatch its own descriptor.
      Callback cb = it->second;
      cb();
    }
  }
  run_ready();
}

void EpollLoop::run() {
  stopped_ = false;
  while (!stopped_) {
    run_once(std::chrono::seconds(1));
  }
}

void EpollLoop::stop() {
  stopped_ = true;
  wake();
}

// ---- SimulatedLoop

std::string SimulatedLoop::watch(int fd, Callback) {
  return "the simulated loop cannot watch descriptor " + std::to_string(fd) +
         "; use MemoryNetwork instead of sockets";
}

void SimulatedLoop::run_until_idle() {
  while (run_ready()) {
  }
}

void SimulatedLoop::advance(Clock::Duration d) {
  const auto target = now() + d;
  run_until_idle();
  for (auto next = next_deadline(); next <= target; next = next_deadline()) {
    manual_.set(next);
    run_until_idle();
  }
  manual_.set(target);
  run_until_idle();
}

bool SimulatedLoop::run_until(const std::function<bool()>& done, Clock::Duration limit) {
  const auto target = now() + limit;
  run_until_idle();
  while (!done()) {
    auto next = next_deadline();
    if (next > target) {
      manual_.set(target);
      run_until_idle();
      return done();
    }
    manual_.set(next);
    run_until_idle();
  }
  return true;
}

}  // namespace ipsecd::engine
