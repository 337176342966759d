// Rekeying, collisions, lifetimes and liveness, between two engines of the
// deterministic harness: CHILD and IKE rekeys each way, crossing rekeys
// (RFC 7296 2.8.1, 2.8.2) under loss, duplication and reordering, rekey
// crossing a DELETE, rekey=no expiry, kernel soft and hard expires, DPD.
// Every case ends by checking both sides hold exactly one IKE SA and one
// CHILD SA pair with matching SPIs and keys, and nothing else in the kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "engine/wire/message.h"
#include "tests/engine/harness.h"

namespace ipsecd::engine {
namespace {

using namespace harness;
using kernel::Address;
using namespace std::chrono_literals;

// IKE and CHILD SAs that carry the connection (not those replaced and
// waiting for their DELETE).
struct Live {
  std::size_t ike = 0;
  std::size_t children = 0;
  std::vector<ChildSaInfo> child;
  std::vector<IkeSaInfo> sa;
};

Live live(Node& node) {
  Live out;
  for (const auto& sa : node.engine->list()) {
    if (sa.state != "established" && sa.state != "rekeying") {
      continue;
    }
    ++out.ike;
    out.sa.push_back(sa);
    for (const auto& c : sa.children) {
      if (c.state == "installed" || c.state == "rekeying") {
        ++out.children;
        out.child.push_back(c);
      }
    }
  }
  return out;
}

std::size_t count(const Node& node, EventType type) {
  return node.of(type).size();
}

class RekeyHarness : public EngineHarness {
 protected:
  // Long lifetimes: nothing rekeys unless a test says so.
  model::Connection conn(const std::string& name = "west-east") {
    auto c = connection(name, {});
    c.ike_lifetime = 100000s;
    c.ipsec_lifetime = 100000s;
    return c;
  }
  void up_both(const model::Connection& c) {
    load_both(c);
    auto r = up(*a, c.name);
    ASSERT_TRUE(r.ok) << r.reason;
  }
  // One IKE SA and one CHILD pair on each side, the two halves agreeing on
  // SPIs and keys, exactly two ESP SAs and three policies in each kernel.
  void expect_one_pair(const std::string& where) {
    SCOPED_TRACE(where);
    auto la = live(*a);
    auto lb = live(*b);
    ASSERT_EQ(la.ike, 1u);
    ASSERT_EQ(lb.ike, 1u);
    EXPECT_EQ(a->engine->ike_sa_count(), 1u);
    EXPECT_EQ(b->engine->ike_sa_count(), 1u);
    EXPECT_EQ(la.sa[0].spi_i, lb.sa[0].spi_i);
    EXPECT_EQ(la.sa[0].spi_r, lb.sa[0].spi_r);
    ASSERT_EQ(la.children, 1u);
    ASSERT_EQ(lb.children, 1u);
    EXPECT_EQ(a->children(), 1u);
    EXPECT_EQ(b->children(), 1u);
    const auto& ca = la.child[0];
    const auto& cb = lb.child[0];
    EXPECT_EQ(ca.spi_in, cb.spi_out);
    EXPECT_EQ(ca.spi_out, cb.spi_in);
    const auto& a_out = a->backend.specs.at({"192.0.2.2", ca.spi_out});
    const auto& b_in = b->backend.specs.at({"192.0.2.2", cb.spi_in});
    EXPECT_EQ(key_bytes(a_out.enc_key), key_bytes(b_in.enc_key));
    const auto& b_out = b->backend.specs.at({"192.0.2.1", cb.spi_out});
    const auto& a_in = a->backend.specs.at({"192.0.2.1", ca.spi_in});
    EXPECT_EQ(key_bytes(b_out.enc_key), key_bytes(a_in.enc_key));
    EXPECT_EQ(a->backend.kernel().sa_count(), 2u);
    EXPECT_EQ(b->backend.kernel().sa_count(), 2u);
    EXPECT_EQ(a->backend.kernel().policy_count(), 3u);
    EXPECT_EQ(b->backend.kernel().policy_count(), 3u);
    // The kernel sends with the current outbound SA.
    kernel::Packet p;
    p.src = Address::literal("10.1.0.5");
    p.dst = Address::literal("10.2.0.5");
    auto sent = a->backend.kernel().send(p);
    EXPECT_EQ(sent.verdict, kernel::Verdict::kProtected);
    ASSERT_TRUE(sent.sa.has_value());
    EXPECT_EQ(sent.sa->spi, ca.spi_out);
  }
  void expect_no_outage() {
    for (Node* n : {a.get(), b.get()}) {
      for (const auto& e : n->events) {
        EXPECT_NE(e.type, EventType::kChildDown) << e.connection << ": " << e.reason;
        EXPECT_NE(e.type, EventType::kIkeDown) << e.connection << ": " << e.reason;
        EXPECT_NE(e.type, EventType::kIkeFailed) << e.connection << ": " << e.reason;
        EXPECT_NE(e.type, EventType::kChildFailed) << e.connection << ": " << e.reason;
      }
    }
  }
};

TEST_F(RekeyHarness, ChildRekeyReplacesBothHalvesWithNewSpisAndNoOutage) {
  start();
  up_both(conn());
  const auto before = live(*a).child.at(0);
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kChild));
  EXPECT_FALSE(a->engine->rekey("west-east", RekeyKind::kChild)) << "one rekey at a time";
  loop.advance(2s);
  expect_one_pair("after the rekey");
  expect_no_outage();
  const auto after = live(*a).child.at(0);
  EXPECT_NE(after.spi_in, before.spi_in);
  EXPECT_NE(after.spi_out, before.spi_out);
  EXPECT_EQ(after.reqid, before.reqid);
  EXPECT_EQ(after.rekeys, 1u);
  EXPECT_EQ(after.local_ts, before.local_ts);
  ASSERT_EQ(count(*a, EventType::kRekeyed), 1u);
  ASSERT_EQ(count(*b, EventType::kRekeyed), 1u);
  const auto e = a->of(EventType::kRekeyed)[0];
  EXPECT_EQ(e.rekey, RekeyKind::kChild);
  EXPECT_EQ(e.replaced_child_spi_in, before.spi_in);
  EXPECT_EQ(e.child_spi_in, after.spi_in);
  // And once more from the other side.
  ASSERT_TRUE(b->engine->rekey("west-east", RekeyKind::kChild));
  loop.advance(2s);
  expect_one_pair("after the responder's rekey");
  EXPECT_EQ(live(*a).child.at(0).rekeys, 2u);
  expect_no_outage();
}

