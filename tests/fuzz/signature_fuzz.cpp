// libFuzzer target: the AUTH payload of a signature method, as a peer sends it, never
// crashes verify_auth and never verifies. The first byte is the AUTH method, the second
// picks the peer's key (EC P-256, RSA 2048, Ed25519, EC P-384), the rest is the AUTH
// data; the signed octets are fixed. A forgery of these keys' signatures is out of a
// fuzzer's reach, so a success means the parser took something it must not.
#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/crypto/signature.h"

namespace {

using ipsecd::engine::crypto::SignatureKey;

const std::array<SignatureKey, 4>& keys() {
  static const std::array<SignatureKey, 4>* k = [] {
    auto* out = new std::array<SignatureKey, 4>();
    EVP_PKEY* made[4] = {EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"),
                         EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}),
                         EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"),
                         EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384")};
    for (size_t i = 0; i < 4; ++i) {
      (*out)[i] = SignatureKey::share(made[i]);
      EVP_PKEY_free(made[i]);
      if (!(*out)[i]) {
        std::abort();
      }
    }
    return out;
  }();
  return *k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) {
    return 0;
  }
  static constexpr uint8_t kOctets[] = "RealMessage1 | NonceRData | prf(SK_pi, IDi')";
  ipsecd::engine::crypto::VerifyPolicy policy;
  policy.hashes.push_back(ipsecd::engine::crypto::SignatureHash::kSha1);
  auto verified = ipsecd::engine::crypto::verify_auth(
      keys()[data[1] % 4], data[0], std::span<const uint8_t>(data + 2, size - 2), kOctets, policy);
  if (verified || verified.error().empty()) {
    std::abort();
  }
  return 0;
}
