#include "engine/engine.h"

#include <algorithm>

#include "engine/identities.h"
#include "engine/ike_sa_manager.h"
#include "engine/proposal_selection.h"
#include "engine/tasks/child_create.h"
#include "engine/tasks/child_delete.h"
#include "engine/tasks/ike_delete.h"
#include "engine/traffic_selectors.h"

namespace ipsecd::engine {

std::string_view name(EventType type) {
  switch (type) {
    case EventType::kIkeUp:
      return "ike-up";
    case EventType::kIkeDown:
      return "ike-down";
    case EventType::kIkeFailed:
      return "ike-failed";
    case EventType::kChildUp:
      return "child-up";
    case EventType::kChildDown:
      return "child-down";
    case EventType::kChildFailed:
      return "child-failed";
    case EventType::kRekeyed:
      return "rekeyed";
    case EventType::kRekeyFailed:
      return "rekey-failed";
  }
  return "unknown";
}

std::string_view name(RekeyKind kind) {
  switch (kind) {
    case RekeyKind::kIke:
      return "ike";
    case RekeyKind::kChild:
      return "child";
    case RekeyKind::kReauth:
      return "reauth";
  }
  return "unknown";
}

void EngineContext::emit(Event event) {
  ++undelivered[event.connection];
  loop.post([this, e = std::move(event), token = std::weak_ptr<int>(alive)] {
    if (token.expired()) {
      return;
    }
    if (auto it = undelivered.find(e.connection); it != undelivered.end() && --it->second == 0) {
      undelivered.erase(it);
    }
    if (on_event) {
      on_event(e);
    }
  });
}

std::vector<wire::TrafficSelector> LoadedConnection::remote_selectors(
    const kernel::Address& peer) const {
  if (!ts_remote.empty()) {
    return ts_remote;
  }
  return endpoint_selectors(remote_end(), to_model(peer));
}

Engine::Engine(EventLoop& loop, Transport& transport, kernel::Backend& kernel,
               crypto::Random& random, EngineOptions options)
    : ctx_{loop,
           transport,
           kernel,
           random,
           std::move(options),
           std::make_shared<model::Secrets>(),
           {},
           nullptr,
           {},
           std::make_shared<int>(0)} {
  sas_ = std::make_unique<IkeSaManager>(ctx_);
  ctx_.sas = sas_.get();
  ctx_.on_event = [this](const Event& e) { dispatch(e); };
  transport.set_receiver(
      [this](const Endpoint& local, const Endpoint& remote, std::span<uint8_t> datagram) {
        sas_->dispatch(local, remote, datagram);
      });
}

Engine::~Engine() {
  ctx_.transport.set_receiver({});
  ctx_.alive.reset();
}

std::size_t Engine::ike_sa_count() const {
  return sas_->size();
}
std::size_t Engine::half_open_count() const {
  return sas_->half_open();
}

void Engine::set_secrets(std::shared_ptr<const model::Secrets> secrets) {
  ctx_.secrets = secrets ? std::move(secrets) : std::make_shared<model::Secrets>();
}

void Engine::on_kernel_event(const kernel::Event& event) {
  const auto* expire = std::get_if<kernel::ExpireEvent>(&event);
  if (expire == nullptr) {
    return;
  }
  auto it = reqid_owner_.find(expire->reqid);
  if (it != reqid_owner_.end()) {
    sas_->on_kernel_expire(*expire, it->second);
  }
}

bool Engine::rekey(const std::string& conn_name, RekeyKind kind) {
  for (IkeSa* sa : sas_->for_connection(conn_name)) {
    if (!sa->established() || sa->superseded) {
      continue;
    }
    if (kind != RekeyKind::kChild) {
      if (sa->conn->name() == conn_name) {
        return sas_->start_ike_rekey(*sa, kind == RekeyKind::kReauth);
      }
      continue;
    }
    for (const auto& child : sa->children) {
      if (child.conn->name() == conn_name && child.rekey == ChildRekey::kNone && !child.deleting &&
          !child.spare) {
        return sas_->start_child_rekey(*sa, child.spi_in);
      }
    }
  }
  return false;
}

Status Engine::load(model::Connection connection) {
  const std::string conn_name = connection.name;
  auto error = [&conn_name](const std::string& what) {
    return Status{"connection " + conn_name + ": " + what};
  };
  if (conn_name.empty()) {
    return Status{"a connection needs a name"};
  }
  if (connection.mode != model::Mode::kTunnel && connection.mode != model::Mode::kTransport) {
    return error(
        "type= is a shunt (passthrough, drop or reject); the engine negotiates tunnel "
        "and transport only");
  }
  for (auto auth : {connection.authby, connection.left.auth, connection.right.auth}) {
    if (auth != model::AuthMethod::kDefault && auth != model::AuthMethod::kPsk) {
      return error("only authby=secret (PSK) is supported by the engine so far");
    }
  }
  auto c = std::make_shared<LoadedConnection>();
  c->spec = std::move(connection);
  // Orientation: the end whose address is one of ours is local (as libreswan does).
  auto is_local = [this](const model::Endpoint& e) -> std::optional<Endpoint> {
    if (e.host_kind != model::HostKind::kAddress || !e.address) {
      return std::nullopt;
    }
    const auto addr = to_kernel(*e.address);
    for (const auto& ep : ctx_.transport.local_endpoints()) {
      if (ep.address == addr && ep.port != ctx_.transport.natt_port()) {
        return ep;
      }
    }
    return std::nullopt;
  };
  auto left = is_local(c->spec.left);
  auto right = is_local(c->spec.right);
  if (left && right) {
    return error("both left= and right= are addresses of this host; one must be the peer");
  }
  if (!left && !right) {
    std::string have;
    for (const auto& ep : ctx_.transport.local_endpoints()) {
      have += (have.empty() ? "" : ", ") + ep.address.str();
    }
    return error("neither left= nor right= is a local address (this host has " + have + ")");
  }
  c->local_is_left = left.has_value();
  c->local = left ? *left : *right;
  const model::Endpoint& remote = c->remote_end();
  if (remote.host_kind == model::HostKind::kAddress && remote.address) {
    c->remote = to_kernel(*remote.address);
    if (c->remote->family() != c->local.address.family()) {
      return error("the local address " + c->local.address.str() + " and the peer " +
                   c->remote->str() + " are of different families");
    }
  } else if (remote.host_kind != model::HostKind::kAny) {
    return error(std::string(c->local_is_left ? "right=" : "left=") +
                 " must be an address or %any for the engine (names and %defaultroute are "
                 "resolved before loading)");
  }
  c->remote_port = remote.ike_port != 0 ? remote.ike_port : ctx_.options.ike_port;
  const model::Endpoint& local = c->local_end();
  c->local_id =
      local.id.kind == model::IdKind::kAny ? address_identity(c->local.address) : local.id;
  if (auto p = id_payload(c->local_id, false); !p.ok()) {
    return error(p.error());
  }
  c->remote_id = remote.id;
  if (remote.id.kind == model::IdKind::kAny && c->remote) {
    c->remote_id = address_identity(*c->remote);
  }
  c->ike = c->spec.ike ? c->spec.ike : default_ike_proposals();
  c->esp = c->spec.esp ? c->spec.esp : default_esp_proposals();
  c->ike_offer = ike_offer(*c->ike);
  if (c->ike_offer.proposals.empty()) {
    return error("ike=" + model::format_proposals(model::ProposalKind::kIke, *c->ike) +
                 " has no proposal the engine supports (PRF and DH groups included)");
  }
  if (esp_offer(*c->esp, 0, false, c->spec.esn).proposals.empty()) {
    return error("esp=" + model::format_proposals(model::ProposalKind::kEsp, *c->esp) +
                 " has no algorithm the kernel backend supports (AES-GCM-16, ChaCha20-Poly1305, "
                 "AES-CBC with HMAC-SHA2)");
  }
  const auto local_model = to_model(c->local.address);
  for (const auto& s : local.subnets) {
    if (s.address.family != local_model.family) {
      return error("the local subnet " + s.str() + " is not of the family of " +
                   c->local.address.str() + " (mixed-family tunnels are not supported yet)");
    }
  }
  c->ts_local = endpoint_selectors(local, local_model);
  if (!remote.subnets.empty() || c->remote) {
    c->ts_remote = endpoint_selectors(
        remote, c->remote ? to_model(*c->remote) : model::IpAddress{local_model.family, {}});
  }
  const auto& own = ctx_.kernel.ownership();
  if (c->spec.reqid != 0) {
    if (!own.owns_reqid(c->spec.reqid)) {
      return error("reqid=" + std::to_string(c->spec.reqid) + " is outside ipsecd's range " +
                   std::to_string(own.reqid_min) + "-" + std::to_string(own.reqid_max));
    }
    c->reqid = c->spec.reqid;
  } else if (auto it = reqids_.find(conn_name); it != reqids_.end()) {
    c->reqid = it->second;
  } else {
    c->reqid = own.reqid_min + next_reqid_++;
    reqids_[conn_name] = c->reqid;
  }
  reqid_owner_[c->reqid] = conn_name;
  ctx_.connections[conn_name] = std::move(c);
  ++ctx_.connections_generation;
  return {};
}

void Engine::unload(const std::string& conn_name) {
  terminate(conn_name);
  ctx_.connections.erase(conn_name);
  ++ctx_.connections_generation;
}

void Engine::complete(const std::string& conn_name, const InitiateResult& result) {
  auto it = pending_.find(conn_name);
  if (it == pending_.end()) {
    return;
  }
  auto callbacks = std::move(it->second);
  pending_.erase(it);
  for (auto& cb : callbacks) {
    cb(result);
  }
}

void Engine::initiate(const std::string& conn_name, Completion done) {
  auto post_result = [this, &done](bool ok, std::string reason) {
    ctx_.loop.post([done = std::move(done), ok, reason = std::move(reason),
                    token = std::weak_ptr<int>(ctx_.alive)] {
      if (!token.expired()) {
        done(InitiateResult{ok, reason});
      }
    });
  };
  auto it = ctx_.connections.find(conn_name);
  if (it == ctx_.connections.end()) {
    post_result(false, "no connection named " + conn_name + " is loaded");
    return;
  }
  ConnectionRef conn = it->second;
  if (!conn->remote) {
    post_result(false, "connection " + conn_name + " has no peer address (%any): it only responds");
    return;
  }
  if (sas_->child_up(conn_name)) {
    post_result(true, {});
    return;
  }
  auto& waiting = pending_[conn_name];
  waiting.push_back(std::move(done));
  if (waiting.size() > 1) {
    return;  // already on its way
  }
  bring_up(conn, false);
}

namespace {

// Whether an IKE SA negotiated for `a` serves `b` as well: nothing that the
// IKE SA itself was negotiated or is kept with differs.
bool same_ike(const LoadedConnection& a, const LoadedConnection& b) {
  const auto& x = a.spec;
  const auto& y = b.spec;
  auto auth = [](const model::Connection& c) {
    return std::tuple(c.authby, c.left.auth, c.right.auth);
  };
  return a.local == b.local && a.remote == b.remote && a.remote_port == b.remote_port &&
         a.local_id == b.local_id && a.remote_id == b.remote_id &&
         model::format_proposals(model::ProposalKind::kIke, *a.ike) ==
             model::format_proposals(model::ProposalKind::kIke, *b.ike) &&
         auth(x) == auth(y) && x.ike_lifetime == y.ike_lifetime && x.rekey == y.rekey &&
         x.reauth == y.reauth && x.rekey_margin == y.rekey_margin &&
         x.rekey_fuzz_percent == y.rekey_fuzz_percent && x.dpd_delay == y.dpd_delay &&
         x.dpd_timeout == y.dpd_timeout && x.retransmit_interval == y.retransmit_interval &&
         x.retransmit_timeout == y.retransmit_timeout && x.nat_keepalive == y.nat_keepalive &&
         x.encapsulation == y.encapsulation && x.fragmentation == y.fragmentation &&
         x.mobike == y.mobike;
}

}  // namespace

void Engine::bring_up(const ConnectionRef& conn, bool replacing) {
  IkeSa* sa = sas_->reusable_for(*conn);
  // The IKE SA of the connection's own earlier definition serves only if
  // its IKE settings are unchanged; a sibling's always does.
  if (sa != nullptr &&
      (!replacing || sa->conn->name() != conn->name() || same_ike(*sa->conn, *conn))) {
    sa->tasks.queue(std::make_unique<tasks::ChildCreate>(*sa, ctx_, conn, false));
    sa->tasks.initiate();
    return;
  }
  if (initiating() >= ctx_.options.max_initiations) {
    deferred_.push_back(conn->name());  // started when an initiation in flight ends
    return;
  }
  start_ike(conn);
}

bool Engine::stale(const std::string& conn_name) {
  auto it = ctx_.connections.find(conn_name);
  if (it == ctx_.connections.end()) {
    return false;
  }
  for (IkeSa* sa : sas_->for_connection(conn_name)) {
    if (sa->state == IkeState::kDead || sa->superseded) {
      continue;
    }
    for (const auto& child : sa->children) {
      if (child.conn->name() == conn_name && child.conn != it->second && !child.deleting) {
        return true;
      }
    }
  }
  return false;
}

void Engine::replace(const std::string& conn_name, Completion done) {
  auto it = ctx_.connections.find(conn_name);
  if (it == ctx_.connections.end() || !stale(conn_name)) {
    initiate(conn_name, std::move(done));
    return;
  }
  ConnectionRef conn = it->second;
  replacing_.insert(conn_name);
  if (!conn->remote) {
    // Only the peer can bring the new definition up; the old SAs serve until it does.
    ctx_.loop.post([done = std::move(done), token = std::weak_ptr<int>(ctx_.alive)] {
      if (!token.expired()) {
        done(InitiateResult{false,
                            "the peer is %any: the changed connection comes up when it "
                            "initiates; the earlier SAs serve until then"});
      }
    });
    return;
  }
  auto& waiting = pending_[conn_name];
  waiting.push_back(std::move(done));
  if (waiting.size() > 1) {
    return;  // already on its way
  }
  bring_up(conn, true);
}

void Engine::retire_stale(const std::string& conn_name) {
  auto it = ctx_.connections.find(conn_name);
  if (it == ctx_.connections.end()) {
    replacing_.erase(conn_name);
    return;
  }
  const ConnectionRef& conn = it->second;
  const auto sas = sas_->for_connection(conn_name);
  const bool fresh_up = std::any_of(sas.begin(), sas.end(), [&conn](IkeSa* sa) {
    return sa->established() && !sa->superseded &&
           std::any_of(sa->children.begin(), sa->children.end(), [&conn](const ChildSa& c) {
             return c.conn == conn && !c.deleting && !c.spare;
           });
  });
  if (!fresh_up) {
    return;
  }
  replacing_.erase(conn_name);
  for (IkeSa* sa : sas) {
    if (sa->state == IkeState::kDead || sa->superseded) {
      continue;
    }
    std::vector<uint32_t> spis;
    bool others = false;
    for (auto& child : sa->children) {
      if (child.conn->name() == conn_name && child.conn != conn && !child.deleting) {
        child.quiet = true;  // the connection stays up on its new CHILD SA
        spis.push_back(child.spi_in);
      } else if (child.conn->name() != conn_name || child.conn == conn) {
        others = true;
      }
    }
    const bool old_ike = sa->conn->name() == conn_name && sa->conn != conn;
    if (old_ike && !others) {
      sas_->delete_spare(*sa);  // nothing else rides on the earlier definition's IKE SA
      continue;
    }
    if (!spis.empty()) {
      sa->tasks.queue(std::make_unique<tasks::ChildDelete>(
          *sa, ctx_, std::move(spis), true, "replaced by the connection's new definition"));
      sa->tasks.initiate();
    }
  }
}

void Engine::start_ike(const ConnectionRef& conn) {
  IkeSa& sa = sas_->create_initiator(conn);
  initiating_.insert(sa.our_spi());
  sas_->queue_handshake(sa, {conn});
}

std::size_t Engine::initiating() {
  std::erase_if(initiating_, [this](uint64_t spi) {
    IkeSa* sa = sas_->find(spi);
    return sa == nullptr || sa->state != IkeState::kConnecting;
  });
  return initiating_.size();
}

void Engine::start_deferred() {
  while (!deferred_.empty() && initiating() < ctx_.options.max_initiations) {
    const std::string name = std::move(deferred_.front());
    deferred_.pop_front();
    auto it = ctx_.connections.find(name);
    // Terminated or unloaded while it waited: its callbacks were answered then.
    if (it == ctx_.connections.end() || !pending_.contains(name)) {
      continue;
    }
    const bool replacing = replacing_.contains(name);
    if (!replacing && sas_->child_up(name)) {
      complete(name, InitiateResult{true, {}});
      continue;
    }
    bring_up(it->second, replacing);
  }
}

void Engine::terminate(const std::string& conn_name) {
  complete(conn_name, InitiateResult{false, "terminated"});
  std::vector<IkeSa*> whole;
  std::vector<std::pair<IkeSa*, std::vector<uint32_t>>> partial;
  for (IkeSa* sa : sas_->for_connection(conn_name)) {
    if (sa->state == IkeState::kDeleting) {
      continue;
    }
    const ChildSa* sibling = nullptr;
    for (const auto& child : sa->children) {
      if (child.conn->name() != conn_name && !child.deleting) {
        sibling = &child;
        break;
      }
    }
    if (sa->conn->name() == conn_name && sibling != nullptr && sa->established()) {
      // Other connections' CHILD SAs ride on it: it stays, as theirs.
      sa->conn = sibling->conn;
      sas_->note_connection(*sa);
    }
    if (sa->conn->name() == conn_name) {
      whole.push_back(sa);
      continue;
    }
    std::vector<uint32_t> spis;
    for (auto& child : sa->children) {
      if (child.conn->name() == conn_name && !child.deleting) {
        spis.push_back(child.spi_in);
      }
    }
    if (!spis.empty()) {
      partial.emplace_back(sa, std::move(spis));
    }
  }
  for (IkeSa* sa : whole) {
    if (sa->established() && !sa->tasks.has_task("IkeDelete")) {
      sa->tasks.queue(std::make_unique<tasks::IkeDelete>(*sa, ctx_));
      sa->tasks.initiate();
    } else if (!sa->established()) {
      sas_->finish(*sa, "terminated before it was established", false);
    }
  }
  for (auto& [sa, spis] : partial) {
    sa->tasks.queue(std::make_unique<tasks::ChildDelete>(*sa, ctx_, std::move(spis), true));
    sa->tasks.initiate();
  }
}

IkeSaInfo Engine::info(IkeSa& sa) {
  // Due times are steady; listings speak wall-clock time.
  const auto now = ctx_.loop.now();
  const auto wall = ctx_.loop.clock().wall();
  auto at = [&](Clock::SteadyTime due) -> std::optional<std::chrono::system_clock::time_point> {
    if (due == Clock::SteadyTime{}) {
      return std::nullopt;
    }
    return wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(due - now);
  };
  IkeSaInfo info;
  info.connection = sa.conn->name();
  info.state = sa.rekeying || sa.reauth_by != 0 ? "rekeying" : std::string(name(sa.state));
  (sa.conn->spec.reauth ? info.reauth_at : info.rekey_at) = at(sa.rekey_due);
  info.expires_at = at(sa.expire_due);
  info.rekeys = sa.rekeys;
  info.initiator = sa.initiator;
  info.spi_i = sa.spi_i;
  info.spi_r = sa.spi_r;
  info.local = sa.local.str();
  info.remote = sa.remote.str();
  info.local_id = sa.conn->local_id.str();
  info.remote_id = sa.established() ? sa.peer_id.str() : sa.conn->remote_id.str();
  if (sa.prf) {
    info.algorithms = sa.algorithms;
  }
  if (sa.established()) {
    info.established = sa.established_at;
  }
  for (const auto& child : sa.children) {
    ChildSaInfo c;
    c.connection = child.conn->name();
    c.state = child.deleting                                       ? "deleting"
              : child.rekey == ChildRekey::kRekeyed || child.spare ? "rekeyed"
              : child.rekey == ChildRekey::kRekeying               ? "rekeying"
                                                                   : "installed";
    c.rekey_at = at(child.rekey_due);
    c.expires_at = at(child.expire_due);
    c.rekeys = child.rekeys;
    c.spi_in = child.spi_in;
    c.spi_out = child.spi_out;
    c.reqid = child.reqid;
    c.algorithms = child.algorithms;
    c.mode = child.mode == kernel::Mode::kTunnel ? "tunnel" : "transport";
    c.local_ts = str(child.ts_local);
    c.remote_ts = str(child.ts_remote);
    for (const auto& ts : child.ts_local) {
      c.local_selectors.push_back(str(ts));
    }
    for (const auto& ts : child.ts_remote) {
      c.remote_selectors.push_back(str(ts));
    }
    c.established = child.established;
    if (auto in = ctx_.kernel.get_sa(kernel::SaId{sa.local.address, child.spi_in}); in.ok()) {
      c.in = in->counters;
    }
    if (auto o = ctx_.kernel.get_sa(kernel::SaId{sa.remote.address, child.spi_out}); o.ok()) {
      c.out = o->counters;
    }
    info.children.push_back(std::move(c));
  }
  return info;
}

std::vector<IkeSaInfo> Engine::list() {
  std::vector<IkeSaInfo> out;
  sas_->for_each([&](IkeSa& sa) {
    if (sa.state != IkeState::kDead) {
      out.push_back(info(sa));
    }
  });
  std::sort(out.begin(), out.end(), [](const IkeSaInfo& a, const IkeSaInfo& b) {
    return a.connection != b.connection ? a.connection < b.connection : a.spi_i < b.spi_i;
  });
  return out;
}

std::vector<IkeSaInfo> Engine::list(const std::string& conn_name) {
  std::vector<IkeSaInfo> out;
  for (IkeSa* sa : sas_->for_connection(conn_name)) {
    out.push_back(info(*sa));
  }
  return out;
}

bool Engine::events_pending(const std::string& name) const {
  return ctx_.undelivered.contains(name);
}

uint64_t Engine::subscribe(Subscriber subscriber) {
  subscribers_.emplace_back(next_subscriber_, std::move(subscriber));
  return next_subscriber_++;
}

void Engine::unsubscribe(uint64_t id) {
  std::erase_if(subscribers_, [id](const auto& s) { return s.first == id; });
}

void Engine::dispatch(const Event& event) {
  if (!deferred_.empty() &&
      (event.type == EventType::kIkeUp || event.type == EventType::kIkeFailed ||
       event.type == EventType::kIkeDown)) {
    start_deferred();
  }
  if (event.type == EventType::kChildUp) {
    if (replacing_.contains(event.connection)) {
      retire_stale(event.connection);
    }
    complete(event.connection, InitiateResult{true, {}});
  } else if (event.type == EventType::kChildFailed) {
    complete(event.connection, InitiateResult{false, event.reason});
  }
  // A copy: a subscriber may subscribe or unsubscribe.
  auto subscribers = subscribers_;
  for (auto& [id, s] : subscribers) {
    s(event);
  }
}

}  // namespace ipsecd::engine
