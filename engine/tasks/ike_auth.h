#pragma once
// IKE_AUTH with a pre-shared key (RFC 7296 1.2, 2.15): IDi/IDr from the
// connection (address ids when unset), AUTH from ipsec.secrets. The responder
// settles on a connection here, by the peer's ids among those its addresses
// allowed.

#include "engine/context.h"
#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class IkeAuth final : public Task {
 public:
  using Task::Task;
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kIkeAuth; }
  std::string_view name() const override { return "IkeAuth"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;

 private:
  const model::SecretEntry* psk(const model::Identity& local, const model::Identity& remote) const;
  std::string failure_;
  bool initial_contact_ = false;  // responder: the peer sent INITIAL_CONTACT
  wire::NotifyType refusal_ =
      wire::NotifyType::kAuthenticationFailed;  // responder: why AUTHENTICATION_FAILED is answered
};

}  // namespace ipsecd::engine::tasks
