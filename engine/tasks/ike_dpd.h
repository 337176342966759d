#pragma once
// An empty INFORMATIONAL: a liveness check (RFC 7296 1.4); the answer is empty too.

#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class IkeDpd final : public Task {
 public:
  using Task::Task;
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kInformational; }
  std::string_view name() const override { return "IkeDpd"; }
  Result build(wire::Message&) override {
    return initiating_ ? Result::need_more() : Result::success();
  }
  Result process(const wire::Message&) override {
    return initiating_ ? Result::success() : Result::need_more();
  }
  // libreswan's dpdtimeout=, when set; else retransmit-timeout.
  std::chrono::milliseconds give_up_after() const override;
};

}  // namespace ipsecd::engine::tasks
