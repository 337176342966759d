// Two controllers, each with its own Store, engine and memory kernel, over an
// in-memory network on one real epoll loop: the reconciler drives both ends to
// what their Stores say. Waits are bounded polls on observable state.
#include "controller/reconciler.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "controller/metrics/metrics.h"
#include "controller/sources/source_feed.h"
#include "engine/memory_network.h"
#include "kernel/memory/memory_backend.h"
#include "model/config.h"

namespace ipsecd::controller {
namespace {

using namespace std::chrono_literals;
using kernel::Address;

const char* const kSecrets =
    "192.0.2.1 192.0.2.2 : PSK \"correct horse battery staple\"\n"
    "192.0.2.11 192.0.2.12 : PSK \"correct horse battery staple\"\n";

// A conn as ipsec.conf would define it (the same text on both hosts).
Definition conn(const std::string& name, const std::string& settings) {
  std::string text = "conn " + name + "\n\tauthby=secret\n";
  for (size_t start = 0; start < settings.size();) {
    size_t end = settings.find(';', start);
    if (end == std::string::npos) {
      end = settings.size();
    }
    text += "\t" + settings.substr(start, end - start) + "\n";
    start = end + 1;
  }
  model::Config config = model::parse_config_text(text, "test.conf");
  model::ConnectionSet set = model::build_connections(config);
  EXPECT_FALSE(config.diagnostics.has_errors() || set.diagnostics.has_errors()) << text;
  EXPECT_EQ(set.connections.size(), 1u) << text;
  return {std::make_shared<const model::Connection>(std::move(set.connections.at(0))), "test.conf",
          1};
}

Snapshot snap(std::vector<Definition> defs) {
  return Snapshot{std::move(defs), {}};
}

const std::string kWestEast =
    "left=192.0.2.1;right=192.0.2.2;leftsubnet=10.1.0.0/24;rightsubnet=10.2.0.0/24";
const std::string kOther =
    "left=192.0.2.11;right=192.0.2.12;leftsubnet=10.11.0.0/24;rightsubnet=10.12.0.0/24";

struct Node {
  Node(engine::EventLoop& loop, engine::MemoryNetwork& net, std::vector<std::string> addresses,
       uint64_t seed)
      : kernel(std::make_shared<kernel::MemoryKernel>()), backend(kernel), random(seed) {
    std::vector<Address> addrs;
    for (const auto& a : addresses) {
      addrs.push_back(Address::literal(a));
    }
    transport = net.attach(addrs);
    engine = std::make_unique<engine::Engine>(loop, *transport, backend, random);
    set_secrets(kSecrets);
    ControllerOptions options;
    options.resync_period = 200ms;
    options.on_dead_peer = [this](const std::string&, model::DpdAction action, const std::string&) {
      metrics.dead_peer(action);
    };
    controller = std::make_unique<Controller>(store, *engine, backend, loop, real_clock(), options);
  }
  void set_secrets(const std::string& text) {
    auto parsed = model::parse_secrets_text(text, "test.secrets");
    engine->set_secrets(std::make_shared<const model::Secrets>(std::move(parsed.secrets)));
  }
  std::optional<ReconcileStatus> status(const std::string& name) const {
    return controller->reconciler().status(name);
  }
  bool is(const std::string& name, std::string_view type, ConditionStatus want) const {
    auto st = status(name);
    if (!st) {
      return false;
    }
    const Condition* c = st->conditions.find(type);
    return c != nullptr && c->status == want && c->observed_generation == st->generation;
  }
  std::string reason(const std::string& name, std::string_view type) const {
    auto st = status(name);
    const Condition* c = st ? st->conditions.find(type) : nullptr;
    return c ? c->reason + ": " + c->message : "(none)";
  }

  std::shared_ptr<kernel::MemoryKernel> kernel;
  kernel::MemoryBackend backend;
  engine::crypto::SeededRandom random;
  std::unique_ptr<engine::Transport> transport;
  std::unique_ptr<engine::Engine> engine;
  Store store;
  Metrics metrics;  // not served: the tests read its text
  std::unique_ptr<Controller> controller;
};

// A CHILD SA's SPIs as the engine lists them.
struct Spis {
  uint32_t in = 0;
  uint32_t out = 0;
  friend bool operator==(const Spis&, const Spis&) = default;
};

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a = std::make_unique<Node>(loop, net, std::vector<std::string>{"192.0.2.1", "192.0.2.11"}, 1);
    b = std::make_unique<Node>(loop, net, std::vector<std::string>{"192.0.2.2", "192.0.2.12"}, 2);
    net.set_filter([this](const engine::Endpoint& from, const engine::Endpoint&,
                          std::span<const uint8_t> message) {
      if (silence_b.load() && from.address == Address::literal("192.0.2.2")) {
        return false;  // B's answers lost, until the test lets them through
      }
      // Exchange type 37 (INFORMATIONAL) from A: DELETEs and liveness checks.
      if (from.address == Address::literal("192.0.2.1") && message.size() > 18 &&
          message[18] == 37) {
        informational_from_a.fetch_add(1);
      }
      // Exchange type 34: IKE_SA_INIT, the start of every negotiation.
      if (from.address == Address::literal("192.0.2.1") && message.size() > 18 &&
          message[18] == 34) {
        ike_sa_init_from_a.fetch_add(1);
      }
      return true;
    });
    loop_thread = std::thread([this] { loop.run(); });
    a->controller->start();
    b->controller->start();
  }
  void TearDown() override {
    a->controller->stop();
    b->controller->stop();
    loop.stop();
    loop_thread.join();
  }

