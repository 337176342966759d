#pragma once
// Secret: owned key bytes that are wiped (OPENSSL_cleanse) when freed, moved
// from or reassigned. Copies are explicit (copy()); printing shows only the size.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ipsecd::engine::crypto {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::size_t size);  // zero-filled, to be written through span()
  explicit Secret(std::span<const uint8_t> bytes);
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  Secret copy() const { return Secret(span()); }
  // bytes [offset, offset + length) as a new secret; the range must lie inside.
  Secret slice(std::size_t offset, std::size_t length) const;

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_.get(), size_}; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }
  // Lets a Secret go wherever key or data octets are taken.
  operator std::span<const uint8_t>() const {
    return span();
  }  // NOLINT(google-explicit-constructor)

  bool operator==(const Secret& other) const;  // constant time in the contents
  std::string str() const;                     // "<redacted N bytes>"

 private:
  void wipe();
  std::unique_ptr<uint8_t[]> data_;
  std::size_t size_ = 0;
};

// Constant-time equality of two byte strings (lengths are not secret).
bool equal_constant_time(std::span<const uint8_t> a, std::span<const uint8_t> b);

// Text (a PSK from ipsec.secrets, an ID) seen as octets, without a copy.
inline std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace ipsecd::engine::crypto
