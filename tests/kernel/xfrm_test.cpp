// XFRM only: a daemon killed with SIGKILL, then its successor sweeping the kernel.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "kernel/xfrm/xfrm_backend.h"
#include "tests/kernel/netns.h"

namespace ipsecd::kernel::testing {
namespace {

Prefix P(const char* s) {
  return Prefix::literal(s);
}
Address A(const char* s) {
  return Address::literal(s);
}

PolicySpec trap_for(const char* dst, uint32_t reqid) {
  PolicySpec p;
  p.id = PolicyId{Selector{P("192.0.2.0/24"), P(dst)}, Direction::kOut, {}};
  p.kind = PolicyKind::kTrap;
  p.templates.push_back(
      Template{A("192.0.2.1"), A("203.0.113.5"), kProtoEsp, Mode::kTunnel, reqid});
  return p;
}

TEST(XfrmRestart, AfterKillMinusNineOwnObjectsAreAdoptedOrRemovedAndForeignOnesSpared) {
  if (auto why = enter_fresh_netns(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  auto state_dir =
      std::filesystem::temp_directory_path() / ("ipsecd-kernel-state-" + std::to_string(getpid()));
  std::filesystem::create_directories(state_dir);

  // Planted first: another IKE daemon's policy and SPI reservation, and a hand-made bypass.
  ASSERT_EQ(ip("xfrm policy add src 192.0.2.0/24 dst 198.51.100.0/24 dir out priority 1000 "
               "tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel"),
            0);
  ASSERT_EQ(ip("xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 proto udp dport 53 dir out "
               "priority 10"),
            0);
  ASSERT_EQ(ip("xfrm state allocspi src 198.51.100.1 dst 192.0.2.1 proto esp reqid 1 "
               "mode tunnel >/dev/null"),
            0);

  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The first daemon: installs its objects, then is killed without any cleanup.
    auto own = Ownership::load_or_create(state_dir.string());
    auto b = own.ok() ? XfrmBackend::open(*own) : own.error();
    bool ok = b.ok();
    if (ok) {
      Batch batch;
      batch.add_policy(trap_for("203.0.113.0/25", 0x1a500001));
      batch.add_policy(trap_for("203.0.113.128/25", 0x1a500002));
      PolicySpec pass;
      pass.id = PolicyId{Selector{P("192.0.2.1/32"), P("203.0.113.200/32")}, Direction::kOut, {}};
      pass.kind = PolicyKind::kPass;
      batch.add_policy(pass);
      for (const auto& r : (*b)->apply(batch)) {
        ok = ok && r.ok();
      }
      ok = ok && (*b)->allocate_spi(A("203.0.113.5"), A("192.0.2.1"), 0x1a500001).ok();
    }
    char c = ok ? 'y' : 'n';
    [[maybe_unused]] auto n = write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(c, 'y') << "the first daemon could not install its objects";

  auto own = Ownership::load_or_create(state_dir.string());
  ASSERT_TRUE(own.ok()) << own.error().message;
  auto b = XfrmBackend::open(*own);
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto keep = trap_for("203.0.113.0/25", 0x1a500001);
  auto report = (*b)->sweep([&](const PolicyState& p) { return p.id == keep.id; },
                            [](const SaState&) { return false; });
  for (const auto& f : report.failures) {
    ADD_FAILURE() << f.message;
  }
  EXPECT_EQ(report.adopted_policies, 1u);
  EXPECT_EQ(report.removed_policies, 2u);
  EXPECT_EQ(report.removed_sas, 1u);
  EXPECT_EQ(report.foreign, 3u);

  auto policies = (*b)->list_policies();
  ASSERT_TRUE(policies.ok());
  size_t foreign = 0;
  for (const auto& p : *policies) {
    if (p.own) {
      EXPECT_EQ(p.id, keep.id);
    } else {
      ++foreign;
    }
  }
  EXPECT_EQ(foreign, 2u);
  EXPECT_EQ(policies->size(), 3u);
  auto sas = (*b)->list_sas();
  ASSERT_TRUE(sas.ok());
  ASSERT_EQ(sas->size(), 1u);
  EXPECT_EQ((*sas)[0].reqid, 1u);
  std::filesystem::remove_all(state_dir);
}

TEST(XfrmErrors, KernelExplanationsReachTheOperator) {
  if (auto why = enter_fresh_netns(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  auto b = XfrmBackend::open();
  ASSERT_TRUE(b.ok());
  SaSpec s;
  s.id = SaId{A("203.0.113.5"), 0x1234, kProtoEsp};
  s.src = A("192.0.2.1");
  s.reqid = 0x1a500001;
  s.cipher = Cipher::kAesGcm16_128;
  s.enc_key = SecretBytes(std::vector<uint8_t>(20, 9));
  auto r = (*b)->add_sa(s);
  if (r.ok()) {
    GTEST_SKIP() << "this kernel has ESP with AES-GCM; nothing to explain";
  }
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  // Either the algorithm or ESP itself is missing; both are named, never a bare errno.
  bool named = r.error().message.find("CONFIG_CRYPTO_GCM") != std::string::npos ||
               r.error().message.find("CONFIG_INET_ESP") != std::string::npos;
  EXPECT_TRUE(named) << r.error().message;
  std::cout << "operator sees: " << r.error().message << "\n";
}

}  // namespace
}  // namespace ipsecd::kernel::testing
