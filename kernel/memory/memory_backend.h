// An in-process kernel with XFRM's semantics: for tests, demos and benchmarks.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kernel/backend.h"

namespace ipsecd::kernel {

// Seconds on the kernel's clock; injected so tests drive lifetimes without sleeping.
using SecondsClock = std::function<uint64_t()>;

// What the simulated kernel was built with; defaults to everything.
struct KernelFeatures {
  bool esp = true;  // CONFIG_INET_ESP / CONFIG_INET6_ESP
  bool gcm = true;  // CONFIG_CRYPTO_GCM
  bool chacha = true;
  uint64_t acquire_expires = 30;  // seconds a larval SA holds back further ACQUIREs
};

// A packet offered to the simulated stack: outbound (dir out) or decrypted inbound (in/fwd).
struct Packet {
  Direction dir = Direction::kOut;
  Address src;
  Address dst;
  uint8_t proto = 17;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint32_t bytes = 100;
  uint32_t mark = 0;
};

enum class Verdict : uint8_t {
  kClear,      // no policy or a pass shunt: sent without IPsec
  kProtected,  // an SA carried it
  kAcquire,    // no SA: dropped and an ACQUIRE raised
  kHeld,       // no SA, negotiation already under way (or a hold shunt): dropped quietly
  kDropped,    // drop shunt, or an inbound packet no SA accounts for
  kRejected,   // reject shunt: the sender sees an error
};

struct PacketResult {
  Verdict verdict = Verdict::kClear;
  std::optional<SaId> sa;
  std::optional<PolicyId> policy;
  std::optional<PolicyKind> kind;  // of the matching policy
};

// The shared state: one per simulated machine. Several MemoryBackend handles (a daemon and its
// restarted successor, or a foreign daemon) can use the same kernel.
class MemoryKernel {
 public:
  explicit MemoryKernel(SecondsClock clock = {}, KernelFeatures features = {});
  ~MemoryKernel();
  MemoryKernel(const MemoryKernel&) = delete;
  MemoryKernel& operator=(const MemoryKernel&) = delete;

  // Simulated traffic: policy lookup, SA accounting, ACQUIRE and lifetime events.
  PacketResult send(const Packet& packet);
  // Runs time-based expiry for the current clock; every call does this too.
  void tick();

  // Fault injection: the nth kernel operation from now (1 = the next) fails with `err`.
  void fail_nth_call(uint64_t nth, int err);
  // Every call sleeps this long first, as a slow kernel would.
  void set_latency(std::chrono::microseconds latency);

  size_t sa_count() const;
  size_t policy_count() const;

  struct Impl;  // the tables; defined in the .cpp

 private:
  friend class MemoryBackend;
  std::unique_ptr<Impl> impl_;
};

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(std::shared_ptr<MemoryKernel> kernel, Ownership ownership = {});

  Result<uint32_t> allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                uint32_t min = 0x100, uint32_t max = 0xffffffff) override;
  Status add_sa(const SaSpec& spec) override;
  Status update_sa(const SaSpec& spec) override;
  Status delete_sa(const SaId& id) override;
  Result<SaState> get_sa(const SaId& id) override;
  Result<std::vector<SaState>> list_sas() override;

  Status add_policy(const PolicySpec& spec) override;
  Status update_policy(const PolicySpec& spec) override;
  Status delete_policy(const PolicyId& id) override;
  Result<PolicyState> get_policy(const PolicyId& id) override;
  Result<std::vector<PolicyState>> list_policies() override;

  std::vector<Status> apply(const Batch& batch) override;

  int event_fd() const override;
  std::vector<Event> read_events(std::chrono::milliseconds timeout) override;

  const Ownership& ownership() const override { return own_; }
  MemoryKernel& kernel() { return *kernel_; }

 private:
  std::shared_ptr<MemoryKernel> kernel_;
  Ownership own_;
};

}  // namespace ipsecd::kernel
