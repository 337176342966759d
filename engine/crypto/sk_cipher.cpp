#include "engine/crypto/sk_cipher.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <array>
#include <cstring>
#include <string>

#include "engine/crypto/detail/openssl.h"
#include "engine/crypto/secret.h"

namespace ipsecd::engine::crypto {

namespace {

using model::EncrId;
using model::IntegId;
using OpenResult = model::Result<std::span<uint8_t>>;

constexpr std::size_t kAesBlock = 16;
constexpr std::size_t kAeadIv = 8;    // RFC 5282 3.1, RFC 7634 2
constexpr std::size_t kAeadSalt = 4;  // RFC 5282 7.1, RFC 7634 2
constexpr std::size_t kMaxDigest = 64;

struct Integ {
  const char* digest;
  std::size_t key_size;
  std::size_t icv_size;
};

// nullptr digest: not an integrity algorithm SK supports here.
Integ integ_for(IntegId id) {
  switch (id) {
    case IntegId::kHmacSha1_96:
      return {"SHA1", 20, 12};
    case IntegId::kHmacSha2_256_128:
      return {"SHA2-256", 32, 16};
    case IntegId::kHmacSha2_384_192:
      return {"SHA2-384", 48, 24};
    case IntegId::kHmacSha2_512_256:
      return {"SHA2-512", 64, 32};
    default:
      return {nullptr, 0, 0};
  }
}

// OpenSSL's cipher name, or nullptr when SK cannot use the combination.
const char* cipher_name(EncrId encr, uint16_t key_bits) {
  switch (encr) {
    case EncrId::kAesCbc:
      return key_bits == 128   ? "AES-128-CBC"
             : key_bits == 192 ? "AES-192-CBC"
             : key_bits == 256 ? "AES-256-CBC"
                               : nullptr;
    case EncrId::kAesGcm8:
    case EncrId::kAesGcm12:
    case EncrId::kAesGcm16:
      return key_bits == 128   ? "AES-128-GCM"
             : key_bits == 192 ? "AES-192-GCM"
             : key_bits == 256 ? "AES-256-GCM"
                               : nullptr;
    case EncrId::kChaCha20Poly1305:
      return key_bits == 0 || key_bits == 256 ? "ChaCha20-Poly1305" : nullptr;
    default:
      return nullptr;
  }
}

std::size_t aead_icv(EncrId encr) {
  switch (encr) {
    case EncrId::kAesGcm8:
      return 8;
    case EncrId::kAesGcm12:
      return 12;
    default:
      return 16;
  }
}

// One cipher context per direction of use, keyed on first use: decryption key
// schedules differ from encryption ones, and a sealing SkCipher never opens.
class KeyedContexts {
 public:
  KeyedContexts(const EVP_CIPHER* cipher, std::span<const uint8_t> key)
      : cipher_(cipher), key_(key) {}

  EVP_CIPHER_CTX* get(bool encrypt) {
    detail::CipherCtx& ctx = ctx_[encrypt ? 1 : 0];
    if (!ctx) {
      ctx.reset(EVP_CIPHER_CTX_new());
      if (!ctx ||
          EVP_CipherInit_ex2(ctx.get(), cipher_, key_.data(), nullptr, encrypt ? 1 : 0, nullptr) !=
              1 ||
          EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1) {
        detail::fatal("EVP_CipherInit_ex2(key)");
      }
    }
    return ctx.get();
  }
  void release() {
    for (auto& ctx : ctx_) {
      ctx.reset();
    }
  }

