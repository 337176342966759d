#pragma once
// ike= / esp= / phase2alg= in libreswan's algorithm syntax, parsed into
// structured IKEv2 proposals whose numbers are IANA's (RFC 7296 3.3.2, IKEv2
// Transform Type registries), so the engine negotiates with them directly.
//
// Syntax (libreswan ipsec.conf(5)): proposals separated by ',';
// within one, algorithms of a transform type joined by '+', transform types
// by '-', and the DH group after ';' or as the last '-' element:
//   ike=aes256-sha2_256;modp2048,aes128-sha1-modp1024
//   ike=aes_gcm256-sha2;dh19+dh20
//   esp=aes_gcm128,chacha20_poly1305
//   esp=aes256-sha2_512;dh14          (a DH group in esp= asks for PFS)
// An unknown algorithm name is an error that names it and lists the known ones.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace ipsecd::model {

// IANA "Transform Type 1 - Encryption Algorithm Transform IDs".
enum class EncrId : uint16_t {
  k3Des = 3,
  kNull = 11,
  kAesCbc = 12,
  kAesCtr = 13,
  kAesCcm8 = 14,
  kAesCcm12 = 15,
  kAesCcm16 = 16,
  kAesGcm8 = 18,
  kAesGcm12 = 19,
  kAesGcm16 = 20,
  kNullAuthAesGmac = 21,
  kCamelliaCbc = 23,
  kCamelliaCtr = 24,
  kChaCha20Poly1305 = 28,
};

// "Transform Type 2 - Pseudorandom Function Transform IDs".
enum class PrfId : uint16_t {
  kHmacMd5 = 1,
  kHmacSha1 = 2,
  kAes128Xcbc = 4,
  kHmacSha2_256 = 5,
  kHmacSha2_384 = 6,
  kHmacSha2_512 = 7,
  kAes128Cmac = 8,
};

// "Transform Type 3 - Integrity Algorithm Transform IDs".
enum class IntegId : uint16_t {
  kNone = 0,
  kHmacMd5_96 = 1,
  kHmacSha1_96 = 2,
  kAesXcbc96 = 5,
  kAesCmac96 = 8,
  kHmacSha2_256_128 = 12,
  kHmacSha2_384_192 = 13,
  kHmacSha2_512_256 = 14,
};

// "Transform Type 4 - Key Exchange Method Transform IDs".
enum class DhId : uint16_t {
  kNone = 0,
  kModp1024 = 2,
  kModp1536 = 5,
  kModp2048 = 14,
  kModp3072 = 15,
  kModp4096 = 16,
  kModp6144 = 17,
  kModp8192 = 18,
  kEcp256 = 19,
  kEcp384 = 20,
  kEcp521 = 21,
  kModp1024s160 = 22,  // RFC 5114; RFC 8247 says SHOULD NOT
  kModp2048s224 = 23,
  kModp2048s256 = 24,
  kCurve25519 = 31,
  kCurve448 = 32,
  kMlKem512 = 35,  // RFC 9370 additional key exchanges (draft-ietf-ipsecme-ikev2-mlkem)
  kMlKem768 = 36,
  kMlKem1024 = 37,
};

struct EncrAlg {
  EncrId id;
  uint16_t key_bits = 0;  // 0: the algorithm has a fixed key size
  auto operator<=>(const EncrAlg&) const = default;
};

struct Proposal {
  std::vector<EncrAlg> encr;
  std::vector<PrfId> prf;      // IKE only
  std::vector<IntegId> integ;  // empty for AEAD ciphers
  std::vector<DhId> dh;        // empty for esp= without PFS group
  // RFC 9370 additional key exchanges ADDKE1..ADDKE7 ("addke1=ml_kem_768");
  // index i holds transform type 6+i; trailing empty lists are not stored.
  std::vector<std::vector<DhId>> addke;
  auto operator<=>(const Proposal&) const = default;
};

enum class ProposalKind : uint8_t { kIke, kEsp, kAh };

// Parses a whole ike=/esp=/ah= value. Missing parts are filled as libreswan
// does (ike=aes256 gets its default PRFs, integrity and DH groups).
Result<std::vector<Proposal>> parse_proposals(ProposalKind kind, std::string_view text);

// libreswan's canonical spelling of one proposal list, e.g.
// "AES_CBC_256-HMAC_SHA2_256-MODP2048"; used for status output and hashing.
std::string format_proposals(ProposalKind kind, const std::vector<Proposal>& proposals);

// An AEAD cipher (GCM, CCM, ChaCha20-Poly1305, NULL_AUTH_AES_GMAC): integrity
// comes with it, so a proposal with one names no integrity algorithm. Inline:
// engine/crypto uses model/'s headers without linking it.
constexpr bool is_aead(EncrId id) {
  switch (id) {
    case EncrId::kAesGcm8:
    case EncrId::kAesGcm12:
    case EncrId::kAesGcm16:
    case EncrId::kAesCcm8:
    case EncrId::kAesCcm12:
    case EncrId::kAesCcm16:
    case EncrId::kChaCha20Poly1305:
    case EncrId::kNullAuthAesGmac:
      return true;
    default:
      return false;
  }
}

// Names for logs, status and errors ("AES_GCM_16_256", "HMAC_SHA2_256_128",
// "DH19"/"ECP_256", ...).
std::string_view encr_name(EncrId id);
std::string_view prf_name(PrfId id);
std::string_view integ_name(IntegId id);
std::string_view dh_name(DhId id);

}  // namespace ipsecd::model