TEST_F(RekeyHarness, ChildRekeyWithPfsRunsAFreshKeyExchange) {
  start();
  auto c = conn();
  c.esp = proposals(model::ProposalKind::kEsp, "aes_gcm128;dh19");
  up_both(c);
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kChild));
  loop.advance(2s);
  expect_one_pair("after a PFS rekey");
  EXPECT_EQ(live(*a).child.at(0).algorithms.encr, (model::EncrAlg{model::EncrId::kAesGcm16, 128}));
  expect_no_outage();
}

TEST_F(RekeyHarness, ResponderSendsOnTheNewSaOnlyOnceTheOldOneIsDeleted) {
  start();
  up_both(conn());
  const uint32_t old_b_out = live(*b).child.at(0).spi_out;
  bool hold = true;
  // Hold back a's DELETE of the old CHILD SA.
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
    auto h = wire::decode_header(m);
    return !(hold && from.address == Address::literal("192.0.2.1") && h.ok() &&
             h->exchange == wire::ExchangeType::kInformational && !h->response);
  });
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kChild));
  loop.advance(300ms);
  kernel::Packet p;
  p.src = Address::literal("10.2.0.5");
  p.dst = Address::literal("10.1.0.5");
  auto sent = b->backend.kernel().send(p);
  ASSERT_TRUE(sent.sa.has_value());
  EXPECT_EQ(sent.sa->spi, old_b_out) << "b must keep sending on the old SA";
  auto states = b->engine->list().at(0).children;
  ASSERT_EQ(states.size(), 2u);
  hold = false;
  loop.advance(3s);  // a retransmits its DELETE
  expect_one_pair("after the DELETE");
  expect_no_outage();
}