  // Runs fn on the loop thread and returns its result.
  template <typename F>
  auto on_loop(F fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    loop.post([&task] { task(); });
    return result.get();
  }
  // Polls until pred holds, for at most `limit` (generous: a failure, not a race).
  bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) {
        return true;
      }
      std::this_thread::sleep_for(2ms);
    }
    return pred();
  }
  // west-east on both nodes, kWestEast plus each node's own keywords, up as a
  // sees it (Established True).
  void establish(const std::string& a_keywords, const std::string& b_keywords) {
    b->controller->apply("file:b", snap({conn("west-east", kWestEast + b_keywords)}));
    a->controller->apply("file:a", snap({conn("west-east", kWestEast + a_keywords)}));
    ASSERT_TRUE(eventually([&] {
      return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
    })) << a->reason("west-east", kConditionEstablished);
  }
  // b stops answering until a's liveness check calls it dead ("DeadPeer: ..." on
  // Established) and THEN holds as well.
  void silence_b_until_dead(const std::function<bool()>& then = nullptr) {
    silence_b = true;
    ASSERT_TRUE(eventually([&] {
      return a->reason("west-east", kConditionEstablished).starts_with("DeadPeer: ") &&
             (!then || then());
    })) << a->reason("west-east", kConditionEstablished);
  }
  std::vector<Spis> spis(Node& node, const std::string& name) {
    return on_loop([&] {
      std::vector<Spis> out;
      for (const auto& ike : node.engine->list()) {
        for (const auto& child : ike.children) {
          if (child.connection == name) {
            out.push_back({child.spi_in, child.spi_out});
          }
        }
      }
      return out;
    });
  }
  std::vector<kernel::PolicyState> policies(Node& node) {
    return on_loop([&] { return node.backend.list_policies().value(); });
  }
  size_t kernel_sas(Node& node) {
    return on_loop([&] { return node.kernel->sa_count(); });
  }

  engine::RealClock clock;
  engine::EpollLoop loop{clock};
  engine::MemoryNetwork net{loop, 42};
  std::unique_ptr<Node> a;
  std::unique_ptr<Node> b;
  std::thread loop_thread;
  std::atomic<int> informational_from_a{0};
  std::atomic<int> ike_sa_init_from_a{0};
  std::atomic<bool> silence_b{false};
};

