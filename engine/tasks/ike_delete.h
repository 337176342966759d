#pragma once
// INFORMATIONAL with a Delete payload for the IKE SA (RFC 7296 1.4.1): the
// IKE SA and all its CHILD SAs end on both sides.

#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class IkeDelete final : public Task {
 public:
  using Task::Task;
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kInformational; }
  std::string_view name() const override { return "IkeDelete"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;
  void sent() override;
};

}  // namespace ipsecd::engine::tasks
