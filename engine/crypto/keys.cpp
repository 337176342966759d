#include "engine/crypto/keys.h"

#include <algorithm>
#include <array>
#include <string>

namespace ipsecd::engine::crypto {

namespace {

using model::EncrId;
using model::IntegId;

std::string id_text(const char* what, unsigned id) {
  return std::string(what) + " transform " + std::to_string(id);
}

// The key sizes the Key Length attribute may name for AES and Camellia.
bool is_aes_key_bits(uint16_t bits) {
  return bits == 128 || bits == 192 || bits == 256;
}

std::array<uint8_t, 8> spi_octets(uint64_t spi) {
  std::array<uint8_t, 8> out{};
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<uint8_t>(spi);
    spi >>= 8;
  }
  return out;
}

}  // namespace

model::Result<std::size_t> integ_key_length(IntegId integ) {
  switch (integ) {
    case IntegId::kNone:
      return std::size_t{0};
    case IntegId::kHmacMd5_96:
    case IntegId::kAesXcbc96:
    case IntegId::kAesCmac96:
      return std::size_t{16};
    case IntegId::kHmacSha1_96:
      return std::size_t{20};
    case IntegId::kHmacSha2_256_128:
      return std::size_t{32};
    case IntegId::kHmacSha2_384_192:
      return std::size_t{48};
    case IntegId::kHmacSha2_512_256:
      return std::size_t{64};
  }
  return model::Result<std::size_t>::failure(id_text("integrity", static_cast<unsigned>(integ)) +
                                             " has no known key length");
}

model::Result<KeyLengths> key_lengths(EncrId encr, uint16_t key_bits, IntegId integ) {
  using R = model::Result<KeyLengths>;
  const std::string name = id_text("encryption", static_cast<unsigned>(encr));
  std::size_t salt = 0;
  std::size_t key = 0;
  switch (encr) {
    case EncrId::k3Des:
      if (key_bits != 0 && key_bits != 192) {
        return R::failure(name + " (3DES) has a fixed 192-bit key, not " +
                          std::to_string(key_bits));
      }
      key = 24;
      break;
    case EncrId::kNull:
      key = 0;
      break;
    case EncrId::kChaCha20Poly1305:
      if (key_bits != 0 && key_bits != 256) {
        return R::failure(name + " (ChaCha20-Poly1305) has a fixed 256-bit key, not " +
                          std::to_string(key_bits));
      }
      key = 32;
      salt = 4;
      break;
    case EncrId::kAesCbc:
    case EncrId::kAesCtr:
    case EncrId::kAesCcm8:
    case EncrId::kAesCcm12:
    case EncrId::kAesCcm16:
    case EncrId::kAesGcm8:
    case EncrId::kAesGcm12:
    case EncrId::kAesGcm16:
    case EncrId::kNullAuthAesGmac:
    case EncrId::kCamelliaCbc:
    case EncrId::kCamelliaCtr:
      if (!is_aes_key_bits(key_bits)) {
        return R::failure(name + " needs a Key Length of 128, 192 or 256 bits, got " +
                          std::to_string(key_bits));
      }
      key = key_bits / 8;
      if (encr == EncrId::kAesCcm8 || encr == EncrId::kAesCcm12 || encr == EncrId::kAesCcm16) {
        salt = 3;
      } else if (encr != EncrId::kAesCbc && encr != EncrId::kCamelliaCbc) {
        salt = 4;
      }
      break;
    default:
      return R::failure(name + " has no known key length");
  }
  if (model::is_aead(encr) && integ != IntegId::kNone) {
    return R::failure(name + " is a combined-mode cipher and takes no integrity algorithm, got " +
                      id_text("integrity", static_cast<unsigned>(integ)));
  }
  if (!model::is_aead(encr) && integ == IntegId::kNone) {
    return R::failure(name + " needs an integrity algorithm");
  }
  auto integ_len = integ_key_length(integ);
  if (!integ_len) {
    return R::failure(integ_len.error());
  }
  return KeyLengths{key + salt, *integ_len};
}

Secret ike_skeyseed(Prf& prf, std::span<const uint8_t> ni, std::span<const uint8_t> nr,
                    std::span<const uint8_t> g_ir) {
  // The key is Ni | Nr: joined in a wiped buffer, as HMAC takes one key.
  Secret key(ni.size() + nr.size());
  std::copy(ni.begin(), ni.end(), key.data());
  std::copy(nr.begin(), nr.end(), key.data() + ni.size());
  return prf.compute(key, {g_ir});
}

Secret rekey_skeyseed(Prf& old_prf, std::span<const uint8_t> old_sk_d,
                      std::span<const uint8_t> g_ir_new, std::span<const uint8_t> ni,
                      std::span<const uint8_t> nr) {
  return old_prf.compute(old_sk_d, {g_ir_new, ni, nr});
}

IkeKeys expand_ike_keys(Prf& prf, std::span<const uint8_t> skeyseed, KeyLengths sk,
                        std::span<const uint8_t> ni, std::span<const uint8_t> nr, uint64_t spi_i,
                        uint64_t spi_r) {
  const std::size_t p = prf.size();
  const auto spii = spi_octets(spi_i);
  const auto spir = spi_octets(spi_r);
  Secret all = prf.plus(skeyseed, {ni, nr, spii, spir}, 3 * p + 2 * sk.integ + 2 * sk.encr);
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    Secret s = all.slice(at, n);
    at += n;
    return s;
  };
  IkeKeys keys;
  keys.sk_d = take(p);
  keys.sk_ai = take(sk.integ);
  keys.sk_ar = take(sk.integ);
  keys.sk_ei = take(sk.encr);
  keys.sk_er = take(sk.encr);
  keys.sk_pi = take(p);
  keys.sk_pr = take(p);
  return keys;
}

IkeKeys derive_ike_keys(Prf& prf, KeyLengths sk, std::span<const uint8_t> ni,
                        std::span<const uint8_t> nr, std::span<const uint8_t> g_ir, uint64_t spi_i,
                        uint64_t spi_r) {
  Secret skeyseed = ike_skeyseed(prf, ni, nr, g_ir);
  return expand_ike_keys(prf, skeyseed, sk, ni, nr, spi_i, spi_r);
}

IkeKeys derive_rekeyed_ike_keys(Prf& old_prf, std::span<const uint8_t> old_sk_d, Prf& new_prf,
                                KeyLengths sk, std::span<const uint8_t> ni,
                                std::span<const uint8_t> nr, std::span<const uint8_t> g_ir_new,
                                uint64_t spi_i, uint64_t spi_r) {
  Secret skeyseed = rekey_skeyseed(old_prf, old_sk_d, g_ir_new, ni, nr);
  return expand_ike_keys(new_prf, skeyseed, sk, ni, nr, spi_i, spi_r);
}

ChildKeys derive_child_keys(Prf& prf, std::span<const uint8_t> sk_d, KeyLengths esp,
                            std::span<const uint8_t> g_ir_new, std::span<const uint8_t> ni,
                            std::span<const uint8_t> nr) {
  Secret all = prf.plus(sk_d, {g_ir_new, ni, nr}, 2 * (esp.encr + esp.integ));
  ChildKeys keys;
  std::size_t at = 0;
  auto take = [&](std::size_t n) {
    Secret s = all.slice(at, n);
    at += n;
    return s;
  };
  keys.encr_i = take(esp.encr);
  keys.integ_i = take(esp.integ);
  keys.encr_r = take(esp.encr);
  keys.integ_r = take(esp.integ);
  return keys;
}

}  // namespace ipsecd::engine::crypto