TEST_F(ReconcilerTest, AutoStartConvergesToEstablishedAndReadyOnBothEnds) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionReady, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionReady);
  ASSERT_TRUE(eventually([&] {
    return b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << b->reason("west-east", kConditionEstablished);
  auto st = a->status("west-east");
  EXPECT_TRUE(st->conditions.is_true(kConditionLoaded));
  EXPECT_EQ(st->applied_generation, 1u);
  ASSERT_EQ(st->sas.size(), 1u);
  EXPECT_EQ(st->sas[0].state, "established");
  ASSERT_EQ(st->sas[0].children.size(), 1u);
  EXPECT_TRUE(b->status("west-east")->conditions.is_true(kConditionReady));
  // The SPIs pair up across the two ends.
  auto sa = spis(*a, "west-east");
  auto sb = spis(*b, "west-east");
  ASSERT_EQ(sa.size(), 1u);
  ASSERT_EQ(sb.size(), 1u);
  EXPECT_EQ(sa[0].in, sb[0].out);
  EXPECT_EQ(sa[0].out, sb[0].in);
}

TEST_F(ReconcilerTest, AutoAddStaysLoadedOnly) {
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=add")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionReady, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionReady);
  a->controller->resync();
  ASSERT_TRUE(eventually([&] { return a->controller->queue().idle(); }));
  EXPECT_TRUE(a->is("west-east", kConditionLoaded, ConditionStatus::kTrue));
  EXPECT_TRUE(a->is("west-east", kConditionRouted, ConditionStatus::kFalse));
  EXPECT_TRUE(a->is("west-east", kConditionEstablished, ConditionStatus::kFalse));
  EXPECT_EQ(a->reason("west-east", kConditionEstablished).substr(0, 10), "NotStarted");
  EXPECT_TRUE(spis(*a, "west-east").empty());
  EXPECT_TRUE(policies(*a).empty());
  EXPECT_TRUE(on_loop([&] { return a->engine->loaded("west-east"); }));
}

TEST_F(ReconcilerTest, AutoRouteInstallsTrapsAndAPacketEstablishes) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=route")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionRouted, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionRouted);
  auto traps = policies(*a);
  ASSERT_EQ(traps.size(), 1u);
  EXPECT_EQ(traps[0].kind, kernel::PolicyKind::kTrap);
  EXPECT_EQ(traps[0].id.selector.src.str(), "10.1.0.0/24");
  EXPECT_EQ(traps[0].id.selector.dst.str(), "10.2.0.0/24");
  EXPECT_TRUE(traps[0].own);
  EXPECT_TRUE(a->is("west-east", kConditionEstablished, ConditionStatus::kFalse));
  EXPECT_TRUE(spis(*a, "west-east").empty());

  // A packet from the local subnet to the remote one hits the trap.
  kernel::Packet packet;
  packet.src = Address::literal("10.1.0.5");
  packet.dst = Address::literal("10.2.0.7");
  auto verdict = on_loop([&] { return a->kernel->send(packet).verdict; });
  EXPECT_EQ(verdict, kernel::Verdict::kAcquire);
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
  EXPECT_TRUE(b->is("west-east", kConditionEstablished, ConditionStatus::kTrue));
  // The trap became the SA's protect policy, and the next packet is carried.
  EXPECT_EQ(on_loop([&] { return a->kernel->send(packet).verdict; }), kernel::Verdict::kProtected);
}

TEST_F(ReconcilerTest, TrafficDoesNotBringUpARoutedConnectionTakenDown) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=route")}));
  ASSERT_TRUE(
      eventually([&] { return a->is("west-east", kConditionRouted, ConditionStatus::kTrue); }));
  ASSERT_TRUE(a->controller->set_intent("west-east", Intent::kDown).ok());
  ASSERT_TRUE(eventually([&] {
    auto st = a->status("west-east");
    return st && st->intent == Intent::kDown &&
           a->is("west-east", kConditionReady, ConditionStatus::kTrue);
  }));
  kernel::Packet packet;
  packet.src = Address::literal("10.1.0.5");
  packet.dst = Address::literal("10.2.0.7");
  EXPECT_EQ(on_loop([&] { return a->kernel->send(packet).verdict; }), kernel::Verdict::kAcquire);
  // Two resyncs later nothing was negotiated.
  const uint64_t reconciles = a->controller->reconciles();
  ASSERT_TRUE(eventually([&] { return a->controller->reconciles() >= reconciles + 2; }));
  EXPECT_TRUE(spis(*a, "west-east").empty());
  EXPECT_EQ(on_loop([&] { return a->engine->ike_sa_count(); }), 0u);
  EXPECT_EQ(ike_sa_init_from_a.load(), 0);
}

TEST_F(ReconcilerTest, IntentDownDeletesAtThePeerAndStaysDownUntilUp) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  }));
  const int before = informational_from_a.load();
  ASSERT_TRUE(a->controller->set_intent("west-east", Intent::kDown).ok());
  // The peer hears a DELETE and drops its SAs.
  ASSERT_TRUE(eventually([&] { return spis(*b, "west-east").empty(); }));
  EXPECT_GT(informational_from_a.load(), before);
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionReady, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionReady);
  EXPECT_EQ(a->reason("west-east", kConditionEstablished).substr(0, 4), "Down");
  EXPECT_EQ(a->status("west-east")->intent, Intent::kDown);
  EXPECT_TRUE(on_loop([&] { return a->engine->loaded("west-east"); }));
  EXPECT_EQ(kernel_sas(*a), 0u);

  // Resyncs come and go (every 200 ms): it stays down.
  const uint64_t reconciles = a->controller->reconciles();
  ASSERT_TRUE(eventually([&] { return a->controller->reconciles() >= reconciles + 2; }));
  EXPECT_TRUE(spis(*a, "west-east").empty());
  EXPECT_TRUE(a->is("west-east", kConditionEstablished, ConditionStatus::kFalse));

  ASSERT_TRUE(a->controller->set_intent("west-east", Intent::kUp).ok());
  // What a waiting `ipsec up` does: block on the status until it is established.
  auto [reached, st] = a->controller->reconciler().wait_status(
      "west-east",
      [](const std::optional<ReconcileStatus>& s) {
        return s && s->intent == Intent::kUp && s->conditions.is_true(kConditionEstablished);
      },
      10s);
  EXPECT_TRUE(reached);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->sas.size(), 1u);
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
}

TEST_F(ReconcilerTest, AutoStartComesBackAfterThePeerDeletesIt) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  }));
  const auto before = spis(*a, "west-east");
  ASSERT_EQ(before.size(), 1u);
  // The peer's operator deletes the SAs behind its controller's back.
  on_loop([&] {
    b->engine->terminate("west-east");
    return 0;
  });
  ASSERT_TRUE(eventually([&] {
    auto now = spis(*a, "west-east");
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) && now.size() == 1 &&
           now[0] != before[0];
  })) << a->reason("west-east", kConditionEstablished);
}

