#pragma once
// A CHILD SA: inside IKE_AUTH (the first) or by CREATE_CHILD_SA (RFC 7296
// 1.3.1): ESP proposal, traffic selectors narrowed as 2.9 says, transport
// mode on request, keys (2.17) and the kernel. The responder installs the
// inbound SA before its response leaves and the outbound SA and policies
// after; the initiator installs both when the response has come.
//
// Rekeying (RFC 7296 1.3.3, 2.8) is the same exchange with REKEY_SA naming
// the old CHILD SA: the initiator installs the new pair and then deletes the
// old one; the responder puts the new outbound SA in only once the old one is
// deleted, so no packet is sent on an SA the peer cannot read yet. Crossing
// rekeys of one CHILD SA (2.8.1) both complete; the exchange holding the
// lowest of the four nonces made the spare, which its initiator deletes,
// while the other side deletes the old SA.

#include <optional>

#include "engine/context.h"
#include "engine/crypto/key_exchange.h"
#include "engine/crypto/keys.h"
#include "engine/ike_sa.h"
#include "engine/tasks/task.h"

namespace ipsecd::engine::tasks {

class ChildCreate final : public Task {
 public:
  // conn: the connection whose CHILD SA we initiate; null on the responder.
  // rekey_of: our inbound SPI of the CHILD SA this one replaces (0: a new one).
  ChildCreate(IkeSa& sa, EngineContext& ctx, ConnectionRef conn, bool first, uint32_t rekey_of = 0);
  ~ChildCreate() override;
  wire::ExchangeType exchange() const override {
    return first_ ? wire::ExchangeType::kIkeAuth : wire::ExchangeType::kCreateChildSa;
  }
  std::string_view name() const override { return "ChildCreate"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;
  void sent() override;
  void abort(std::string_view reason) override;
  bool fatal() const override { return false; }
  std::unique_ptr<Task> migrate(IkeSa& to) override;
  const ConnectionRef& connection() const { return conn_; }
  uint32_t rekey_of() const { return rekey_of_; }
  // Our rekey of this CHILD SA crossed the peer's, which we answered (2.8.1):
  // the nonces of that exchange and the CHILD SA it made here.
  void note_collision(std::vector<uint8_t> peer_nonce, std::vector<uint8_t> our_nonce,
                      uint32_t spi_in);
  // The peer created a CHILD SA of the same connection while ours was under way.
  void note_crossed() { crossed_ = true; }

 private:
  Result build_request(wire::Message& message);
  Result process_response(const wire::Message& message);
  Result process_request(const wire::Message& message);
  Result build_response(wire::Message& message);
  Result refuse(wire::NotifyType type, std::string reason, std::vector<uint8_t> data = {});
  Result fail(std::string reason);
  // The kernel refused part of the CHILD SA: what is installed goes, the peer is told to
  // delete its half, and the task fails with the kernel's reason.
  Result kernel_refused(std::string_view what, const kernel::Status& st);
  // Refuses the peer's answer: its half is deleted, ours released.
  Result reject(std::string reason);
  bool derive(std::span<const uint8_t> g_ir);
  void release_spi();
  // Responder: the CHILD SA of this IKE SA, of the same connection (by name:
  // an edit makes a new definition) and flows, that the new one stands beside.
  const ChildSa* carrying_the_same_flows() const;
  ConnectionRef pick_connection(const wire::TsPayload& tsi, const wire::TsPayload& tsr) const;
  // The peer's REKEY_SA: the CHILD SA it names, or a refusal.
  Result take_rekey(const wire::NotifyPayload& notify);
  // Initiator: the new CHILD SA is in; the old one (or the collision's spare) goes.
  void finish_rekey(uint32_t new_spi_in);
  void rekey_failed(const std::string& reason);
  // Initiator: the peer refused our rekey with `error`.
  Result rekey_refused(const wire::NotifyPayload& error);
  void emit_rekeyed(const ChildSa& now, uint32_t old_in, uint32_t old_out);

  struct Collision : CrossedExchange {
    uint32_t spi_in = 0;  // the CHILD SA that exchange made here
  };

  ConnectionRef conn_;
  bool first_;
  bool finished_ = false;  // up or failed, and said so
  ChildSa child_;
  wire::SaPayload offer_;
  std::vector<wire::TrafficSelector> offered_tsi_;
  std::vector<wire::TrafficSelector> offered_tsr_;
  std::vector<uint8_t> nonce_i_;
  std::vector<uint8_t> nonce_r_;
  std::unique_ptr<crypto::KeyExchange> ke_;
  std::optional<wire::Proposal> chosen_;
  std::optional<wire::NotifyPayload> error_;
  std::string reason_;
  std::optional<crypto::ChildKeys> keys_;
  bool transport_ = false;
  bool requested_ = false;  // responder: the request had an SA payload (not childless)
  uint32_t rekey_of_ = 0;   // initiator: the CHILD SA we rekey (our inbound SPI)
  uint32_t replaced_ = 0;   // responder: the CHILD SA the peer rekeys (our inbound SPI)
  uint32_t replaced_out_ = 0;
  std::optional<Collision> collision_;
  bool crossed_ = false;
};

}  // namespace ipsecd::engine::tasks
