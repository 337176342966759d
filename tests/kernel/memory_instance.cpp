// The conformance suite against the memory kernel, with and without ESP support.
#include <atomic>

#include "kernel/memory/memory_backend.h"
#include "tests/kernel/conformance.h"

namespace ipsecd::kernel::testing {
namespace {

class MemoryEnv final : public KernelEnv {
 public:
  explicit MemoryEnv(KernelFeatures features)
      : clock_(std::make_shared<std::atomic<uint64_t>>(1700000000)),
        kernel_(std::make_shared<MemoryKernel>([c = clock_] { return c->load(); }, features)),
        features_(features) {}

  std::string skip_reason() const override { return {}; }
  std::unique_ptr<Backend> open(const Ownership& own) override {
    return std::make_unique<MemoryBackend>(kernel_, own);
  }
  SendOutcome send_udp(const Address& src, const Address& dst, uint16_t dport) override {
    auto r = kernel_->send(Packet{Direction::kOut, src, dst, 17, 40000, dport, 100, 0});
    bool blocked = r.verdict == Verdict::kDropped || r.verdict == Verdict::kRejected ||
                   (r.verdict == Verdict::kHeld && r.kind == PolicyKind::kHold);
    return blocked ? SendOutcome::kBlocked : SendOutcome::kSent;
  }
  void advance(uint64_t seconds) override { *clock_ += seconds; }
  void plant_foreign(const Selector& sel, const Address& sa_src, const Address& sa_dst) override {
    Ownership other{1, 1000, 1000};
    MemoryBackend foreign(kernel_, other);
    PolicySpec p;
    p.id = PolicyId{sel, Direction::kOut, {}};
    p.kind = PolicyKind::kDrop;
    ASSERT_TRUE(foreign.add_policy(p).ok());
    ASSERT_TRUE(foreign.allocate_spi(sa_src, sa_dst, 7).ok());
  }
  bool has_esp() const override { return features_.esp; }

 private:
  std::shared_ptr<std::atomic<uint64_t>> clock_;
  std::shared_ptr<MemoryKernel> kernel_;
  KernelFeatures features_;
};

KernelFeatures like_this_kernel() {
  KernelFeatures f;
  f.esp = false;
  f.gcm = false;
  f.chacha = false;
  return f;
}

INSTANTIATE_TEST_SUITE_P(
    Memory, Conformance,
    ::testing::Values(EnvFactory{"memory",
                                 [] { return std::make_unique<MemoryEnv>(KernelFeatures{}); }},
                      EnvFactory{"memory_without_esp",
                                 [] { return std::make_unique<MemoryEnv>(like_this_kernel()); }}),
    env_name);

}  // namespace
}  // namespace ipsecd::kernel::testing
