#pragma once
// Random octets for nonces, SPIs and IVs, injected so tests can be repeatable.
// (Private DH values come from OpenSSL's own generator, not from here.)

#include <cstdint>
#include <span>

namespace ipsecd::engine::crypto {

class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(std::span<uint8_t> out) = 0;
  uint64_t next_u64();
};

// OpenSSL's RAND_bytes; a failing system generator stops the process.
class SystemRandom final : public Random {
 public:
  void fill(std::span<uint8_t> out) override;
};

// The same sequence for the same seed (splitmix64); for tests and simulations only.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void fill(std::span<uint8_t> out) override;

 private:
  uint64_t state_;
};

}  // namespace ipsecd::engine::crypto
