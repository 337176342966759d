// Clock, loops and transports: the pieces the engine's determinism rests on.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "engine/event_loop.h"
#include "engine/lifetime.h"
#include "engine/memory_network.h"
#include "engine/udp_transport.h"

namespace ipsecd::engine {
namespace {

using namespace std::chrono_literals;
using kernel::Address;

TEST(RekeyAfter, SubtractsTheMarginAndUpToFuzzPercentMoreAsLibreswanDoes) {
  using std::chrono::seconds;
  const Clock::Duration life = seconds(3600);
  const Clock::Duration margin = seconds(540);
  // The random value sets where in the fuzz range the rekey falls.
  EXPECT_EQ(rekey_after(life, margin, 100, 0), seconds(3060));
  EXPECT_NEAR(std::chrono::duration<double>(rekey_after(life, margin, 100, ~uint64_t{0})).count(),
              2520.0, 0.001);
  EXPECT_NEAR(
      std::chrono::duration<double>(rekey_after(life, margin, 50, uint64_t{1} << 63)).count(),
      3060.0 - 135.0, 0.001);
  EXPECT_EQ(rekey_after(life, margin, 0, 12345), seconds(3060));
  // A margin too large for the lifetime: between half and three quarters of it.
  EXPECT_EQ(rekey_after(seconds(30), margin, 100, 0), std::chrono::milliseconds(22500));
  EXPECT_NEAR(
      std::chrono::duration<double>(rekey_after(seconds(30), margin, 100, ~uint64_t{0})).count(),
      15.0, 0.001);
  EXPECT_EQ(rekey_after(Clock::Duration::zero(), margin, 100, 7), Clock::Duration::zero());
}

TEST(SimulatedLoop, FiresTimersInDeadlineOrderAndSkipsCancelledOnes) {
  ManualClock clock;
  SimulatedLoop loop(clock);
  std::vector<int> order;
  auto start = clock.now();
  loop.schedule(30ms, [&] { order.push_back(3); });
  loop.schedule(10ms, [&] { order.push_back(1); });
  auto cancelled = loop.schedule(20ms, [&] { order.push_back(2); });
  loop.schedule(10ms, [&] { order.push_back(11); });  // same deadline: scheduling order
  loop.cancel(cancelled);
  loop.advance(25ms);
  EXPECT_EQ(order, (std::vector<int>{1, 11}));
  EXPECT_EQ(clock.now() - start, 25ms);
  loop.advance(1s);
  EXPECT_EQ(order, (std::vector<int>{1, 11, 3}));
  EXPECT_EQ(loop.pending_timers(), 0u);
}

TEST(SimulatedLoop, RunUntilStopsAtTheConditionOrTheLimit) {
  ManualClock clock;
  SimulatedLoop loop(clock);
  int fired = 0;
  for (int i = 1; i <= 5; ++i) {
    loop.schedule(i * 100ms, [&] { ++fired; });
  }
  auto start = clock.now();
  EXPECT_TRUE(loop.run_until([&] { return fired == 2; }, 10s));
  EXPECT_EQ(clock.now() - start, 200ms);
  EXPECT_FALSE(loop.run_until([&] { return fired == 9; }, 1s));
  EXPECT_EQ(fired, 5);
  EXPECT_EQ(clock.now() - start, 1200ms);
}

TEST(SimulatedLoop, PostedCallbacksRunBeforeTimeMoves) {
  ManualClock clock;
  SimulatedLoop loop(clock);
  std::vector<int> order;
  loop.schedule(0ms, [&] { order.push_back(2); });
  loop.post([&] {
    order.push_back(1);
    loop.post([&] { order.push_back(3); });
  });
  loop.run_until_idle();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EpollLoop, RunsPostsFromOtherThreadsAndTimers) {
  RealClock clock;
  EpollLoop loop(clock);
  int timer_fired = 0;
  loop.schedule(5ms, [&] { ++timer_fired; });
  std::thread other([&] { loop.post([&] { loop.schedule(10ms, [&] { loop.stop(); }); }); });
  loop.run();
  other.join();
  EXPECT_EQ(timer_fired, 1);
}

TEST(MemoryNetwork, SameSeedSameFateForEveryDatagram) {
  auto run = [](uint64_t seed) {
    ManualClock clock;
    SimulatedLoop loop(clock);
    MemoryNetwork net(loop, seed);
    net.set_impairment(Impairment{0.3, 0.2, 0.2});
    auto a = net.attach({Address::literal("192.0.2.1")});
    auto b = net.attach({Address::literal("192.0.2.2")});
    std::vector<uint8_t> got;
    b->set_receiver(
        [&](const Endpoint&, const Endpoint&, std::span<uint8_t> m) { got.push_back(m[0]); });
    for (uint8_t i = 0; i < 100; ++i) {
      uint8_t msg[1] = {i};
      a->send({Address::literal("192.0.2.1"), 500}, {Address::literal("192.0.2.2"), 500}, msg);
    }
    loop.advance(1s);
    return std::make_pair(got, net.counters());
  };
  auto [got1, c1] = run(7);
  auto [got2, c2] = run(7);
  EXPECT_EQ(got1, got2);
  EXPECT_GT(c1.lost, 10u);
  EXPECT_GT(c1.duplicated, 5u);
  EXPECT_GT(c1.reordered, 5u);
  EXPECT_EQ(c1.delivered, got1.size());
  EXPECT_FALSE(std::is_sorted(got1.begin(), got1.end()));
  EXPECT_NE(got1, run(8).first);
}

TEST(MemoryNetwork, CarriesNattPortMessagesWithTheMarkerStrippedOverIpv6) {
  ManualClock clock;
  SimulatedLoop loop(clock);
  MemoryNetwork net(loop, 1);
  auto a = net.attach({Address::literal("2001:db8::1")});
  auto b = net.attach({Address::literal("2001:db8::2")});
  std::vector<std::vector<uint8_t>> got;
  std::vector<Endpoint> from;
  b->set_receiver([&](const Endpoint&, const Endpoint& remote, std::span<uint8_t> m) {
    got.emplace_back(m.begin(), m.end());
    from.push_back(remote);
  });
  const uint8_t msg[3] = {1, 2, 3};
  a->send({Address::literal("2001:db8::1"), 4500}, {Address::literal("2001:db8::2"), 4500}, msg);
  loop.advance(10ms);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(from[0].str(), "[2001:db8::1]:4500");
}

TEST(UdpTransport, CarriesDatagramsOverIpv4LoopbackWithFreePorts) {
  RealClock clock;
  EpollLoop loop(clock);
  std::string error;
  auto a = UdpTransport::open(loop, {{Address::literal("127.0.0.1")}, 0, 0}, error);
  ASSERT_TRUE(a) << error;
  auto b = UdpTransport::open(loop, {{Address::literal("127.0.0.1")}, 0, 0}, error);
  ASSERT_TRUE(b) << error;
  auto ea = a->local_endpoints();
  auto eb = b->local_endpoints();
  ASSERT_EQ(ea.size(), 2u);
  EXPECT_NE(ea[0].port, 0);
  EXPECT_EQ(ea[1].port, a->natt_port());
  std::vector<std::pair<Endpoint, std::vector<uint8_t>>> got;
  b->set_receiver([&](const Endpoint& local, const Endpoint& remote, std::span<uint8_t> m) {
    got.emplace_back(remote, std::vector<uint8_t>(m.begin(), m.end()));
    (void)local;
    if (got.size() == 2) {
      loop.stop();
    }
  });
  const uint8_t ike[4] = {9, 8, 7, 6};
  a->send(ea[0], eb[0], ike);  // IKE port: as is
  a->send(ea[1], eb[1], ike);  // NAT-T port: marker added and stripped
  loop.schedule(2s, [&] { loop.stop(); });
  loop.run();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, ea[0]);
  EXPECT_EQ(got[1].first, ea[1]);
  EXPECT_EQ(got[0].second, (std::vector<uint8_t>{9, 8, 7, 6}));
  EXPECT_EQ(got[1].second, (std::vector<uint8_t>{9, 8, 7, 6}));
}

TEST(UdpTransport, PutsTheNonEspMarkerOnTheWireOfTheNattPort) {
  RealClock clock;
  EpollLoop loop(clock);
  std::string error;
  auto a = UdpTransport::open(loop, {{Address::literal("127.0.0.1")}, 0, 0}, error);
  ASSERT_TRUE(a) << error;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  const uint8_t ike[2] = {0x42, 0x43};
  a->send(a->local_endpoints()[1], {Address::literal("127.0.0.1"), ntohs(sin.sin_port)}, ike);
  uint8_t buf[16];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  close(fd);
  ASSERT_EQ(n, 6);
  EXPECT_EQ(std::vector<uint8_t>(buf, buf + 6), (std::vector<uint8_t>{0, 0, 0, 0, 0x42, 0x43}));
}

TEST(MemoryNetwork, NatRewritesTheSourceOutAndTheDestinationOfAnswersBack) {
  ManualClock clock;
  SimulatedLoop loop(clock);
  MemoryNetwork net(loop, 1);
  net.add_nat(Address::literal("192.0.2.1"), Address::literal("198.51.100.1"));
  auto a = net.attach({Address::literal("192.0.2.1")});
  auto b = net.attach({Address::literal("192.0.2.2")});
  std::vector<Endpoint> at_b;
  std::vector<Endpoint> at_a;
  b->set_receiver(
      [&](const Endpoint&, const Endpoint& remote, std::span<uint8_t>) { at_b.push_back(remote); });
  a->set_receiver(
      [&](const Endpoint&, const Endpoint& remote, std::span<uint8_t>) { at_a.push_back(remote); });
  const uint8_t msg[1] = {7};
  a->send({Address::literal("192.0.2.1"), 500}, {Address::literal("192.0.2.2"), 500}, msg);
  a->send({Address::literal("192.0.2.1"), 4500}, {Address::literal("192.0.2.2"), 4500}, msg);
  loop.advance(10ms);
  ASSERT_EQ(at_b.size(), 2u);
  EXPECT_EQ(at_b[0].str(), "198.51.100.1:40000");
  EXPECT_EQ(at_b[1].str(), "198.51.100.1:40001");
  // The answer to the mapping reaches the inside; an unmapped port does not.
  b->send({Address::literal("192.0.2.2"), 4500}, at_b[1], msg);
  b->send({Address::literal("192.0.2.2"), 500}, {Address::literal("198.51.100.1"), 500}, msg);
  loop.advance(10ms);
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_a[0].str(), "192.0.2.2:4500");
  EXPECT_EQ(net.counters().unreachable, 1u);
}