TEST_F(RekeyHarness, IkeRekeyMovesTheChildSasToTheNewIkeSa) {
  start();
  up_both(conn());
  const auto sa_before = live(*a).sa.at(0);
  const auto child_before = live(*a).child.at(0);
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kIke));
  loop.advance(2s);
  expect_one_pair("after the IKE rekey");
  const auto sa_after = live(*a).sa.at(0);
  EXPECT_NE(sa_after.spi_i, sa_before.spi_i);
  EXPECT_NE(sa_after.spi_r, sa_before.spi_r);
  EXPECT_EQ(sa_after.rekeys, 1u);
  EXPECT_TRUE(sa_after.initiator);
  EXPECT_FALSE(live(*b).sa.at(0).initiator) << "the rekey's initiator is the new initiator";
  EXPECT_EQ(live(*a).child.at(0).spi_in, child_before.spi_in) << "CHILD SAs are not rekeyed";
  ASSERT_EQ(count(*a, EventType::kRekeyed), 1u);
  EXPECT_EQ(a->of(EventType::kRekeyed)[0].rekey, RekeyKind::kIke);
  EXPECT_EQ(a->of(EventType::kRekeyed)[0].replaced_spi_i, sa_before.spi_i);
  expect_no_outage();
  // The new IKE SA works: the responder rekeys it, then a CHILD SA on it.
  ASSERT_TRUE(b->engine->rekey("west-east", RekeyKind::kIke));
  loop.advance(2s);
  EXPECT_TRUE(live(*b).sa.at(0).initiator);
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kChild));
  loop.advance(2s);
  expect_one_pair("after IKE, IKE and CHILD rekeys");
  expect_no_outage();
  // A DELETE over the twice-rekeyed IKE SA takes everything down.
  a->engine->terminate("west-east");
  loop.advance(2s);
  EXPECT_EQ(b->engine->ike_sa_count(), 0u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
}

TEST_F(RekeyHarness, LifetimesRekeyBothSidesAtFuzzedTimesAndTheTunnelNeverDrops) {
  start();
  auto c = connection("west-east", {});
  c.ipsec_lifetime = 30s;
  c.ike_lifetime = 60s;
  c.rekey_margin = 5s;
  c.rekey_fuzz_percent = 100;
  up_both(c);
  auto first = live(*a).child.at(0);
  ASSERT_TRUE(first.rekey_at.has_value());
  ASSERT_TRUE(first.expires_at.has_value());
  const auto to_rekey = *first.rekey_at - first.established;
  EXPECT_GE(to_rekey, 20s);  // 30 s less 5 to 10 s
  EXPECT_LE(to_rekey, 25s);
  EXPECT_EQ(*first.expires_at - first.established, 30s);
  for (int second = 0; second < 300; ++second) {
    loop.advance(1s);
    auto la = live(*a);
    auto lb = live(*b);
    ASSERT_EQ(la.ike, 1u) << "at " << second << " s";
    ASSERT_EQ(lb.ike, 1u) << "at " << second << " s";
    ASSERT_EQ(la.children, 1u) << "at " << second << " s";
    ASSERT_EQ(lb.children, 1u) << "at " << second << " s";
  }
  loop.advance(5s);
  expect_no_outage();
  const auto rekeys = a->of(EventType::kRekeyed);
  std::size_t child = 0;
  std::size_t ike = 0;
  for (const auto& e : rekeys) {
    (e.rekey == RekeyKind::kChild ? child : ike) += 1;
  }
  // 300 s: a CHILD rekey every 20-25 s and an IKE rekey every 40-55 s, by either side.
  EXPECT_GE(child, 12u);
  EXPECT_GE(ike, 5u);
  EXPECT_EQ(count(*a, EventType::kRekeyFailed), 0u);
  EXPECT_EQ(count(*b, EventType::kRekeyFailed), 0u);
  EXPECT_LE(a->backend.kernel().sa_count(), 4u);
  EXPECT_LE(a->backend.kernel().policy_count(), 3u);
}

