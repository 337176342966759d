#include "tests/kernel/conformance.h"

#include <algorithm>
#include <set>

namespace ipsecd::kernel::testing {
namespace {

Address A(const char* s) {
  return Address::literal(s);
}
Prefix P(const char* s) {
  return Prefix::literal(s);
}

Selector host_selector(const char* src, const char* dst, uint8_t proto = 0, uint16_t dport = 0) {
  return Selector{P(src), P(dst), proto, 0, dport};
}

PolicySpec trap(const Selector& sel, uint32_t reqid, Direction dir = Direction::kOut) {
  PolicySpec p;
  p.id = PolicyId{sel, dir, {}};
  p.kind = PolicyKind::kTrap;
  Template t;
  t.src = dir == Direction::kOut ? A("192.0.2.1") : A("203.0.113.5");
  t.dst = dir == Direction::kOut ? A("203.0.113.5") : A("192.0.2.1");
  t.reqid = reqid;
  p.templates.push_back(t);
  return p;
}

PolicySpec shunt(const Selector& sel, PolicyKind kind) {
  PolicySpec p;
  p.id = PolicyId{sel, Direction::kOut, {}};
  p.kind = kind;
  return p;
}

SaSpec gcm_sa(const char* src, const char* dst, uint32_t spi, uint32_t reqid) {
  SaSpec s;
  s.id = SaId{A(dst), spi, kProtoEsp};
  s.src = A(src);
  s.reqid = reqid;
  s.cipher = Cipher::kAesGcm16_256;
  s.enc_key = SecretBytes(std::vector<uint8_t>(36, 0x42));
  return s;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

std::vector<AcquireEvent> acquires(const std::vector<Event>& events) {
  std::vector<AcquireEvent> out;
  for (const auto& e : events) {
    if (const auto* a = std::get_if<AcquireEvent>(&e)) {
      out.push_back(*a);
    }
  }
  return out;
}

constexpr uint32_t kReqid = 0x1a500010;

}  // namespace

void Conformance::SetUp() {
  env_ = GetParam().make();
  if (auto why = env_->skip_reason(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  backend_ = env_->open(own_);
}

TEST_P(Conformance, PolicyAddGetListDelete) {
  auto spec = trap(host_selector("192.0.2.1/32", "203.0.113.5/32", 17, 4242), kReqid);
  ASSERT_TRUE(backend_->add_policy(spec).ok());

  auto got = backend_->get_policy(spec.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->kind, PolicyKind::kTrap);
  EXPECT_TRUE(got->own);
  EXPECT_EQ(got->priority, derived_priority(spec.id.selector, PolicyKind::kTrap, own_));
  ASSERT_EQ(got->templates.size(), 1u);
  EXPECT_EQ(got->templates[0], spec.templates[0]);
  EXPECT_EQ(got->id, spec.id);

  auto list = backend_->list_policies();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(std::count_if(list->begin(), list->end(),
                          [&](const PolicyState& p) { return p.id == spec.id; }),
            1);

  ASSERT_TRUE(backend_->delete_policy(spec.id).ok());
  auto gone = backend_->get_policy(spec.id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound);
}

TEST_P(Conformance, DuplicatePolicyAndMissingPolicyAreNamed) {
  auto spec = trap(host_selector("192.0.2.0/24", "203.0.113.0/24"), kReqid);
  ASSERT_TRUE(backend_->add_policy(spec).ok());
  auto dup = backend_->add_policy(spec);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kExists);
  EXPECT_TRUE(contains(dup.error().message, "203.0.113.0/24")) << dup.error().message;
  EXPECT_TRUE(contains(dup.error().message, "already exists")) << dup.error().message;

  PolicyId missing{host_selector("192.0.2.9/32", "203.0.113.9/32"), Direction::kOut, {}};
  auto del = backend_->delete_policy(missing);
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(del.error().message, "203.0.113.9/32")) << del.error().message;
}

TEST_P(Conformance, UpdatePolicyChangesKind) {
  auto sel = host_selector("192.0.2.1/32", "203.0.113.5/32");
  ASSERT_TRUE(backend_->update_policy(trap(sel, kReqid)).ok());  // update adds when absent
  ASSERT_TRUE(backend_->update_policy(shunt(sel, PolicyKind::kPass)).ok());
  auto got = backend_->get_policy(PolicyId{sel, Direction::kOut, {}});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kind, PolicyKind::kPass);
  EXPECT_TRUE(got->templates.empty());
}

TEST_P(Conformance, AllDirectionsAndShuntKindsRoundTrip) {
  auto sel = host_selector("198.51.100.0/24", "203.0.113.0/24");
  for (Direction d : {Direction::kIn, Direction::kFwd}) {
    ASSERT_TRUE(backend_->add_policy(trap(sel, kReqid, d)).ok());
  }
  int i = 0;
  for (PolicyKind k :
       {PolicyKind::kHold, PolicyKind::kPass, PolicyKind::kDrop, PolicyKind::kReject}) {
    auto s = shunt(
        host_selector("198.51.100.0/24", "203.0.113.0/24", 6, static_cast<uint16_t>(1000 + i++)),
        k);
    ASSERT_TRUE(backend_->add_policy(s).ok());
    auto got = backend_->get_policy(s.id);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->kind, k) << name(k);
  }
  auto list = backend_->list_policies();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 6u);
}

