#include "engine/lifetime.h"

#include <algorithm>

namespace ipsecd::engine {

Clock::Duration rekey_after(Clock::Duration lifetime, Clock::Duration margin, uint32_t fuzz_percent,
                            uint64_t random) {
  using Rep = Clock::Duration::rep;
  if (lifetime.count() <= 0) {
    return Clock::Duration::zero();
  }
  margin = std::max(margin, Clock::Duration::zero());
  // A fraction in [0, 1) from the top 53 bits, as a double's mantissa holds them.
  const double r = static_cast<double>(random >> 11) / static_cast<double>(uint64_t{1} << 53);
  const double fuzz = static_cast<double>(std::min<uint32_t>(fuzz_percent, 10000)) / 100.0;
  const double l = static_cast<double>(lifetime.count());
  double early = static_cast<double>(margin.count()) * (1.0 + fuzz * r);
  if (static_cast<double>(margin.count()) * (1.0 + fuzz) > l / 2) {
    early = l / 4 + (l / 4) * r;  // too large a margin: keep the fuzz, within the lifetime
  }
  return Clock::Duration(static_cast<Rep>(l - early));
}

}  // namespace ipsecd::engine