// The kernel's events reach the engine: a CHILD SA the kernel expires (its
// byte limit reached) is replaced, and the connection is established again
// without the operator doing anything.
TEST_F(ReconcilerTest, AKernelExpireReachesTheEngineAndTheChildSaIsReplaced) {
  const std::string spec = kWestEast + ";ipsec-max-bytes=1000";
  b->controller->apply("file:b", snap({conn("west-east", spec + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", spec + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
  const auto before = spis(*a, "west-east");
  ASSERT_EQ(before.size(), 1u);
  // Twelve 100-byte packets out: past the outbound SA's hard limit of 1000 bytes.
  kernel::Packet packet;
  packet.src = Address::literal("10.1.0.5");
  packet.dst = Address::literal("10.2.0.7");
  on_loop([&] {
    for (int i = 0; i < 12; ++i) {
      a->kernel->send(packet);
    }
    return 0;
  });
  ASSERT_TRUE(eventually([&] {
    auto now = spis(*a, "west-east");
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) && now.size() == 1 &&
           now[0] != before[0];
  })) << a->reason("west-east", kConditionEstablished)
      << "; CHILD SAs " << spis(*a, "west-east").size();
  EXPECT_EQ(on_loop([&] { return a->kernel->send(packet).verdict; }), kernel::Verdict::kProtected);
}

// A CHILD SA rekey replaces the SA in place: while it is under way (the
// peer's answer held back) the old SA carries the traffic, so the connection
// stays established through every reconcile and the controller starts no
// negotiation of its own; once it completes the new SA is shown alone.
TEST_F(ReconcilerTest, AChildRekeyKeepsTheConnectionEstablished) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  }));
  ASSERT_TRUE(eventually([&] { return a->controller->queue().idle(); }));
  const auto before = spis(*a, "west-east");
  ASSERT_EQ(before.size(), 1u);
  const int inits = ike_sa_init_from_a.load();
  silence_b.store(true);
  ASSERT_TRUE(on_loop([&] { return a->engine->rekey("west-east", engine::RekeyKind::kChild); }));
  auto child_state = [&]() -> std::string {
    auto st = a->status("west-east");
    if (!st || st->sas.size() != 1 || st->sas[0].children.empty()) {
      return "";
    }
    return st->sas[0].children[0].state;
  };
  // A resync (every 200 ms) reconciles it mid-rekey.
  ASSERT_TRUE(eventually([&] { return child_state() == "rekeying"; })) << child_state();
  a->controller->resync();
  ASSERT_TRUE(eventually([&] { return a->controller->queue().idle(); }));
  EXPECT_TRUE(a->is("west-east", kConditionEstablished, ConditionStatus::kTrue))
      << a->reason("west-east", kConditionEstablished);
  EXPECT_TRUE(a->is("west-east", kConditionReady, ConditionStatus::kTrue))
      << a->reason("west-east", kConditionReady);
  silence_b.store(false);  // the retransmitted request is answered now
  ASSERT_TRUE(eventually([&] {
    auto st = a->status("west-east");
    if (!st || st->sas.size() != 1) {
      return false;
    }
    const auto& children = st->sas[0].children;
    return children.size() == 1 && children[0].state == "installed" &&
           children[0].spi_in != before[0].in && children[0].rekeys == 1;
  })) << child_state();
  EXPECT_TRUE(a->is("west-east", kConditionEstablished, ConditionStatus::kTrue));
  EXPECT_EQ(ike_sa_init_from_a.load(), inits) << "a rekey is no new IKE SA";
}

TEST_F(ReconcilerTest, EditingOneConnectionReplacesItAndLeavesTheOtherAlone) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add"),
                                       conn("other", kOther + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start"),
                                       conn("other", kOther + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionReady, ConditionStatus::kTrue) &&
           a->is("other", kConditionReady, ConditionStatus::kTrue);
  }));
  const auto other_a = spis(*a, "other");
  const auto other_b = spis(*b, "other");
  const auto old_west = spis(*a, "west-east");
  ASSERT_EQ(other_a.size(), 1u);
  ASSERT_EQ(old_west.size(), 1u);

  // A new ESP lifetime: generation 2, on both ends.
  auto changes = a->controller->apply(
      "file:a", snap({conn("west-east", kWestEast + ";auto=start;ipsec-lifetime=2h"),
                      conn("other", kOther + ";auto=start")}));
  ASSERT_EQ(changes.updated, std::vector<std::string>{"west-east"});
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add;ipsec-lifetime=2h"),
                                       conn("other", kOther + ";auto=add")}));
  ASSERT_TRUE(eventually([&] {
    auto st = a->status("west-east");
    auto now = spis(*a, "west-east");
    return st && st->applied_generation == 2 &&
           a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) && now.size() == 1 &&
           now[0] != old_west[0];
  })) << a->reason("west-east", kConditionEstablished);
  EXPECT_EQ(spis(*a, "other"), other_a);
  EXPECT_EQ(spis(*b, "other"), other_b);
  EXPECT_EQ(a->status("other")->applied_generation, 1u);
}

