// Two engines over an in-memory network with in-memory kernels and a manual
// clock: establishment, further CHILD SAs, deletes, loss, retries, refusals,
// NAT traversal and its keepalives.
#include <gtest/gtest.h>

#include <map>

#include "engine/wire/message.h"
#include "tests/engine/harness.h"

namespace ipsecd::engine {
namespace {

using namespace std::chrono_literals;
using kernel::Address;
using namespace harness;

TEST_F(EngineHarness, PskEstablishesIkeAndFirstChildWithMatchingSpisSelectorsAndKeys) {
  start();
  load_both(connection("west-east", {}));
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;

  auto la = a->engine->list();
  auto lb = b->engine->list();
  ASSERT_EQ(la.size(), 1u);
  ASSERT_EQ(lb.size(), 1u);
  EXPECT_EQ(la[0].state, "established");
  EXPECT_EQ(lb[0].state, "established");
  EXPECT_TRUE(la[0].initiator);
  EXPECT_FALSE(lb[0].initiator);
  EXPECT_EQ(la[0].spi_i, lb[0].spi_i);
  EXPECT_EQ(la[0].spi_r, lb[0].spi_r);
  EXPECT_EQ(la[0].algorithms, lb[0].algorithms);
  EXPECT_EQ(la[0].remote_id, "192.0.2.2");
  EXPECT_EQ(lb[0].remote_id, "192.0.2.1");
  ASSERT_EQ(la[0].children.size(), 1u);
  ASSERT_EQ(lb[0].children.size(), 1u);
  const auto& ca = la[0].children[0];
  const auto& cb = lb[0].children[0];
  EXPECT_EQ(ca.spi_in, cb.spi_out);
  EXPECT_EQ(ca.spi_out, cb.spi_in);
  EXPECT_EQ(ca.local_ts, "[10.1.0.0/24]");
  EXPECT_EQ(ca.remote_ts, "[10.2.0.0/24]");
  EXPECT_EQ(cb.local_ts, "[10.2.0.0/24]");
  EXPECT_EQ(cb.remote_ts, "[10.1.0.0/24]");
  EXPECT_EQ(ca.algorithms, cb.algorithms);
  EXPECT_EQ(ca.mode, "tunnel");

  // Each kernel holds an inbound and an outbound SA; a's outbound keys are b's inbound keys.
  EXPECT_EQ(a->backend.kernel().sa_count(), 2u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 2u);
  const auto& a_out = a->backend.specs.at({"192.0.2.2", ca.spi_out});
  const auto& b_in = b->backend.specs.at({"192.0.2.2", cb.spi_in});
  const auto& a_in = a->backend.specs.at({"192.0.2.1", ca.spi_in});
  const auto& b_out = b->backend.specs.at({"192.0.2.1", cb.spi_out});
  EXPECT_EQ(key_bytes(a_out.enc_key), key_bytes(b_in.enc_key));
  EXPECT_EQ(key_bytes(a_in.enc_key), key_bytes(b_out.enc_key));
  EXPECT_NE(key_bytes(a_in.enc_key), key_bytes(a_out.enc_key));
  EXPECT_EQ(a_out.cipher, b_in.cipher);
  EXPECT_EQ(a_out.src, Address::literal("192.0.2.1"));
  EXPECT_EQ(b_in.src, Address::literal("192.0.2.1"));
  // out, in and fwd for the one flow on each side.
  EXPECT_EQ(a->backend.kernel().policy_count(), 3u);
  EXPECT_EQ(b->backend.kernel().policy_count(), 3u);
  kernel::Selector out{kernel::Prefix::literal("10.1.0.0/24"),
                       kernel::Prefix::literal("10.2.0.0/24")};
  auto policy = a->backend.get_policy(kernel::PolicyId{out, kernel::Direction::kOut, {}});
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->templates.at(0).dst, Address::literal("192.0.2.2"));
  // Traffic from a's subnet is protected by the SA b receives on.
  kernel::Packet p{kernel::Direction::kOut, Address::literal("10.1.0.5"),
                   Address::literal("10.2.0.7")};
  auto verdict = a->backend.kernel().send(p);
  EXPECT_EQ(verdict.verdict, kernel::Verdict::kProtected);
  ASSERT_TRUE(verdict.sa.has_value());
  EXPECT_EQ(verdict.sa->spi, cb.spi_in);

