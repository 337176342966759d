#include "engine/udp_transport.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ipsecd::engine {
namespace {

// Large enough for any IKE message a peer may send unfragmented.
constexpr std::size_t kMaxDatagram = 65535;

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (e.address.family() == kernel::Family::kIpv4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    std::memcpy(&sin->sin_addr, e.address.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(e.port);
  std::memcpy(&sin6->sin6_addr, e.address.data(), 16);
  return sizeof(sockaddr_in6);
}

bool from_sockaddr(const sockaddr_storage& ss, Endpoint& out) {
  if (ss.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
    out.address = kernel::Address::from_bytes(kernel::Family::kIpv4,
                                              reinterpret_cast<const uint8_t*>(&sin->sin_addr));
    out.port = ntohs(sin->sin_port);
    return true;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    out.address = kernel::Address::from_bytes(kernel::Family::kIpv6,
                                              reinterpret_cast<const uint8_t*>(&sin6->sin6_addr));
    out.port = ntohs(sin6->sin6_port);
    return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<UdpTransport> UdpTransport::open(EventLoop& loop, const UdpOptions& options,
                                                 std::string& error) {
  auto t = std::make_unique<UdpTransport>(loop, Private{});
  t->buffer_.resize(kMaxDatagram);
  if (options.addresses.empty()) {
    error = "no address to bind: give the local addresses IKE should use";
    return nullptr;
  }
  for (const auto& address : options.addresses) {
    for (bool natt : {false, true}) {
      uint16_t port = natt ? options.natt_port : options.ike_port;
      const bool v6 = address.family() == kernel::Family::kIpv6;
      int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        error = std::string("cannot create a UDP socket: ") + std::strerror(errno);
        return nullptr;
      }
      // Pushed now so the destructor closes it whatever happens next.
      t->sockets_.push_back(Socket{fd, Endpoint{address, port}, natt});
      int one = 1;
      if (v6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      }
      sockaddr_storage ss;
      socklen_t len = to_sockaddr(Endpoint{address, port}, ss);
      if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        error = "cannot bind UDP " + Endpoint{address, port}.str() + ": " + std::strerror(errno) +
                (errno == EACCES ? " (ports below 1024 need CAP_NET_BIND_SERVICE)" : "");
        return nullptr;
      }
      len = sizeof ss;
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      from_sockaddr(ss, t->sockets_.back().local);
      if (natt) {
        // ESP in UDP goes to the kernel's XFRM; only marked IKE reaches us. Not
        // every kernel has it (no CONFIG_XFRM): IKE still works without.
        int encap = UDP_ENCAP_ESPINUDP;
        setsockopt(fd, IPPROTO_UDP, UDP_ENCAP, &encap, sizeof encap);
        if (t->natt_port_ == 0) {
          t->natt_port_ = t->sockets_.back().local.port;
        }
      }
    }
  }
  for (std::size_t i = 0; i < t->sockets_.size(); ++i) {
    UdpTransport* self = t.get();
    std::string err =
        loop.watch(t->sockets_[i].fd, [self, i] { self->readable(self->sockets_[i]); });
    if (!err.empty()) {
      error = err;
      return nullptr;
    }
  }
  return t;
}

UdpTransport::~UdpTransport() {
  for (const auto& s : sockets_) {
    loop_.unwatch(s.fd);
    close(s.fd);
  }
}

void UdpTransport::readable(const Socket& socket) {
  // Drains what is queued, bounded so one busy socket cannot starve timers.
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ssize_t n = recvfrom(socket.fd, buffer_.data(), buffer_.size(), 0,
                         reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) {
      return;
    }
    Endpoint remote;
    if (!from_sockaddr(ss, remote) || !receiver_) {
      continue;
    }
    std::span<uint8_t> message(buffer_.data(), static_cast<std::size_t>(n));
    if (socket.natt) {
      if (message.size() < kNonEspMarkerSize ||
          !std::all_of(message.begin(), message.begin() + kNonEspMarkerSize,
                       [](uint8_t b) { return b == 0; })) {
        continue;  // ESP or a keepalive (one 0xff octet), not IKE
      }
      message = message.subspan(kNonEspMarkerSize);
    }
    receiver_(socket.local, remote, message);
  }
}

void UdpTransport::send(const Endpoint& local, const Endpoint& remote,
                        std::span<const uint8_t> message) {
  send_wire(local, remote, message, true);
}

void UdpTransport::send_keepalive(const Endpoint& local, const Endpoint& remote) {
  static const uint8_t kOctet[1] = {kNatKeepalive};
  send_wire(local, remote, kOctet, false);
}

void UdpTransport::send_wire(const Endpoint& local, const Endpoint& remote,
                             std::span<const uint8_t> message, bool marker) {
  auto it = std::find_if(sockets_.begin(), sockets_.end(),
                         [&](const Socket& s) { return s.local == local; });
  if (it == sockets_.end()) {
    ++send_errors_;
    return;
  }
  sockaddr_storage ss;
  socklen_t len = to_sockaddr(remote, ss);
  static const uint8_t kMarker[kNonEspMarkerSize] = {0, 0, 0, 0};
  iovec iov[2];
  int n = 0;
  if (it->natt && marker) {
    iov[n++] = iovec{const_cast<uint8_t*>(kMarker), kNonEspMarkerSize};
  }
  iov[n++] = iovec{const_cast<uint8_t*>(message.data()), message.size()};
  msghdr msg{};
  msg.msg_name = &ss;
  msg.msg_namelen = len;
  msg.msg_iov = iov;
  msg.msg_iovlen = static_cast<std::size_t>(n);
  if (sendmsg(it->fd, &msg, 0) < 0) {
    ++send_errors_;  // a full buffer or unreachable peer: IKE retransmits
  }
}

std::vector<Endpoint> UdpTransport::local_endpoints() const {
  std::vector<Endpoint> out;
  for (const auto& s : sockets_) {
    out.push_back(s.local);
  }
  return out;
}

}  // namespace ipsecd::engine