// A sibling on the same addresses and ids: it shares west-east's IKE SA.
const std::string kSibling =
    "left=192.0.2.1;right=192.0.2.2;leftsubnet=10.1.7.0/24;rightsubnet=10.2.7.0/24";

TEST_F(ReconcilerTest, AnEditIsMakeBeforeBreakAndNeverTouchesTheSiblingOnTheSharedIkeSa) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add"),
                                       conn("sibling", kSibling + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start"),
                                       conn("sibling", kSibling + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionReady, ConditionStatus::kTrue) &&
           a->is("sibling", kConditionReady, ConditionStatus::kTrue) &&
           spis(*b, "sibling").size() == 1;
  }));
  const auto sibling_a = spis(*a, "sibling");
  const auto sibling_b = spis(*b, "sibling");
  const auto old_west = spis(*a, "west-east");
  ASSERT_EQ(on_loop([&] { return a->engine->ike_sa_count(); }), 1u) << "the two share an IKE SA";

  // Every ~2 ms on the loop: west-east keeps a CHILD SA at both ends throughout.
  std::atomic<bool> sampling{true};
  std::atomic<int> gaps{0};
  std::atomic<int> samples{0};
  std::thread sampler([&] {
    while (sampling.load()) {
      on_loop([&] {
        for (Node* n : {a.get(), b.get()}) {
          bool up = false;
          for (const auto& ike : n->engine->list("west-east")) {
            for (const auto& c : ike.children) {
              up = up || (c.connection == "west-east" && c.state != "deleting");
            }
          }
          gaps += up ? 0 : 1;
        }
        ++samples;
        return 0;
      });
      std::this_thread::sleep_for(2ms);
    }
  });
  // 20 ms each way from now, so the edit spans many samples.
  net.set_impairment(engine::Impairment{0, 0, 0, std::chrono::milliseconds(20), {}});
  // A new ESP proposal on both ends (the responder first, as a rollout would).
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add;esp=aes_gcm128"),
                                       conn("sibling", kSibling + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start;esp=aes_gcm128"),
                                       conn("sibling", kSibling + ";auto=start")}));
  const bool replaced = eventually([&] {
    auto now = spis(*a, "west-east");
    auto st = a->status("west-east");
    return st && st->applied_generation == 2 && now.size() == 1 && now[0] != old_west[0] &&
           spis(*b, "west-east").size() == 1 &&
           a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           a->reason("west-east", kConditionEstablished).starts_with("Established");
  });
  sampling = false;
  sampler.join();
  ASSERT_TRUE(replaced) << a->reason("west-east", kConditionEstablished);
  EXPECT_GT(samples.load(), 10);
  EXPECT_EQ(gaps.load(), 0) << "west-east had no CHILD SA at some moment of the edit";
  EXPECT_EQ(spis(*a, "sibling"), sibling_a);
  EXPECT_EQ(spis(*b, "sibling"), sibling_b);
  EXPECT_EQ(on_loop([&] { return a->engine->ike_sa_count(); }), 1u) << "IKE settings unchanged";
  const auto alg = on_loop([&] { return a->engine->list("west-east").at(0).children; });
  bool gcm128 = false;
  for (const auto& c : alg) {
    gcm128 = gcm128 || (c.connection == "west-east" &&
                        c.algorithms.encr == model::EncrAlg{model::EncrId::kAesGcm16, 128});
  }
  EXPECT_TRUE(gcm128);

  // Removing west-east, whose definition made the shared IKE SA, leaves the sibling up.
  a->controller->apply("file:a", snap({conn("sibling", kSibling + ";auto=start")}));
  ASSERT_TRUE(eventually([&] { return spis(*a, "west-east").empty(); }));
  on_loop([&] { return 0; });
  EXPECT_EQ(spis(*a, "sibling"), sibling_a);
  EXPECT_EQ(spis(*b, "sibling"), sibling_b);
  EXPECT_TRUE(a->is("sibling", kConditionEstablished, ConditionStatus::kTrue));
}

TEST_F(ReconcilerTest, RemovingAConnectionRemovesItsSasAndPolicies) {
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start")}));
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue) &&
           b->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  }));
  EXPECT_GT(kernel_sas(*a), 0u);
  EXPECT_FALSE(policies(*a).empty());
  a->controller->apply("file:a", snap({}));
  ASSERT_TRUE(eventually([&] {
    return !a->status("west-east") && kernel_sas(*a) == 0 && policies(*a).empty() &&
           kernel_sas(*b) == 0 && policies(*b).empty();
  }));
  EXPECT_FALSE(on_loop([&] { return a->engine->loaded("west-east"); }));
  EXPECT_TRUE(spis(*b, "west-east").empty());
}