TEST_F(RekeyHarness, RekeyNoLetsTheChildAndThenTheIkeSaExpire) {
  start();
  auto c = connection("west-east", {});
  c.rekey = false;
  c.ipsec_lifetime = 30s;
  c.ike_lifetime = 60s;
  up_both(c);
  EXPECT_FALSE(live(*a).child.at(0).rekey_at.has_value());
  EXPECT_TRUE(live(*a).sa.at(0).expires_at.has_value());
  loop.advance(31s);
  EXPECT_EQ(a->children(), 0u);
  EXPECT_EQ(b->children(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  ASSERT_GE(count(*a, EventType::kChildDown), 1u);
  EXPECT_NE(a->of(EventType::kChildDown)[0].reason.find("rekey=no"), std::string::npos)
      << a->of(EventType::kChildDown)[0].reason;
  EXPECT_EQ(a->engine->ike_sa_count(), 1u);
  loop.advance(30s);
  EXPECT_EQ(a->engine->ike_sa_count(), 0u);
  EXPECT_EQ(b->engine->ike_sa_count(), 0u);
  EXPECT_EQ(count(*a, EventType::kRekeyed), 0u);
}

TEST_F(RekeyHarness, KernelSoftExpireStartsARekeyAndHardExpireTakesTheChildDown) {
  start();
  up_both(conn());
  const auto before = live(*a).child.at(0);
  kernel::ExpireEvent soft{kernel::SaId{Address::literal("192.0.2.2"), before.spi_out},
                           before.reqid, false};
  a->engine->on_kernel_event(soft);
  loop.advance(2s);
  expect_one_pair("after a soft expire");
  EXPECT_NE(live(*a).child.at(0).spi_out, before.spi_out);
  expect_no_outage();
  const auto now = live(*b).child.at(0);
  kernel::ExpireEvent hard{kernel::SaId{Address::literal("192.0.2.2"), now.spi_in}, now.reqid,
                           true};
  b->engine->on_kernel_event(hard);
  loop.advance(2s);
  EXPECT_EQ(a->children(), 0u);
  EXPECT_EQ(b->children(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(count(*b, EventType::kChildDown), 1u);
  EXPECT_EQ(count(*a, EventType::kChildDown), 1u);
}

TEST_F(RekeyHarness, RekeyOfACHildSaThePeerNoLongerHasTakesItDown) {
  start();
  up_both(conn());
  const auto child = live(*b).child.at(0);
  // b's kernel drops its SA and b's DELETE is lost: a still has its half.
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
    auto h = wire::decode_header(m);
    return !(from.address == Address::literal("192.0.2.2") && h.ok() &&
             h->exchange == wire::ExchangeType::kInformational && !h->response);
  });
  b->engine->on_kernel_event(kernel::ExpireEvent{
      kernel::SaId{Address::literal("192.0.2.2"), child.spi_in}, child.reqid, true});
  loop.advance(100ms);
  EXPECT_EQ(a->children(), 1u);
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kChild));
  loop.advance(2s);
  EXPECT_EQ(a->children(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  ASSERT_EQ(count(*a, EventType::kChildDown), 1u);
  EXPECT_NE(a->of(EventType::kChildDown)[0].reason.find("CHILD_SA_NOT_FOUND"), std::string::npos)
      << a->of(EventType::kChildDown)[0].reason;
}

TEST_F(RekeyHarness, DeadPeerDetectionDeclaresASilentPeerGone) {
  start();
  auto c = conn();
  c.dpd_delay = 10s;
  c.dpd_timeout = 30s;
  up_both(c);
  int informational = 0;
  bool cut = false;
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
    auto h = wire::decode_header(m);
    informational += from.address == Address::literal("192.0.2.1") && h.ok() &&
                     h->exchange == wire::ExchangeType::kInformational && !h->response;
    return !(cut && from.address == Address::literal("192.0.2.2"));
  });
  loop.advance(35s);
  EXPECT_GE(informational, 3) << "a liveness check every 10 s of silence";
  EXPECT_EQ(a->engine->ike_sa_count(), 1u);
  const auto t0 = clock.now();
  cut = true;
  ASSERT_TRUE(loop.run_until([&] { return a->engine->ike_sa_count() == 0; }, 120s));
  // The next check within 10 s (checked every 2.5 s), given up 30 s later.
  EXPECT_LE(clock.now() - t0, 43s);
  ASSERT_EQ(count(*a, EventType::kIkeFailed), 1u);
  EXPECT_NE(a->of(EventType::kIkeFailed)[0].reason.find("DPD"), std::string::npos)
      << a->of(EventType::kIkeFailed)[0].reason;
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
}