TEST_P(Conformance, MoreSpecificSelectorsGetPrecedence) {
  auto p_any = derived_priority(host_selector("0.0.0.0/0", "0.0.0.0/0"), PolicyKind::kTrap, own_);
  auto p_net =
      derived_priority(host_selector("192.0.2.0/24", "203.0.113.0/24"), PolicyKind::kTrap, own_);
  auto p_host =
      derived_priority(host_selector("192.0.2.1/32", "203.0.113.5/32"), PolicyKind::kTrap, own_);
  auto p_port = derived_priority(host_selector("192.0.2.1/32", "203.0.113.5/32", 17, 53),
                                 PolicyKind::kTrap, own_);
  auto p_host6 = derived_priority(host_selector("2001:db8::1/128", "2001:db8:1::5/128"),
                                  PolicyKind::kTrap, own_);
  EXPECT_LT(p_port, p_host);
  EXPECT_LT(p_host, p_net);
  EXPECT_LT(p_net, p_any);
  EXPECT_EQ(p_host, p_host6);  // full host prefixes weigh the same in both families

  // On traffic: a drop for one host inside a trapped subnet wins for that host only.
  ASSERT_TRUE(
      backend_->add_policy(trap(host_selector("0.0.0.0/0", "203.0.113.0/24"), kReqid)).ok());
  ASSERT_TRUE(
      backend_->add_policy(shunt(host_selector("0.0.0.0/0", "203.0.113.7/32"), PolicyKind::kDrop))
          .ok());
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.7"), 4000), SendOutcome::kBlocked);
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.8"), 4000), SendOutcome::kSent);
  auto acq = acquires(backend_->read_events(std::chrono::milliseconds(2000)));
  ASSERT_EQ(acq.size(), 1u);
  EXPECT_EQ(acq[0].flow.dst.addr, A("203.0.113.8"));
}