  EXPECT_EQ(a->of(EventType::kIkeUp).size(), 1u);
  EXPECT_EQ(a->of(EventType::kChildUp).size(), 1u);
  EXPECT_EQ(b->of(EventType::kIkeUp).size(), 1u);
  EXPECT_EQ(b->of(EventType::kChildUp).size(), 1u);
  EXPECT_EQ(b->engine->half_open_count(), 0u);
}

TEST_F(EngineHarness, CreateChildSaAddsASecondChildToTheSameIkeSa) {
  start();
  load_both(connection("net1", {}));
  Ends second;
  second.left_subnets = {"10.1.5.0/24"};
  second.right_subnets = {"10.2.5.0/24"};
  load_both(connection("net2", second));
  ASSERT_TRUE(up(*a, "net1").ok);
  auto r = up(*a, "net2");
  ASSERT_TRUE(r.ok) << r.reason;
  auto la = a->engine->list();
  auto lb = b->engine->list();
  ASSERT_EQ(la.size(), 1u);
  ASSERT_EQ(lb.size(), 1u);
  ASSERT_EQ(la[0].children.size(), 2u);
  ASSERT_EQ(lb[0].children.size(), 2u);
  EXPECT_EQ(la[0].children[1].connection, "net2");
  EXPECT_EQ(lb[0].children[1].connection, "net2");
  EXPECT_EQ(lb[0].children[1].local_ts, "[10.2.5.0/24]");
  EXPECT_EQ(la[0].children[1].spi_in, lb[0].children[1].spi_out);
  EXPECT_EQ(a->backend.kernel().sa_count(), 4u);
  EXPECT_EQ(b->backend.kernel().policy_count(), 6u);
  const auto& a_out = a->backend.specs.at({"192.0.2.2", la[0].children[1].spi_out});
  const auto& b_in = b->backend.specs.at({"192.0.2.2", lb[0].children[1].spi_in});
  EXPECT_EQ(key_bytes(a_out.enc_key), key_bytes(b_in.enc_key));
  // Initiating what is up answers at once.
  EXPECT_TRUE(up(*a, "net2").ok);
  EXPECT_EQ(a->children(), 2u);
}

TEST_F(EngineHarness, CreateChildSaWithPfsRunsAFreshKeyExchange) {
  start();
  auto c1 = connection("net1", {});
  load_both(c1);
  Ends second;
  second.left_subnets = {"10.1.5.0/24"};
  second.right_subnets = {"10.2.5.0/24"};
  auto c2 = connection("net2", second);
  c2.esp = proposals(model::ProposalKind::kEsp, "aes_gcm128;dh19");
  load_both(c2);
  ASSERT_TRUE(up(*a, "net1").ok);
  auto r = up(*a, "net2");
  ASSERT_TRUE(r.ok) << r.reason;
  auto la = a->engine->list();
  ASSERT_EQ(la[0].children.size(), 2u);
  EXPECT_EQ(la[0].children[1].algorithms.encr, (model::EncrAlg{model::EncrId::kAesGcm16, 128}))
      << la[0].children[1].algorithms.str();
  const auto& a_out = a->backend.specs.at({"192.0.2.2", la[0].children[1].spi_out});
  auto lb = b->engine->list();
  const auto& b_in = b->backend.specs.at({"192.0.2.2", lb[0].children[1].spi_in});
  EXPECT_EQ(key_bytes(a_out.enc_key), key_bytes(b_in.enc_key));
}

TEST_F(EngineHarness, ChildDeleteFromTheInitiatorIsSeenByTheResponder) {
  start();
  load_both(connection("net1", {}));
  Ends second;
  second.left_subnets = {"10.1.5.0/24"};
  second.right_subnets = {"10.2.5.0/24"};
  load_both(connection("net2", second));
  ASSERT_TRUE(up(*a, "net1").ok);
  ASSERT_TRUE(up(*a, "net2").ok);
  a->engine->terminate("net2");
  loop.advance(1s);
  EXPECT_EQ(a->children(), 1u);
  EXPECT_EQ(b->children(), 1u);
  ASSERT_EQ(b->of(EventType::kChildDown).size(), 1u);
  EXPECT_EQ(b->of(EventType::kChildDown)[0].connection, "net2");
  EXPECT_EQ(b->of(EventType::kChildDown)[0].reason, "deleted by the peer");
  EXPECT_EQ(a->backend.kernel().sa_count(), 2u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 2u);
  EXPECT_EQ(b->backend.kernel().policy_count(), 3u);
  EXPECT_EQ(a->engine->list().at(0).state, "established");
}

TEST_F(EngineHarness, IkeDeleteFromTheResponderTakesEverythingDownOnBothSides) {
  start();
  load_both(connection("west-east", {}));
  ASSERT_TRUE(up(*a, "west-east").ok);
  b->engine->terminate("west-east");
  loop.advance(1s);
  EXPECT_TRUE(a->engine->list().empty());
  EXPECT_TRUE(b->engine->list().empty());
  ASSERT_EQ(a->of(EventType::kIkeDown).size(), 1u);
  EXPECT_EQ(a->of(EventType::kIkeDown)[0].reason, "deleted by the peer");
  EXPECT_EQ(a->of(EventType::kChildDown).size(), 1u);
  EXPECT_EQ(b->of(EventType::kIkeDown).size(), 1u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(a->backend.kernel().policy_count(), 0u);
  EXPECT_EQ(b->backend.kernel().policy_count(), 0u);
  // And it comes back.
  EXPECT_TRUE(up(*a, "west-east").ok);
}

TEST_F(EngineHarness, ConvergesDespiteLossDuplicationAndReordering) {
  for (uint64_t seed : {1, 2, 3, 4, 5, 6, 7, 8}) {
    SCOPED_TRACE(seed);
    ManualClock c;
    SimulatedLoop l(c);
    MemoryNetwork n(l, seed);
    n.set_impairment(Impairment{0.25, 0.25, 0.3});
    Node x(l, n, "192.0.2.1", seed * 3, {});
    Node y(l, n, "192.0.2.2", seed * 5, {});
    auto secrets = psk("192.0.2.1 192.0.2.2 : PSK \"s3cr3t-s3cr3t\"\n");
    x.engine->set_secrets(secrets);
    y.engine->set_secrets(secrets);
    Ends second;
    second.left_subnets = {"10.1.5.0/24"};
    second.right_subnets = {"10.2.5.0/24"};
    for (auto* node : {&x, &y}) {
      ASSERT_TRUE(node->engine->load(connection("net1", {})).ok());
      ASSERT_TRUE(node->engine->load(connection("net2", second)).ok());
    }
    std::optional<InitiateResult> r1, r2;
    x.engine->initiate("net1", [&](const InitiateResult& r) {
      r1 = r;
      x.engine->initiate("net2", [&](const InitiateResult& rr) { r2 = rr; });
    });
    ASSERT_TRUE(l.run_until([&] { return r2.has_value(); }, 120s));
    ASSERT_TRUE(r1->ok) << r1->reason;
    ASSERT_TRUE(r2->ok) << r2->reason;
    l.advance(10s);  // late duplicates and the responder's install
    EXPECT_EQ(x.children(), 2u);
    EXPECT_EQ(y.children(), 2u);
    EXPECT_EQ(x.backend.kernel().sa_count(), 4u);
    EXPECT_EQ(y.backend.kernel().sa_count(), 4u);
    EXPECT_EQ(y.engine->ike_sa_count(), 1u);
    EXPECT_GT(n.counters().lost + n.counters().duplicated, 0u);
  }
}

TEST_F(EngineHarness, RetransmittedRequestIsAnsweredFromTheCachedResponse) {
  start();
  load_both(connection("west-east", {}));
  int dropped = 0;
  // Drop b's first IKE_AUTH response: a retransmits, b must not process it twice.
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
    auto h = wire::decode_header(m);
    if (from.address == Address::literal("192.0.2.2") && h.ok() &&
        h->exchange == wire::ExchangeType::kIkeAuth && dropped == 0) {
      ++dropped;
      return false;
    }
    return true;
  });
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(dropped, 1);
  EXPECT_EQ(b->children(), 1u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 2u);
  EXPECT_EQ(b->of(EventType::kChildUp).size(), 1u);
}

