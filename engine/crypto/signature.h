#pragma once
// Digital signatures in IKE_AUTH over RFC 7296 2.15's signed octets (signed_octets() in
// auth.h):
//   method 14 (RFC 7427): one octet of length, a DER AlgorithmIdentifier, the signature;
//     RSASSA-PKCS1-v1_5 and RSASSA-PSS with SHA2-256/384/512, ECDSA with SHA2 (DER
//     signature), Ed25519 and Ed448 with the Identity hash (RFC 8420);
//   the methods libreswan and strongSwan still send to peers that announce no hashes:
//     1 (RSASSA-PKCS1-v1_5 with SHA-1) and 9, 10, 11 (ECDSA with SHA2-256/384/512 on
//     P-256/384/521, r || s, RFC 4754).
// Keys come from the certificate store (engine/x509); nothing here reads X.509. Every
// refusal says what was wrong and never echoes key or signature bytes.

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace ipsecd::engine::crypto {

// IANA "IKEv2 Hash Algorithms", the values of SIGNATURE_HASH_ALGORITHMS (RFC 7427 4,
// RFC 8420 for Identity).
enum class SignatureHash : uint16_t {
  kSha1 = 1,
  kSha256 = 2,
  kSha384 = 3,
  kSha512 = 4,
  kIdentity = 5,
};
std::string_view signature_hash_name(SignatureHash hash);  // "SHA2-256", "Identity"

// IKE AUTH methods with signatures (RFC 7296 3.8, RFC 4754, RFC 7427).
enum class SignatureMethod : uint8_t {
  kRsa = 1,        // RSASSA-PKCS1-v1_5, SHA-1
  kEcdsaP256 = 9,  // SHA2-256 on P-256
  kEcdsaP384 = 10,
  kEcdsaP521 = 11,
  kDigital = 14,  // RFC 7427
};

// A public or private key (EVP_PKEY is reference counted: copies share it).
class SignatureKey {
 public:
  // Takes a reference of its own on `key`; null if `key` is.
  static SignatureKey share(EVP_PKEY* key);
  EVP_PKEY* get() const { return key_.get(); }
  explicit operator bool() const { return key_ != nullptr; }
  std::string describe() const;  // "RSA 2048", "EC P-256", "Ed25519"

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

// What we sign with, as `authby=` allows it.
struct SignPolicy {
  // The hashes the peer announced in SIGNATURE_HASH_ALGORITHMS; none: it announced no
  // notify, and only the legacy methods are left.
  std::vector<SignatureHash> peer_hashes;
  bool rsa_pss = true;  // RSA in method 14: RSASSA-PSS (authby=rsa-sha2), else PKCS#1 v1.5
  bool legacy = true;   // methods 1 and 9-11 when the peer announced no usable hash
};

struct AuthSignature {
  SignatureMethod method = SignatureMethod::kDigital;
  std::vector<uint8_t> data;  // the AUTH payload's data
  std::string scheme;         // "RSASSA-PSS with SHA2-256", for logs and status
};

model::Result<AuthSignature> sign_auth(const SignatureKey& key, std::span<const uint8_t> octets,
                                       const SignPolicy& policy);

// What we accept: the hashes we announced (a method-14 signature with another is
// refused) and whether the legacy methods are.
struct VerifyPolicy {
  std::vector<SignatureHash> hashes = {SignatureHash::kSha256, SignatureHash::kSha384,
                                       SignatureHash::kSha512, SignatureHash::kIdentity};
  bool legacy = true;
};

// Checks an AUTH payload of `method` with the peer's public key; answers the scheme
// ("ECDSA with SHA2-384") or why it does not verify.
model::Result<std::string> verify_auth(const SignatureKey& key, uint8_t method,
                                       std::span<const uint8_t> auth_data,
                                       std::span<const uint8_t> octets, const VerifyPolicy& policy);

// The SIGNATURE_HASH_ALGORITHMS notify's data: 2 octets per hash, in order; and back,
// unknown values skipped (RFC 7427 4: the list may hold hashes we do not know).
std::vector<uint8_t> encode_signature_hashes(std::span<const SignatureHash> hashes);
std::vector<SignatureHash> decode_signature_hashes(std::span<const uint8_t> data);

}  // namespace ipsecd::engine::crypto
