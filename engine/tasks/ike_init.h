#pragma once
// IKE_SA_INIT: proposal, key exchange and nonces (RFC 7296 1.2), with the
// INVALID_KE_PAYLOAD retry and the COOKIE round trip (2.6) on the initiator.

#include <optional>

#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class IkeInit final : public Task {
 public:
  using Task::Task;
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kIkeSaInit; }
  std::string_view name() const override { return "IkeInit"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;

 private:
  Result build_request(wire::Message& message);
  Result build_response(wire::Message& message);
  wire::NotifyPayload signature_hashes_notify();
  void note_signature_hashes(const wire::Message& message);
  Result process_response(const wire::Message& message);
  Result process_request(const wire::Message& message);
  Result finish(std::span<const uint8_t> peer_ke);

  uint16_t group_ = 0;
  int cookies_ = 0;
  bool ke_retried_ = false;
  std::vector<uint8_t> cookie_;
  std::vector<uint8_t> public_;  // responder: our KE data, kept for the response
  std::optional<wire::Proposal> chosen_;
  std::optional<wire::NotifyPayload> error_;  // responder: the answer instead of SA/KE/Nonce
  std::string reason_;
};

}  // namespace ipsecd::engine::tasks
