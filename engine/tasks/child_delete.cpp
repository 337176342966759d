#include "engine/tasks/child_delete.h"

#include "engine/ike_sa.h"
#include "engine/ike_sa_manager.h"

namespace ipsecd::engine::tasks {

ChildDelete::ChildDelete(IkeSa& sa, EngineContext& ctx, std::vector<uint32_t> spis, bool known,
                         std::string reason)
    : Task(sa, ctx), spis_(std::move(spis)), known_(known), reason_(std::move(reason)) {}

Result ChildDelete::build(wire::Message& message) {
  if (initiating_) {
    for (uint32_t spi : spis_) {
      if (ChildSa* child = sa_.child_by_spi_in(spi)) {
        child->deleting = true;
      }
    }
  }
  if (!spis_.empty()) {
    message.payloads.emplace_back(wire::DeletePayload{wire::ProtocolId::kEsp, spis_});
  }
  return initiating_ ? Result::need_more() : Result::success();
}

Result ChildDelete::process(const wire::Message& message) {
  if (initiating_) {
    // Whatever the peer answers, our half goes.
    if (known_) {
      for (uint32_t spi : spis_) {
        ctx_.sas->child_down(sa_, spi, reason_);
      }
    }
    return Result::success();
  }
  // The peer names its inbound SPIs, which are our outbound ones.
  std::vector<uint32_t> ours;
  std::vector<uint32_t> answer;
  for (const auto& p : message.payloads) {
    const auto* del = std::get_if<wire::DeletePayload>(&p);
    if (del == nullptr || del->protocol != wire::ProtocolId::kEsp) {
      continue;
    }
    for (uint32_t spi : del->spis) {
      if (ChildSa* child = sa_.child_by_spi_out(spi)) {
        ours.push_back(child->spi_in);
        // RFC 7296 2.25.1: one we are deleting ourselves is not named again.
        if (!child->deleting) {
          answer.push_back(child->spi_in);
        }
      }
    }
  }
  for (uint32_t spi : ours) {
    ctx_.sas->child_down(sa_, spi, "deleted by the peer");
  }
  spis_ = std::move(answer);
  return Result::need_more();
}

std::unique_ptr<Task> ChildDelete::migrate(IkeSa& to) {
  if (!initiating_) {
    return nullptr;
  }
  return std::make_unique<ChildDelete>(to, ctx_, spis_, known_, reason_);
}

}  // namespace ipsecd::engine::tasks