TEST_F(ReconcilerTest, WrongPskFailsWithTheReasonAndRetriesWithBackoff) {
  on_loop([&] {
    b->set_secrets("192.0.2.1 192.0.2.2 : PSK \"a different secret altogether\"\n");
    return 0;
  });
  b->controller->apply("file:b", snap({conn("west-east", kWestEast + ";auto=add")}));
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=start")}));
  ASSERT_TRUE(eventually([&] { return a->controller->queue().num_requeues("west-east") >= 3; }))
      << a->reason("west-east", kConditionEstablished);
  auto st = a->status("west-east");
  ASSERT_TRUE(st);
  const Condition* est = st->conditions.find(kConditionEstablished);
  ASSERT_NE(est, nullptr);
  EXPECT_EQ(est->status, ConditionStatus::kFalse);
  EXPECT_EQ(est->reason, "NegotiationFailed");
  EXPECT_FALSE(est->message.empty());
  EXPECT_EQ(st->last_error, est->message);
  EXPECT_FALSE(st->conditions.is_true(kConditionReady));
  // The right secret on the peer: the next retry establishes and resets the backoff.
  on_loop([&] {
    b->set_secrets(kSecrets);
    return 0;
  });
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
  EXPECT_TRUE(eventually([&] { return a->controller->queue().num_requeues("west-east") == 0; }));
  EXPECT_TRUE(a->status("west-east")->last_error.empty());
}

TEST_F(ReconcilerTest, IntentsRouteAndUnrouteOverrideAutoAdd) {
  a->controller->apply("file:a", snap({conn("west-east", kWestEast + ";auto=add")}));
  ASSERT_TRUE(
      eventually([&] { return a->is("west-east", kConditionReady, ConditionStatus::kTrue); }));
  EXPECT_TRUE(policies(*a).empty());
  ASSERT_TRUE(a->controller->set_intent("west-east", Intent::kRoute).ok());
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionRouted, ConditionStatus::kTrue) && policies(*a).size() == 1;
  }));
  EXPECT_EQ(policies(*a)[0].kind, kernel::PolicyKind::kTrap);
  ASSERT_TRUE(a->controller->set_intent("west-east", Intent::kUnroute).ok());
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionRouted, ConditionStatus::kFalse) && policies(*a).empty();
  }));
  EXPECT_EQ(a->reason("west-east", kConditionRouted).substr(0, 8), "Unrouted");
  EXPECT_TRUE(on_loop([&] { return a->engine->loaded("west-east"); }));
}

TEST_F(ReconcilerTest, DropInstallsBlockPoliciesAndAChangeToTunnelReplacesThem) {
  a->controller->apply("file:a", snap({conn("block", kWestEast + ";type=drop;auto=route")}));
  ASSERT_TRUE(eventually([&] { return a->is("block", kConditionReady, ConditionStatus::kTrue); }));
  kernel::Packet packet;
  packet.src = Address::literal("10.1.0.5");
  packet.dst = Address::literal("10.2.0.7");
  EXPECT_EQ(on_loop([&] { return a->kernel->send(packet).verdict; }), kernel::Verdict::kDropped);
  // The same name as a routed tunnel: the block goes, a trap comes.
  a->controller->apply("file:a", snap({conn("block", kWestEast + ";auto=route")}));
  ASSERT_TRUE(eventually([&] {
    auto ps = policies(*a);
    return a->is("block", kConditionRouted, ConditionStatus::kTrue) && ps.size() == 1 &&
           ps[0].kind == kernel::PolicyKind::kTrap;
  }));
  EXPECT_EQ(a->status("block")->applied_generation, 2u);
}

TEST_F(ReconcilerTest, PassthroughInstallsBypassPolicies) {
  a->controller->apply("file:a", snap({conn("clear", kWestEast + ";type=passthrough;auto=route")}));
  ASSERT_TRUE(eventually([&] { return a->is("clear", kConditionReady, ConditionStatus::kTrue); }))
      << a->reason("clear", kConditionReady);
  auto ps = policies(*a);
  ASSERT_EQ(ps.size(), 3u);  // out, in, fwd
  for (const auto& p : ps) {
    EXPECT_EQ(p.kind, kernel::PolicyKind::kPass);
    EXPECT_TRUE(p.own);
  }
  kernel::Packet packet;
  packet.src = Address::literal("10.1.0.5");
  packet.dst = Address::literal("10.2.0.7");
  auto r = on_loop([&] { return a->kernel->send(packet); });
  EXPECT_EQ(r.verdict, kernel::Verdict::kClear);
  ASSERT_TRUE(r.kind.has_value());
  EXPECT_EQ(*r.kind, kernel::PolicyKind::kPass);
  EXPECT_FALSE(on_loop([&] { return a->engine->loaded("clear"); }));
  // Removing it removes the bypass.
  a->controller->apply("file:a", snap({}));
  ASSERT_TRUE(eventually([&] { return policies(*a).empty(); }));
}

