#include "engine/crypto/prf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ipsecd::engine::crypto {

namespace {

const char* digest_name(model::PrfId id) {
  switch (id) {
    case model::PrfId::kHmacSha1:
      return "SHA1";
    case model::PrfId::kHmacSha2_256:
      return "SHA2-256";
    case model::PrfId::kHmacSha2_384:
      return "SHA2-384";
    case model::PrfId::kHmacSha2_512:
      return "SHA2-512";
    default:
      return nullptr;
  }
}

constexpr std::size_t kMaxOutput = 64;  // SHA-512

}  // namespace

bool Prf::supported(model::PrfId id) {
  return digest_name(id) != nullptr;
}

model::Result<Prf> Prf::create(model::PrfId id) {
  const char* name = digest_name(id);
  if (name == nullptr) {
    return model::Result<Prf>::failure(
        "PRF transform " + std::to_string(static_cast<unsigned>(id)) +
        " is not supported; use HMAC-SHA2-256 (5), HMAC-SHA2-384 (6), HMAC-SHA2-512 (7) or "
        "HMAC-SHA1 (2)");
  }
  const EVP_MD* md = detail::digest(name);
  detail::MacCtx ctx(EVP_MAC_CTX_new(detail::hmac()));
  if (!ctx) {
    detail::fatal("EVP_MAC_CTX_new");
  }
  // Setting the digest once: passing it on every init would fetch it again.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(name), 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(ctx.get(), params) != 1) {
    detail::fatal("EVP_MAC_CTX_set_params(digest)");
  }
  return Prf(id, static_cast<std::size_t>(EVP_MD_get_size(md)), std::move(ctx));
}

void Prf::init(std::span<const uint8_t> key) {
  // A null key pointer means "same key again" to OpenSSL; an empty key must not.
  static const uint8_t kEmpty = 0;
  const uint8_t* bytes = key.empty() ? &kEmpty : key.data();
  if (EVP_MAC_init(ctx_.get(), bytes, key.size(), nullptr) != 1) {
    detail::fatal("EVP_MAC_init");
  }
}

void Prf::update(std::span<const uint8_t> data) {
  if (!data.empty() && EVP_MAC_update(ctx_.get(), data.data(), data.size()) != 1) {
    detail::fatal("EVP_MAC_update");
  }
}

void Prf::finish(uint8_t* out) {
  std::size_t written = 0;
  if (EVP_MAC_final(ctx_.get(), out, &written, size_) != 1 || written != size_) {
    detail::fatal("EVP_MAC_final");
  }
}

Secret Prf::compute(std::span<const uint8_t> key, Pieces data) {
  init(key);
  for (auto piece : data) {
    update(piece);
  }
  Secret out(size_);
  finish(out.data());
  return out;
}

Secret Prf::plus(std::span<const uint8_t> key, Pieces seed, std::size_t length) {
  if (length > 255 * size_) {
    std::abort();  // the counter is one octet; no negotiated algorithm needs more
  }
  Secret out(length);
  std::array<uint8_t, kMaxOutput> block{};
  std::size_t done = 0;
  init(key);
  for (unsigned counter = 1; done < length; ++counter) {
    if (counter > 1) {
      // Re-initialise with the same key: T(n) = prf(K, T(n-1) | S | n).
      if (EVP_MAC_init(ctx_.get(), nullptr, 0, nullptr) != 1) {
        detail::fatal("EVP_MAC_init");
      }
      update({block.data(), size_});
    }
    for (auto piece : seed) {
      update(piece);
    }
    const uint8_t n = static_cast<uint8_t>(counter);
    update({&n, 1});
    finish(block.data());
    std::size_t take = length - done < size_ ? length - done : size_;
    std::memcpy(out.data() + done, block.data(), take);
    done += take;
  }
  OPENSSL_cleanse(block.data(), block.size());
  return out;
}

}  // namespace ipsecd::engine::crypto
