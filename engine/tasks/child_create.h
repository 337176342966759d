#pragma once
// A CHILD SA: inside IKE_AUTH (the first) or by CREATE_CHILD_SA (RFC 7296
// 1.3.1): ESP proposal, traffic selectors narrowed as 2.9 says, transport
// mode on request, keys (2.17) and the kernel. The responder installs the
// inbound SA before its response leaves and the outbound SA and policies
// after; the initiator installs both when the response has come.

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
  ChildCreate(IkeSa& sa, EngineContext& ctx, ConnectionRef conn, bool first);
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
  const ConnectionRef& connection() const { return conn_; }

 private:
  Result build_request(wire::Message& message);
  Result process_response(const wire::Message& message);
  Result process_request(const wire::Message& message);
  Result build_response(wire::Message& message);
  Result refuse(wire::NotifyType type, std::string reason, std::vector<uint8_t> data = {});
  Result fail(std::string reason);
  // Refuses the peer's answer: its half is deleted, ours released.
  Result reject(std::string reason);
  bool derive(std::span<const uint8_t> g_ir);
  void release_spi();
  ConnectionRef pick_connection(const wire::TsPayload& tsi, const wire::TsPayload& tsr) const;

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
};

}  // namespace ipsecd::engine::tasks
