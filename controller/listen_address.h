#pragma once
// HOST:PORT as --api and --metrics take it: an IPv4 address, a bracketed IPv6
// address ("[::1]:8443") or a host name; port 0 asks for any free port.

#include <cstdint>
#include <string>
#include <string_view>

#include "model/result.h"

namespace ipsecd::controller {

struct ListenAddress {
  std::string host;  // without brackets
  uint16_t port = 0;

  // "127.0.0.1:8080", "[::1]:8080"
  std::string str() const;
  // "http://127.0.0.1:8080"
  std::string url() const;
};

// `option` names the flag in messages ("--api"). A missing port is an error:
// an operator who wants any free port writes :0.
model::Result<ListenAddress> parse_listen_address(std::string_view text, std::string_view option);

}  // namespace ipsecd::controller