TEST_F(EngineHarness, InvalidKeRetriesWithTheGroupTheResponderAsksFor) {
  start();
  auto ca = connection("west-east", {});
  ca.ike = proposals(model::ProposalKind::kIke, "aes_gcm256-sha2_256;dh31+dh19");
  auto cb = connection("west-east", {});
  cb.ike = proposals(model::ProposalKind::kIke, "aes_gcm256-sha2_256;dh19");
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(cb).ok());
  int inits = 0;
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
    auto h = wire::decode_header(m);
    inits += from.address == Address::literal("192.0.2.1") && h.ok() &&
             h->exchange == wire::ExchangeType::kIkeSaInit;
    return true;
  });
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(inits, 2);
  auto la = a->engine->list();
  ASSERT_TRUE(la.at(0).algorithms);
  EXPECT_EQ(la.at(0).algorithms->dh, model::DhId::kEcp256) << la.at(0).algorithms->str();
  EXPECT_EQ(b->engine->ike_sa_count(), 1u);  // the refused first attempt left nothing
}

TEST_F(EngineHarness, CookieRoundTripWhenTheResponderHasTooManyHalfOpenSas) {
  EngineOptions strict;
  strict.cookie_threshold = 0;  // every IKE_SA_INIT must bring a cookie
  start({}, strict);
  load_both(connection("west-east", {}));
  std::vector<bool> with_cookie;
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
    auto msg = wire::decode(m);
    if (from.address == Address::literal("192.0.2.1") && msg.ok() &&
        msg->header.exchange == wire::ExchangeType::kIkeSaInit) {
      const auto* n = std::get_if<wire::NotifyPayload>(&msg->payloads.front());
      with_cookie.push_back(n != nullptr && n->type == wire::NotifyType::kCookie);
    }
    return true;
  });
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(with_cookie, (std::vector<bool>{false, true}));
  EXPECT_EQ(b->engine->ike_sa_count(), 1u);
}

TEST_F(EngineHarness, BothEndsAnnounceTheirSignatureHashesInIkeSaInit) {
  start();
  load_both(connection("west-east", {}));
  std::vector<std::vector<uint8_t>> announced;  // request, response
  net.set_filter([&](const Endpoint&, const Endpoint&, std::span<const uint8_t> m) {
    auto msg = wire::decode(m);
    if (msg.ok() && msg->header.exchange == wire::ExchangeType::kIkeSaInit) {
      for (const auto& p : msg->payloads) {
        const auto* n = std::get_if<wire::NotifyPayload>(&p);
        if (n != nullptr && n->type == wire::NotifyType::kSignatureHashAlgorithms) {
          announced.push_back(n->data);
        }
      }
    }
    return true;
  });
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  // RFC 7427 4: SHA2-256, SHA2-384, SHA2-512 and RFC 8420's Identity, each way.
  const std::vector<uint8_t> hashes = {0, 2, 0, 3, 0, 4, 0, 5};
  EXPECT_EQ(announced, (std::vector<std::vector<uint8_t>>{hashes, hashes}));
}

TEST_F(EngineHarness, GivesUpWithPeerNotRespondingAfterTheRetransmitTimeout) {
  start();
  load_both(connection("west-east", {}));
  int sent = 0;
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t>) {
    sent += from.address == Address::literal("192.0.2.1");
    return false;
  });
  const auto t0 = clock.now();
  auto r = up(*a, "west-east", 200s);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "peer not responding");
  // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, then give up at 60 s.
  EXPECT_EQ(sent, 7);
  EXPECT_EQ(clock.now() - t0, 60s + 100ms);
  ASSERT_EQ(a->of(EventType::kIkeFailed).size(), 1u);
  EXPECT_EQ(a->of(EventType::kIkeFailed)[0].reason, "peer not responding");
  EXPECT_FALSE(a->of(EventType::kIkeFailed)[0].dead_peer) << "no liveness check went unanswered";
  EXPECT_EQ(a->engine->ike_sa_count(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);  // the reserved SPI went too
}

