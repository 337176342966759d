#pragma once
// Secret: the engine's name for model::SecretBytes (model/secret_bytes.h), owned key
// bytes wiped when freed, moved from or reassigned; copies explicit, printing shows only
// the size.

#include <cstdint>
#include <span>
#include <string_view>

#include "model/secret_bytes.h"

namespace ipsecd::engine::crypto {

using Secret = model::SecretBytes;
using model::equal_constant_time;

// Text (a PSK from ipsec.secrets, an ID) seen as octets, without a copy.
inline std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace ipsecd::engine::crypto