 private:
  const EVP_CIPHER* cipher_;
  Secret key_;
  std::array<detail::CipherCtx, 2> ctx_;
};

void cipher_update(EVP_CIPHER_CTX* ctx, uint8_t* out, const uint8_t* in, std::size_t len) {
  int written = 0;
  if (EVP_CipherUpdate(ctx, out, &written, in, static_cast<int>(len)) != 1 ||
      (out != nullptr && static_cast<std::size_t>(written) != len)) {
    detail::fatal("EVP_CipherUpdate");
  }
}

[[noreturn]] void bad_layout() {
  detail::fatal("SkCipher::seal_in_place: SK content not laid out by frame()");
}

class CbcHmac final : public SkCipher {
 public:
  CbcHmac(const EVP_CIPHER* cipher, std::span<const uint8_t> encr_key, const Integ& integ,
          std::span<const uint8_t> integ_key)
      : SkCipher(kAesBlock, integ.icv_size, kAesBlock),
        contexts_(cipher, encr_key),
        mac_(EVP_MAC_CTX_new(detail::hmac())) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(integ.digest), 0),
        OSSL_PARAM_construct_end()};
    // Keyed once; each message re-initialises with the same key.
    if (!mac_ || EVP_MAC_CTX_set_params(mac_.get(), params) != 1 ||
        EVP_MAC_init(mac_.get(), integ_key.data(), integ_key.size(), nullptr) != 1) {
      detail::fatal("EVP_MAC_init(integrity key)");
    }
  }

  void seal_in_place(std::span<uint8_t> message, std::size_t sk_offset, Random& random) override {
    if (sk_offset > message.size()) {
      bad_layout();
    }
    std::span<uint8_t> content = message.subspan(sk_offset);
    if (content.size() < iv_size() + block_size() + icv_size() ||
        (content.size() - iv_size() - icv_size()) % block_size() != 0) {
      bad_layout();
    }
    std::span<uint8_t> iv = content.first(iv_size());
    std::span<uint8_t> body = content.subspan(iv_size(), content.size() - iv_size() - icv_size());
    random.fill(iv);
    EVP_CIPHER_CTX* ctx = contexts_.get(true);
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv.data(), 1, nullptr) != 1) {
      detail::fatal("EVP_CipherInit_ex2(iv)");
    }
    cipher_update(ctx, body.data(), body.data(), body.size());
    std::array<uint8_t, kMaxDigest> icv{};
    mac(message.first(message.size() - icv_size()), icv);
    std::memcpy(content.data() + content.size() - icv_size(), icv.data(), icv_size());
  }

  OpenResult open_in_place(std::span<uint8_t> message, std::size_t sk_offset) override {
    if (sk_offset > message.size()) {
      return OpenResult::failure("SK content offset lies beyond the message");
    }
    std::span<uint8_t> content = message.subspan(sk_offset);
    if (content.size() < iv_size() + block_size() + icv_size()) {
      return OpenResult::failure("SK payload content of " + std::to_string(content.size()) +
                                 " octets is shorter than IV (" + std::to_string(iv_size()) +
                                 ") + one block (" + std::to_string(block_size()) + ") + ICV (" +
                                 std::to_string(icv_size()) + ")");
    }
    std::span<uint8_t> body = content.subspan(iv_size(), content.size() - iv_size() - icv_size());
    if (body.size() % block_size() != 0) {
      return OpenResult::failure("SK ciphertext of " + std::to_string(body.size()) +
                                 " octets is not a multiple of the " +
                                 std::to_string(block_size()) + "-octet AES-CBC block");
    }
    std::array<uint8_t, kMaxDigest> icv{};
    mac(message.first(message.size() - icv_size()), icv);
    if (CRYPTO_memcmp(icv.data(), content.data() + content.size() - icv_size(), icv_size()) != 0) {
      return OpenResult::failure("SK integrity check failed (ICV mismatch)");
    }
    EVP_CIPHER_CTX* ctx = contexts_.get(false);
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, content.data(), 0, nullptr) != 1) {
      detail::fatal("EVP_CipherInit_ex2(iv)");
    }
    cipher_update(ctx, body.data(), body.data(), body.size());
    return strip_padding(body);
  }

 private:
  void mac(std::span<const uint8_t> data, std::array<uint8_t, kMaxDigest>& out) {
    std::size_t written = 0;
    if (EVP_MAC_init(mac_.get(), nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(mac_.get(), data.data(), data.size()) != 1 ||
        EVP_MAC_final(mac_.get(), out.data(), &written, out.size()) != 1) {
      detail::fatal("HMAC");
    }
  }

  void release_contexts() override { contexts_.release(); }

  KeyedContexts contexts_;
  detail::MacCtx mac_;
};