TEST_F(ReconcilerTest, AWatchedDirectoryFeedsTheStoreAndEveryEditIsReconciled) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ipsecd-feed-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "west-east.conf.tmp") << text;
    std::filesystem::rename(dir / "west-east.conf.tmp", dir / "west-east.conf");
  };
  const std::string body =
      "conn west-east\n\tauthby=secret\n\tleft=192.0.2.1\n"
      "\tright=192.0.2.2\n\tleftsubnet=10.1.0.0/24\n"
      "\trightsubnet=10.2.0.0/24\n\tauto=route\n";
  write(body);
  WatchDirSource source(dir.string());
  auto feed = SourceFeed::start(*a->controller, SourceFeed::from(source));
  ASSERT_TRUE(feed.ok()) << feed.error();
  ASSERT_TRUE(
      eventually([&] { return a->is("west-east", kConditionRouted, ConditionStatus::kTrue); }));
  EXPECT_EQ(a->status("west-east")->origin, "dir:" + dir.string());

  write(body + "\tipsec-lifetime=2h\n");
  ASSERT_TRUE(eventually([&] {
    auto st = a->status("west-east");
    return st && st->applied_generation == 2 &&
           a->is("west-east", kConditionRouted, ConditionStatus::kTrue);
  }));
  // A broken edit changes nothing; the error is the Store's to show.
  write(body + "\tnot-a-keyword=1\n");
  ASSERT_TRUE(eventually([&] { return !a->store.errors("dir:" + dir.string()).empty(); }));
  EXPECT_EQ(a->status("west-east")->applied_generation, 2u);
  EXPECT_EQ(policies(*a).size(), 1u);

  std::filesystem::remove(dir / "west-east.conf");
  ASSERT_TRUE(eventually([&] { return !a->status("west-east") && policies(*a).empty(); }));
  feed = model::Result<std::unique_ptr<SourceFeed>>::failure("stopped");
  std::filesystem::remove_all(dir);
}

// ---- dpdaction=: a peer that stops answering liveness checks

// A liveness check every second of silence, given up after one more.
const std::string kDpd = ";dpddelay=1;dpdtimeout=1;retransmit-timeout=2";

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

// The counter of each dpdaction, as a scrape shows it.
std::string dead_peers(const Node& node, std::string_view action) {
  const std::string text = node.metrics.text();
  for (const char* n : {"0", "1", "2", "3"}) {
    if (has_line(text, "ipsec_dead_peers_total{action=\"" + std::string(action) + "\"} " + n)) {
      return n;
    }
  }
  return "(other)\n" + text;
}

bool has_trap(const std::vector<kernel::PolicyState>& ps) {
  return std::any_of(ps.begin(), ps.end(), [](const kernel::PolicyState& p) {
    return p.kind == kernel::PolicyKind::kTrap && p.own;
  });
}

TEST_F(ReconcilerTest, DeadPeerWithDpdactionClearRemovesEverythingUntilTheOperatorActs) {
  ASSERT_NO_FATAL_FAILURE(establish(";auto=start;dpdaction=clear" + kDpd, ";auto=add"));
  ASSERT_NO_FATAL_FAILURE(silence_b_until_dead());
  EXPECT_NE(a->reason("west-east", kConditionEstablished)
                .find("no answer to a liveness check (DPD) in 1 s; dpdaction=clear: SAs and trap "
                      "policies removed"),
            std::string::npos)
      << a->reason("west-east", kConditionEstablished);
  EXPECT_TRUE(a->is("west-east", kConditionReady, ConditionStatus::kFalse));
  EXPECT_TRUE(a->reason("west-east", kConditionReady).starts_with("DeadPeer: "))
      << a->reason("west-east", kConditionReady);
  EXPECT_EQ(dead_peers(*a, "clear"), "1");
  EXPECT_EQ(dead_peers(*a, "hold"), "0");
  EXPECT_EQ(dead_peers(*a, "restart"), "0");
  EXPECT_TRUE(spis(*a, "west-east").empty());
  EXPECT_EQ(kernel_sas(*a), 0u);
  EXPECT_TRUE(policies(*a).empty()) << "no trap, no protect policy: traffic goes in the clear";

  // auto=start does not bring it back: resyncs and the peer's return change nothing.
  silence_b = false;
  const int inits = ike_sa_init_from_a.load();
  const uint64_t reconciles = a->controller->reconciles();
  ASSERT_TRUE(eventually([&] { return a->controller->reconciles() >= reconciles + 5; }));
  EXPECT_EQ(ike_sa_init_from_a.load(), inits) << "dpdaction=clear must not restart";
  EXPECT_TRUE(spis(*a, "west-east").empty());
  EXPECT_TRUE(a->reason("west-east", kConditionEstablished).starts_with("DeadPeer: "));

  // ipsec auto --up: the operator acted, the connection comes up again.
  ASSERT_TRUE(a->controller->set_intent("west-east", Intent::kUp).ok());
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
  EXPECT_TRUE(a->is("west-east", kConditionReady, ConditionStatus::kTrue));
  EXPECT_GT(ike_sa_init_from_a.load(), inits);
}

