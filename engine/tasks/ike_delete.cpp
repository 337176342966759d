#include "engine/tasks/ike_delete.h"

#include "engine/ike_sa.h"
#include "engine/ike_sa_manager.h"

namespace ipsecd::engine::tasks {

Result IkeDelete::build(wire::Message& message) {
  if (initiating_) {
    sa_.state = IkeState::kDeleting;
    message.payloads.emplace_back(wire::DeletePayload{wire::ProtocolId::kIke, {}});
    return Result::need_more();
  }
  return Result::success();  // an empty response acknowledges
}

Result IkeDelete::process(const wire::Message&) {
  if (initiating_) {
    ctx_.sas->finish(sa_, "deleted locally", false);
    return Result::success();
  }
  sa_.state = IkeState::kDeleting;
  return Result::need_more();
}

void IkeDelete::sent() {
  ctx_.sas->finish(sa_, "deleted by the peer", false);
}

}  // namespace ipsecd::engine::tasks
