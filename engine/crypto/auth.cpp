#include "engine/crypto/auth.h"

#include <array>
#include <string_view>

#include "engine/crypto/secret.h"

namespace ipsecd::engine::crypto {

namespace {
constexpr std::string_view kKeyPad = "Key Pad for IKEv2";  // RFC 7296 2.15, 17 octets
}

std::vector<uint8_t> signed_octets(Prf& prf, std::span<const uint8_t> message,
                                   std::span<const uint8_t> peer_nonce,
                                   std::span<const uint8_t> sk_p, uint8_t id_type,
                                   std::span<const uint8_t> id_data) {
  const std::array<uint8_t, 4> id_header = {id_type, 0, 0, 0};
  Secret id_mac = prf.compute(sk_p, {id_header, id_data});
  std::vector<uint8_t> out;
  out.reserve(message.size() + peer_nonce.size() + id_mac.size());
  out.insert(out.end(), message.begin(), message.end());
  out.insert(out.end(), peer_nonce.begin(), peer_nonce.end());
  out.insert(out.end(), id_mac.span().begin(), id_mac.span().end());
  return out;
}

std::vector<uint8_t> psk_auth(Prf& prf, std::span<const uint8_t> shared_secret,
                              std::span<const uint8_t> signed_octets) {
  Secret key = prf.compute(shared_secret, {as_bytes(kKeyPad)});
  Secret auth = prf.compute(key, {signed_octets});
  return {auth.span().begin(), auth.span().end()};
}

bool psk_auth_matches(Prf& prf, std::span<const uint8_t> shared_secret,
                      std::span<const uint8_t> signed_octets, std::span<const uint8_t> received) {
  Secret key = prf.compute(shared_secret, {as_bytes(kKeyPad)});
  Secret expected = prf.compute(key, {signed_octets});
  return equal_constant_time(expected, received);
}

}  // namespace ipsecd::engine::crypto
