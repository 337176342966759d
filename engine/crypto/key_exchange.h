#pragma once
// Diffie-Hellman key exchange for the KE payload: MODP groups 14-18 (RFC 3526),
// ECP groups 19-21 (RFC 5903), Curve25519 and Curve448 (RFC 8031).
//
// Public values in their IKEv2 encodings: MODP big-endian padded to the prime
// length; ECP x | y, each padded to the field length, without a point-format
// octet; X25519/X448 the raw 32/56 octets. The shared secret g^ir in the same
// way: MODP padded to the prime length, ECP the x coordinate, X25519/X448 raw.

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/crypto/secret.h"
#include "model/proposals.h"
#include "model/result.h"

namespace ipsecd::engine::crypto {

class KeyExchange {
 public:
  virtual ~KeyExchange() = default;

  // A fresh private value from OpenSSL's generator. Unsupported groups
  // (MODP-1024, RFC 5114, ML-KEM) are refused with their number and the list.
  static model::Result<std::unique_ptr<KeyExchange>> create(model::DhId group);
  // A fixed private value, for published known-answer vectors and captures:
  // a big-endian integer (MODP, ECP; ECP padded to the order length) or the
  // raw 32/56 octets (X25519/X448).
  static model::Result<std::unique_ptr<KeyExchange>> create_from_private(
      model::DhId group, std::span<const uint8_t> private_value);
  static bool supported(model::DhId group);
  // Length of the KE payload data for the group; 0 when unsupported.
  static std::size_t public_size(model::DhId group);

  virtual model::DhId group() const = 0;
  virtual std::span<const uint8_t> public_value() const = 0;
  // g^ir from the peer's KE data, after checking it: exact length, MODP
  // 1 < y < p-1, ECP point on the curve, X25519/X448 not of low order (RFC
  // 8031 2.3: an all-zero result is refused). Errors never echo key bytes.
  virtual model::Result<Secret> derive(std::span<const uint8_t> peer_public) const = 0;
};

// "14 (MODP-2048)", "19 (ECP-256)", for messages.
std::string group_name(model::DhId group);

}  // namespace ipsecd::engine::crypto