TEST_F(RekeyHarness, APeerThatRestartedAndInitiatesAgainReplacesItsStaleIkeSa) {
  start();
  auto c = conn();
  up_both(c);
  // b restarts: a new engine on the same kernel and addresses knows nothing.
  b->engine.reset();
  auto secrets = psk("192.0.2.1 192.0.2.2 : PSK \"correct horse battery staple\"\n");
  b->transport = net.attach({Address::literal("192.0.2.2")});
  b->engine = std::make_unique<Engine>(loop, *b->transport, b->backend, b->random);
  b->engine->set_secrets(secrets);
  ASSERT_TRUE(b->engine->load(c).ok());
  auto r = up(*b, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  // b's IKE_AUTH said INITIAL_CONTACT: a drops its stale IKE SA at once.
  loop.advance(1s);
  auto la = live(*a);
  ASSERT_EQ(la.ike, 1u);
  ASSERT_EQ(la.children, 1u);
  EXPECT_EQ(a->engine->ike_sa_count(), 1u);
  EXPECT_EQ(a->children(), 1u);
  EXPECT_FALSE(la.sa[0].initiator) << "the IKE SA b made";
  for (const auto& e : a->events) {
    EXPECT_NE(e.type, EventType::kChildDown) << e.reason;
    EXPECT_NE(e.type, EventType::kIkeDown) << e.reason;
  }
}

// ---- Reauthentication (reauth=yes): make-before-break, as strongSwan does

TEST_F(RekeyHarness, ReauthenticationBringsTheChildSasUpOnANewIkeSaBeforeTheOldOneGoes) {
  start();
  auto c = conn();
  c.reauth = true;
  up_both(c);
  for (Node* by : {a.get(), b.get()}) {  // the initiator, then the responder reauthenticates
    SCOPED_TRACE(by == a.get() ? "a reauthenticates" : "b reauthenticates");
    const auto sa_before = live(*by).sa.at(0);
    const auto child_before = live(*a).child.at(0);
    const auto reauths = count(*by, EventType::kRekeyed);
    const auto peer_reauths = count(by == a.get() ? *b : *a, EventType::kRekeyed);
    loop.advance(60s);  // a reauthentication comes long after the IKE SA was made
    ASSERT_TRUE(by->engine->rekey("west-east", RekeyKind::kReauth));
    // The kernel protects the flow at every step.
    for (int step = 0; step < 200; ++step) {
      loop.advance(10ms);
      kernel::Packet p;
      p.src = Address::literal("10.1.0.5");
      p.dst = Address::literal("10.2.0.5");
      ASSERT_EQ(a->backend.kernel().send(p).verdict, kernel::Verdict::kProtected) << step;
      ASSERT_GE(live(*a).children, 1u) << step;
      ASSERT_GE(live(*b).children, 1u) << step;
    }
    expect_one_pair("after the reauthentication");
    const auto sa_after = live(*by).sa.at(0);
    EXPECT_NE(sa_after.spi_i, sa_before.spi_i);
    EXPECT_NE(sa_after.spi_r, sa_before.spi_r);
    EXPECT_EQ(sa_after.rekeys, sa_before.rekeys + 1);
    EXPECT_NE(live(*a).child.at(0).spi_in, child_before.spi_in) << "new CHILD SAs";
    EXPECT_EQ(live(*by).sa.at(0).initiator, true) << "the reauthenticating end initiated";
    const auto rekeyed = by->of(EventType::kRekeyed);
    ASSERT_EQ(rekeyed.size(), reauths + 1);
    EXPECT_EQ(rekeyed.back().rekey, RekeyKind::kReauth);
    EXPECT_EQ(rekeyed.back().replaced_spi_i, sa_before.spi_i);
    // The other end sees the peer's reauthentication as one too: the new IKE
    // SA the peer made carries every CHILD SA of the old one, which the peer
    // deleted (or, both being the peer's, which it deleted itself).
    Node* peer = by == a.get() ? b.get() : a.get();
    const auto seen = peer->of(EventType::kRekeyed);
    ASSERT_EQ(seen.size(), peer_reauths + 1);
    EXPECT_EQ(seen.back().rekey, RekeyKind::kReauth);
    EXPECT_EQ(seen.back().replaced_spi_i, sa_before.spi_i);
    EXPECT_EQ(seen.back().spi_i, sa_after.spi_i);
    EXPECT_EQ(live(*peer).sa.at(0).rekeys, sa_before.rekeys + 1) << "the count carries on";
    expect_no_outage();
  }
}

TEST_F(RekeyHarness, ReauthenticationRecreatesEverySiblingOnTheSharedIkeSa) {
  start();
  auto one = conn("one");
  one.reauth = true;
  Ends other;
  other.left_subnets = {"10.1.1.0/24"};
  other.right_subnets = {"10.2.1.0/24"};
  auto two = connection("two", other);
  two.ike_lifetime = one.ike_lifetime;
  two.ipsec_lifetime = one.ipsec_lifetime;
  two.reauth = true;
  load_both(one);
  load_both(two);
  ASSERT_TRUE(up(*a, "one").ok);
  ASSERT_TRUE(up(*a, "two").ok);
  ASSERT_EQ(a->engine->ike_sa_count(), 1u) << "siblings share the IKE SA";
  loop.advance(60s);
  ASSERT_TRUE(a->engine->rekey("one", RekeyKind::kReauth));
  loop.advance(3s);
  for (Node* n : {a.get(), b.get()}) {
    auto l = live(*n);
    ASSERT_EQ(l.ike, 1u);
    ASSERT_EQ(l.children, 2u);
    EXPECT_EQ(n->engine->ike_sa_count(), 1u);
    EXPECT_EQ(n->backend.kernel().sa_count(), 4u);
  }
  EXPECT_EQ(live(*a).sa.at(0).rekeys, 1u);
  expect_no_outage();
}

TEST_F(RekeyHarness, ReauthenticationByLifetimeKeepsTheTunnelUpThroughManyCycles) {
  start();
  auto c = connection("west-east", {});
  c.reauth = true;
  c.ipsec_lifetime = 30s;
  c.ike_lifetime = 60s;
  c.rekey_margin = 5s;
  c.rekey_fuzz_percent = 100;
  up_both(c);
  EXPECT_TRUE(live(*a).sa.at(0).reauth_at.has_value());
  for (int second = 0; second < 300; ++second) {
    loop.advance(1s);
    ASSERT_GE(live(*a).children, 1u) << "at " << second << " s";
    ASSERT_GE(live(*b).children, 1u) << "at " << second << " s";
    ASSERT_LE(a->engine->ike_sa_count(), 2u) << "at " << second << " s";
  }
  loop.advance(5s);
  expect_one_pair("after 300 s of reauthentications");
  expect_no_outage();
  std::size_t reauths = 0;
  for (Node* n : {a.get(), b.get()}) {
    for (const auto& e : n->of(EventType::kRekeyed)) {
      reauths += e.rekey == RekeyKind::kReauth;
    }
    EXPECT_EQ(count(*n, EventType::kRekeyFailed), 0u);
  }
  EXPECT_GE(reauths, 5u) << "one every 40-55 s, by either end";
}

TEST_F(RekeyHarness, AReauthenticationThePeerRefusesLeavesTheOldIkeSaUp) {
  start();
  auto c = conn();
  c.reauth = true;
  up_both(c);
  const auto before = live(*a).sa.at(0);
  const std::size_t a_events = a->events.size();
  b->engine->set_secrets(psk("192.0.2.1 192.0.2.2 : PSK \"a different secret\"\n"));
  loop.advance(60s);
  ASSERT_TRUE(a->engine->rekey("west-east", RekeyKind::kReauth));
  loop.advance(5s);
  const auto failed = a->of(EventType::kRekeyFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].rekey, RekeyKind::kReauth);
  EXPECT_NE(failed[0].reason.find("AUTHENTICATION_FAILED"), std::string::npos) << failed[0].reason;
  expect_one_pair("the old IKE SA stays");
  EXPECT_EQ(live(*a).sa.at(0).spi_i, before.spi_i);
  for (std::size_t i = a_events; i < a->events.size(); ++i) {
    const auto& e = a->events[i];
    EXPECT_TRUE(e.type == EventType::kRekeyFailed) << name(e.type) << ": " << e.reason;
  }
  // b saw a handshake that failed, not its tunnel going down.
  ASSERT_EQ(count(*b, EventType::kIkeFailed), 1u);
  EXPECT_EQ(count(*b, EventType::kChildDown), 0u);
  EXPECT_EQ(count(*b, EventType::kIkeDown), 0u);
}

