#pragma once
// Shared-key AUTH payloads (RFC 7296 2.15):
//
//   InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, IDi')
//   ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, IDr')
//   AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)
//
// IDi'/IDr' is the ID payload without its generic header: ID Type, three
// reserved octets, identification data.

#include <cstdint>
#include <span>
#include <vector>

#include "engine/crypto/prf.h"

namespace ipsecd::engine::crypto {

// message: the sender's whole IKE_SA_INIT message as sent; peer_nonce: the
// other side's Nonce data; sk_p: the sender's SK_pi or SK_pr.
std::vector<uint8_t> signed_octets(Prf& prf, std::span<const uint8_t> message,
                                   std::span<const uint8_t> peer_nonce,
                                   std::span<const uint8_t> sk_p, uint8_t id_type,
                                   std::span<const uint8_t> id_data);

// The AUTH data a side sends for its signed octets.
std::vector<uint8_t> psk_auth(Prf& prf, std::span<const uint8_t> shared_secret,
                              std::span<const uint8_t> signed_octets);

// Whether a received AUTH matches, compared in constant time.
bool psk_auth_matches(Prf& prf, std::span<const uint8_t> shared_secret,
                      std::span<const uint8_t> signed_octets, std::span<const uint8_t> received);

}  // namespace ipsecd::engine::crypto