TEST_F(EngineHarness, AnUnansweredLivenessCheckFlagsTheEventsDeadPeer) {
  start();
  auto c = connection("west-east", {});
  c.dpd_delay = 5s;
  c.dpd_timeout = 10s;
  ASSERT_TRUE(a->engine->load(c).ok());
  ASSERT_TRUE(b->engine->load(connection("west-east", {})).ok());  // b checks nothing
  ASSERT_TRUE(up(*a, "west-east").ok);
  bool silent = false;
  net.set_filter([&](const Endpoint& from, const Endpoint&, std::span<const uint8_t>) {
    return !(silent && from.address == Address::literal("192.0.2.2"));
  });
  loop.advance(20s);
  EXPECT_EQ(a->engine->ike_sa_count(), 1u) << "answered checks keep it up";
  // What a reconciler sees when each event arrives: the IKE SA already gone
  // from the listing, and events_pending() while the CHILD SA's is on its way.
  std::vector<std::pair<bool, bool>> seen;  // (listed, pending) at each dead_peer event
  const uint64_t watching = a->engine->subscribe([&](const Event& e) {
    if (e.dead_peer) {
      seen.emplace_back(!a->engine->list().empty(), a->engine->events_pending("west-east"));
    }
  });
  EXPECT_FALSE(a->engine->events_pending("west-east"));
  silent = true;
  ASSERT_TRUE(loop.run_until([&] { return a->engine->ike_sa_count() == 0; }, 60s));
  loop.advance(10ms);
  const auto failed = a->of(EventType::kIkeFailed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_TRUE(failed[0].dead_peer) << failed[0].reason;
  EXPECT_EQ(failed[0].reason, "peer not responding: no answer to a liveness check (DPD) in 10 s");
  const auto down = a->of(EventType::kChildDown);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_TRUE(down[0].dead_peer) << down[0].reason;
  EXPECT_EQ(down[0].connection, "west-east");
  EXPECT_EQ(seen, (std::vector<std::pair<bool, bool>>{{false, true}, {false, false}}));
  a->engine->unsubscribe(watching);
  // The silent end declared nothing.
  for (const auto& e : b->events) {
    EXPECT_FALSE(e.dead_peer) << engine::name(e.type) << ": " << e.reason;
  }
}

TEST_F(EngineHarness, APeerDeleteIsNotADeadPeer) {
  start();
  auto c = connection("west-east", {});
  c.dpd_delay = 5s;
  load_both(c);
  ASSERT_TRUE(up(*a, "west-east").ok);
  b->engine->terminate("west-east");
  loop.advance(2s);
  ASSERT_EQ(a->engine->ike_sa_count(), 0u);
  ASSERT_FALSE(a->events.empty());
  for (const auto& e : a->events) {
    EXPECT_FALSE(e.dead_peer) << engine::name(e.type) << ": " << e.reason;
  }
}

TEST_F(EngineHarness, HalfOpenResponderSaTimesOut) {
  EngineOptions b_options;
  b_options.half_open_timeout = 5s;
  start({}, b_options);
  load_both(connection("west-east", {}));
  net.set_filter([&](const Endpoint&, const Endpoint&, std::span<const uint8_t> m) {
    auto h = wire::decode_header(m);
    return h.ok() && h->exchange == wire::ExchangeType::kIkeSaInit;
  });
  a->engine->initiate("west-east", [](const InitiateResult&) {});
  loop.advance(1s);
  EXPECT_EQ(b->engine->half_open_count(), 1u);
  loop.advance(5s);
  EXPECT_EQ(b->engine->half_open_count(), 0u);
  EXPECT_EQ(b->engine->ike_sa_count(), 0u);
  ASSERT_EQ(b->of(EventType::kIkeFailed).size(), 1u);
  EXPECT_NE(b->of(EventType::kIkeFailed)[0].reason.find("half-open"), std::string::npos);
}

TEST_F(EngineHarness, WrongPskFailsAuthenticationOnBothSidesWithAClearReason) {
  start();
  b->engine->set_secrets(psk("192.0.2.1 192.0.2.2 : PSK \"something else entirely\"\n"));
  load_both(connection("west-east", {}));
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("AUTHENTICATION_FAILED"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("same PSK"), std::string::npos) << r.reason;
  ASSERT_EQ(b->of(EventType::kIkeFailed).size(), 1u);
  EXPECT_NE(b->of(EventType::kIkeFailed)[0].reason.find("AUTHENTICATION_FAILED"),
            std::string::npos);
  EXPECT_NE(b->of(EventType::kIkeFailed)[0].reason.find("192.0.2.1"), std::string::npos);
  EXPECT_EQ(a->engine->ike_sa_count(), 0u);
  EXPECT_EQ(b->engine->ike_sa_count(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
}

TEST_F(EngineHarness, NoIkeProposalChosen) {
  start();
  auto ca = connection("west-east", {});
  ca.ike = proposals(model::ProposalKind::kIke, "aes256-sha2_256;dh14");
  auto cb = connection("west-east", {});
  cb.ike = proposals(model::ProposalKind::kIke, "aes_gcm128-sha2_512;dh19");
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(cb).ok());
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("no proposal chosen"), std::string::npos) << r.reason;
  EXPECT_EQ(b->engine->ike_sa_count(), 0u);
}

TEST_F(EngineHarness, NoEspProposalChosenFailsTheChildButKeepsTheIkeSa) {
  start();
  auto ca = connection("west-east", {});
  ca.esp = proposals(model::ProposalKind::kEsp, "aes_gcm128");
  auto cb = connection("west-east", {});
  cb.esp = proposals(model::ProposalKind::kEsp, "chacha20_poly1305");
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(cb).ok());
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("NO_PROPOSAL_CHOSEN"), std::string::npos) << r.reason;
  EXPECT_EQ(a->engine->list().at(0).state, "established");
  EXPECT_EQ(b->engine->list().at(0).state, "established");
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  ASSERT_EQ(b->of(EventType::kChildFailed).size(), 1u);
}

TEST_F(EngineHarness, ResponderNarrowsTrafficSelectors) {
  start();
  Ends wide;
  wide.left_subnets = {"10.1.0.0/16"};
  wide.right_subnets = {"10.2.0.0/16"};
  auto ca = connection("west-east", wide);
  ca.narrowing = true;
  Ends narrow_ends;
  narrow_ends.left_subnets = {"10.1.1.0/24"};
  narrow_ends.right_subnets = {"10.2.0.0/24", "10.2.9.0/24"};
  auto cb = connection("west-east", narrow_ends);
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(cb).ok());
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  auto ca_info = a->engine->list().at(0).children.at(0);
  auto cb_info = b->engine->list().at(0).children.at(0);
  EXPECT_EQ(ca_info.local_ts, "[10.1.1.0/24]");
  EXPECT_EQ(ca_info.remote_ts, "[10.2.0.0/24 10.2.9.0/24]");
  EXPECT_EQ(ca_info.remote_selectors, (std::vector<std::string>{"10.2.0.0/24", "10.2.9.0/24"}));
  EXPECT_EQ(cb_info.local_ts, "[10.2.0.0/24 10.2.9.0/24]");
  EXPECT_EQ(cb_info.remote_ts, "[10.1.1.0/24]");
  // Two flows: out, in and fwd each.
  EXPECT_EQ(a->backend.kernel().policy_count(), 6u);
  EXPECT_EQ(b->backend.kernel().policy_count(), 6u);
}

TEST_F(EngineHarness, NarrowedAnswerIsRefusedWithoutNarrowingYes) {
  start();
  Ends wide;
  wide.left_subnets = {"10.1.0.0/16"};
  Ends narrow_ends;
  narrow_ends.left_subnets = {"10.1.1.0/24"};
  ASSERT_TRUE(a->engine->load(connection("west-east", wide)).ok());
  ASSERT_TRUE(b->engine->load(connection("west-east", narrow_ends)).ok());
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("narrowing=no"), std::string::npos) << r.reason;
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  loop.advance(5s);  // the peer is told to delete its half
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(b->children(), 0u);
}