class Aead final : public SkCipher {
 public:
  Aead(const EVP_CIPHER* cipher, std::span<const uint8_t> key_and_salt, std::size_t icv)
      : SkCipher(kAeadIv, icv, 1),
        contexts_(cipher, key_and_salt.first(key_and_salt.size() - kAeadSalt)) {
    std::memcpy(nonce_.data(), key_and_salt.data() + key_and_salt.size() - kAeadSalt, kAeadSalt);
  }
  ~Aead() override { OPENSSL_cleanse(nonce_.data(), nonce_.size()); }
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;

  void seal_in_place(std::span<uint8_t> message, std::size_t sk_offset, Random& random) override {
    if (sk_offset > message.size()) {
      bad_layout();
    }
    std::span<uint8_t> content = message.subspan(sk_offset);
    if (content.size() < iv_size() + 1 + icv_size()) {
      bad_layout();
    }
    // A counter: an AEAD IV must never repeat under one key; it need not be unpredictable.
    // Its random start keeps two instances that were wrongly given one key apart.
    if (!counter_started_) {
      counter_ = random.next_u64();
      counter_started_ = true;
    }
    uint64_t counter = counter_++;
    for (std::size_t i = 0; i < kAeadIv; ++i) {
      content[kAeadIv - 1 - i] = static_cast<uint8_t>(counter >> (8 * i));
    }
    std::span<uint8_t> body = content.subspan(iv_size(), content.size() - iv_size() - icv_size());
    EVP_CIPHER_CTX* ctx = start(true, content.first(kAeadIv));
    cipher_update(ctx, nullptr, message.data(), sk_offset);  // associated data
    cipher_update(ctx, body.data(), body.data(), body.size());
    finish(ctx);
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(icv_size()),
                            content.data() + content.size() - icv_size()) != 1) {
      detail::fatal("EVP_CTRL_AEAD_GET_TAG");
    }
  }

  OpenResult open_in_place(std::span<uint8_t> message, std::size_t sk_offset) override {
    if (sk_offset > message.size()) {
      return OpenResult::failure("SK content offset lies beyond the message");
    }
    std::span<uint8_t> content = message.subspan(sk_offset);
    if (content.size() < iv_size() + 1 + icv_size()) {
      return OpenResult::failure("SK payload content of " + std::to_string(content.size()) +
                                 " octets is shorter than IV (" + std::to_string(iv_size()) +
                                 ") + Pad Length (1) + ICV (" + std::to_string(icv_size()) + ")");
    }
    std::span<uint8_t> body = content.subspan(iv_size(), content.size() - iv_size() - icv_size());
    EVP_CIPHER_CTX* ctx = start(false, content.first(kAeadIv));
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(icv_size()),
                            content.data() + content.size() - icv_size()) != 1) {
      detail::fatal("EVP_CTRL_AEAD_SET_TAG");
    }
    cipher_update(ctx, nullptr, message.data(), sk_offset);
    cipher_update(ctx, body.data(), body.data(), body.size());
    std::array<uint8_t, 16> tail{};
    int written = 0;
    if (EVP_CipherFinal_ex(ctx, tail.data(), &written) != 1) {
      detail::clear_errors();
      OPENSSL_cleanse(body.data(), body.size());  // never leave unauthenticated plaintext
      return OpenResult::failure("SK integrity check failed (ICV mismatch)");
    }
    return strip_padding(body);
  }

 private:
  EVP_CIPHER_CTX* start(bool encrypt, std::span<const uint8_t> iv) {
    std::memcpy(nonce_.data() + kAeadSalt, iv.data(), kAeadIv);  // salt | IV
    EVP_CIPHER_CTX* ctx = contexts_.get(encrypt);
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce_.data(), encrypt ? 1 : 0, nullptr) != 1) {
      detail::fatal("EVP_CipherInit_ex2(nonce)");
    }
    return ctx;
  }

  static void finish(EVP_CIPHER_CTX* ctx) {
    std::array<uint8_t, 16> tail{};
    int written = 0;
    if (EVP_CipherFinal_ex(ctx, tail.data(), &written) != 1 || written != 0) {
      detail::fatal("EVP_CipherFinal_ex");
    }
  }

  void release_contexts() override { contexts_.release(); }

  KeyedContexts contexts_;
  std::array<uint8_t, kAeadSalt + kAeadIv> nonce_{};
  uint64_t counter_ = 0;
  bool counter_started_ = false;
};

}  // namespace

