#pragma once
// Protection of the Encrypted (SK) and Encrypted Fragment (SKF) payloads
// (RFC 7296 3.14, RFC 7383): AES-CBC with HMAC-SHA2 or HMAC-SHA1-96, AES-GCM
// with 8/12/16-octet ICVs (RFC 5282) and ChaCha20-Poly1305 (RFC 7634).
//
// It works in place on the encoded message, so a message is laid out once:
//
//   EncryptedPayload sk{first, cipher.frame(inner.bytes)};   // IV | plain | pad | ICV
//   auto enc = wire::encode_layout(message_with(sk));        // lengths final
//   cipher.seal_in_place(enc.value().bytes, enc->encrypted_offset, random);
//
// and on receipt open_in_place(datagram, datagram.size() - sk.data.size()) checks the
// ICV, decrypts in the datagram buffer and returns the inner payload chain.
// One SkCipher holds one direction's keys (SK_ei/SK_ai or SK_er/SK_ar) and is
// used by one thread at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/crypto/random.h"
#include "model/proposals.h"
#include "model/result.h"

namespace ipsecd::engine::crypto {

struct SkAlgorithm {
  model::EncrId encr = model::EncrId::kAesGcm16;
  uint16_t key_bits = 0;  // Key Length attribute; 0 for ChaCha20-Poly1305
  model::IntegId integ = model::IntegId::kNone;
};

class SkCipher {
 public:
  virtual ~SkCipher() = default;

  // encr_key includes the 4-octet salt for AES-GCM and ChaCha20-Poly1305 (its
  // last octets, RFC 5282 7.1, RFC 7634 2); integ_key is empty for those.
  static model::Result<std::unique_ptr<SkCipher>> create(const SkAlgorithm& algorithm,
                                                         std::span<const uint8_t> encr_key,
                                                         std::span<const uint8_t> integ_key);
  static bool supported(const SkAlgorithm& algorithm);

  std::size_t iv_size() const { return iv_size_; }
  std::size_t icv_size() const { return icv_size_; }
  std::size_t block_size() const { return block_size_; }  // what the padding aligns to

  // Length of the SK content for a plaintext payload chain of that length.
  std::size_t content_size(std::size_t plaintext_size) const;
  // The SK content before sealing: room for the IV, the plaintext, zero
  // padding, the Pad Length octet and room for the ICV (RFC 7296 3.14).
  std::vector<uint8_t> frame(std::span<const uint8_t> plaintext) const;

  // message: the whole encoded message, header length already final;
  // sk_offset: where the SK content (the IV) starts; the content runs to the
  // end of the message and must be laid out by frame(). Writes the IV (random
  // for CBC; for AEAD ciphers, which need uniqueness only, a counter from a random start),
  // encrypts and appends the ICV. A content not laid out by frame() is a
  // caller bug and stops the process.
  virtual void seal_in_place(std::span<uint8_t> message, std::size_t sk_offset, Random& random) = 0;
  // Checks the ICV (constant time), decrypts in place and returns the inner
  // payload chain inside message, padding removed. Errors name what is wrong
  // and carry no message bytes; a failed check leaves the content wiped.
  virtual model::Result<std::span<uint8_t>> open_in_place(std::span<uint8_t> message,
                                                          std::size_t sk_offset) = 0;
  // Frees the cipher contexts (about 1 KiB each for AES-GCM); the next use
  // keys new ones. An established IKE SA is idle most of its life.
  virtual void release_contexts() = 0;

 protected:
  SkCipher(std::size_t iv_size, std::size_t icv_size, std::size_t block_size)
      : iv_size_(iv_size), icv_size_(icv_size), block_size_(block_size) {}
  // The payload chain inside decrypted plaintext: without padding and Pad Length.
  static model::Result<std::span<uint8_t>> strip_padding(std::span<uint8_t> decrypted);

 private:
  std::size_t iv_size_;
  std::size_t icv_size_;
  std::size_t block_size_;
};

}  // namespace ipsecd::engine::crypto
