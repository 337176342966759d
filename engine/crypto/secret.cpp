#include "engine/crypto/secret.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace ipsecd::engine::crypto {

Secret::Secret(std::size_t size) {
  if (size > 0) {
    data_ = std::make_unique<uint8_t[]>(size);  // value-initialised: zeros
    size_ = size;
  }
}

Secret::Secret(std::span<const uint8_t> bytes) : Secret(bytes.size()) {
  if (!bytes.empty()) {
    std::memcpy(data_.get(), bytes.data(), bytes.size());
  }
}

Secret::~Secret() {
  wipe();
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Secret Secret::slice(std::size_t offset, std::size_t length) const {
  if (offset > size_ || length > size_ - offset) {
    std::abort();  // a caller computed a range outside the key material
  }
  return Secret(span().subspan(offset, length));
}

bool Secret::operator==(const Secret& other) const {
  return equal_constant_time(span(), other.span());
}

std::string Secret::str() const {
  return "<redacted " + std::to_string(size_) + " bytes>";
}

void Secret::wipe() {
  if (data_) {
    OPENSSL_cleanse(data_.get(), size_);
  }
  data_.reset();
  size_ = 0;
}

bool equal_constant_time(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ipsecd::engine::crypto
