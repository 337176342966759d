#include "engine/tasks/ike_delete.h"

#include "engine/ike_sa.h"
#include "engine/ike_sa_manager.h"
#include "engine/tasks/ike_rekey.h"

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
    ctx_.sas->finish(sa_, reason_, false);
    return Result::success();
  }
  // The peer deletes the IKE SA our rekey is replacing: when its own crossing
  // rekey made a successor here, that one carries on (RFC 7296 2.8.2).
  if (auto* rekey = sa_.tasks.active_ike_rekey()) {
    rekey->peer_won();
  }
  ctx_.sas->adopt_orphans(sa_);
  sa_.state = IkeState::kDeleting;
  return Result::need_more();
}

void IkeDelete::sent() {
  ctx_.sas->finish(sa_,
                   sa_.superseded ? "superseded (rekeyed, reauthenticated or closed as a duplicate)"
                                  : "deleted by the peer",
                   false);
}

std::unique_ptr<Task> IkeDelete::migrate(IkeSa& to) {
  if (!initiating_) {
    return nullptr;
  }
  return std::make_unique<IkeDelete>(to, ctx_, reason_);
}

}  // namespace ipsecd::engine::tasks
