#pragma once
// Engines in one process, connected through the event loop: every datagram is
// delivered after a delay, and a seeded generator decides loss, duplication
// and reordering, so a failing run repeats exactly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "engine/event_loop.h"
#include "engine/transport.h"

namespace ipsecd::engine {

struct Impairment {
  double loss = 0;       // probability a datagram is dropped
  double duplicate = 0;  // probability it is delivered twice
  double reorder = 0;    // probability it is held back by reorder_delay
  std::chrono::microseconds delay{1000};
  std::chrono::microseconds reorder_delay{5000};
};

struct NetworkCounters {
  uint64_t sent = 0;
  uint64_t delivered = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t unreachable = 0;  // no transport owns the destination
};

class MemoryNetwork {
 public:
  MemoryNetwork(EventLoop& loop, uint64_t seed) : loop_(loop), rng_(seed) {}

  // A transport owning `addresses` on the two ports; it detaches when destroyed.
  std::unique_ptr<Transport> attach(std::vector<kernel::Address> addresses, uint16_t ike_port = 500,
                                    uint16_t natt_port = 4500);

  void set_impairment(const Impairment& impairment) { impairment_ = impairment; }
  // Returns false to drop a datagram (e.g. to cut one direction off).
  using Filter = std::function<bool(const Endpoint& from, const Endpoint& to,
                                    std::span<const uint8_t> message)>;
  void set_filter(Filter filter) { filter_ = std::move(filter); }
  const NetworkCounters& counters() const { return counters_; }
  // Puts `inside` behind a NAT whose public address is `outside`: datagrams
  // from inside leave from outside on a port picked per inside endpoint, and
  // only answers to such a mapping come back in. The filter sees the
  // translated addresses.
  void add_nat(const kernel::Address& inside, const kernel::Address& outside);

 private:
  class Port;
  friend class Port;
  void send(const Endpoint& from, const Endpoint& to, std::vector<uint8_t> wire);
  void deliver(const Endpoint& from, const Endpoint& to, const std::vector<uint8_t>& wire);
  bool chance(double p);

  EventLoop& loop_;
  std::mt19937_64 rng_;
  Impairment impairment_;
  Filter filter_;
  NetworkCounters counters_;
  std::unordered_map<Endpoint, Port*, EndpointHash> ports_;
  std::vector<std::pair<kernel::Address, kernel::Address>> nats_;  // inside, outside
  std::unordered_map<Endpoint, Endpoint, EndpointHash> nat_out_;   // inside -> public
  std::unordered_map<Endpoint, Endpoint, EndpointHash> nat_in_;    // public -> inside
  uint16_t next_nat_port_ = 40000;
};

}  // namespace ipsecd::engine
