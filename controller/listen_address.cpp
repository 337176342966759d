#include "controller/listen_address.h"

#include <charconv>

namespace ipsecd::controller {

std::string ListenAddress::str() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

std::string ListenAddress::url() const {
  return "http://" + str();
}

model::Result<ListenAddress> parse_listen_address(std::string_view text, std::string_view option) {
  using R = model::Result<ListenAddress>;
  std::string prefix = std::string(option) + " " + std::string(text) + ": ";
  std::string_view host;
  std::string_view port;
  if (text.starts_with("[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return R::failure(prefix + "an IPv6 address needs its closing ']' (as in [::1]:8080)");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(":")) {
      return R::failure(prefix + "expected :PORT after the IPv6 address (as in [::1]:8080)");
    }
    port = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return R::failure(prefix +
                        "expected HOST:PORT (as in 127.0.0.1:8080; port 0 picks a "
                        "free port)");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return R::failure(prefix + "an IPv6 address goes in brackets (as in [::1]:8080)");
    }
  }
  if (host.empty()) {
    return R::failure(prefix + "the host is empty (use 127.0.0.1 for loopback, 0.0.0.0 for all)");
  }
  for (char c : host) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '.' || c == '-' || c == ':' || c == '_' || c == '%';
    if (!ok) {
      return R::failure(prefix +
                        "the host holds a character that is not allowed in an "
                        "address or host name");
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return R::failure(prefix + "the port must be a number from 0 to 65535 (0 picks a free port)");
  }
  return ListenAddress{std::string(host), static_cast<uint16_t>(value)};
}

}  // namespace ipsecd::controller