// ---- Collisions, under loss, duplication and reordering

struct Seeded {
  explicit Seeded(uint64_t seed, Impairment impairment)
      : loop(clock),
        net(loop, seed),
        a(loop, net, "192.0.2.1", seed * 3 + 1, logging(log)),
        b(loop, net, "192.0.2.2", seed * 5 + 2, logging(log)) {
    net.set_impairment(impairment);
    auto secrets = psk("192.0.2.1 192.0.2.2 : PSK \"s3cr3t-s3cr3t\"\n");
    a.engine->set_secrets(secrets);
    b.engine->set_secrets(secrets);
  }
  static EngineOptions logging(std::vector<std::string>& to) {
    EngineOptions o;
    o.log = [&to](std::string_view line) { to.emplace_back(line); };
    return o;
  }
  bool logged(std::string_view what) const {
    return std::any_of(log.begin(), log.end(),
                       [what](const std::string& l) { return l.find(what) != std::string::npos; });
  }
  std::vector<std::string> log;  // both engines'
  ManualClock clock;
  SimulatedLoop loop;
  MemoryNetwork net;
  Node a;
  Node b;
};

// Both sides hold one IKE SA and one CHILD pair that agree, nothing else in
// either kernel, and no down event was raised.
void expect_converged(Seeded& s) {
  auto la = live(s.a);
  auto lb = live(s.b);
  ASSERT_EQ(la.ike, 1u);
  ASSERT_EQ(lb.ike, 1u);
  EXPECT_EQ(s.a.engine->ike_sa_count(), 1u);
  EXPECT_EQ(s.b.engine->ike_sa_count(), 1u);
  EXPECT_EQ(la.sa[0].spi_i, lb.sa[0].spi_i);
  ASSERT_EQ(la.children, 1u);
  ASSERT_EQ(lb.children, 1u);
  EXPECT_EQ(s.a.children(), 1u);
  EXPECT_EQ(s.b.children(), 1u);
  EXPECT_EQ(la.child[0].spi_in, lb.child[0].spi_out);
  EXPECT_EQ(la.child[0].spi_out, lb.child[0].spi_in);
  EXPECT_EQ(s.a.backend.kernel().sa_count(), 2u);
  EXPECT_EQ(s.b.backend.kernel().sa_count(), 2u);
  EXPECT_EQ(s.a.backend.kernel().policy_count(), 3u);
  EXPECT_EQ(s.b.backend.kernel().policy_count(), 3u);
  for (Node* n : {&s.a, &s.b}) {
    for (const auto& e : n->events) {
      EXPECT_NE(e.type, EventType::kChildDown) << e.reason;
      EXPECT_NE(e.type, EventType::kIkeDown) << e.reason;
    }
  }
}