TEST_F(EngineHarness, DisjointSelectorsAreTsUnacceptable) {
  start();
  Ends other;
  other.right_subnets = {"10.9.0.0/24"};
  ASSERT_TRUE(a->engine->load(connection("west-east", {})).ok());
  ASSERT_TRUE(b->engine->load(connection("west-east", other)).ok());
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("TS_UNACCEPTABLE"), std::string::npos) << r.reason;
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
}

TEST_F(EngineHarness, ProtoportNarrowsToThePort) {
  start();
  auto ca = connection("west-east", {});
  ca.narrowing = true;
  auto cb = connection("west-east", {});
  cb.right.protoport = model::ProtoPort::parse("tcp/22").value();
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(cb).ok());
  auto r = up(*a, "west-east");
  ASSERT_TRUE(r.ok) << r.reason;
  auto ca_info = a->engine->list().at(0).children.at(0);
  EXPECT_EQ(ca_info.remote_ts, "[10.2.0.0/24 6/22]");
  EXPECT_EQ(ca_info.local_ts, "[10.1.0.0/24]");  // leftprotoport= is unset: any
  kernel::Selector out{kernel::Prefix::literal("10.1.0.0/24"),
                       kernel::Prefix::literal("10.2.0.0/24"), 6, 0, 22};
  EXPECT_TRUE(a->backend.get_policy(kernel::PolicyId{out, kernel::Direction::kOut, {}}).ok());
}

TEST_F(EngineHarness, HostToHostWithoutSubnetsAndTransportMode) {
  start();
  Ends hosts;
  hosts.left_subnets = {};
  hosts.right_subnets = {};
  auto c = connection("hosts", hosts);
  c.mode = model::Mode::kTransport;
  load_both(c);
  auto r = up(*a, "hosts");
  ASSERT_TRUE(r.ok) << r.reason;
  auto ci = a->engine->list().at(0).children.at(0);
  EXPECT_EQ(ci.mode, "transport");
  EXPECT_EQ(ci.local_ts, "[192.0.2.1/32]");
  EXPECT_EQ(ci.remote_ts, "[192.0.2.2/32]");
  auto in = b->backend.get_sa(
      kernel::SaId{Address::literal("192.0.2.2"), b->engine->list().at(0).children.at(0).spi_in});
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->mode, kernel::Mode::kTransport);
  EXPECT_EQ(a->backend.kernel().policy_count(), 2u);  // no fwd in transport mode
}

TEST_F(EngineHarness, TransportModeRefusedByATunnelResponder) {
  start();
  auto ca = connection("west-east", {});
  ca.mode = model::Mode::kTransport;
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(connection("west-east", {})).ok());
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("tunnel mode"), std::string::npos) << r.reason;
}

TEST_F(EngineHarness, Ipv6EndpointsAndSubnets) {
  start({}, {}, "2001:db8::1", "2001:db8::2");
  Ends v6;
  v6.left = "2001:db8::1";
  v6.right = "2001:db8::2";
  v6.left_subnets = {"2001:db8:1::/48"};
  v6.right_subnets = {"2001:db8:2::/48"};
  load_both(connection("v6", v6));
  auto r = up(*a, "v6");
  ASSERT_TRUE(r.ok) << r.reason;
  auto la = a->engine->list().at(0);
  EXPECT_EQ(la.remote, "[2001:db8::2]:500");
  EXPECT_EQ(la.children.at(0).local_ts, "[2001:db8:1::/48]");
  EXPECT_EQ(la.children.at(0).remote_ts, "[2001:db8:2::/48]");
  EXPECT_EQ(b->backend.kernel().sa_count(), 2u);
  const auto& a_out = a->backend.specs.at({"2001:db8::2", la.children.at(0).spi_out});
  auto lb = b->engine->list().at(0);
  const auto& b_in = b->backend.specs.at({"2001:db8::2", lb.children.at(0).spi_in});
  EXPECT_EQ(key_bytes(a_out.enc_key), key_bytes(b_in.enc_key));
}

TEST_F(EngineHarness, ResponderPicksTheConnectionByPeerId) {
  start();
  auto ca = connection("road", {});
  ca.left.id = model::Identity::parse("@west.example").value();
  ca.right.id = model::Identity::parse("@east.example").value();
  auto other = connection("other", {});
  other.left.id = model::Identity::parse("@someone.example").value();
  other.right.id = model::Identity::parse("@east.example").value();
  other.left.subnets = {model::Subnet::parse("10.7.0.0/24").value()};
  ASSERT_TRUE(a->engine->load(ca).ok());
  ASSERT_TRUE(b->engine->load(other).ok());
  ASSERT_TRUE(b->engine->load(ca).ok());
  auto secrets = psk("@west.example @east.example : PSK \"by-name-secret\"\n");
  a->engine->set_secrets(secrets);
  b->engine->set_secrets(secrets);
  auto r = up(*a, "road");
  ASSERT_TRUE(r.ok) << r.reason;
  auto lb = b->engine->list().at(0);
  EXPECT_EQ(lb.connection, "road");
  EXPECT_EQ(lb.remote_id, "@west.example");
}

TEST_F(EngineHarness, KernelRefusingTheInboundSaAnswersTheChildWithNoProposalChosen) {
  start();
  load_both(connection("west-east", {}));
  b->backend.fail_update_sa = kernel::Error{kernel::ErrorCode::kUnsupported, 0, "no AES-GCM"};
  auto r = up(*a, "west-east");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("NO_PROPOSAL_CHOSEN"), std::string::npos) << r.reason;
  EXPECT_EQ(b->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 0u);
  EXPECT_EQ(a->engine->list().at(0).state, "established");
  ASSERT_EQ(b->of(EventType::kChildFailed).size(), 1u);
  EXPECT_NE(b->of(EventType::kChildFailed)[0].reason.find("no AES-GCM"), std::string::npos);
}