TEST_P(Conformance, TrapRaisesOneAcquireForTheFirstPacket) {
  auto spec = trap(host_selector("192.0.2.1/32", "203.0.113.5/32", 17), kReqid);
  ASSERT_TRUE(backend_->add_policy(spec).ok());
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.5"), 5001), SendOutcome::kSent);
  auto acq = acquires(backend_->read_events(std::chrono::milliseconds(2000)));
  ASSERT_EQ(acq.size(), 1u);
  EXPECT_EQ(acq[0].tmpl.reqid, kReqid);
  EXPECT_EQ(acq[0].tmpl.dst, A("203.0.113.5"));
  EXPECT_EQ(acq[0].tmpl.src, A("192.0.2.1"));
  EXPECT_EQ(acq[0].flow.src.addr, A("192.0.2.1"));
  EXPECT_EQ(acq[0].flow.dst.addr, A("203.0.113.5"));
  EXPECT_EQ(acq[0].flow.proto, 17);
  EXPECT_EQ(acq[0].flow.dport, 5001);
  EXPECT_EQ(acq[0].policy.selector, spec.id.selector);
  EXPECT_EQ(acq[0].policy.dir, Direction::kOut);

  // While negotiation is pending, more packets raise no more ACQUIREs.
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.5"), 5001), SendOutcome::kSent);
  EXPECT_TRUE(acquires(backend_->read_events(std::chrono::milliseconds(300))).empty());
}

TEST_P(Conformance, PassLetsTrafficThroughAndDropBlocksIt) {
  ASSERT_TRUE(
      backend_
          ->add_policy(shunt(host_selector("192.0.2.1/32", "203.0.113.20/32"), PolicyKind::kPass))
          .ok());
  ASSERT_TRUE(
      backend_
          ->add_policy(shunt(host_selector("192.0.2.1/32", "203.0.113.21/32"), PolicyKind::kDrop))
          .ok());
  ASSERT_TRUE(
      backend_
          ->add_policy(shunt(host_selector("192.0.2.1/32", "203.0.113.22/32"), PolicyKind::kReject))
          .ok());
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.20"), 7), SendOutcome::kSent);
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.21"), 7), SendOutcome::kBlocked);
  EXPECT_EQ(env_->send_udp(A("192.0.2.1"), A("203.0.113.22"), 7), SendOutcome::kBlocked);
  EXPECT_TRUE(backend_->read_events(std::chrono::milliseconds(100)).empty());
}

TEST_P(Conformance, PolicyLifetimeRaisesSoftThenHardExpire) {
  auto spec = trap(host_selector("192.0.2.1/32", "203.0.113.30/32"), kReqid);
  // Two seconds between soft and hard: XFRM checks the hard limit first, so a timer that fires
  // late on a slow machine (a VM under emulation) would otherwise skip the soft expire.
  spec.lifetime.soft_seconds = 1;
  spec.lifetime.hard_seconds = 3;
  ASSERT_TRUE(backend_->add_policy(spec).ok());
  std::vector<PolicyExpireEvent> seen;
  for (int i = 0; i < 10 && seen.size() < 2; ++i) {
    env_->advance(1);
    for (const auto& e : backend_->read_events(std::chrono::milliseconds(1500))) {
      if (const auto* p = std::get_if<PolicyExpireEvent>(&e)) {
        seen.push_back(*p);
      }
    }
  }
  ASSERT_EQ(seen.size(), 2u) << (seen.empty()   ? "no event"
                                 : seen[0].hard ? "hard only"
                                                : "soft only");
  EXPECT_FALSE(seen[0].hard);
  EXPECT_TRUE(seen[1].hard);
  EXPECT_EQ(seen[1].policy.selector, spec.id.selector);
  EXPECT_EQ(backend_->get_policy(spec.id).error().code, ErrorCode::kNotFound);
}

TEST_P(Conformance, SpiAllocationReservesDistinctOwnSpis) {
  auto a = backend_->allocate_spi(A("203.0.113.5"), A("192.0.2.1"), kReqid);
  auto b = backend_->allocate_spi(A("203.0.113.5"), A("192.0.2.1"), kReqid + 1);
  ASSERT_TRUE(a.ok()) << a.error().message;
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_NE(*a, *b);
  EXPECT_GE(*a, 0x100u);
  auto st = backend_->get_sa(SaId{A("192.0.2.1"), *a, kProtoEsp});
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_TRUE(st->own);
  EXPECT_EQ(st->reqid, kReqid);
  EXPECT_FALSE(st->cipher.has_value());
  // Reserving again for the same endpoints and reqid (a rekey) gives a new SPI.
  auto again = backend_->allocate_spi(A("203.0.113.5"), A("192.0.2.1"), kReqid);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *a);
  ASSERT_TRUE(backend_->delete_sa(SaId{A("192.0.2.1"), *a, kProtoEsp}).ok());
}

