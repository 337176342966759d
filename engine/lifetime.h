#pragma once
// When an SA of a given lifetime is replaced: libreswan's rule, so both ends
// of a connection rekey at different moments and rarely collide.
//
//   rekey after = lifetime - (rekeymargin + random(0 .. rekeymargin * rekeyfuzz / 100))
//
// A margin that would take more than half the lifetime (salifetime=30s with
// the default rekeymargin=9m) is scaled down: the rekey then comes between a
// half and three quarters of the lifetime.

#include <cstdint>

#include "engine/clock.h"

namespace ipsecd::engine {

// `random` is any 64-bit value, uniform: the fuzz is taken from it.
Clock::Duration rekey_after(Clock::Duration lifetime, Clock::Duration margin, uint32_t fuzz_percent,
                            uint64_t random);

}  // namespace ipsecd::engine