TEST_F(EngineHarness, LoadExplainsWhatItCannotNegotiate) {
  start();
  auto c = connection("elsewhere", {});
  c.left.address = model::IpAddress::parse("198.51.100.1").value();
  auto st = a->engine->load(c);
  EXPECT_NE(st.error.find("neither left= nor right= is a local address"), std::string::npos)
      << st.error;
  auto rsa = connection("rsa", {});
  rsa.authby = model::AuthMethod::kRsaSig;
  EXPECT_NE(a->engine->load(rsa).error.find("authby=secret"), std::string::npos);
  std::optional<InitiateResult> r;
  a->engine->initiate("missing", [&](const InitiateResult& x) { r = x; });
  loop.run_until_idle();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "no connection named missing is loaded");
}

TEST_F(EngineHarness, ListReportsKernelCounters) {
  start();
  load_both(connection("west-east", {}));
  ASSERT_TRUE(up(*a, "west-east").ok);
  kernel::Packet p{kernel::Direction::kOut, Address::literal("10.1.0.5"),
                   Address::literal("10.2.0.7")};
  p.bytes = 300;
  ASSERT_EQ(a->backend.kernel().send(p).verdict, kernel::Verdict::kProtected);
  auto child = a->engine->list().at(0).children.at(0);
  EXPECT_EQ(child.out.packets, 1u);
  EXPECT_EQ(child.out.bytes, 300u);
  EXPECT_EQ(child.in.packets, 0u);
}

// Many connections between the same two addresses, told apart only by ids:
// the responder's candidate index must find each by the peer's id, fold FQDN
// case as id matching does, and see connections loaded after it was built.
TEST_F(EngineHarness, ResponderFindsEachOfManyConnectionsByPeerIdAfterLaterLoads) {
  start();
  auto numbered = [](int i, bool upper_on_responder) {
    Ends ends;
    ends.left_subnets = {"10.1." + std::to_string(i) + ".0/24"};
    ends.right_subnets = {"10.2." + std::to_string(i) + ".0/24"};
    auto c = connection("c" + std::to_string(i), ends);
    std::string left_id = "@c" + std::to_string(i) + "-left.example";
    if (upper_on_responder) {
      left_id = "@C" + std::to_string(i) + "-LEFT.example";
    }
    c.left.id = model::Identity::parse(left_id).value();
    c.right.id = model::Identity::parse("@c" + std::to_string(i) + "-right.example").value();
    return c;
  };
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(a->engine->load(numbered(i, false)).ok());
    ASSERT_TRUE(b->engine->load(numbered(i, i == 17)).ok());
  }
  a->engine->set_secrets(psk(": PSK \"one for all\"\n"));
  b->engine->set_secrets(psk(": PSK \"one for all\"\n"));
  for (int i : {31, 17, 0}) {
    auto r = up(*a, "c" + std::to_string(i));
    ASSERT_TRUE(r.ok) << i << ": " << r.reason;
  }
  // Loaded after the responder cached its candidates for these addresses.
  ASSERT_TRUE(a->engine->load(numbered(40, false)).ok());
  ASSERT_TRUE(b->engine->load(numbered(40, false)).ok());
  auto r = up(*a, "c40");
  ASSERT_TRUE(r.ok) << r.reason;
  std::vector<std::string> names;
  for (const auto& sa : b->engine->list()) {
    names.push_back(sa.connection);
    ASSERT_EQ(sa.children.size(), 1u);
    EXPECT_EQ(sa.children[0].connection, sa.connection);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"c0", "c17", "c31", "c40"}));
  EXPECT_EQ(a->engine->ike_sa_count(), 4u);  // distinct ids: no IKE SA shared
}

// After its IKE SA is gone, a connection is neither "up" nor able to reuse
// that IKE SA: initiating again negotiates a new IKE SA.
TEST_F(EngineHarness, InitiateAfterTheIkeSaWasDeletedNegotiatesANewOne) {
  start();
  load_both(connection("net1", {}));
  Ends second;
  second.left_subnets = {"10.1.5.0/24"};
  second.right_subnets = {"10.2.5.0/24"};
  load_both(connection("net2", second));
  ASSERT_TRUE(up(*a, "net1").ok);
  const uint64_t first = a->engine->list().at(0).spi_i;
  b->engine->terminate("net1");
  loop.advance(2s);
  ASSERT_EQ(a->engine->ike_sa_count(), 0u);
  auto r = up(*a, "net2");
  ASSERT_TRUE(r.ok) << r.reason;
  r = up(*a, "net1");
  ASSERT_TRUE(r.ok) << r.reason;
  auto la = a->engine->list();
  ASSERT_EQ(la.size(), 1u);
  EXPECT_NE(la[0].spi_i, first);
  EXPECT_EQ(la[0].children.size(), 2u);  // net1 joined net2's new IKE SA
}

// RFC 7296 3.14: after IKE_SA_INIT only SK-protected messages count; a forged
// plaintext DELETE with the right SPIs, from anywhere, changes nothing.
TEST_F(EngineHarness, UnprotectedDeleteIsIgnored) {
  start();
  load_both(connection("west-east", {}));
  ASSERT_TRUE(up(*a, "west-east").ok);
  auto sas = a->engine->list();
  ASSERT_EQ(sas.size(), 1u);
  auto attacker = net.attach({Address::literal("198.51.100.9")});
  wire::Message m;
  m.header.spi_i = sas[0].spi_i;
  m.header.spi_r = sas[0].spi_r;
  m.header.exchange = wire::ExchangeType::kInformational;
  m.header.initiator = false;
  m.header.response = false;
  m.header.message_id = 0;
  m.payloads.emplace_back(wire::DeletePayload{wire::ProtocolId::kIke, {}});
  auto bytes = wire::encode(m);
  ASSERT_TRUE(bytes.ok());
  for (const char* source : {"198.51.100.9", "192.0.2.2"}) {
    attacker->send(Endpoint{Address::literal(source), 500},
                   Endpoint{Address::literal("192.0.2.1"), 500}, *bytes);
    loop.advance(1s);
  }
  EXPECT_EQ(a->engine->list().size(), 1u);
  for (const auto& e : a->events) {
    EXPECT_NE(e.type, EventType::kIkeDown) << e.reason;
  }
  // The SA still works: a real DELETE from the peer is honoured.
  b->engine->terminate("west-east");
  loop.advance(1s);
  EXPECT_TRUE(a->engine->list().empty());
}

