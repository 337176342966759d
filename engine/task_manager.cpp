#include "engine/task_manager.h"

#include <algorithm>

#include "engine/ike_sa.h"
#include "engine/ike_sa_manager.h"
#include "engine/tasks/child_create.h"
#include "engine/tasks/child_delete.h"
#include "engine/tasks/ike_auth.h"
#include "engine/tasks/ike_delete.h"
#include "engine/tasks/ike_dpd.h"
#include "engine/tasks/ike_init.h"
#include "engine/tasks/ike_natd.h"
#include "engine/tasks/ike_rekey.h"

namespace ipsecd::engine {

using tasks::Outcome;

TaskManager::~TaskManager() {
  if (retransmit_timer_ != 0) {
    ctx_.loop.cancel(retransmit_timer_);
  }
}

void TaskManager::queue(std::unique_ptr<tasks::Task> task) {
  queued_.push_back(std::move(task));
}

bool TaskManager::has_task(std::string_view name) const {
  auto named = [name](const std::unique_ptr<tasks::Task>& t) { return t->name() == name; };
  return std::any_of(active_.begin(), active_.end(), named) ||
         std::any_of(queued_.begin(), queued_.end(), named);
}

tasks::ChildCreate* TaskManager::active_child_rekey(uint32_t spi_in) const {
  for (const auto& t : active_) {
    if (auto* c = dynamic_cast<tasks::ChildCreate*>(t.get());
        c != nullptr && c->initiating() && c->rekey_of() == spi_in) {
      return c;
    }
  }
  return nullptr;
}

tasks::ChildCreate* TaskManager::active_child_create(const std::string& conn) const {
  for (const auto& t : active_) {
    if (auto* c = dynamic_cast<tasks::ChildCreate*>(t.get());
        c != nullptr && c->initiating() && c->rekey_of() == 0 && c->connection() &&
        c->connection()->name() == conn) {
      return c;
    }
  }
  return nullptr;
}

bool TaskManager::child_rekey_pending(uint32_t spi_in) const {
  if (active_child_rekey(spi_in) != nullptr) {
    return true;
  }
  return std::any_of(queued_.begin(), queued_.end(), [spi_in](const auto& t) {
    const auto* c = dynamic_cast<const tasks::ChildCreate*>(t.get());
    return c != nullptr && c->rekey_of() == spi_in;
  });
}

tasks::IkeRekey* TaskManager::active_ike_rekey() const {
  for (const auto& t : active_) {
    if (auto* r = dynamic_cast<tasks::IkeRekey*>(t.get()); r != nullptr && r->initiating()) {
      return r;
    }
  }
  return nullptr;
}

bool TaskManager::child_exchange_active() const {
  return std::any_of(active_.begin(), active_.end(), [](const auto& t) {
    return t->name() == "ChildCreate" || t->name() == "ChildDelete";
  });
}

void TaskManager::migrate_to(IkeSa& to) {
  auto queued = std::move(queued_);
  queued_.clear();
  for (auto& t : queued) {
    if (auto moved = t->migrate(to)) {
      to.tasks.queue(std::move(moved));
    }
    retired_.push_back(std::move(t));
  }
}

void TaskManager::initiate() {
  while (active_.empty() && !queued_.empty() && sa_.state != IkeState::kDead) {
    const auto type = queued_.front()->exchange();
    const bool handshake =
        type == wire::ExchangeType::kIkeSaInit || type == wire::ExchangeType::kIkeAuth;
    if (!handshake && !sa_.established() && sa_.state != IkeState::kDeleting) {
      return;  // CREATE_CHILD_SA and INFORMATIONAL wait for IKE_AUTH
    }
    active_.push_back(std::move(queued_.front()));
    queued_.pop_front();
    // The handshake exchanges carry several tasks; the others one each.
    while (handshake && !queued_.empty() && queued_.front()->exchange() == type) {
      active_.push_back(std::move(queued_.front()));
      queued_.pop_front();
    }
    if (send_request()) {
      return;
    }
  }
}

bool TaskManager::send_request() {
  wire::Message m;
  m.header.spi_i = sa_.spi_i;
  m.header.spi_r = sa_.spi_r;
  m.header.exchange = active_.front()->exchange();
  m.header.initiator = sa_.initiator;
  m.header.response = false;
  m.header.message_id = next_request_id_;
  for (std::size_t i = 0; i < active_.size();) {
    auto r = active_[i]->build(m);
    if (sa_.state == IkeState::kDead) {
      return true;
    }
    if (r.outcome == Outcome::kFailed) {
      if (active_[i]->fatal()) {
        ctx_.sas->finish(sa_, r.reason, true);
        return true;
      }
      // A CHILD SA that cannot be asked for: it said so; the rest go on.
      active_.erase(active_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  if (active_.empty()) {
    return false;
  }
  auto bytes = sa_.seal(m);
  if (!bytes.ok()) {
    ctx_.sas->finish(sa_, bytes.error(), true);
    return true;
  }
  last_request_ = std::move(bytes).value();
  if (m.header.exchange == wire::ExchangeType::kIkeSaInit && sa_.handshake) {
    sa_.handshake->init_request = last_request_;
  }
  retransmits_ = 0;
  first_sent_ = ctx_.loop.now();
  sa_.send(last_request_);
  if (retransmit_timer_ != 0) {
    ctx_.loop.cancel(retransmit_timer_);
  }
  retransmit_timer_ =
      ctx_.loop.schedule(sa_.conn->spec.retransmit_interval, [this] { retransmit(); });
  return true;
}

Clock::Duration TaskManager::interval() const {
  // A zero interval would retransmit in a tight loop.
  return std::max<Clock::Duration>(sa_.conn->spec.retransmit_interval,
                                   std::chrono::milliseconds(10));
}

void TaskManager::retransmit() {
  retransmit_timer_ = 0;
  auto timeout = std::chrono::duration_cast<Clock::Duration>(sa_.conn->spec.retransmit_timeout);
  if (!active_.empty() && active_.front()->give_up_after().count() > 0) {
    timeout = active_.front()->give_up_after();
  }
  const auto elapsed = ctx_.loop.now() - first_sent_;
  if (elapsed >= timeout) {
    const bool deleting = sa_.state == IkeState::kDeleting;
    const bool liveness = !active_.empty() && active_.front()->name() == "IkeDpd";
    sa_.peer_dead = liveness && !deleting;
    ctx_.sas->finish(
        sa_,
        deleting   ? "deleted locally (the peer did not answer)"
        : liveness ? "peer not responding: no answer to a liveness check (DPD) in " +
                         std::to_string(
                             std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                         " s"
                   : "peer not responding",
        !deleting);
    return;
  }
  ++retransmits_;
  sa_.send(last_request_);
  // Exponential backoff, the last wait cut so the give-up comes at the timeout.
  Clock::Duration next = interval() * (1LL << std::min(retransmits_, 30u));
  next = std::min<Clock::Duration>(next, timeout - elapsed);
  retransmit_timer_ = ctx_.loop.schedule(next, [this] { retransmit(); });
}

void TaskManager::on_message(wire::Message& message, const Endpoint& local, const Endpoint& remote,
                             std::span<const uint8_t> raw) {
  if (message.header.exchange != wire::ExchangeType::kIkeSaInit) {
    sa_.last_received = ctx_.loop.now();  // decrypted, so the peer is alive
  }
  if (message.header.response) {
    on_response(message, raw);
    return;
  }
  on_request(message, local, remote, raw);
}

void TaskManager::on_response(wire::Message& response, std::span<const uint8_t> raw) {
  if (active_.empty() || response.header.message_id != next_request_id_ ||
      response.header.exchange != active_.front()->exchange()) {
    return;  // late, duplicated or not ours
  }
  if (retransmit_timer_ != 0) {
    ctx_.loop.cancel(retransmit_timer_);
    retransmit_timer_ = 0;
  }
  const auto exchange = response.header.exchange;
  if (exchange == wire::ExchangeType::kIkeSaInit && sa_.handshake) {
    sa_.handshake->init_response.assign(raw.begin(), raw.end());
  }
  for (std::size_t i = 0; i < active_.size();) {
    auto r = active_[i]->process(response);
    if (sa_.state == IkeState::kDead) {
      return;
    }
    if (r.outcome == Outcome::kFailed && active_[i]->fatal()) {
      ctx_.sas->finish(sa_, r.reason, true);
      return;
    }
    if (r.outcome == Outcome::kNeedMore) {
      ++i;
    } else {
      active_.erase(active_.begin() + static_cast<long>(i));
    }
  }
  // A COOKIE or INVALID_KE retry of IKE_SA_INIT keeps message ID 0.
  if (!(exchange == wire::ExchangeType::kIkeSaInit && !active_.empty())) {
    ++next_request_id_;
  }
  if (!active_.empty()) {
    send_request();
    return;
  }
  exchange_done();
  initiate();
  if (sa_.reauth_of != 0 && sa_.established() && idle()) {
    ctx_.sas->reauthenticated(sa_);  // every CHILD SA it was to re-create has had its exchange
  }
}

void TaskManager::exchange_done() {
  if (sa_.established() && sa_.handshake) {
    sa_.handshake.reset();  // nonces, IKE_SA_INIT copies and SK_pi/pr are no longer needed
    sa_.sk_in->release_contexts();
    sa_.sk_out->release_contexts();
  }
}

void TaskManager::on_request(wire::Message& request, const Endpoint& local, const Endpoint& remote,
                             std::span<const uint8_t> raw) {
  const uint32_t id = request.header.message_id;
  if (have_response_ && id + 1 == next_peer_id_) {
    // A retransmitted request: answered where it came from, but a replayed
    // copy must not move the SA to another address.
    ctx_.transport.send(local, remote, last_response_);
    return;
  }
  if (id != next_peer_id_) {
    return;
  }
  // A new request, decrypted and authenticated: answers go where it came from
  // (a NAT may have moved the peer).
  sa_.local = local;
  sa_.remote = remote;
  const auto exchange = request.header.exchange;
  std::vector<std::unique_ptr<tasks::Task>> passive;
  switch (exchange) {
    case wire::ExchangeType::kIkeSaInit:
      if (sa_.initiator || next_peer_id_ != 0) {
        return;
      }
      sa_.handshake->init_request.assign(raw.begin(), raw.end());
      passive.push_back(std::make_unique<tasks::IkeInit>(sa_, ctx_));
      passive.push_back(std::make_unique<tasks::IkeNatd>(sa_, ctx_));
      break;
    case wire::ExchangeType::kIkeAuth:
      if (sa_.initiator || sa_.established() || !sa_.sk_in || !sa_.handshake) {
        return;
      }
      passive.push_back(std::make_unique<tasks::IkeAuth>(sa_, ctx_));
      passive.push_back(std::make_unique<tasks::ChildCreate>(sa_, ctx_, nullptr, true));
      break;
    case wire::ExchangeType::kCreateChildSa: {
      // A deleting IKE SA still answers, with TEMPORARY_FAILURE (RFC 7296 2.25).
      if (!sa_.established() && sa_.state != IkeState::kDeleting) {
        return;
      }
      const auto* sa_payload = tasks::find<wire::SaPayload>(request);
      const bool ike = sa_payload != nullptr && !sa_payload->proposals.empty() &&
                       sa_payload->proposals.front().protocol == wire::ProtocolId::kIke;
      if (ike) {
        passive.push_back(std::make_unique<tasks::IkeRekey>(sa_, ctx_));
      } else {
        passive.push_back(std::make_unique<tasks::ChildCreate>(sa_, ctx_, nullptr, false));
      }
      break;
    }
    case wire::ExchangeType::kInformational: {
      if (!sa_.sk_in) {
        return;
      }
      bool ike_delete = false;
      bool child_delete = false;
      for (const auto& p : request.payloads) {
        if (const auto* d = std::get_if<wire::DeletePayload>(&p)) {
          (d->protocol == wire::ProtocolId::kIke ? ike_delete : child_delete) = true;
        }
      }
      if (ike_delete) {
        passive.push_back(std::make_unique<tasks::IkeDelete>(sa_, ctx_));
      } else if (child_delete) {
        passive.push_back(
            std::make_unique<tasks::ChildDelete>(sa_, ctx_, std::vector<uint32_t>{}, true));
      } else {
        passive.push_back(std::make_unique<tasks::IkeDpd>(sa_, ctx_));
      }
      break;
    }
    default:
      return;
  }
  tasks::Task* fatal = nullptr;
  std::string reason;
  for (auto& t : passive) {
    t->set_passive();
    auto r = t->process(request);
    if (sa_.state == IkeState::kDead) {
      return;
    }
    if (r.outcome == Outcome::kFailed && t->fatal()) {
      fatal = t.get();
      reason = r.reason;
      break;
    }
  }
  wire::Message response;
  response.header.spi_i = sa_.spi_i;
  response.header.spi_r = sa_.spi_r;
  response.header.exchange = exchange;
  response.header.initiator = sa_.initiator;
  response.header.response = true;
  response.header.message_id = id;
  if (fatal != nullptr) {
    [[maybe_unused]] auto r = fatal->build(response);
  } else {
    for (auto& t : passive) {
      [[maybe_unused]] auto r = t->build(response);
    }
  }
  auto bytes = sa_.seal(response);
  if (!bytes.ok()) {
    ctx_.sas->finish(sa_, bytes.error(), true);
    return;
  }
  last_response_ = std::move(bytes).value();
  have_response_ = true;
  next_peer_id_ = id + 1;
  if (exchange == wire::ExchangeType::kIkeSaInit && sa_.handshake) {
    sa_.handshake->init_response = last_response_;
  }
  sa_.send(last_response_);
  if (fatal != nullptr) {
    // An IKE_SA_INIT refusal (COOKIE-less, INVALID_KE, NO_PROPOSAL) is routine: no event.
    ctx_.sas->finish(sa_, reason, true, exchange != wire::ExchangeType::kIkeSaInit);
    return;
  }
  for (auto& t : passive) {
    t->sent();
    if (sa_.state == IkeState::kDead) {
      return;
    }
  }
  if (exchange == wire::ExchangeType::kIkeAuth) {
    exchange_done();
  }
  initiate();
}

void TaskManager::abort_all(std::string_view reason) {
  if (retransmit_timer_ != 0) {
    ctx_.loop.cancel(retransmit_timer_);
    retransmit_timer_ = 0;
  }
  std::vector<std::unique_ptr<tasks::Task>> all;
  for (auto& t : active_) {
    all.push_back(std::move(t));
  }
  for (auto& t : queued_) {
    all.push_back(std::move(t));
  }
  active_.clear();
  queued_.clear();
  for (auto& t : all) {
    t->abort(reason);
    retired_.push_back(std::move(t));
  }
}

}  // namespace ipsecd::engine
