#include "engine/transport.h"

namespace ipsecd::engine {

std::string Endpoint::str() const {
  if (address.family() == kernel::Family::kIpv6) {
    return "[" + address.str() + "]:" + std::to_string(port);
  }
  return address.str() + ":" + std::to_string(port);
}

}  // namespace ipsecd::engine
