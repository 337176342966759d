#include "tests/kernel/netns.h"

#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ipsecd::kernel::testing {

int ip(const std::string& args) {
  std::string cmd = "ip " + args + " 2>/dev/null";
  int rc = std::system(cmd.c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

std::string enter_fresh_netns() {
  if (geteuid() != 0) {
    return "needs root (CAP_NET_ADMIN) to create a network namespace and XFRM state";
  }
  if (unshare(CLONE_NEWNET) != 0) {
    return std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno);
  }
  const char* setup[] = {
      "link set lo up",
      "addr add 192.0.2.1/24 dev lo",
      "-6 addr add 2001:db8::1/64 dev lo nodad",
      "route add 203.0.113.0/24 dev lo",
      "route add 198.51.100.0/24 dev lo",
      "-6 route add 2001:db8:2::/64 dev lo",
  };
  for (const char* s : setup) {
    if (ip(s) != 0) {
      return std::string("setting up the test namespace failed: ip ") + s;
    }
  }
  // Loopback skips IPsec policy by default; the test routes its prefixes through it.
  for (const char* knob :
       {"/proc/sys/net/ipv4/conf/lo/disable_xfrm", "/proc/sys/net/ipv4/conf/lo/disable_policy",
        "/proc/sys/net/ipv6/conf/lo/disable_xfrm", "/proc/sys/net/ipv6/conf/lo/disable_policy"}) {
    if (FILE* f = std::fopen(knob, "w")) {
      std::fputs("0", f);
      std::fclose(f);
    }
  }
  return {};
}

int send_udp_datagram(const Address& src, const Address& dst, uint16_t dport) {
  int family = src.family() == Family::kIpv4 ? AF_INET : AF_INET6;
  int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return errno;
  }
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t len = 0;
  if (family == AF_INET) {
    auto* l = reinterpret_cast<sockaddr_in*>(&local);
    auto* r = reinterpret_cast<sockaddr_in*>(&remote);
    l->sin_family = r->sin_family = AF_INET;
    std::memcpy(&l->sin_addr, src.data(), 4);
    std::memcpy(&r->sin_addr, dst.data(), 4);
    r->sin_port = htons(dport);
    len = sizeof(sockaddr_in);
  } else {
    auto* l = reinterpret_cast<sockaddr_in6*>(&local);
    auto* r = reinterpret_cast<sockaddr_in6*>(&remote);
    l->sin6_family = r->sin6_family = AF_INET6;
    std::memcpy(&l->sin6_addr, src.data(), 16);
    std::memcpy(&r->sin6_addr, dst.data(), 16);
    r->sin6_port = htons(dport);
    len = sizeof(sockaddr_in6);
  }
  int err = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), len) != 0) {
    err = errno;
  } else if (::sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&remote), len) < 0) {
    err = errno;
  }
  ::close(fd);
  return err;
}

}  // namespace ipsecd::kernel::testing