// After `act` (both sides acting in the same instant) and quiet time, both
// sides hold one IKE SA and one matching CHILD pair, and no orphan.
// `signs` counts the seeds that logged `sign` (that the case under test happened).
void collide(const char* what, const std::function<void(Seeded&)>& act, bool expect_up = true,
             std::string_view sign = {}, std::size_t* signs = nullptr, bool reauth = false) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(std::string(what) + ", seed " + std::to_string(seed));
    // The first four seeds without impairment: the pure crossing.
    Impairment impairment = seed <= 4 ? Impairment{} : Impairment{0.2, 0.2, 0.3};
    Seeded s(seed, impairment);
    auto c = connection("west-east", {});
    c.ike_lifetime = 100000s;
    c.ipsec_lifetime = 100000s;
    c.reauth = reauth;
    for (Node* n : {&s.a, &s.b}) {
      ASSERT_TRUE(n->engine->load(c).ok());
    }
    std::optional<InitiateResult> r;
    s.a.engine->initiate("west-east", [&](const InitiateResult& x) { r = x; });
    ASSERT_TRUE(s.loop.run_until([&] { return r.has_value(); }, 200s));
    ASSERT_TRUE(r->ok) << r->reason;
    s.loop.advance(5s);
    s.net.set_impairment(impairment);
    act(s);
    s.loop.advance(150s);  // retransmissions, retries, spare timeouts
    s.net.set_impairment({});
    s.loop.advance(70s);
    if (signs != nullptr && s.logged(sign)) {
      ++*signs;
    }
    auto la = live(s.a);
    auto lb = live(s.b);
    if (!expect_up) {
      EXPECT_EQ(la.children, 0u);
      EXPECT_EQ(lb.children, 0u);
      EXPECT_EQ(s.a.backend.kernel().sa_count(), 0u);
      EXPECT_EQ(s.b.backend.kernel().sa_count(), 0u);
      continue;
    }
    expect_converged(s);
  }
}

TEST(RekeyCollisions, SimultaneousChildRekeysLeaveOnePair) {
  std::size_t crossed = 0;
  collide(
      "CHILD vs CHILD",
      [](Seeded& s) {
        ASSERT_TRUE(s.a.engine->rekey("west-east", RekeyKind::kChild));
        ASSERT_TRUE(s.b.engine->rekey("west-east", RekeyKind::kChild));
      },
      true, "rekey collision on CHILD SA", &crossed);
  EXPECT_GE(crossed, 4u) << "the unimpaired seeds cross for sure";
}

TEST(RekeyCollisions, SimultaneousIkeRekeysLeaveOneIkeSa) {
  std::size_t crossed = 0;
  collide(
      "IKE vs IKE",
      [](Seeded& s) {
        ASSERT_TRUE(s.a.engine->rekey("west-east", RekeyKind::kIke));
        ASSERT_TRUE(s.b.engine->rekey("west-east", RekeyKind::kIke));
      },
      true, "IKE rekey collision", &crossed);
  EXPECT_GE(crossed, 4u) << "the unimpaired seeds cross for sure";
}

