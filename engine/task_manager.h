#pragma once
// The exchanges of one IKE SA: queued tasks wait, active tasks are our
// outstanding request (one at a time: a window of one), passive tasks answer
// the peer's request. Retransmits our request with exponential backoff and
// answers a retransmitted request from the cached response.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/event_loop.h"
#include "engine/tasks/task.h"
#include "engine/transport.h"

namespace ipsecd::engine {

class IkeSa;
struct EngineContext;
namespace tasks {
class ChildCreate;
class IkeRekey;
}  // namespace tasks

class TaskManager {
 public:
  TaskManager(IkeSa& sa, EngineContext& ctx) : sa_(sa), ctx_(ctx) {}
  ~TaskManager();
  TaskManager(const TaskManager&) = delete;
  TaskManager& operator=(const TaskManager&) = delete;

  void queue(std::unique_ptr<tasks::Task> task);
  // Starts the next exchange unless one of ours is outstanding.
  void initiate();
  // A decoded (and decrypted) message for this SA; raw is the datagram as
  // received, which IKE_SA_INIT keeps for AUTH.
  void on_message(wire::Message& message, const Endpoint& local, const Endpoint& remote,
                  std::span<const uint8_t> raw);
  // Ends every task: the IKE SA goes away.
  void abort_all(std::string_view reason);
  bool idle() const { return active_.empty() && queued_.empty(); }
  // Whether a queued or active task is of this kind (by name()).
  bool has_task(std::string_view name) const;
  uint32_t next_request_id() const { return next_request_id_; }
  // Our outstanding rekey of the CHILD SA with this inbound SPI, if any.
  tasks::ChildCreate* active_child_rekey(uint32_t spi_in) const;
  // Our outstanding creation of a new CHILD SA of that connection, if any.
  tasks::ChildCreate* active_child_create(const std::string& conn) const;
  // Whether a rekey of that CHILD SA is queued or outstanding.
  bool child_rekey_pending(uint32_t spi_in) const;
  // Our outstanding IKE rekey, if any.
  tasks::IkeRekey* active_ike_rekey() const;
  // Whether our outstanding request creates, rekeys or deletes a CHILD SA
  // (RFC 7296 2.25.2: the peer's IKE rekey waits for it).
  bool child_exchange_active() const;
  // The IKE SA is replaced: queued tasks that mean something there move to `to`.
  void migrate_to(IkeSa& to);

 private:
  void on_request(wire::Message& request, const Endpoint& local, const Endpoint& remote,
                  std::span<const uint8_t> raw);
  void on_response(wire::Message& response, std::span<const uint8_t> raw);
  bool send_request();
  void retransmit();
  Clock::Duration interval() const;
  void exchange_done();

  IkeSa& sa_;
  EngineContext& ctx_;
  std::deque<std::unique_ptr<tasks::Task>> queued_;
  std::vector<std::unique_ptr<tasks::Task>> active_;
  // Aborted tasks, kept until the SA goes: one of them may be on the stack.
  std::vector<std::unique_ptr<tasks::Task>> retired_;
  uint32_t next_request_id_ = 0;  // of our next request
  uint32_t next_peer_id_ = 0;     // of the peer's next request
  std::vector<uint8_t> last_request_;
  std::vector<uint8_t> last_response_;
  bool have_response_ = false;
  unsigned retransmits_ = 0;
  Clock::SteadyTime first_sent_{};
  EventLoop::TimerId retransmit_timer_ = 0;
};

}  // namespace ipsecd::engine
