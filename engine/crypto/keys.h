#pragma once
// IKE SA and CHILD SA key material (RFC 7296 2.13, 2.14, 2.17, 2.18).
//
//   SKEYSEED           = prf(Ni | Nr, g^ir)
//   SKEYSEED (rekey)   = prf_old(SK_d (old), g^ir (new) | Ni | Nr)
//   {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
//                      = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
//   KEYMAT (CHILD SA)  = prf+(SK_d, [g^ir (new) |] Ni | Nr)
//                      = encr_i | integ_i | encr_r | integ_r
//
// Nonces are the Nonce payload data without its header; SPIs are the 8-octet
// IKE SPIs in network order.

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/crypto/prf.h"
#include "engine/crypto/secret.h"
#include "model/proposals.h"
#include "model/result.h"

namespace ipsecd::engine::crypto {

// Key octets one direction of an SA needs. `encr` includes the salt or nonce
// that AEAD and counter modes take from the key material: 4 octets for AES-GCM
// (RFC 5282, RFC 4106), ChaCha20-Poly1305 (RFC 7634) and AES-CTR (RFC 3686),
// 3 for AES-CCM (RFC 4309).
struct KeyLengths {
  std::size_t encr = 0;
  std::size_t integ = 0;
  bool operator==(const KeyLengths&) const = default;
};

// For SK payloads and ESP/AH alike. key_bits is the Key Length attribute
// (0 when absent). Refuses unknown ids, a key length the cipher does not
// have, an AEAD cipher with an integrity algorithm and a plain cipher without.
model::Result<KeyLengths> key_lengths(model::EncrId encr, uint16_t key_bits, model::IntegId integ);
// AH, or the integrity part alone.
model::Result<std::size_t> integ_key_length(model::IntegId integ);

struct IkeKeys {
  Secret sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr;
};

struct ChildKeys {
  Secret encr_i, integ_i;  // initiator to responder
  Secret encr_r, integ_r;  // responder to initiator
};

Secret ike_skeyseed(Prf& prf, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                    std::span<const uint8_t> g_ir);
// old_prf is the PRF of the IKE SA being rekeyed (RFC 7296 2.18).
Secret rekey_skeyseed(Prf& old_prf, std::span<const uint8_t> old_sk_d,
                      std::span<const uint8_t> g_ir_new, std::span<const uint8_t> ni,
                      std::span<const uint8_t> nr);
// The seven keys from SKEYSEED, with the PRF of the IKE SA they belong to.
IkeKeys expand_ike_keys(Prf& prf, std::span<const uint8_t> skeyseed, KeyLengths sk,
                        std::span<const uint8_t> ni, std::span<const uint8_t> nr, uint64_t spi_i,
                        uint64_t spi_r);

// IKE_SA_INIT: SKEYSEED and the seven keys.
IkeKeys derive_ike_keys(Prf& prf, KeyLengths sk, std::span<const uint8_t> ni,
                        std::span<const uint8_t> nr, std::span<const uint8_t> g_ir, uint64_t spi_i,
                        uint64_t spi_r);
// CREATE_CHILD_SA rekeying the IKE SA: the nonces and g^ir of that exchange,
// the SPIs of the new IKE SA.
IkeKeys derive_rekeyed_ike_keys(Prf& old_prf, std::span<const uint8_t> old_sk_d, Prf& new_prf,
                                KeyLengths sk, std::span<const uint8_t> ni,
                                std::span<const uint8_t> nr, std::span<const uint8_t> g_ir_new,
                                uint64_t spi_i, uint64_t spi_r);

// g_ir_new is empty without PFS. Ni and Nr are those of the exchange that
// creates the CHILD SA (IKE_AUTH: the IKE_SA_INIT nonces).
ChildKeys derive_child_keys(Prf& prf, std::span<const uint8_t> sk_d, KeyLengths esp,
                            std::span<const uint8_t> g_ir_new, std::span<const uint8_t> ni,
                            std::span<const uint8_t> nr);

}  // namespace ipsecd::engine::crypto