TEST(MemoryNetwork, KeepaliveIsOneOctetOnTheWireAndNeverReachesTheReceiver) {
  ManualClock clock;
  SimulatedLoop loop(clock);
  MemoryNetwork net(loop, 1);
  auto a = net.attach({Address::literal("192.0.2.1")});
  auto b = net.attach({Address::literal("192.0.2.2")});
  std::vector<std::vector<uint8_t>> wire;
  net.set_filter([&](const Endpoint&, const Endpoint&, std::span<const uint8_t> m) {
    wire.emplace_back(m.begin(), m.end());
    return true;
  });
  int received = 0;
  b->set_receiver([&](const Endpoint&, const Endpoint&, std::span<uint8_t>) { ++received; });
  a->send_keepalive({Address::literal("192.0.2.1"), 4500}, {Address::literal("192.0.2.2"), 4500});
  loop.advance(10ms);
  ASSERT_EQ(wire.size(), 1u);
  EXPECT_EQ(wire[0], (std::vector<uint8_t>{0xFF}));
  EXPECT_EQ(net.counters().delivered, 1u);
  EXPECT_EQ(received, 0);
}

TEST(UdpTransport, KeepaliveIsOneOctetWithoutMarkerAndIsNotDeliveredAsIke) {
  RealClock clock;
  EpollLoop loop(clock);
  std::string error;
  auto a = UdpTransport::open(loop, {{Address::literal("127.0.0.1")}, 0, 0}, error);
  ASSERT_TRUE(a) << error;
  auto b = UdpTransport::open(loop, {{Address::literal("127.0.0.1")}, 0, 0}, error);
  ASSERT_TRUE(b) << error;
  // On the wire: exactly 0xFF, no non-ESP marker.
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  a->send_keepalive(a->local_endpoints()[1], {Address::literal("127.0.0.1"), ntohs(sin.sin_port)});
  uint8_t buf[16];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  close(fd);
  ASSERT_EQ(n, 1);
  EXPECT_EQ(buf[0], 0xFF);
  // At a NAT-T port it is dropped; the IKE message after it gets through.
  std::vector<std::vector<uint8_t>> got;
  b->set_receiver([&](const Endpoint&, const Endpoint&, std::span<uint8_t> m) {
    got.emplace_back(m.begin(), m.end());
    loop.stop();
  });
  const uint8_t ike[3] = {5, 6, 7};
  a->send_keepalive(a->local_endpoints()[1], b->local_endpoints()[1]);
  a->send(a->local_endpoints()[1], b->local_endpoints()[1], ike);
  loop.schedule(2s, [&] { loop.stop(); });
  loop.run();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (std::vector<uint8_t>{5, 6, 7}));
}

