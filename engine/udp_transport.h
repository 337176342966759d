#pragma once
// IKE over UDP sockets: one socket per address and port (IKE port, default
// 500, and NAT-T port, default 4500), IPv4 and IPv6. Ports are configurable
// and 0 asks the kernel for a free one, so tests need no root.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/event_loop.h"
#include "engine/transport.h"

namespace ipsecd::engine {

struct UdpOptions {
  std::vector<kernel::Address> addresses;  // each gets both ports
  uint16_t ike_port = 500;
  uint16_t natt_port = 4500;
};

class UdpTransport final : public Transport {
 public:
  // Binds every socket and watches them on `loop`; nullptr and the reason
  // (address, port, errno text) when one cannot be bound.
  static std::unique_ptr<UdpTransport> open(EventLoop& loop, const UdpOptions& options,
                                            std::string& error);
  struct Private {};  // only open() constructs
  UdpTransport(EventLoop& loop, Private) : loop_(loop) {}
  ~UdpTransport() override;

  void set_receiver(Receiver receiver) override { receiver_ = std::move(receiver); }
  void send(const Endpoint& local, const Endpoint& remote,
            std::span<const uint8_t> message) override;
  void send_keepalive(const Endpoint& local, const Endpoint& remote) override;
  std::vector<Endpoint> local_endpoints() const override;
  // With port 0 this is the port bound for the first address.
  uint16_t natt_port() const override { return natt_port_; }
  // Datagrams the kernel refused to send.
  uint64_t send_errors() const { return send_errors_; }

 private:
  struct Socket {
    int fd = -1;
    Endpoint local;
    bool natt = false;
  };
  void readable(const Socket& socket);
  void send_wire(const Endpoint& local, const Endpoint& remote, std::span<const uint8_t> message,
                 bool marker);

  EventLoop& loop_;
  std::vector<Socket> sockets_;
  uint16_t natt_port_ = 0;
  Receiver receiver_;
  uint64_t send_errors_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace ipsecd::engine
