#pragma once
// How IKE messages enter and leave the engine. UdpTransport uses sockets;
// MemoryNetwork connects engines inside one process for tests. On the NAT-T
// port both add and strip the 4-octet non-ESP marker (RFC 3948 2.2), so the
// engine always sees bare IKE messages.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "kernel/backend.h"

namespace ipsecd::engine {

struct Endpoint {
  kernel::Address address;
  uint16_t port = 0;
  std::string str() const;  // "192.0.2.1:500", "[2001:db8::1]:4500"
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct EndpointHash {
  std::size_t operator()(const Endpoint& e) const { return e.address.hash() * 31 + e.port; }
};

inline constexpr std::size_t kNonEspMarkerSize = 4;
inline constexpr uint8_t kNatKeepalive = 0xFF;

class Transport {
 public:
  // local: where the message arrived; remote: who sent it. The datagram is
  // the receiver's to decrypt in place; it lives until the call returns.
  using Receiver =
      std::function<void(const Endpoint& local, const Endpoint& remote, std::span<uint8_t>)>;

  virtual ~Transport() = default;
  virtual void set_receiver(Receiver receiver) = 0;
  // Sends one IKE message from `local` (an endpoint this transport owns).
  // Delivery is best effort, as UDP's: IKE retransmits.
  virtual void send(const Endpoint& local, const Endpoint& remote,
                    std::span<const uint8_t> message) = 0;
  // Sends a NAT-keepalive (RFC 3948 2.3): one octet 0xFF from `local`, a
  // NAT-T endpoint, without the non-ESP marker. Receivers drop it silently.
  virtual void send_keepalive(const Endpoint& local, const Endpoint& remote) = 0;
  virtual std::vector<Endpoint> local_endpoints() const = 0;
  // The port that carries the non-ESP marker.
  virtual uint16_t natt_port() const = 0;
};

}  // namespace ipsecd::engine