TEST(UdpTransport, Ipv6LoopbackWhenTheHostHasIt) {
  RealClock clock;
  EpollLoop loop(clock);
  std::string error;
  auto a = UdpTransport::open(loop, {{Address::literal("::1")}, 0, 0}, error);
  if (!a) {
    GTEST_SKIP() << "no IPv6 loopback here: " << error;
  }
  auto b = UdpTransport::open(loop, {{Address::literal("::1")}, 0, 0}, error);
  ASSERT_TRUE(b) << error;
  int got = 0;
  b->set_receiver([&](const Endpoint&, const Endpoint& remote, std::span<uint8_t> m) {
    EXPECT_EQ(remote.address, Address::literal("::1"));
    EXPECT_EQ(m.size(), 1u);
    ++got;
    loop.stop();
  });
  const uint8_t one[1] = {1};
  a->send(a->local_endpoints()[1], b->local_endpoints()[1], one);
  loop.schedule(2s, [&] { loop.stop(); });
  loop.run();
  EXPECT_EQ(got, 1);
}

TEST(UdpTransport, ExplainsWhyABindFails) {
  RealClock clock;
  EpollLoop loop(clock);
  std::string error;
  auto t = UdpTransport::open(loop, {{Address::literal("192.0.2.77")}, 0, 0}, error);
  EXPECT_FALSE(t);
  EXPECT_NE(error.find("cannot bind UDP 192.0.2.77:0"), std::string::npos) << error;
}

}  // namespace
}  // namespace ipsecd::engine
