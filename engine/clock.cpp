#include "engine/clock.h"

namespace ipsecd::engine {

// A fixed origin (2027-01-15 08:00 UTC) so logs of two test runs compare equal.
ManualClock::ManualClock()
    : steady_start_(std::chrono::hours(1)),
      wall_start_(std::chrono::seconds(1'800'000'000)),
      now_(steady_start_) {}

}  // namespace ipsecd::engine