TEST_F(EngineHarness, APeerBeyondTheChildAndIkeSaLimitsIsAnsweredNoAdditionalSas) {
  EngineOptions strict;
  strict.max_child_sas_per_connection = 1;
  strict.max_ike_sas_per_peer = 1;
  start({}, strict);
  auto c = connection("west-east", {});
  load_both(c);
  ASSERT_TRUE(up(*a, "west-east").ok);
  // A second CHILD SA of the connection beside the first (a changed esp= on a).
  auto changed = c;
  changed.esp = proposals(model::ProposalKind::kEsp, "aes_gcm128");
  ASSERT_TRUE(a->engine->load(changed).ok());
  std::optional<InitiateResult> r;
  a->engine->replace("west-east", [&](const InitiateResult& x) { r = x; });
  ASSERT_TRUE(loop.run_until([&] { return r.has_value(); }, 30s));
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->reason.find("NO_ADDITIONAL_SAS"), std::string::npos) << r->reason;
  EXPECT_EQ(b->engine->refused_child_sas(), 1u);
  EXPECT_EQ(a->children(), 1u) << "the first CHILD SA stays";
  // A second IKE SA with the same peer (a changed ike= needs one).
  auto rekeyed = changed;
  rekeyed.ike = proposals(model::ProposalKind::kIke, "aes_gcm256-sha256-ecp256");
  ASSERT_TRUE(a->engine->load(rekeyed).ok());
  r.reset();
  a->engine->replace("west-east", [&](const InitiateResult& x) { r = x; });
  ASSERT_TRUE(loop.run_until([&] { return r.has_value(); }, 30s));
  EXPECT_FALSE(r->ok);
  EXPECT_NE(r->reason.find("NO_ADDITIONAL_SAS"), std::string::npos) << r->reason;
  EXPECT_EQ(b->engine->refused_ike_sas(), 1u);
  loop.advance(1s);
  EXPECT_EQ(b->engine->ike_sa_count(), 1u);
  EXPECT_EQ(a->children(), 1u);
}

TEST_F(EngineHarness, ReplaceBringsTheNewDefinitionUpBeforeTheOldGoes) {
  start();
  auto c = connection("west-east", {});
  load_both(c);
  ASSERT_TRUE(up(*a, "west-east").ok);
  const auto old = a->engine->list().at(0).children.at(0);
  auto changed = c;
  changed.esp = proposals(model::ProposalKind::kEsp, "aes_gcm128");
  ASSERT_TRUE(a->engine->load(changed).ok());
  ASSERT_TRUE(b->engine->load(changed).ok());
  EXPECT_TRUE(a->engine->stale("west-east"));
  std::optional<InitiateResult> r;
  a->engine->replace("west-east", [&](const InitiateResult& x) { r = x; });
  // At every step until it is done, a has a CHILD SA not being deleted, and b
  // (the responder: the kernel sends with its newest SA) never sends with an
  // SA that a has not installed with its keys yet (a larval SPI is not one).
  while (!r) {
    bool up_now = false;
    const auto listed = a->engine->list();
    for (const auto& ch : listed.at(0).children) {
      up_now = up_now || ch.state != "deleting";
    }
    ASSERT_TRUE(up_now);
    const auto in_a = a->backend.list_sas().value();
    const auto in_b = b->backend.list_sas().value();
    for (const auto& out : in_b) {
      if (out.id.dst.str() == "192.0.2.1" && out.cipher) {
        ASSERT_TRUE(
            std::any_of(in_a.begin(), in_a.end(),
                        [&](const kernel::SaState& s) { return s.id == out.id && s.cipher; }))
            << "b sends with " << out.id.str() << " before a has its keys";
      }
    }
    loop.advance(100us);  // finer than the network's 1 ms delay
  }
  ASSERT_TRUE(r->ok) << r->reason;
  loop.advance(1s);
  EXPECT_FALSE(a->engine->stale("west-east"));
  ASSERT_EQ(a->children(), 1u);
  ASSERT_EQ(b->children(), 1u);
  const auto now = a->engine->list().at(0).children.at(0);
  EXPECT_NE(now.spi_in, old.spi_in);
  EXPECT_EQ(now.algorithms.encr, (model::EncrAlg{model::EncrId::kAesGcm16, 128}))
      << now.algorithms.str();
  EXPECT_EQ(a->engine->ike_sa_count(), 1u) << "the IKE settings did not change";
  EXPECT_EQ(a->of(EventType::kChildDown).size(), 0u);
  EXPECT_EQ(b->of(EventType::kChildDown).size(), 0u);
  EXPECT_EQ(a->backend.kernel().sa_count(), 2u);
  EXPECT_EQ(b->backend.kernel().sa_count(), 2u);
  // A changed ike= needs a new IKE SA: the old one goes with its CHILD SA.
  auto ike_changed = changed;
  ike_changed.ike = proposals(model::ProposalKind::kIke, "aes_gcm256-sha256-ecp256");
  ASSERT_TRUE(a->engine->load(ike_changed).ok());
  ASSERT_TRUE(b->engine->load(ike_changed).ok());
  r.reset();
  a->engine->replace("west-east", [&](const InitiateResult& x) { r = x; });
  ASSERT_TRUE(loop.run_until([&] { return r.has_value(); }, 30s));
  ASSERT_TRUE(r->ok) << r->reason;
  loop.advance(2s);
  EXPECT_EQ(a->engine->ike_sa_count(), 1u);
  EXPECT_EQ(b->engine->ike_sa_count(), 1u);
  ASSERT_TRUE(a->engine->list().at(0).algorithms);
  EXPECT_EQ(a->engine->list().at(0).algorithms->dh, model::DhId::kEcp256)
      << a->engine->list().at(0).algorithms->str();
  EXPECT_EQ(a->children(), 1u);
  EXPECT_EQ(b->children(), 1u);
  EXPECT_EQ(a->of(EventType::kChildDown).size(), 0u);
  EXPECT_EQ(a->of(EventType::kIkeDown).size(), 0u);
}

