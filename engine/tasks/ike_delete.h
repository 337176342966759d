#pragma once
// INFORMATIONAL with a Delete payload for the IKE SA (RFC 7296 1.4.1): the
// IKE SA and all its CHILD SAs end on both sides. An IKE SA replaced by a
// rekey (or a collision's spare) has no CHILD SAs left and goes quietly.

#include <string>

#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class IkeDelete final : public Task {
 public:
  IkeDelete(IkeSa& sa, EngineContext& ctx, std::string reason = "deleted locally")
      : Task(sa, ctx), reason_(std::move(reason)) {}
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kInformational; }
  std::string_view name() const override { return "IkeDelete"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;
  void sent() override;
  std::unique_ptr<Task> migrate(IkeSa& to) override;

 private:
  std::string reason_;
};

}  // namespace ipsecd::engine::tasks
