#include "controller/reconciler.h"

#include "controller/metrics/metrics.h"
#include "controller/sa_status.h"

#include <algorithm>
#include <future>

#include "engine/child_install.h"
#include "engine/identities.h"
#include "engine/traffic_selectors.h"

namespace ipsecd::controller {

namespace {

using engine::mark_of;
using engine::reversed;

bool is_shunt(model::Mode mode) {
  return mode == model::Mode::kPassthrough || mode == model::Mode::kDrop ||
         mode == model::Mode::kReject;
}

// What the connection should be now: auto= overridden by the operator's intent.
struct Want {
  bool route = false;
  bool up = false;
  bool down = false;  // SAs are torn down and kept down
};

Want wanted(const model::Connection& c, Intent intent) {
  Want w;
  w.route = c.auto_action == model::AutoAction::kRoute;
  w.up = c.auto_action == model::AutoAction::kStart;
  switch (intent) {
    case Intent::kNone:
      break;
    case Intent::kUp:
      w.up = true;
      break;
    case Intent::kDown:
      w = Want{w.route, false, true};
      break;
    case Intent::kRoute:
      w.route = true;
      break;
    case Intent::kUnroute:
      w.route = false;
      break;
  }
  return w;
}

std::string policy_key(const kernel::PolicyId& id) {
  return id.str();
}

}  // namespace

std::string_view kind_name(ReconcileResult::Kind kind) {
  switch (kind) {
    case ReconcileResult::Kind::kDone:
      return "done";
    case ReconcileResult::Kind::kWaiting:
      return "waiting";
    case ReconcileResult::Kind::kRequeueAfter:
      return "requeue-after";
    case ReconcileResult::Kind::kError:
      return "error";
  }
  return "unknown";
}

Reconciler::Reconciler(Store& store, engine::Engine& engine, kernel::Backend& kernel, Clock& clock,
                       Wake wake, DeadPeerHook on_dead_peer)
    : store_(store),
      engine_(engine),
      kernel_(kernel),
      clock_(clock),
      wake_(std::move(wake)),
      on_dead_peer_(std::move(on_dead_peer)) {}

std::vector<kernel::PolicySpec> Reconciler::trap_policies(const engine::LoadedConnection& c) const {
  std::vector<kernel::PolicySpec> out;
  if (!c.remote) {
    return out;
  }
  auto flows = engine::flows(c.ts_local, c.ts_remote);
  if (!flows.ok()) {
    return out;
  }
  const bool tunnel = c.spec.mode == model::Mode::kTunnel;
  for (const auto& flow : flows.value()) {
    kernel::PolicySpec p;
    p.id = kernel::PolicyId{flow, kernel::Direction::kOut, mark_of(c.spec.mark_out)};
    p.kind = kernel::PolicyKind::kTrap;
    kernel::Template t;
    if (tunnel) {
      t.src = c.local.address;
      t.dst = *c.remote;
    } else {
      const uint8_t zero[16] = {};
      t.src = kernel::Address::from_bytes(flow.family(), zero);
      t.dst = t.src;
    }
    t.mode = tunnel ? kernel::Mode::kTunnel : kernel::Mode::kTransport;
    t.reqid = c.reqid;
    p.templates.push_back(t);
    out.push_back(std::move(p));
  }
  return out;
}

model::Result<std::vector<kernel::PolicySpec>> Reconciler::shunt_policies(
    const model::Connection& c) const {
  // Orientation as the engine does it: the end with one of our addresses is local.
  auto is_local = [this](const model::Endpoint& e) {
    if (e.host_kind != model::HostKind::kAddress || !e.address) {
      return false;
    }
    const auto addr = engine::to_kernel(*e.address);
    for (const auto& ep : engine_.transport().local_endpoints()) {
      if (ep.address == addr) {
        return true;
      }
    }
    return false;
  };
  const bool left_local = is_local(c.left);
  if (!left_local && !is_local(c.right)) {
    return model::Result<std::vector<kernel::PolicySpec>>::failure(
        "connection " + c.name + ": neither left= nor right= is a local address");
  }
  const model::Endpoint& local = left_local ? c.left : c.right;
  const model::Endpoint& remote = left_local ? c.right : c.left;
  if (remote.subnets.empty() && !remote.address) {
    return model::Result<std::vector<kernel::PolicySpec>>::failure(
        "connection " + c.name + ": a shunt to %any needs " +
        (left_local ? "rightsubnet=" : "leftsubnet=") + " to say which traffic it covers");
  }
  const auto ts_local = engine::endpoint_selectors(local, *local.address);
  const auto ts_remote = engine::endpoint_selectors(
      remote, remote.address ? *remote.address : model::IpAddress{local.address->family, {}});
  auto flows = engine::flows(ts_local, ts_remote);
  if (!flows.ok()) {
    return model::Result<std::vector<kernel::PolicySpec>>::failure("connection " + c.name + ": " +
                                                                   flows.error());
  }
  const kernel::PolicyKind kind = c.mode == model::Mode::kPassthrough ? kernel::PolicyKind::kPass
                                  : c.mode == model::Mode::kDrop      ? kernel::PolicyKind::kDrop
                                                                      : kernel::PolicyKind::kReject;
  std::vector<kernel::PolicySpec> out;
  for (const auto& flow : flows.value()) {
    for (auto dir : {kernel::Direction::kOut, kernel::Direction::kIn, kernel::Direction::kFwd}) {
      const bool outbound = dir == kernel::Direction::kOut;
      kernel::PolicySpec p;
      p.id = kernel::PolicyId{outbound ? flow : reversed(flow), dir,
                              mark_of(outbound ? c.mark_out : c.mark_in)};
      p.kind = kind;
      out.push_back(std::move(p));
    }
  }
  return out;
}

kernel::Status Reconciler::ensure_policies(const std::vector<kernel::PolicySpec>& specs) {
  for (const auto& spec : specs) {
    auto have = kernel_.get_policy(spec.id);
    if (have.ok()) {
      // A protect policy in a trap's place is the engine's SA at work.
      const bool sa_up =
          spec.kind == kernel::PolicyKind::kTrap && have->kind == kernel::PolicyKind::kProtect;
      // Same kind and templates: nothing to do. A trap adopted from an earlier
      // run carries that run's reqid and is updated in place, never removed.
      if ((have->kind == spec.kind && have->templates == spec.templates) || sa_up) {
        continue;
      }
    }
    if (auto st = kernel_.update_policy(spec); !st.ok()) {
      return st;
    }
  }
  return {};
}

void Reconciler::remove_policies(const std::vector<kernel::PolicySpec>& specs) {
  for (const auto& spec : specs) {
    auto have = kernel_.get_policy(spec.id);
    if (have.ok() && have->own && have->kind == spec.kind) {
      [[maybe_unused]] auto st = kernel_.delete_policy(spec.id);
    }
  }
}

void Reconciler::forget_traps(const std::string& name) {
  std::erase_if(trap_owner_, [&name](const auto& kv) { return kv.second == name; });
}

void Reconciler::teardown(const std::string& name, const Applied& applied) {
  if (applied.loaded) {
    remove_policies(trap_policies(*applied.loaded));
  } else if (applied.connection) {
    if (auto shunts = shunt_policies(*applied.connection); shunts.ok()) {
      remove_policies(shunts.value());
    }
  }
  forget_traps(name);
  if (engine_.loaded(name)) {
    // Deletes its SAs (DELETE to the peer) and the policies they installed.
    close(name, true);
  }
  initiating_.erase(name);
  failure_.erase(name);
  last_failure_.erase(name);
  dead_peers_.erase(name);
}

void Reconciler::close(const std::string& name, bool unload) {
  // list(name) holds exactly the IKE SAs that own or carry this connection.
  for (const auto& ike : engine_.list(name)) {
    closing_.insert(ike.spi_i);
  }
  if (unload) {
    engine_.unload(name);
  } else {
    engine_.terminate(name);
  }
}

bool Reconciler::replace_in_place(const std::string& name, const Applied& old,
                                  const std::shared_ptr<const model::Connection>& now,
                                  uint64_t generation) {
  if (!old.loaded || is_shunt(now->mode) || !engine_.loaded(name) || engine_.list(name).empty()) {
    return false;
  }
  const auto old_traps = trap_policies(*old.loaded);
  if (!engine_.load(*now).ok()) {
    return false;  // the caller tears down and reports why it cannot load
  }
  applied_[name] = Applied{generation, now, engine_.connection(name)};
  // Traps of the old definition that the new one has not: the new ones go in below.
  std::set<std::string> kept;
  for (const auto& t : trap_policies(*applied_[name].loaded)) {
    kept.insert(policy_key(t.id));
  }
  std::vector<kernel::PolicySpec> gone;
  for (const auto& t : old_traps) {
    if (!kept.contains(policy_key(t.id))) {
      gone.push_back(t);
    }
  }
  remove_policies(gone);
  forget_traps(name);
  return true;
}

void Reconciler::start_initiate(const std::string& name, bool replace) {
  initiating_.insert(name);
  auto done = [this, name](const engine::InitiateResult& r) {
    initiating_.erase(name);
    if (!r.ok) {
      failure_[name] = r.reason;
      last_failure_[name] = r.reason;
      ++failures_seen_[name];
    }
    wake_(name);
  };
  if (replace) {
    engine_.replace(name, std::move(done));
  } else {
    engine_.initiate(name, std::move(done));
  }
}

void Reconciler::set(ReconcileStatus& st, std::string_view type, ConditionStatus status,
                     std::string reason, std::string message) {
  Condition c;
  c.type = std::string(type);
  c.status = status;
  c.reason = std::move(reason);
  c.message = std::move(message);
  c.observed_generation = st.generation;
  st.conditions.set_condition(std::move(c), clock_.wall_now());
}

void Reconciler::count_locked(const ReconcileStatus& st, int sign) {
  auto add = [sign](size_t& n, size_t k) { n = sign > 0 ? n + k : n - k; };
  const bool established = st.conditions.is_true(kConditionEstablished);
  const bool routed = st.conditions.is_true(kConditionRouted);
  const Condition* est = st.conditions.find(kConditionEstablished);
  ConnectionState state = ConnectionState::kLoaded;
  if (established) {
    state = ConnectionState::kEstablished;
  } else if (!st.last_error.empty()) {
    state = ConnectionState::kFailing;
  } else if (est != nullptr && est->reason == "Connecting") {
    state = ConnectionState::kConnecting;
  } else if (routed) {
    state = ConnectionState::kRouted;
  }
  add(summary_.by_state[static_cast<size_t>(state)], 1);
  add(summary_.established, established ? 1 : 0);
  add(summary_.routed, routed ? 1 : 0);
  add(summary_.failing, st.last_error.empty() ? 0 : 1);
  for (const auto& sa : st.sas) {
    add(summary_.ike_sas, sa.connection == st.name ? 1 : 0);
    for (const auto& c : sa.children) {
      add(summary_.child_sas, c.connection == st.name ? 1 : 0);
    }
  }
}

Reconciler::Summary Reconciler::summary() const {
  std::lock_guard lock(status_mu_);
  return summary_;
}

ReconcileResult Reconciler::finish(ReconcileStatus st, ReconcileResult result) {
  if (auto it = failures_seen_.find(st.name); it != failures_seen_.end()) {
    st.failures = it->second;
  }
  {
    std::lock_guard lock(status_mu_);
    auto [it, added] = statuses_.try_emplace(st.name);
    if (!added) {
      count_locked(it->second, -1);
    }
    it->second = std::move(st);
    count_locked(it->second, 1);
  }
  status_changed_.notify_all();
  return result;
}

std::pair<bool, std::optional<ReconcileStatus>> Reconciler::wait_status(const std::string& name,
                                                                        const StatusPredicate& done,
                                                                        Duration timeout) const {
  const MonoTime deadline = clock_.now() + timeout;
  std::unique_lock lock(status_mu_);
  while (true) {
    std::optional<ReconcileStatus> now;
    if (auto it = statuses_.find(name); it != statuses_.end()) {
      now = it->second;
    }
    if (done(now)) {
      return {true, std::move(now)};
    }
    if (clock_.now() >= deadline) {
      return {false, std::move(now)};
    }
    clock_.wait_until(status_changed_, lock, deadline);
  }
}

ReconcileResult Reconciler::reconcile(const std::string& name) {
  // Between an SA change and its events the engine's listing is ahead of what
  // on_engine_event has seen: an IKE SA gone, not yet known dead, would look
  // like one to initiate (and dpdaction=clear would not be). Each event wakes
  // this connection again, so decide once they are in.
  if (engine_.events_pending(name)) {
    return ReconcileResult::waiting();
  }
  const auto entry = store_.get(name);
  auto applied_it = applied_.find(name);

  if (!entry) {
    // Removed: tear down whatever we applied for it.
    if (applied_it != applied_.end()) {
      teardown(name, applied_it->second);
      applied_.erase(applied_it);
    } else if (engine_.loaded(name)) {
      close(name, true);
    }
    failures_seen_.erase(name);
    {
      std::lock_guard lock(status_mu_);
      if (auto it = statuses_.find(name); it != statuses_.end()) {
        count_locked(it->second, -1);
        statuses_.erase(it);
      }
    }
    status_changed_.notify_all();
    return ReconcileResult::done();
  }

  ReconcileStatus st;
  {
    std::lock_guard lock(status_mu_);
    if (auto it = statuses_.find(name); it != statuses_.end()) {
      st = it->second;  // keeps lastTransitionTime of unchanged conditions
    }
  }
  st.name = name;
  st.origin = entry->origin;
  st.generation = entry->generation;
  st.intent = entry->intent;
  const model::Connection& c = *entry->connection;
  const Want desired = wanted(c, entry->intent);
  Want want = desired;
  // An edit or an operator intent since the peer died: dpdaction= is done with.
  if (auto dead = dead_peers_.find(name);
      dead != dead_peers_.end() && (dead->second.generation != entry->generation ||
                                    dead->second.intent_serial != entry->intent_serial)) {
    dead_peers_.erase(dead);
  }

  // A new generation replaces what was applied. With SAs up and a negotiable
  // new definition: make-before-break (the engine retires the old SAs once
  // the new CHILD SA is up). Otherwise the old policies and SAs go first.
  if (applied_it != applied_.end() && applied_it->second.generation != entry->generation) {
    const Applied old = applied_it->second;
    if (!want.down && replace_in_place(name, old, entry->connection, entry->generation)) {
      applied_it = applied_.find(name);
    } else {
      teardown(name, old);
      applied_.erase(name);
      applied_it = applied_.end();
    }
  }

  if (is_shunt(c.mode) && entry->intent == Intent::kUnroute) {
    // An unrouted shunt is loaded only: its policies go.
    if (auto specs = shunt_policies(c); specs.ok()) {
      remove_policies(specs.value());
    }
    applied_[name] = Applied{entry->generation, entry->connection, nullptr};
    st.applied_generation = entry->generation;
    set(st, kConditionLoaded, ConditionStatus::kTrue, "Shunt", "type= needs no negotiation");
    set(st, kConditionRouted, ConditionStatus::kFalse, "Unrouted", "unrouted by the operator");
    set(st, kConditionReady, ConditionStatus::kTrue, "Unrouted", "unrouted by the operator");
    return finish(std::move(st), ReconcileResult::done());
  }
  if (is_shunt(c.mode)) {
    auto specs = shunt_policies(c);
    if (!specs.ok()) {
      st.last_error = specs.error();
      set(st, kConditionLoaded, ConditionStatus::kFalse, "InvalidShunt", specs.error());
      set(st, kConditionReady, ConditionStatus::kFalse, "InvalidShunt", specs.error());
      return finish(std::move(st), ReconcileResult::done());
    }
    applied_[name] = Applied{entry->generation, entry->connection, nullptr};
    st.applied_generation = entry->generation;
    const std::string kind = c.mode == model::Mode::kPassthrough ? "bypass" : "block";
    if (auto put = ensure_policies(specs.value()); !put.ok()) {
      st.last_error = put.error().message;
      set(st, kConditionLoaded, ConditionStatus::kTrue, "Shunt", "type= needs no negotiation");
      set(st, kConditionRouted, ConditionStatus::kFalse, "PolicyFailed", put.error().message);
      set(st, kConditionReady, ConditionStatus::kFalse, "PolicyFailed", put.error().message);
      return finish(std::move(st), ReconcileResult::error(put.error().message));
    }
    st.last_error.clear();
    set(st, kConditionLoaded, ConditionStatus::kTrue, "Shunt", "type= needs no negotiation");
    set(st, kConditionRouted, ConditionStatus::kTrue, "ShuntInstalled",
        std::to_string(specs->size()) + " " + kind + " policies installed");
    set(st, kConditionEstablished, ConditionStatus::kFalse, "Shunt", "a shunt has no SAs");
    set(st, kConditionReady, ConditionStatus::kTrue, "ShuntInstalled", kind + " in place");
    return finish(std::move(st), ReconcileResult::done());
  }

  // Load (or reload after a change).
  if (applied_it == applied_.end() || !engine_.loaded(name)) {
    auto loaded = engine_.load(c);
    if (!loaded.ok()) {
      st.last_error = loaded.error;
      st.applied_generation = 0;
      set(st, kConditionLoaded, ConditionStatus::kFalse, "LoadFailed", loaded.error);
      set(st, kConditionReady, ConditionStatus::kFalse, "LoadFailed", loaded.error);
      st.sas.clear();
      return finish(std::move(st), ReconcileResult::error(loaded.error));
    }
    applied_[name] = Applied{entry->generation, entry->connection, engine_.connection(name)};
  }
  const Applied& applied = applied_[name];
  st.applied_generation = applied.generation;
  set(st, kConditionLoaded, ConditionStatus::kTrue, "Loaded",
      "generation " + std::to_string(applied.generation) + " loaded in the engine");

  // Actual SAs carrying this connection.
  st.sas.clear();
  bool established = false;
  bool connecting = initiating_.contains(name);
  bool any_live = false;
  for (auto& ike : engine_.list(name)) {
    bool ours = ike.connection == name;
    for (const auto& child : ike.children) {
      if (child.connection == name) {
        ours = true;
        // A rekey under way keeps the connection up: the old SAs carry the traffic.
        established = established || (ike_sa_up(ike.state) && child_sa_up(child.state));
        any_live = any_live || child_sa_up(child.state);
      }
    }
    if (ike.connection == name) {
      connecting = connecting || ike.state == "connecting";
      any_live = any_live || ike.state != "deleting";
    }
    if (ours) {
      st.sas.push_back(std::move(ike));
    }
  }

  // A dead peer (DPD): dpdaction= decides what stays, as libreswan 4 does.
  if (established) {
    dead_peers_.erase(name);
  }
  const auto dead_it = dead_peers_.find(name);
  const DeadPeer* dead = dead_it == dead_peers_.end() || want.down ? nullptr : &dead_it->second;
  std::string dead_message;
  if (dead != nullptr) {
    dead_message =
        dead->reason + "; dpdaction=" + std::string(model::dpd_action_name(dead->action));
    switch (dead->action) {
      case model::DpdAction::kClear:
        want.route = false;
        want.up = false;
        dead_message +=
            ": SAs and trap policies removed; not started again until the connection is edited, "
            "brought up (ipsec auto --up) or negotiated by the peer";
        break;
      case model::DpdAction::kHold:
        // The operator's unroute still stands: hold keeps traps, it does not add unwanted ones.
        want.route = want.route || entry->intent != Intent::kUnroute;
        dead_message += want.route ? ": trap policies hold the traffic until it is negotiated again"
                                   : ": unrouted by the operator, nothing holds the traffic";
        break;
      case model::DpdAction::kRestart:
        want.up = true;
        dead_message += ": initiating again until it is established";
        break;
    }
  }
  const bool held = dead != nullptr && dead->action == model::DpdAction::kHold && !desired.route;

  // Trap policies.
  const auto traps = trap_policies(*applied.loaded);
  bool routed = false;
  if (want.route) {
    if (!applied.loaded->remote) {
      const std::string why = "a peer of %any cannot be routed: traps need its address";
      set(st, kConditionRouted, ConditionStatus::kFalse, "NoPeerAddress", why);
      st.last_error = why;
    } else if (auto put = ensure_policies(traps); !put.ok()) {
      st.last_error = put.error().message;
      set(st, kConditionRouted, ConditionStatus::kFalse, "RouteFailed", put.error().message);
      set(st, kConditionReady, ConditionStatus::kFalse, "RouteFailed", put.error().message);
      return finish(std::move(st), ReconcileResult::error(put.error().message));
    } else {
      for (const auto& t : traps) {
        trap_owner_[policy_key(t.id)] = name;
      }
      routed = true;
      set(st, kConditionRouted, ConditionStatus::kTrue, "TrapInstalled",
          std::to_string(traps.size()) + " trap policies" +
              (held ? " (dpdaction=hold: the peer stopped answering)" : "") +
              "; traffic starts negotiation");
    }
  } else {
    remove_policies(traps);
    forget_traps(name);
    if (dead != nullptr && desired.route) {
      set(st, kConditionRouted, ConditionStatus::kFalse, "DeadPeer",
          "dpdaction=clear removed the trap policies: the peer stopped answering");
    } else {
      set(st, kConditionRouted, ConditionStatus::kFalse,
          entry->intent == Intent::kUnroute ? "Unrouted" : "NotRouted",
          entry->intent == Intent::kUnroute ? "unrouted by the operator" : "auto= does not route");
    }
  }

  if (want.down) {
    failure_.erase(name);
    set(st, kConditionEstablished, ConditionStatus::kFalse, "Down", "taken down by the operator");
    if (any_live || connecting) {
      close(name, false);
      set(st, kConditionReady, ConditionStatus::kFalse, "Terminating",
          "deleting the SAs, the peer is told");
      // The down events queue it again; the timer is a safety net.
      return finish(std::move(st), ReconcileResult::requeue_after(std::chrono::seconds(1)));
    }
    set(st, kConditionReady, ConditionStatus::kTrue, "Down", "down as the operator asked");
    return finish(std::move(st), ReconcileResult::done());
  }

  // The side that brings the connection up brings its new definition up;
  // the other side's earlier SAs go when the peer replaces them.
  if (established && want.up && engine_.stale(name)) {
    // The SAs of the earlier definition carry the traffic until the new one is up.
    if (auto failed = failure_.find(name); failed != failure_.end()) {
      const std::string why = failed->second;
      failure_.erase(failed);  // again after the queue's backoff
      st.last_error = why;
      set(st, kConditionEstablished, ConditionStatus::kTrue, "ReplaceFailed",
          "the earlier definition's SAs carry the traffic; generation " +
              std::to_string(applied.generation) + " failed: " + why);
      set(st, kConditionReady, ConditionStatus::kTrue, "ReplaceFailed", "traffic is protected");
      return finish(std::move(st), ReconcileResult::error(why));
    }
    if (!initiating_.contains(name)) {
      start_initiate(name, true);
    }
    set(st, kConditionEstablished, ConditionStatus::kTrue, "Replacing",
        "generation " + std::to_string(applied.generation) +
            " is coming up beside the SAs of the earlier definition");
    set(st, kConditionReady, ConditionStatus::kTrue, "Replacing", "traffic is protected");
    return finish(std::move(st), ReconcileResult::waiting());
  }
  if (established) {
    failure_.erase(name);
    last_failure_.erase(name);
    st.last_error.clear();
    set(st, kConditionEstablished, ConditionStatus::kTrue, "Established",
        "IKE and CHILD SA established");
    set(st, kConditionReady, ConditionStatus::kTrue, "Established", "traffic is protected");
    return finish(std::move(st), ReconcileResult::done());
  }

  const auto failed = failure_.find(name);
  const auto last = last_failure_.find(name);
  auto not_established = [&](std::string idle_reason, std::string idle_message) {
    if (dead != nullptr) {
      st.last_error = last != last_failure_.end() ? last->second : dead->reason;
      set(st, kConditionEstablished, ConditionStatus::kFalse, "DeadPeer", dead_message);
    } else if (last != last_failure_.end()) {
      st.last_error = last->second;
      set(st, kConditionEstablished, ConditionStatus::kFalse, "NegotiationFailed", last->second);
    } else {
      set(st, kConditionEstablished, ConditionStatus::kFalse, std::move(idle_reason),
          std::move(idle_message));
    }
  };

  auto not_ready = [&](std::string reason, std::string message) {
    if (dead != nullptr) {
      set(st, kConditionReady, ConditionStatus::kFalse, "DeadPeer", dead_message);
    } else {
      set(st, kConditionReady, ConditionStatus::kFalse, std::move(reason), std::move(message));
    }
  };

  if (want.up) {
    if (connecting) {
      not_established("Connecting", "negotiating");
      not_ready("Connecting", "negotiating");
      return finish(std::move(st), ReconcileResult::waiting());
    }
    if (failed != failure_.end()) {
      // Retry through the queue's backoff, not at once.
      const std::string why = failed->second;
      failure_.erase(failed);
      not_established("", "");
      not_ready("NegotiationFailed", why);
      return finish(std::move(st), ReconcileResult::error(why));
    }
    start_initiate(name);
    not_established("Connecting", "negotiating");
    not_ready("Connecting", "negotiating");
    return finish(std::move(st), ReconcileResult::waiting());
  }

  // Loaded only (add) or routed: up on demand or by the peer.
  if (failed != failure_.end()) {
    failure_.erase(failed);  // no retry: the next packet or the peer tries again
  }
  if (connecting) {
    not_established("Connecting", "negotiating");
  } else if (want.route) {
    not_established("WaitingForTraffic", "a packet matching the traps starts negotiation");
  } else {
    not_established("NotStarted", "auto=add: loaded, waiting for the peer or an up");
  }
  if (want.route && !routed) {
    set(st, kConditionReady, ConditionStatus::kFalse, "NotRouted", "trap policies missing");
  } else if (dead != nullptr && (desired.up || desired.route) && !routed) {
    not_ready("DeadPeer", dead_message);  // dpdaction=clear: what auto= asks for is gone
  } else {
    set(st, kConditionReady, ConditionStatus::kTrue, want.route ? "Routed" : "Loaded",
        want.route ? "traps in place" : "loaded");
  }
  return finish(std::move(st), ReconcileResult::done());
}

void Reconciler::on_engine_event(const engine::Event& event) {
  if ((event.type == engine::EventType::kIkeFailed ||
       event.type == engine::EventType::kChildFailed) &&
      !event.reason.empty()) {
    last_failure_[event.connection] = event.reason;
    ++failures_seen_[event.connection];
  }
  const bool expected = closing_.contains(event.spi_i);
  if (event.type == engine::EventType::kIkeDown || event.type == engine::EventType::kIkeFailed) {
    closing_.erase(event.spi_i);
  }
  if (event.dead_peer && !expected) {
    note_dead_peer(event);
  }
  // dpdaction=clear retries nothing, restart initiates at once: no backoff for either.
  const auto dead = dead_peers_.find(event.connection);
  const bool acted = event.dead_peer && dead != dead_peers_.end() &&
                     dead->second.action != model::DpdAction::kHold;
  if (event.type == engine::EventType::kChildDown && !expected && !acted) {
    // Not our doing (the peer deleted it, or it died): a connection kept up
    // comes back through the queue's backoff, as after a failure.
    if (auto entry = store_.get(event.connection);
        entry && wanted(*entry->connection, entry->intent).up) {
      const std::string why = "CHILD SA went down: " + event.reason;
      failure_[event.connection] = why;
      last_failure_[event.connection] = why;
      ++failures_seen_[event.connection];
    }
  }
  wake_(event.connection);
}

void Reconciler::note_dead_peer(const engine::Event& event) {
  const std::string& name = event.connection;
  auto entry = store_.get(name);
  if (!entry || is_shunt(entry->connection->mode)) {
    return;
  }
  if (auto known = dead_peers_.find(name);
      known != dead_peers_.end() && known->second.ike_spi == event.spi_i) {
    return;  // the same IKE SA's other event
  }
  DeadPeer dead{entry->connection->dpd_action, entry->generation, entry->intent_serial, event.spi_i,
                event.reason};
  // A peer of %any leaves no address to trap or to initiate to: all that is
  // left to do is clear (libreswan: "dpdaction=hold on instance futile").
  if (auto loaded = engine_.connection(name); !loaded || !loaded->remote) {
    dead.action = model::DpdAction::kClear;
  }
  if (dead.action != model::DpdAction::kHold) {
    failure_.erase(name);
  }
  dead_peers_[name] = dead;
  if (on_dead_peer_) {
    on_dead_peer_(name, dead.action, dead.reason);
  }
}

void Reconciler::on_kernel_event(const kernel::Event& event) {
  if (const auto* acquire = std::get_if<kernel::AcquireEvent>(&event)) {
    auto it = trap_owner_.find(policy_key(acquire->policy));
    if (it == trap_owner_.end()) {
      return;  // not one of our traps
    }
    const std::string name = it->second;
    if (!engine_.loaded(name) || initiating_.contains(name)) {
      return;
    }
    // Taken down by the operator: the trap holds the traffic back, it does not bring it up.
    if (auto entry = store_.get(name); !entry || entry->intent == Intent::kDown) {
      return;
    }
    start_initiate(name);
    wake_(name);
    return;
  }
  if (const auto* expire = std::get_if<kernel::ExpireEvent>(&event)) {
    // A hard expire takes an SA away: every connection with that reqid looks again.
    for (const auto& [name, applied] : applied_) {
      if (applied.loaded && applied.loaded->reqid == expire->reqid) {
        wake_(name);
      }
    }
  }
}

size_t Reconciler::prune_policies() {
  std::set<std::string> wanted;
  for (const auto& [key, owner] : trap_owner_) {
    wanted.insert(key);
  }
  for (const auto& [name, applied] : applied_) {
    if (applied.loaded || !applied.connection) {
      continue;
    }
    if (auto shunts = shunt_policies(*applied.connection); shunts.ok()) {
      for (const auto& p : shunts.value()) {
        wanted.insert(policy_key(p.id));
      }
    }
  }
  auto listed = kernel_.list_policies();
  if (!listed.ok()) {
    return 0;
  }
  size_t removed = 0;
  for (const auto& p : listed.value()) {
    // A protect policy belongs to an SA the engine installed: never ours to prune.
    if (!p.own || p.kind == kernel::PolicyKind::kProtect || wanted.contains(policy_key(p.id))) {
      continue;
    }
    if (kernel_.delete_policy(p.id).ok()) {
      ++removed;
    }
  }
  return removed;
}

void Reconciler::teardown_all() {
  for (const auto& [name, applied] : applied_) {
    teardown(name, applied);
  }
  applied_.clear();
  trap_owner_.clear();
}

std::vector<std::string> Reconciler::applied_names() const {
  std::vector<std::string> out;
  out.reserve(applied_.size());
  for (const auto& [name, applied] : applied_) {
    out.push_back(name);
  }
  return out;
}

std::optional<ReconcileStatus> Reconciler::status(const std::string& name) const {
  std::lock_guard lock(status_mu_);
  auto it = statuses_.find(name);
  if (it == statuses_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<ReconcileStatus> Reconciler::statuses() const {
  std::lock_guard lock(status_mu_);
  std::vector<ReconcileStatus> out;
  out.reserve(statuses_.size());
  for (const auto& [name, st] : statuses_) {
    out.push_back(st);
  }
  return out;
}

// ---- Controller ----

Controller::Controller(Store& store, engine::Engine& engine, kernel::Backend& kernel,
                       engine::EventLoop& loop, Clock& clock, ControllerOptions options)
    : store_(store),
      engine_(engine),
      kernel_(kernel),
      loop_(loop),
      options_(options),
      queue_(clock, options.queue) {
  reconciler_ = std::make_unique<Reconciler>(
      store_, engine_, kernel_, clock, [this](const std::string& n) { queue_.add(n); },
      options_.on_dead_peer);
}

Controller::~Controller() {
  stop();
}

void Controller::on_loop_and_wait(std::function<void()> fn) {
  std::promise<void> ran;
  auto done = ran.get_future();
  loop_.post([&fn, &ran] {
    fn();
    ran.set_value();
  });
  done.wait();
}

void Controller::start() {
  if (started_) {
    return;
  }
  started_ = true;
  on_loop_and_wait([this] {
    subscription_ =
        engine_.subscribe([this](const engine::Event& e) { reconciler_->on_engine_event(e); });
    const int fd = kernel_.event_fd();
    if (fd >= 0) {
      watching_kernel_ =
          loop_
              .watch(fd,
                     [this] {
                       for (const auto& e : kernel_.read_events(std::chrono::milliseconds(0))) {
                         // The engine first: a soft expire starts its rekey, a hard
                         // one takes the CHILD SA down before the reconciler looks.
                         engine_.on_kernel_event(e);
                         reconciler_->on_kernel_event(e);
                       }
                     })
              .empty();
    }
    schedule_resync();
  });
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  resync();
}

void Controller::stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  queue_.shut_down();
  if (dispatcher_.joinable()) {
    dispatcher_.join();
  }
  on_loop_and_wait([this] {
    alive_.reset();  // reconciles already posted do nothing now
    engine_.unsubscribe(subscription_);
    if (watching_kernel_) {
      loop_.unwatch(kernel_.event_fd());
      watching_kernel_ = false;
    }
    loop_.cancel(resync_timer_);
  });
}

void Controller::dispatch_loop() {
  while (auto key = queue_.get()) {
    loop_.post([this, name = *key, token = std::weak_ptr<int>(alive_)] {
      if (token.lock()) {
        run_one(name);
      }
    });
  }
}

void Controller::run_one(const std::string& name) {
  const auto started = std::chrono::steady_clock::now();
  const ReconcileResult result = reconciler_->reconcile(name);
  reconciles_.fetch_add(1);
  if (options_.on_reconcile) {
    options_.on_reconcile(
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - started),
        result.kind == ReconcileResult::Kind::kError);
  }
  switch (result.kind) {
    case ReconcileResult::Kind::kDone:
      queue_.forget(name);
      break;
    case ReconcileResult::Kind::kWaiting:
      break;
    case ReconcileResult::Kind::kRequeueAfter:
      queue_.add_after(name, result.after);
      break;
    case ReconcileResult::Kind::kError:
      queue_.add_rate_limited(name);
      break;
  }
  queue_.done(name);
}

void Controller::schedule_resync() {
  resync_timer_ = loop_.schedule(options_.resync_period, [this] {
    resync();
    schedule_resync();
  });
}

Changes Controller::apply(const std::string& origin, Snapshot snapshot) {
  Changes changes = store_.apply(origin, std::move(snapshot));
  for (const auto& name : changes.names()) {
    queue_.add(name);
  }
  return changes;
}

model::Result<Intent> Controller::set_intent(const std::string& name, Intent intent) {
  auto previous = store_.set_intent(name, intent);
  if (previous.ok()) {
    queue_.add(name);
  }
  return previous;
}

void Controller::enqueue(const std::string& name) {
  queue_.add(name);
}

void Controller::resync() {
  for (const auto& name : store_.names()) {
    queue_.add(name);
  }
  // Removed names: applied_names() is loop-only, so the loop queues them.
  loop_.post([this, token = std::weak_ptr<int>(alive_)] {
    if (token.lock()) {
      for (const auto& name : reconciler_->applied_names()) {
        queue_.add(name);
      }
    }
  });
}

uint64_t Controller::reconciles() const {
  return reconciles_.load();
}

}  // namespace ipsecd::controller
