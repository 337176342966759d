#pragma once
// Rekeying the IKE SA (RFC 7296 1.3.2, 2.18): CREATE_CHILD_SA with an IKE
// proposal carrying the new SPI, a Nonce and a KE. The new IKE SA takes over
// the CHILD SAs and what was queued; its initiator is whoever started the
// rekey, and it deletes the old IKE SA. Crossing rekeys (2.8.2) both
// complete: the exchange holding the lowest of the four nonces made the
// spare, which its initiator deletes; the other side deletes the old SA. A
// rekey request while a CHILD SA is being created, rekeyed or deleted is
// answered with TEMPORARY_FAILURE (2.25.2), and so retried later.

#include <memory>
#include <optional>
#include <vector>

#include "engine/crypto/key_exchange.h"
#include "engine/crypto/keys.h"
#include "engine/ike_sa.h"
#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class IkeRekey final : public Task {
 public:
  using Task::Task;
  ~IkeRekey() override;
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kCreateChildSa; }
  std::string_view name() const override { return "IkeRekey"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;
  void sent() override;
  void abort(std::string_view reason) override;
  bool fatal() const override { return false; }
  std::unique_ptr<Task> migrate(IkeSa& to) override;

  // Our rekey crossed the peer's, which we answered: its nonces and the IKE
  // SA it made here (by our SPI).
  void note_collision(std::vector<uint8_t> peer_nonce, std::vector<uint8_t> our_nonce,
                      uint64_t new_spi);
  // The peer deleted the old IKE SA before our answer came: when a crossing
  // rekey of the peer's made a successor here, it takes over (true).
  bool peer_won();

 private:
  Result build_request(wire::Message& message);
  Result process_response(const wire::Message& message);
  Result process_request(const wire::Message& message);
  Result build_response(wire::Message& message);
  Result refuse(wire::NotifyType type, std::string reason, std::vector<uint8_t> data = {});
  // The keys of the new IKE SA from this exchange; spi_i/spi_r are its SPIs.
  std::optional<crypto::IkeKeys> derive(const IkeAlgorithms& algorithms,
                                        std::span<const uint8_t> g_ir, uint64_t spi_i,
                                        uint64_t spi_r, std::string& error);
  void failed(const std::string& reason);

  struct Collision : CrossedExchange {
    uint64_t new_spi = 0;
  };

  uint64_t new_spi_ = 0;  // ours in the new IKE SA
  uint64_t peer_spi_ = 0;
  uint16_t group_ = 0;
  bool ke_retried_ = false;
  wire::SaPayload offer_;
  std::vector<uint8_t> nonce_i_;
  std::vector<uint8_t> nonce_r_;
  std::unique_ptr<crypto::KeyExchange> ke_;
  std::vector<uint8_t> public_;  // responder: our KE value for the response
  std::optional<wire::Proposal> chosen_;
  IkeAlgorithms algorithms_;
  std::optional<crypto::IkeKeys> keys_;
  std::optional<wire::NotifyPayload> error_;
  std::string reason_;
  std::optional<Collision> collision_;
  bool done_ = false;
};

}  // namespace ipsecd::engine::tasks
