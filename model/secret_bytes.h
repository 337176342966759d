#pragma once
// SecretBytes: owned secret bytes (a PSK, key material), wiped with OPENSSL_cleanse when
// freed, moved from or reassigned. Not copyable by accident (copy() is explicit); str()
// prints "<redacted N bytes>", never the contents. The engine calls it crypto::Secret.
// Header-only, so that engine/crypto uses it without linking model/ (and yaml-cpp).
// kernel/ keeps a wiped buffer of its own: it depends on nothing of ours.

#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ipsecd::model {

// Constant-time equality of two byte strings. Lengths are not secret (IKE reveals
// nothing about them either); the bytes are.
inline bool equal_constant_time(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) {
    return false;
  }
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

class SecretBytes {
 public:
  SecretBytes() = default;
  // Zero-filled, to be written through span().
  explicit SecretBytes(std::size_t size) {
    if (size > 0) {
      data_ = std::make_unique<uint8_t[]>(size);  // value-initialised: zeros
      size_ = size;
    }
  }
  explicit SecretBytes(std::span<const uint8_t> bytes) : SecretBytes(bytes.size()) {
    if (!bytes.empty()) {
      std::memcpy(data_.get(), bytes.data(), bytes.size());
    }
  }
  explicit SecretBytes(std::string_view bytes)
      : SecretBytes(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                             bytes.size())) {}
  ~SecretBytes() { wipe(); }
  SecretBytes(SecretBytes&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      data_ = std::move(other.data_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes copy() const { return SecretBytes(span()); }
  // Bytes [offset, offset + length) as a new secret; the range must lie inside.
  SecretBytes slice(std::size_t offset, std::size_t length) const {
    if (offset > size_ || length > size_ - offset) {
      std::abort();  // a caller computed a range outside the key material
    }
    return SecretBytes(span().subspan(offset, length));
  }

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_.get(), size_}; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }
  // Lets a secret go wherever key or data octets are taken.
  operator std::span<const uint8_t>() const {  // NOLINT(google-explicit-constructor)
    return span();
  }
  // The raw bytes as text, for crypto only.
  std::string_view view() const {
    return size_ == 0 ? std::string_view{}
                      : std::string_view(reinterpret_cast<const char*>(data_.get()), size_);
  }

  bool operator==(const SecretBytes& other) const {  // constant time in the contents
    return equal_constant_time(span(), other.span());
  }
  std::string str() const { return "<redacted " + std::to_string(size_) + " bytes>"; }

 private:
  void wipe() {
    if (data_) {
      OPENSSL_cleanse(data_.get(), size_);
    }
    data_.reset();
    size_ = 0;
  }
  std::unique_ptr<uint8_t[]> data_;
  std::size_t size_ = 0;
};

}  // namespace ipsecd::model