bool SkCipher::supported(const SkAlgorithm& algorithm) {
  if (cipher_name(algorithm.encr, algorithm.key_bits) == nullptr) {
    return false;
  }
  if (model::is_aead(algorithm.encr)) {
    return algorithm.integ == IntegId::kNone;
  }
  return integ_for(algorithm.integ).digest != nullptr;
}

model::Result<std::unique_ptr<SkCipher>> SkCipher::create(const SkAlgorithm& algorithm,
                                                          std::span<const uint8_t> encr_key,
                                                          std::span<const uint8_t> integ_key) {
  using R = model::Result<std::unique_ptr<SkCipher>>;
  const std::string what =
      "SK encryption " + std::to_string(static_cast<unsigned>(algorithm.encr)) +
      " with key length " + std::to_string(algorithm.key_bits) + " and integrity " +
      std::to_string(static_cast<unsigned>(algorithm.integ));
  if (!supported(algorithm)) {
    return R::failure(what +
                      " is not supported; use AES-GCM-8/12/16 (18/19/20) or ChaCha20-Poly1305 "
                      "(28) without integrity, or AES-CBC (12) with HMAC-SHA2 (12/13/14) or "
                      "HMAC-SHA1-96 (2)");
  }
  const EVP_CIPHER* cipher = detail::cipher(cipher_name(algorithm.encr, algorithm.key_bits));
  const std::size_t key_size = static_cast<std::size_t>(EVP_CIPHER_get_key_length(cipher));
  if (model::is_aead(algorithm.encr)) {
    if (encr_key.size() != key_size + kAeadSalt || !integ_key.empty()) {
      return R::failure(what + " needs a " + std::to_string(key_size + kAeadSalt) +
                        "-octet key (with salt) and no integrity key, got " +
                        std::to_string(encr_key.size()) + " and " +
                        std::to_string(integ_key.size()));
    }
    return std::unique_ptr<SkCipher>(
        std::make_unique<Aead>(cipher, encr_key, aead_icv(algorithm.encr)));
  }
  const Integ integ = integ_for(algorithm.integ);
  if (encr_key.size() != key_size || integ_key.size() != integ.key_size) {
    return R::failure(what + " needs a " + std::to_string(key_size) + "-octet key and a " +
                      std::to_string(integ.key_size) + "-octet integrity key, got " +
                      std::to_string(encr_key.size()) + " and " + std::to_string(integ_key.size()));
  }
  return std::unique_ptr<SkCipher>(std::make_unique<CbcHmac>(cipher, encr_key, integ, integ_key));
}

std::size_t SkCipher::content_size(std::size_t plaintext_size) const {
  std::size_t padded = plaintext_size + 1;  // the Pad Length octet
  padded += (block_size_ - padded % block_size_) % block_size_;
  return iv_size_ + padded + icv_size_;
}

std::vector<uint8_t> SkCipher::frame(std::span<const uint8_t> plaintext) const {
  std::vector<uint8_t> content(content_size(plaintext.size()), 0);
  if (!plaintext.empty()) {
    std::memcpy(content.data() + iv_size_, plaintext.data(), plaintext.size());
  }
  const std::size_t pad = content.size() - iv_size_ - icv_size_ - plaintext.size() - 1;
  content[content.size() - icv_size_ - 1] = static_cast<uint8_t>(pad);
  return content;
}

model::Result<std::span<uint8_t>> SkCipher::strip_padding(std::span<uint8_t> decrypted) {
  const std::size_t pad = decrypted.back();
  if (pad + 1 > decrypted.size()) {
    return OpenResult::failure("SK Pad Length " + std::to_string(pad) + " exceeds the " +
                               std::to_string(decrypted.size() - 1) +
                               " decrypted octets before it");
  }
  return decrypted.first(decrypted.size() - pad - 1);
}

}  // namespace ipsecd::engine::crypto
