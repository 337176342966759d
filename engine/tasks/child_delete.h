#pragma once
// INFORMATIONAL with Delete payloads for ESP (RFC 7296 1.4.1): we list our
// inbound SPIs; the peer answers with its own for the same CHILD SAs. Both
// sides then remove the SAs and policies.

#include <vector>

#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class ChildDelete final : public Task {
 public:
  // spis: our inbound SPIs; known: whether they are CHILD SAs we hold (false
  // for a half-made one the kernel refused, whose peer half must go).
  ChildDelete(IkeSa& sa, EngineContext& ctx, std::vector<uint32_t> spis, bool known,
              std::string reason = "deleted locally");
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kInformational; }
  std::string_view name() const override { return "ChildDelete"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;
  bool fatal() const override { return false; }
  std::unique_ptr<Task> migrate(IkeSa& to) override;

 private:
  std::vector<uint32_t> spis_;
  bool known_;
  std::string reason_;
};

}  // namespace ipsecd::engine::tasks
