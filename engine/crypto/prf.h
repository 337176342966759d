#pragma once
// The IKEv2 pseudorandom function (RFC 7296 2.13): HMAC with SHA-1 (for old
// peers) or SHA-2, and prf+ built on it. A Prf keeps one OpenSSL MAC context
// and is used by one thread at a time (it belongs to one IKE SA).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "engine/crypto/detail/openssl.h"
#include "engine/crypto/secret.h"
#include "model/proposals.h"
#include "model/result.h"

namespace ipsecd::engine::crypto {

// Data handed to the PRF as consecutive pieces, so callers never concatenate.
using Pieces = std::initializer_list<std::span<const uint8_t>>;

class Prf {
 public:
  // HMAC-SHA1, HMAC-SHA2-256/384/512; others are refused with their name.
  static model::Result<Prf> create(model::PrfId id);
  static bool supported(model::PrfId id);

  model::PrfId id() const { return id_; }
  // Output length, and the key length RFC 7296 2.14 uses for SK_d, SK_pi, SK_pr.
  std::size_t size() const { return size_; }

  // prf(key, data pieces...).
  Secret compute(std::span<const uint8_t> key, Pieces data);
  // prf+(key, seed pieces...) truncated to length (RFC 7296 2.13); length may
  // be at most 255 * size().
  Secret plus(std::span<const uint8_t> key, Pieces seed, std::size_t length);

 private:
  Prf(model::PrfId id, std::size_t size, detail::MacCtx ctx)
      : id_(id), size_(size), ctx_(std::move(ctx)) {}
  void init(std::span<const uint8_t> key);
  void update(std::span<const uint8_t> data);
  void finish(uint8_t* out);

  model::PrfId id_;
  std::size_t size_;
  detail::MacCtx ctx_;
};

}  // namespace ipsecd::engine::crypto