TEST_P(Conformance, SaAddWithoutEspNamesTheMissingKernelOption) {
  if (env_->has_esp()) {
    GTEST_SKIP() << "this kernel has ESP; the missing-ESP message cannot be provoked";
  }
  auto s = gcm_sa("192.0.2.1", "203.0.113.5", 0x1000, kReqid);
  s.cipher = Cipher::kAesCbc256;
  s.enc_key = SecretBytes(std::vector<uint8_t>(32, 1));
  s.integrity = Integrity::kHmacSha256_128;
  s.integ_key = SecretBytes(std::vector<uint8_t>(32, 2));
  auto r = backend_->add_sa(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(r.error().message, "kernel has no ESP support (CONFIG_INET_ESP)"))
      << r.error().message;
  EXPECT_TRUE(contains(r.error().message, "spi 0x00001000 to 203.0.113.5")) << r.error().message;
  EXPECT_FALSE(contains(r.error().message, "93")) << r.error().message;
}

TEST_P(Conformance, SaLifecycleAndErrors) {
  if (!env_->has_esp()) {
    GTEST_SKIP() << "kernel has no ESP (CONFIG_INET_ESP); SAs are exercised in the vm tier";
  }
  auto s = gcm_sa("192.0.2.1", "203.0.113.5", 0x2000, kReqid);
  s.encap = UdpEncap{4500, 4500};
  s.esn = true;
  s.replay_window = 128;
  s.lifetime.soft_bytes = 1000;
  s.lifetime.hard_bytes = 2000;
  ASSERT_TRUE(backend_->add_sa(s).ok());
  auto dup = backend_->add_sa(s);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kExists);
  auto st = backend_->get_sa(s.id);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->cipher, Cipher::kAesGcm16_256);
  EXPECT_EQ(st->encap, s.encap);
  EXPECT_TRUE(st->esn);
  EXPECT_EQ(st->lifetime, s.lifetime);
  EXPECT_TRUE(st->own);
  ASSERT_TRUE(backend_->delete_sa(s.id).ok());
  auto again = backend_->delete_sa(s.id);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
}

TEST_P(Conformance, RequestsOutsideTheOwnershipMarkersAreRefused) {
  auto p = trap(host_selector("192.0.2.1/32", "203.0.113.5/32"), 7);
  auto r = backend_->add_policy(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalid);
  EXPECT_TRUE(contains(r.error().message, "outside ipsecd's range")) << r.error().message;
  auto s = backend_->add_sa(gcm_sa("192.0.2.1", "203.0.113.5", 0x3000, 7));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalid);
}

TEST_P(Conformance, MixedFamiliesAndIpv6) {
  // IPv6 traffic carried in an IPv4 tunnel, and a plain IPv6 policy.
  auto p = trap(host_selector("2001:db8::/64", "2001:db8:1::/64"), kReqid);
  ASSERT_TRUE(backend_->add_policy(p).ok());
  auto p6 = trap(host_selector("2001:db8::1/128", "2001:db8:2::1/128", 6, 443), kReqid + 1);
  p6.templates[0].src = A("2001:db8::1");
  p6.templates[0].dst = A("2001:db8:2::1");
  ASSERT_TRUE(backend_->add_policy(p6).ok());
  auto got = backend_->get_policy(p.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->templates[0].dst, A("203.0.113.5"));
  auto got6 = backend_->get_policy(p6.id);
  ASSERT_TRUE(got6.ok());
  EXPECT_EQ(got6->id.selector.dport, 443);
  EXPECT_EQ(got6->templates[0].dst, A("2001:db8:2::1"));
}