TEST(RekeyCollisions, IkeRekeyCrossingAChildRekey) {
  collide("IKE vs CHILD", [](Seeded& s) {
    ASSERT_TRUE(s.a.engine->rekey("west-east", RekeyKind::kIke));
    ASSERT_TRUE(s.b.engine->rekey("west-east", RekeyKind::kChild));
  });
  collide("CHILD vs IKE", [](Seeded& s) {
    ASSERT_TRUE(s.a.engine->rekey("west-east", RekeyKind::kChild));
    ASSERT_TRUE(s.b.engine->rekey("west-east", RekeyKind::kIke));
  });
}

TEST(RekeyCollisions, ChildRekeyCrossingItsDeleteLeavesNothing) {
  collide(
      "rekey vs DELETE",
      [](Seeded& s) {
        ASSERT_TRUE(s.a.engine->rekey("west-east", RekeyKind::kChild));
        s.b.engine->terminate("west-east");
      },
      false);
}

TEST(RekeyCollisions, RekeysCrossingLivenessChecks) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE(seed);
    Seeded s(seed, Impairment{0.2, 0.2, 0.3});
    auto c = connection("west-east", {});
    c.ipsec_lifetime = 20s;
    c.ike_lifetime = 30s;
    c.rekey_margin = 4s;
    c.dpd_delay = 3s;
    c.dpd_timeout = 60s;
    for (Node* n : {&s.a, &s.b}) {
      ASSERT_TRUE(n->engine->load(c).ok());
    }
    std::optional<InitiateResult> r;
    s.a.engine->initiate("west-east", [&](const InitiateResult& x) { r = x; });
    ASSERT_TRUE(s.loop.run_until([&] { return r.has_value(); }, 200s));
    ASSERT_TRUE(r->ok) << r->reason;
    s.loop.advance(200s);
    s.net.set_impairment({});
    s.loop.advance(10s);
    auto la = live(s.a);
    auto lb = live(s.b);
    ASSERT_EQ(la.ike, 1u);
    ASSERT_EQ(lb.ike, 1u);
    ASSERT_EQ(la.children, 1u);
    ASSERT_EQ(lb.children, 1u);
    EXPECT_EQ(la.child[0].spi_in, lb.child[0].spi_out);
    EXPECT_GE(s.a.of(EventType::kRekeyed).size(), 5u);
    for (Node* n : {&s.a, &s.b}) {
      for (const auto& e : n->events) {
        EXPECT_NE(e.type, EventType::kChildDown) << e.reason;
        EXPECT_NE(e.type, EventType::kIkeFailed) << e.reason;
      }
    }
  }
}

TEST(RekeyCollisions, SimultaneousReauthenticationsLeaveOneIkeSa) {
  collide(
      "both ends reauthenticate",
      [](Seeded& s) {
        EXPECT_TRUE(s.a.engine->rekey("west-east", RekeyKind::kReauth));
        EXPECT_TRUE(s.b.engine->rekey("west-east", RekeyKind::kReauth));
      },
      true, {}, nullptr, true);
}

// Both ends say auto=start: both initiate the same connection at once.
TEST(SimultaneousInitiation, BothEndsInitiatingLeaveOneIkeSaAndOneChildPair) {
  std::size_t duplicates = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE(seed);
    Impairment impairment = seed <= 4 ? Impairment{} : Impairment{0.2, 0.2, 0.3};
    Seeded s(seed, impairment);
    auto c = connection("west-east", Ends{});
    c.ipsec_lifetime = 30s;
    c.ike_lifetime = 60s;
    c.rekey_margin = 10s;
    for (Node* n : {&s.a, &s.b}) {
      ASSERT_TRUE(n->engine->load(c).ok());
    }
    std::optional<InitiateResult> ra;
    std::optional<InitiateResult> rb;
    s.a.engine->initiate("west-east", [&](const InitiateResult& x) { ra = x; });
    s.b.engine->initiate("west-east", [&](const InitiateResult& x) { rb = x; });
    ASSERT_TRUE(s.loop.run_until([&] { return ra && rb; }, 200s));
    ASSERT_TRUE(ra->ok) << ra->reason;
    ASSERT_TRUE(rb->ok) << rb->reason;
    // Through rekeys of both kinds, under impairment, then quiet.
    s.loop.advance(130s);
    s.net.set_impairment({});
    s.loop.advance(70s);
    duplicates += s.logged("simultaneous initiation");
    expect_converged(s);
    for (Node* n : {&s.a, &s.b}) {
      for (const auto& e : n->events) {
        EXPECT_NE(e.type, EventType::kIkeFailed) << e.reason;
      }
    }
  }
  EXPECT_GE(duplicates, 4u) << "the unimpaired seeds make two IKE SAs for sure";
}

}  // namespace
}  // namespace ipsecd::engine
