#include "engine/crypto/random.h"

#include <openssl/rand.h>

#include <climits>

#include "engine/crypto/detail/openssl.h"

namespace ipsecd::engine::crypto {

uint64_t Random::next_u64() {
  uint8_t bytes[8];
  fill(bytes);
  uint64_t value = 0;
  for (uint8_t b : bytes) {
    value = (value << 8) | b;
  }
  return value;
}

void SystemRandom::fill(std::span<uint8_t> out) {
  while (!out.empty()) {
    std::size_t n = out.size() < INT_MAX ? out.size() : INT_MAX;
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
      detail::fatal("RAND_bytes");
    }
    out = out.subspan(n);
  }
}

void SeededRandom::fill(std::span<uint8_t> out) {
  while (!out.empty()) {
    // splitmix64 (Steele, Lea, Flood 2014)
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    std::size_t n = out.size() < sizeof(z) ? out.size() : sizeof(z);
    for (std::size_t i = 0; i < n; ++i) {
      out[i] = static_cast<uint8_t>(z >> (8 * i));  // little-endian on every host
    }
    out = out.subspan(n);
  }
}

}  // namespace ipsecd::engine::crypto