TEST_P(Conformance, BatchReportsEachOperation) {
  Batch b;
  for (int i = 0; i < 300; ++i) {
    std::string dst = "203.0.113." + std::to_string(i % 250) + "/32";
    auto sel = Selector{P("192.0.2.1/32"), P(dst.c_str()), 17, 0, static_cast<uint16_t>(1000 + i)};
    b.add_policy(trap(sel, kReqid));
  }
  b.add_policy(std::get<Batch::AddPolicy>(b.ops[5]).spec);  // duplicate of op 5
  auto results = backend_->apply(b);
  ASSERT_EQ(results.size(), 301u);
  for (size_t i = 0; i < 300; ++i) {
    ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].error().message;
  }
  EXPECT_EQ(results[300].error().code, ErrorCode::kExists);
  EXPECT_EQ(backend_->list_policies()->size(), 300u);

  Batch del;
  for (size_t i = 0; i < 300; ++i) {
    del.delete_policy(std::get<Batch::AddPolicy>(b.ops[i]).spec.id);
  }
  for (const auto& r : backend_->apply(del)) {
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_TRUE(backend_->list_policies()->empty());
}

TEST_P(Conformance, RestartAdoptsAndRemovesOwnObjectsOnlyAndSparesForeign) {
  auto keep = trap(host_selector("192.0.2.0/24", "203.0.113.0/24"), kReqid);
  auto stale = trap(host_selector("192.0.2.0/24", "198.51.100.0/24"), kReqid + 1);
  auto stale_shunt = shunt(host_selector("192.0.2.1/32", "203.0.113.99/32"), PolicyKind::kDrop);
  ASSERT_TRUE(backend_->add_policy(keep).ok());
  ASSERT_TRUE(backend_->add_policy(stale).ok());
  ASSERT_TRUE(backend_->add_policy(stale_shunt).ok());
  auto spi = backend_->allocate_spi(A("203.0.113.5"), A("192.0.2.1"), kReqid + 1);
  ASSERT_TRUE(spi.ok()) << spi.error().message;
  auto foreign_sel = host_selector("192.0.2.0/24", "203.0.113.128/25");
  env_->plant_foreign(foreign_sel, A("198.51.100.1"), A("192.0.2.1"));

  // The old daemon vanishes without cleaning up; a new one starts with the same markers.
  backend_.reset();
  auto restarted = env_->open(own_);
  auto report = restarted->sweep([&](const PolicyState& p) { return p.id == keep.id; },
                                 [](const SaState&) { return false; });
  EXPECT_TRUE(report.failures.empty());
  EXPECT_EQ(report.adopted_policies, 1u);
  EXPECT_EQ(report.removed_policies, 2u);
  EXPECT_EQ(report.removed_sas, 1u);
  EXPECT_EQ(report.foreign, 2u);  // the planted policy and SPI reservation

  auto policies = restarted->list_policies();
  ASSERT_TRUE(policies.ok());
  std::set<std::string> left;
  for (const auto& p : *policies) {
    left.insert(p.id.selector.str() + (p.own ? " own" : " foreign"));
  }
  EXPECT_EQ(left, (std::set<std::string>{keep.id.selector.str() + " own",
                                         foreign_sel.str() + " foreign"}));
  auto sas = restarted->list_sas();
  ASSERT_TRUE(sas.ok());
  ASSERT_EQ(sas->size(), 1u);
  EXPECT_FALSE((*sas)[0].own);

  // Foreign objects cannot be deleted or replaced through ipsecd.
  auto del = restarted->delete_policy(PolicyId{foreign_sel, Direction::kOut, {}});
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().code, ErrorCode::kForeign);
  auto upd = restarted->update_policy(shunt(foreign_sel, PolicyKind::kPass));
  ASSERT_FALSE(upd.ok());
  EXPECT_EQ(upd.error().code, ErrorCode::kForeign);
  auto dsa = restarted->delete_sa((*sas)[0].id);
  ASSERT_FALSE(dsa.ok());
  EXPECT_EQ(dsa.error().code, ErrorCode::kForeign);
}

}  // namespace ipsecd::kernel::testing