// a (192.0.2.1) sits behind a NAT whose public address is 198.51.100.1;
// b sees a there, so b's connection names that address with a's id.
class NatHarness : public EngineHarness {
 protected:
  void SetUp() override {
    net.add_nat(Address::literal("192.0.2.1"), Address::literal("198.51.100.1"));
    net.set_filter([this](const Endpoint& from, const Endpoint&, std::span<const uint8_t> m) {
      if (m.size() == 1 && m[0] == 0xFF) {
        keepalives[from.address.str()].push_back(loop.now());
      } else if (from.address == Address::literal("192.0.2.2")) {
        from_b.push_back(loop.now());
      }
      return true;
    });
    EngineOptions b_options;
    b_options.log = [this](std::string_view line) { b_log.emplace_back(line); };
    start({}, std::move(b_options));
  }
  void load_nat(const std::string& name, const Ends& ends, bool nat_keepalive = true) {
    model::Connection at_a = connection(name, ends);
    at_a.nat_keepalive = nat_keepalive;
    ASSERT_TRUE(a->engine->load(at_a).ok());
    Ends public_ends = ends;
    public_ends.left = "198.51.100.1";
    model::Connection at_b = connection(name, public_ends);
    at_b.left.id = model::Identity::parse("192.0.2.1").value();
    auto sb = b->engine->load(at_b);
    ASSERT_TRUE(sb.ok()) << sb.error;
  }
  std::size_t keepalives_from(const std::string& address) { return keepalives[address].size(); }

  std::map<std::string, std::vector<Clock::SteadyTime>> keepalives;  // by public source
  std::vector<Clock::SteadyTime> from_b;
  std::vector<std::string> b_log;
};

TEST_F(NatHarness, NatedInitiatorFloatsToTheNattPortAndSendsKeepalivesEveryTwentySeconds) {
  load_nat("nat", {});
  auto r = up(*a, "nat");
  ASSERT_TRUE(r.ok) << r.reason;
  auto la = a->engine->list();
  auto lb = b->engine->list();
  ASSERT_EQ(la.size(), 1u);
  ASSERT_EQ(lb.size(), 1u);
  ASSERT_EQ(la[0].children.size(), 1u);
  ASSERT_EQ(lb[0].children.size(), 1u);
  // ESP in UDP: a from its NAT-T port to b's; b back to the NAT's mapping of a's 4500.
  const auto& a_out = a->backend.specs.at({"192.0.2.2", la[0].children[0].spi_out});
  const auto& b_out = b->backend.specs.at({"198.51.100.1", lb[0].children[0].spi_out});
  ASSERT_TRUE(a_out.encap.has_value());
  EXPECT_EQ(*a_out.encap, (kernel::UdpEncap{4500, 4500}));
  ASSERT_TRUE(b_out.encap.has_value());
  EXPECT_EQ(b_out.encap->sport, 4500);
  EXPECT_EQ(b_out.encap->dport, 40001);  // the NAT's port for 192.0.2.1:4500
  const std::size_t b_sent = from_b.size();

  loop.advance(61s);
  const auto& ka = keepalives["198.51.100.1"];
  ASSERT_EQ(ka.size(), 3u);
  EXPECT_EQ(ka[1] - ka[0], 20s);
  EXPECT_EQ(ka[2] - ka[1], 20s);
  EXPECT_EQ(keepalives_from("192.0.2.2"), 0u);  // b is not behind a NAT
  // b drops them quietly: no answer, no complaint, the SA stays up.
  EXPECT_EQ(from_b.size(), b_sent);
  for (const auto& line : b_log) {
    EXPECT_EQ(line.find("dropped"), std::string::npos) << line;
  }
  EXPECT_EQ(b->engine->list().at(0).state, "established");
}

TEST_F(NatHarness, AnIkeMessageSentWithinTheIntervalPutsTheKeepaliveOff) {
  Ends second;
  second.left_subnets = {"10.1.5.0/24"};
  second.right_subnets = {"10.2.5.0/24"};
  load_nat("net1", {});
  load_nat("net2", second);
  ASSERT_TRUE(up(*a, "net1").ok);
  loop.advance(25s);  // one keepalive
  ASSERT_EQ(keepalives_from("198.51.100.1"), 1u);
  const auto created = loop.now();
  ASSERT_TRUE(up(*a, "net2").ok);  // CREATE_CHILD_SA on the same IKE SA
  ASSERT_EQ(a->engine->list().size(), 1u);
  loop.advance(19s);
  EXPECT_EQ(keepalives_from("198.51.100.1"), 1u);  // the one due at 40 s was not needed
  loop.advance(2s);
  ASSERT_EQ(keepalives_from("198.51.100.1"), 2u);
  const auto gap = keepalives["198.51.100.1"][1] - created;
  EXPECT_GE(gap, 20s);
  EXPECT_LT(gap, 21s);
}

TEST_F(NatHarness, NoKeepalivesWhenTheConnectionSaysNo) {
  load_nat("nat", {}, false);
  ASSERT_TRUE(up(*a, "nat").ok);
  loop.advance(100s);
  EXPECT_EQ(keepalives_from("198.51.100.1"), 0u);
  EXPECT_EQ(a->engine->list().at(0).state, "established");
}

TEST_F(NatHarness, KeepalivesStopWhenTheIkeSaIsDeleted) {
  load_nat("nat", {});
  ASSERT_TRUE(up(*a, "nat").ok);
  loop.advance(30s);
  ASSERT_EQ(keepalives_from("198.51.100.1"), 1u);
  b->engine->terminate("nat");
  loop.advance(2s);
  ASSERT_EQ(a->engine->ike_sa_count(), 0u);
  loop.advance(100s);
  EXPECT_EQ(keepalives_from("198.51.100.1"), 1u);
  // Deleting from the NATed side stops them too.
  ASSERT_TRUE(up(*a, "nat").ok);
  loop.advance(21s);
  ASSERT_EQ(keepalives_from("198.51.100.1"), 2u);
  a->engine->terminate("nat");
  loop.advance(100s);
  EXPECT_EQ(a->engine->ike_sa_count(), 0u);
  EXPECT_EQ(keepalives_from("198.51.100.1"), 2u);
}

}  // namespace
}  // namespace ipsecd::engine
