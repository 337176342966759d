#include "engine/memory_network.h"

#include <algorithm>

namespace ipsecd::engine {

class MemoryNetwork::Port final : public Transport {
 public:
  Port(MemoryNetwork& net, std::vector<Endpoint> endpoints, uint16_t natt_port)
      : net_(net), endpoints_(std::move(endpoints)), natt_port_(natt_port) {
    for (const auto& e : endpoints_) {
      net_.ports_[e] = this;
    }
  }
  ~Port() override {
    for (const auto& e : endpoints_) {
      auto it = net_.ports_.find(e);
      if (it != net_.ports_.end() && it->second == this) {
        net_.ports_.erase(it);
      }
    }
  }
  void set_receiver(Receiver receiver) override { receiver_ = std::move(receiver); }
  void send(const Endpoint& local, const Endpoint& remote,
            std::span<const uint8_t> message) override {
    std::vector<uint8_t> wire;
    const bool marker = local.port == natt_port_;
    wire.reserve(message.size() + (marker ? kNonEspMarkerSize : 0));
    if (marker) {
      wire.assign(kNonEspMarkerSize, 0);
    }
    wire.insert(wire.end(), message.begin(), message.end());
    net_.send(local, remote, std::move(wire));
  }
  void send_keepalive(const Endpoint& local, const Endpoint& remote) override {
    net_.send(local, remote, std::vector<uint8_t>{kNatKeepalive});
  }
  std::vector<Endpoint> local_endpoints() const override { return endpoints_; }
  uint16_t natt_port() const override { return natt_port_; }

  void receive(const Endpoint& local, const Endpoint& remote, std::vector<uint8_t> wire) {
    if (!receiver_) {
      return;
    }
    std::span<uint8_t> message(wire);
    if (local.port == natt_port_) {
      // Without the marker it would be ESP, which the kernel takes, not IKE.
      if (message.size() < kNonEspMarkerSize ||
          !std::all_of(message.begin(), message.begin() + kNonEspMarkerSize,
                       [](uint8_t b) { return b == 0; })) {
        return;
      }
      message = message.subspan(kNonEspMarkerSize);
    }
    receiver_(local, remote, message);
  }

 private:
  MemoryNetwork& net_;
  std::vector<Endpoint> endpoints_;
  uint16_t natt_port_;
  Receiver receiver_;
};

std::unique_ptr<Transport> MemoryNetwork::attach(std::vector<kernel::Address> addresses,
                                                 uint16_t ike_port, uint16_t natt_port) {
  std::vector<Endpoint> endpoints;
  for (const auto& a : addresses) {
    endpoints.push_back(Endpoint{a, ike_port});
    endpoints.push_back(Endpoint{a, natt_port});
  }
  return std::make_unique<Port>(*this, std::move(endpoints), natt_port);
}

bool MemoryNetwork::chance(double p) {
  if (p <= 0) {
    return false;
  }
  return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

void MemoryNetwork::add_nat(const kernel::Address& inside, const kernel::Address& outside) {
  nats_.emplace_back(inside, outside);
}

void MemoryNetwork::send(const Endpoint& inner_from, const Endpoint& inner_to,
                         std::vector<uint8_t> wire) {
  ++counters_.sent;
  Endpoint from = inner_from;
  Endpoint to = inner_to;
  for (const auto& [inside, outside] : nats_) {
    if (from.address == inside) {
      // A new inside endpoint gets the next public port; it keeps it after.
      auto [it, added] = nat_out_.try_emplace(from, Endpoint{outside, next_nat_port_});
      if (added) {
        nat_in_[it->second] = from;
        ++next_nat_port_;
      }
      from = it->second;
    }
  }
  if (auto it = nat_in_.find(to); it != nat_in_.end()) {
    to = it->second;
  }
  if (filter_ && !filter_(from, to, wire)) {
    ++counters_.lost;
    return;
  }
  if (chance(impairment_.loss)) {
    ++counters_.lost;
    return;
  }
  auto delay = impairment_.delay;
  if (chance(impairment_.reorder)) {
    ++counters_.reordered;
    delay += impairment_.reorder_delay;
  }
  if (chance(impairment_.duplicate)) {
    ++counters_.duplicated;
    loop_.schedule(delay + impairment_.delay,
                   [this, from, to, copy = wire] { deliver(from, to, copy); });
  }
  loop_.schedule(delay, [this, from, to, w = std::move(wire)] { deliver(from, to, w); });
}

void MemoryNetwork::deliver(const Endpoint& from, const Endpoint& to,
                            const std::vector<uint8_t>& wire) {
  auto it = ports_.find(to);
  if (it == ports_.end()) {
    ++counters_.unreachable;
    return;
  }
  ++counters_.delivered;
  // The receiver decrypts in place, so it gets its own copy of the octets.
  it->second->receive(to, from, wire);
}

}  // namespace ipsecd::engine
