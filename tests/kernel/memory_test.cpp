// What only the memory kernel offers: an injected clock, simulated traffic, fault injection.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "kernel/memory/memory_backend.h"

namespace ipsecd::kernel {
namespace {

Address A(const char* s) {
  return Address::literal(s);
}

constexpr uint32_t kReqid = 0x1a500020;

class MemoryKernelTest : public ::testing::Test {
 protected:
  std::shared_ptr<std::atomic<uint64_t>> clock_ =
      std::make_shared<std::atomic<uint64_t>>(1700000000);
  std::shared_ptr<MemoryKernel> kernel_ =
      std::make_shared<MemoryKernel>([c = clock_] { return c->load(); });
  MemoryBackend backend_{kernel_};

  SaSpec sa(uint32_t spi) {
    SaSpec s;
    s.id = SaId{A("203.0.113.5"), spi, kProtoEsp};
    s.src = A("192.0.2.1");
    s.reqid = kReqid;
    s.cipher = Cipher::kChaCha20Poly1305;
    s.enc_key = SecretBytes(std::vector<uint8_t>(36, 7));
    return s;
  }
  PolicySpec protect() {
    PolicySpec p;
    p.id = PolicyId{Selector{Prefix::literal("192.0.2.0/24"), Prefix::literal("198.51.100.0/24")},
                    Direction::kOut,
                    {}};
    p.kind = PolicyKind::kProtect;
    p.templates.push_back(
        Template{A("192.0.2.1"), A("203.0.113.5"), kProtoEsp, Mode::kTunnel, kReqid});
    return p;
  }
  Packet packet(uint32_t bytes = 100) {
    return Packet{Direction::kOut, A("192.0.2.10"), A("198.51.100.7"), 6, 1234, 80, bytes, 0};
  }
};

TEST_F(MemoryKernelTest, TrafficThroughAnSaCountsBytesPacketsAndLastUse) {
  ASSERT_TRUE(backend_.add_policy(protect()).ok());
  ASSERT_TRUE(backend_.add_sa(sa(0x5000)).ok());
  *clock_ += 5;
  auto r1 = kernel_->send(packet(300));
  auto r2 = kernel_->send(packet(200));
  EXPECT_EQ(r1.verdict, Verdict::kProtected);
  EXPECT_EQ(r2.sa, sa(0x5000).id);
  auto st = backend_.get_sa(sa(0x5000).id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->counters.bytes, 500u);
  EXPECT_EQ(st->counters.packets, 2u);
  EXPECT_EQ(st->counters.add_time, 1700000000u);
  EXPECT_EQ(st->counters.use_time, 1700000005u);
}

TEST_F(MemoryKernelTest, ByteAndPacketLifetimesExpireSoftThenHard) {
  ASSERT_TRUE(backend_.add_policy(protect()).ok());
  auto s = sa(0x5001);
  s.lifetime.soft_packets = 2;
  s.lifetime.hard_bytes = 1000;
  ASSERT_TRUE(backend_.add_sa(s).ok());
  (void)kernel_->send(packet(400));
  EXPECT_TRUE(backend_.read_events(std::chrono::milliseconds(0)).empty());
  (void)kernel_->send(packet(400));
  auto soft = backend_.read_events(std::chrono::milliseconds(0));
  ASSERT_EQ(soft.size(), 1u);
  EXPECT_FALSE(std::get<ExpireEvent>(soft[0]).hard);
  (void)kernel_->send(packet(400));
  auto hard = backend_.read_events(std::chrono::milliseconds(0));
  ASSERT_EQ(hard.size(), 1u);
  EXPECT_TRUE(std::get<ExpireEvent>(hard[0]).hard);
  EXPECT_EQ(backend_.get_sa(s.id).error().code, ErrorCode::kNotFound);
  // The SA is gone, so the next packet asks for a new one.
  EXPECT_EQ(kernel_->send(packet()).verdict, Verdict::kAcquire);
}

TEST_F(MemoryKernelTest, TimeLifetimesFollowTheInjectedClock) {
  auto s = sa(0x5002);
  s.lifetime.soft_seconds = 60;
  s.lifetime.hard_seconds = 90;
  ASSERT_TRUE(backend_.add_sa(s).ok());
  *clock_ += 59;
  EXPECT_TRUE(backend_.read_events(std::chrono::milliseconds(0)).empty());
  *clock_ += 1;
  auto soft = backend_.read_events(std::chrono::milliseconds(0));
  ASSERT_EQ(soft.size(), 1u);
  EXPECT_EQ(std::get<ExpireEvent>(soft[0]).sa, s.id);
  EXPECT_FALSE(std::get<ExpireEvent>(soft[0]).hard);
  *clock_ += 30;
  auto hard = backend_.read_events(std::chrono::milliseconds(0));
  ASSERT_EQ(hard.size(), 1u);
  EXPECT_TRUE(std::get<ExpireEvent>(hard[0]).hard);
  EXPECT_EQ(kernel_->sa_count(), 0u);
}

TEST_F(MemoryKernelTest, UnusedSpiReservationExpiresLikeTheKernelsLarvalSa) {
  auto spi = backend_.allocate_spi(A("203.0.113.5"), A("192.0.2.1"), kReqid);
  ASSERT_TRUE(spi.ok());
  *clock_ += 30;
  auto ev = backend_.read_events(std::chrono::milliseconds(0));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(std::get<ExpireEvent>(ev[0]).hard);
  EXPECT_EQ(std::get<ExpireEvent>(ev[0]).sa.spi, *spi);
}

TEST_F(MemoryKernelTest, AllocatedSpiIsInstalledWithUpdate) {
  auto spi = backend_.allocate_spi(A("203.0.113.5"), A("192.0.2.1"), kReqid);
  ASSERT_TRUE(spi.ok());
  SaSpec in = sa(*spi);
  in.id.dst = A("192.0.2.1");
  in.src = A("203.0.113.5");
  EXPECT_EQ(backend_.add_sa(in).error().code, ErrorCode::kExists);
  ASSERT_TRUE(backend_.update_sa(in).ok());
  auto st = backend_.get_sa(in.id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->cipher, Cipher::kChaCha20Poly1305);
  auto missing = sa(0x9999);
  EXPECT_EQ(backend_.update_sa(missing).error().code, ErrorCode::kNotFound);
}

TEST_F(MemoryKernelTest, FaultInjectionFailsTheNthCallWithTheKernelsMessage) {
  kernel_->fail_nth_call(2, ENOMEM);
  ASSERT_TRUE(backend_.add_policy(protect()).ok());
  auto r = backend_.add_sa(sa(0x5003));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResources);
  EXPECT_EQ(r.error().sys_errno, ENOMEM);
  EXPECT_EQ(r.error().message,
            "adding SA esp spi 0x00005003 to 203.0.113.5: kernel is out of memory or buffer space");
  EXPECT_TRUE(backend_.add_sa(sa(0x5003)).ok());  // only the nth call fails
}

TEST_F(MemoryKernelTest, LatencyDelaysEveryCall) {
  kernel_->set_latency(std::chrono::milliseconds(20));
  auto t0 = std::chrono::steady_clock::now();
  (void)backend_.list_policies();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
}

TEST_F(MemoryKernelTest, MissingAlgorithmIsNamed) {
  KernelFeatures f;
  f.gcm = false;
  MemoryBackend b(std::make_shared<MemoryKernel>(SecondsClock{}, f));
  auto s = sa(0x5004);
  s.cipher = Cipher::kAesGcm16_128;
  s.enc_key = SecretBytes(std::vector<uint8_t>(20, 1));
  auto r = b.add_sa(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(r.error().message.find("CONFIG_CRYPTO_GCM"), std::string::npos) << r.error().message;
}

TEST_F(MemoryKernelTest, MalformedSasAreRefusedWithTheFix) {
  auto s = sa(0x5005);
  s.enc_key = SecretBytes(std::vector<uint8_t>(32, 1));
  auto r = backend_.add_sa(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "SA esp spi 0x00005005 to 203.0.113.5: chacha20poly1305 needs 36 key bytes (key plus "
            "4-byte salt), got 32");
  auto cbc = sa(0x5006);
  cbc.cipher = Cipher::kAesCbc128;
  cbc.enc_key = SecretBytes(std::vector<uint8_t>(16, 1));
  EXPECT_NE(backend_.add_sa(cbc).error().message.find("needs an integrity algorithm"),
            std::string::npos);
  auto esn = sa(0x5007);
  esn.esn = true;
  esn.replay_window = 0;
  EXPECT_NE(backend_.add_sa(esn).error().message.find("ESN needs a replay window"),
            std::string::npos);
}

TEST_F(MemoryKernelTest, SelectorsWithPortsAndMarksMatchOnlyTheirTraffic) {
  PolicySpec p;
  p.id = PolicyId{
      Selector{Prefix::literal("192.0.2.0/24"), Prefix::literal("198.51.100.0/24"), 6, 0, 80},
      Direction::kOut, Mark{0x10, 0xff}};
  p.kind = PolicyKind::kDrop;
  ASSERT_TRUE(backend_.add_policy(p).ok());
  Packet pk = packet();
  EXPECT_EQ(kernel_->send(pk).verdict, Verdict::kClear);  // no mark
  pk.mark = 0x110;
  EXPECT_EQ(kernel_->send(pk).verdict, Verdict::kDropped);
  pk.dport = 443;
  EXPECT_EQ(kernel_->send(pk).verdict, Verdict::kClear);
}

TEST_F(MemoryKernelTest, LookupsStayCorrectAtHundredThousandPolicies) {
  Batch b;
  for (uint32_t i = 0; i < 100000; ++i) {
    uint8_t dst[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                      static_cast<uint8_t>(i)};
    PolicySpec s;
    s.id = PolicyId{Selector{Prefix::literal("192.0.2.1/32"),
                             Prefix::host(Address::from_bytes(Family::kIpv4, dst))},
                    Direction::kOut,
                    {}};
    s.kind = i % 2 == 0 ? PolicyKind::kDrop : PolicyKind::kPass;
    b.add_policy(std::move(s));
  }
  for (const auto& r : backend_.apply(b)) {
    ASSERT_TRUE(r.ok());
  }
  EXPECT_EQ(kernel_->policy_count(), 100000u);
  // 10.1.134.158 is policy 99998 (a drop), .159 is 99999 (a pass), .160 has none.
  Packet pk{Direction::kOut, A("192.0.2.1"), A("10.1.134.158"), 17, 1, 2, 10, 0};
  EXPECT_EQ(kernel_->send(pk).verdict, Verdict::kDropped);
  pk.dst = A("10.1.134.159");
  EXPECT_EQ(kernel_->send(pk).verdict, Verdict::kClear);
  EXPECT_TRUE(kernel_->send(pk).policy.has_value());
  pk.dst = A("10.1.134.160");
  EXPECT_FALSE(kernel_->send(pk).policy.has_value());
}

TEST(OwnershipFile, CreatedOnceThenReadBack) {
  auto dir = std::filesystem::temp_directory_path() / ("ipsecd-own-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto first = Ownership::load_or_create(dir.string());
  ASSERT_TRUE(first.ok()) << first.error().message;
  std::ofstream(dir / "kernel-ownership")
      << "reqid_min=0x100\nreqid_max=0x1ff\npriority_base=5000\n";
  auto second = Ownership::load_or_create(dir.string());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->reqid_min, 0x100u);
  EXPECT_EQ(second->priority_base, 5000u);
  std::filesystem::remove_all(dir);
}

TEST(OwnershipFile, BadContentIsReportedWithLine) {
  auto r = Ownership::parse("reqid_min=1\nreqid_mx=2\n", "/var/lib/ipsecd/kernel-ownership");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "/var/lib/ipsecd/kernel-ownership:2: unknown key 'reqid_mx' (expected reqid_min, "
            "reqid_max or priority_base)");
  auto v = Ownership::parse("reqid_min=12x\n", "f");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message.find("f:1: value '12x' of reqid_min is not a 32-bit number"),
            std::string::npos);
}

}  // namespace
}  // namespace ipsecd::kernel
