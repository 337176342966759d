#pragma once
// One step of an exchange, as strongSwan's tasks: the initiator calls build()
// for its request and process() for the response; the responder calls
// process() for the request and build() for its response. Several tasks can
// share one exchange (IKE_SA_INIT: IkeInit + IkeNatd; IKE_AUTH: IkeAuth +
// ChildCreate), each adding and reading its own payloads.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/wire/message.h"

namespace ipsecd::engine {
class IkeSa;
struct EngineContext;
}  // namespace ipsecd::engine

namespace ipsecd::engine::tasks {

enum class Outcome : uint8_t { kNeedMore, kSuccess, kFailed };

struct Result {
  Outcome outcome = Outcome::kSuccess;
  std::string reason;  // for kFailed: what went wrong, for operators
  static Result need_more() { return {Outcome::kNeedMore, {}}; }
  static Result success() { return {Outcome::kSuccess, {}}; }
  static Result failed(std::string reason) { return {Outcome::kFailed, std::move(reason)}; }
};

class Task {
 public:
  Task(IkeSa& sa, EngineContext& ctx) : sa_(sa), ctx_(ctx) {}
  virtual ~Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  virtual wire::ExchangeType exchange() const = 0;
  virtual std::string_view name() const = 0;
  virtual Result build(wire::Message& message) = 0;
  virtual Result process(const wire::Message& message) = 0;
  // Responder: the response has left (outbound SAs go in now).
  virtual void sent() {}
  // The IKE SA ends before this task finished.
  virtual void abort(std::string_view /*reason*/) {}
  // Whether a failure ends the IKE SA (a CHILD SA failing does not).
  virtual bool fatal() const { return true; }
  // A queued task when its IKE SA is replaced by a rekey: the same work for
  // `to`, or null when it has no meaning there (RFC 7296 2.18: what is
  // pending moves to the new IKE SA).
  virtual std::unique_ptr<Task> migrate(IkeSa& /*to*/) { return nullptr; }
  // How long our request is retransmitted before the peer counts as gone;
  // zero: the connection's retransmit-timeout.
  virtual std::chrono::milliseconds give_up_after() const { return {}; }
  // Tasks answering the peer's request are passive; ours initiate.
  void set_passive() { initiating_ = false; }
  bool initiating() const { return initiating_; }

 protected:
  IkeSa& sa_;
  EngineContext& ctx_;
  bool initiating_ = true;
};

// ---- Payload helpers shared by the tasks.

template <class T>
const T* find(const wire::Message& m) {
  for (const auto& p : m.payloads) {
    if (const T* v = std::get_if<T>(&p)) {
      return v;
    }
  }
  return nullptr;
}
const wire::TsPayload* find_ts(const wire::Message& m, bool responder);
const wire::IdPayload* find_id(const wire::Message& m, bool responder);
const wire::NotifyPayload* find_notify(const wire::Message& m, wire::NotifyType type);
// The first error notify (type below 16384), if any.
const wire::NotifyPayload* first_error(const wire::Message& m);
wire::NotifyPayload make_notify(wire::NotifyType type, std::vector<uint8_t> data = {});
// The peer's exchange that crossed one of ours (RFC 7296 2.8.1, 2.8.2): its
// Ni and our Nr in it. Of the two exchanges, the one holding the lowest of
// the four nonces made the spare SA.
struct CrossedExchange {
  std::vector<uint8_t> peer_nonce;
  std::vector<uint8_t> our_nonce;
  // Whether our exchange (our Ni, the peer's Nr) made the spare.
  bool ours_is_spare(const std::vector<uint8_t>& our_ni, const std::vector<uint8_t>& peer_nr) const;
};
// An SPI for logs: "0xc0168451".
std::string hex32(uint32_t spi);
// A key exchange method by its IANA number, for logs ("DH31", as crypto::group_name), and
// as INVALID_KE_PAYLOAD's data (RFC 7296 3.10.1: the 2-octet group the responder wants).
std::string group_text(uint16_t group);
std::vector<uint8_t> group_octets(uint16_t group);

}  // namespace ipsecd::engine::tasks
