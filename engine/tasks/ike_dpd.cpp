#include "engine/tasks/ike_dpd.h"

#include "engine/ike_sa.h"

namespace ipsecd::engine::tasks {

std::chrono::milliseconds IkeDpd::give_up_after() const {
  return sa_.conn->spec.dpd_timeout;
}

}  // namespace ipsecd::engine::tasks