TEST_F(ReconcilerTest, DeadPeerWithDpdactionHoldLeavesTrapsAndAPacketRenegotiates) {
  // a only answers (auto=add); b brings the connection up and then goes silent.
  ASSERT_NO_FATAL_FAILURE(establish(";auto=add;dpdaction=hold" + kDpd, ";auto=start"));
  EXPECT_FALSE(has_trap(policies(*a))) << "auto=add has no traps while it is up";
  ASSERT_NO_FATAL_FAILURE(silence_b_until_dead(
      [&] { return a->is("west-east", kConditionRouted, ConditionStatus::kTrue); }));
  EXPECT_NE(a->reason("west-east", kConditionEstablished)
                .find("dpdaction=hold: trap policies hold the traffic"),
            std::string::npos)
      << a->reason("west-east", kConditionEstablished);
  EXPECT_NE(a->reason("west-east", kConditionRouted).find("dpdaction=hold"), std::string::npos)
      << a->reason("west-east", kConditionRouted);
  EXPECT_EQ(dead_peers(*a, "hold"), "1");
  EXPECT_EQ(dead_peers(*a, "clear"), "0");
  EXPECT_TRUE(spis(*a, "west-east").empty());
  EXPECT_EQ(kernel_sas(*a), 0u);
  auto held = policies(*a);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].kind, kernel::PolicyKind::kTrap);
  EXPECT_EQ(held[0].id.selector.dst.str(), "10.2.0.0/24");

  // Nothing is initiated without traffic.
  silence_b = false;
  const int inits = ike_sa_init_from_a.load();
  const uint64_t reconciles = a->controller->reconciles();
  ASSERT_TRUE(eventually([&] { return a->controller->reconciles() >= reconciles + 3; }));
  EXPECT_EQ(ike_sa_init_from_a.load(), inits);
  EXPECT_TRUE(has_trap(policies(*a)));

  // A packet hits the trap: ACQUIRE, negotiation, established; the hold is over.
  kernel::Packet packet;
  packet.src = Address::literal("10.1.0.5");
  packet.dst = Address::literal("10.2.0.7");
  EXPECT_EQ(on_loop([&] { return a->kernel->send(packet).verdict; }), kernel::Verdict::kAcquire);
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
  EXPECT_GT(ike_sa_init_from_a.load(), inits);
  EXPECT_EQ(on_loop([&] { return a->kernel->send(packet).verdict; }), kernel::Verdict::kProtected);
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionRouted, ConditionStatus::kFalse);
  })) << "auto=add again: "
      << a->reason("west-east", kConditionRouted);
}

TEST_F(ReconcilerTest, DeadPeerWithDpdactionRestartInitiatesAtOnceEvenForAutoAdd) {
  ASSERT_NO_FATAL_FAILURE(establish(";auto=add;dpdaction=restart" + kDpd, ";auto=start"));
  ASSERT_NO_FATAL_FAILURE(silence_b_until_dead());
  EXPECT_NE(a->reason("west-east", kConditionEstablished).find("dpdaction=restart: initiating"),
            std::string::npos)
      << a->reason("west-east", kConditionEstablished);
  EXPECT_EQ(dead_peers(*a, "restart"), "1");
  EXPECT_EQ(dead_peers(*a, "hold"), "0");
  // a initiates itself (b is silent: nothing of its to answer), and keeps trying.
  const int inits = ike_sa_init_from_a.load();
  ASSERT_TRUE(eventually([&] { return ike_sa_init_from_a.load() > inits; }));
  EXPECT_TRUE(a->is("west-east", kConditionReady, ConditionStatus::kFalse));
  EXPECT_TRUE(a->reason("west-east", kConditionReady).starts_with("DeadPeer: "));
  silence_b = false;
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
  auto sas = on_loop([&] { return a->engine->list("west-east"); });
  ASSERT_FALSE(sas.empty());
  EXPECT_TRUE(std::any_of(sas.begin(), sas.end(), [](const engine::IkeSaInfo& i) {
    return i.initiator && i.state == "established";
  })) << "the IKE SA a restarted";
  EXPECT_EQ(dead_peers(*a, "restart"), "1") << "counted once per dead peer";
}

TEST_F(ReconcilerTest, DeadPeerWithoutDpdactionIsHoldAndAutoStartInitiatesAgain) {
  ASSERT_NO_FATAL_FAILURE(establish(";auto=start" + kDpd, ";auto=add"));
  ASSERT_NO_FATAL_FAILURE(silence_b_until_dead([&] { return has_trap(policies(*a)); }));
  EXPECT_EQ(dead_peers(*a, "hold"), "1");
  silence_b = false;
  // auto=start retries through the backoff, as libreswan revives a connection kept up.
  ASSERT_TRUE(eventually([&] {
    return a->is("west-east", kConditionEstablished, ConditionStatus::kTrue);
  })) << a->reason("west-east", kConditionEstablished);
}

}  // namespace
}  // namespace ipsecd::controller
