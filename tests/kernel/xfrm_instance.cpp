// The conformance suite against Linux XFRM, each test in a namespace of its own.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "kernel/xfrm/xfrm_backend.h"
#include "tests/kernel/conformance.h"
#include "tests/kernel/netns.h"

namespace ipsecd::kernel::testing {
namespace {

class XfrmEnv final : public KernelEnv {
 public:
  XfrmEnv() : why_(enter_fresh_netns()) {
    if (why_.empty()) {
      // Probe ESP once: a null-cipher SA is accepted exactly when the kernel has ESP.
      esp_ = ip("xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x4242 enc "
                "cipher_null \"\"") == 0;
      ip("xfrm state flush");
    }
  }
  std::string skip_reason() const override { return why_; }
  std::unique_ptr<Backend> open(const Ownership& own) override {
    auto b = XfrmBackend::open(own);
    if (!b.ok()) {
      ADD_FAILURE() << b.error().message;
      return nullptr;
    }
    return std::move(b).value();
  }
  SendOutcome send_udp(const Address& src, const Address& dst, uint16_t dport) override {
    int err = send_udp_datagram(src, dst, dport);
    EXPECT_TRUE(err == 0 || err == EPERM) << "sendto: " << std::strerror(err);
    return err == EPERM ? SendOutcome::kBlocked : SendOutcome::kSent;
  }
  void advance(uint64_t seconds) override {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
  }
  void plant_foreign(const Selector& sel, const Address& sa_src, const Address& sa_dst) override {
    ASSERT_EQ(ip("xfrm policy add src " + sel.src.str() + " dst " + sel.dst.str() +
                 " dir out action block priority 100"),
              0);
    ASSERT_EQ(ip("xfrm state allocspi src " + sa_src.str() + " dst " + sa_dst.str() +
                 " proto esp reqid 7 mode tunnel >/dev/null"),
              0);
  }
  bool has_esp() const override { return esp_; }

 private:
  std::string why_;
  bool esp_ = false;
};

INSTANTIATE_TEST_SUITE_P(Xfrm, Conformance,
                         ::testing::Values(EnvFactory{"xfrm",
                                                      [] { return std::make_unique<XfrmEnv>(); }}),
                         env_name);

}  // namespace
}  // namespace ipsecd::kernel::testing
