#include "controller/daemon/daemon.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <set>

#include "controller/api/api.h"
#include "controller/metrics/metrics.h"
#include "controller/reconciler.h"
#include "controller/sa_status.h"
#include "controller/sources/source_feed.h"
#include "controller/sources/sources.h"
#include "controller/store.h"
#include "engine/clock.h"
#include "engine/crypto/random.h"
#include "engine/engine.h"
#include "engine/event_loop.h"
#include "engine/udp_transport.h"
#include "engine/x509/cert_store.h"
#include "kernel/memory/memory_backend.h"
#include "kernel/xfrm/xfrm_backend.h"
#include "model/secrets.h"

namespace ipsecd::controller {
namespace {

// Why NAME may not be changed through the API: not there, or defined by a file
// (ADVICE says what to do instead); nullopt when the API defined it.
std::optional<Error> not_api_owned(const Store& store, const std::string& name,
                                   std::string_view advice) {
  std::optional<Entry> existing = store.get(name);
  if (!existing) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  if (existing->origin != "api") {
    return Error{ErrorCode::kConflict, "connection " + name + " is defined by " + existing->origin +
                                           "; " + std::string(advice)};
  }
  return std::nullopt;
}

using BoolResult = model::Result<bool>;

// How often the loop looks at readiness and refreshes the metrics' levels.
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);
constexpr auto kMetricsPeriod = std::chrono::seconds(5);
// How long a clean stop waits for the peers to answer our DELETEs.
constexpr auto kDeleteGrace = std::chrono::seconds(3);

std::string_view auto_name(model::AutoAction a) {
  switch (a) {
    case model::AutoAction::kIgnore:
      return "ignore";
    case model::AutoAction::kAdd:
      return "add";
    case model::AutoAction::kRoute:
      return "route";
    case model::AutoAction::kStart:
      return "start";
  }
  return "add";
}

IkeFailure failure_reason(std::string_view reason) {
  auto has = [&](std::string_view what) { return reason.find(what) != std::string_view::npos; };
  if (has("AUTHENTICATION_FAILED") || has("authentication") || has("PSK")) {
    return IkeFailure::kAuthentication;
  }
  if (has("NO_PROPOSAL_CHOSEN") || has("proposal")) {
    return IkeFailure::kNoProposal;
  }
  if (has("TS_UNACCEPTABLE") || has("selector")) {
    return IkeFailure::kTsUnacceptable;
  }
  if (has("no response") || has("not responding") || has("timed out") || has("timeout") ||
      has("retransmit")) {
    return IkeFailure::kTimeout;
  }
  if (has("kernel") || has("local")) {
    return IkeFailure::kLocalError;
  }
  return IkeFailure::kPeerError;
}

// Every address of every interface that is up: libreswan listens on all of them.
std::vector<kernel::Address> interface_addresses() {
  std::vector<kernel::Address> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return out;
  }
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || (i->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      out.push_back(kernel::Address::from_bytes(kernel::Family::kIpv4,
                                                reinterpret_cast<const uint8_t*>(&sin->sin_addr)));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      const uint8_t* b = reinterpret_cast<const uint8_t*>(&sin6->sin6_addr);
      if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        continue;  // link-local: needs a scope, and IKE peers never use it
      }
      out.push_back(kernel::Address::from_bytes(kernel::Family::kIpv6, b));
    }
  }
  ::freeifaddrs(list);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

// ---- start-up ----------------------------------------------------------------

Daemon::Daemon(DaemonOptions options, Logger& log) : options_(std::move(options)), log_(log) {}

model::Result<std::unique_ptr<Daemon>> Daemon::start(DaemonOptions options, Logger& log) {
  auto daemon = std::make_unique<Daemon>(std::move(options), log);
  if (auto ok = daemon->init(); !ok) {
    daemon->shutdown();
    return model::Result<std::unique_ptr<Daemon>>::failure(ok.error());
  }
  return daemon;
}

BoolResult Daemon::init() {
  started_at_ = std::chrono::system_clock::now();
  if (auto dir = prepare_state_dir(options_.state_dir); !dir) {
    return BoolResult::failure("--state-dir " + options_.state_dir + ": " + dir.error());
  }
  auto certs = CertStore::open(options_.ipsecdir);
  if (!certs.ok()) {
    return BoolResult::failure("--ipsecdir " + options_.ipsecdir + ": " + certs.error());
  }
  certs_ = std::move(certs).value();
  if (auto k = open_kernel(); !k) {
    return k;
  }
  clock_ = std::make_unique<engine::RealClock>();
  loop_ = std::make_unique<engine::EpollLoop>(*clock_);
  random_ = std::make_unique<engine::crypto::SystemRandom>();
  if (auto t = open_transport(); !t) {
    return t;
  }
  engine::EngineOptions eo;
  eo.ike_port = options_.ike_port;
  eo.natt_port = options_.natt_port;
  eo.cookie_threshold = options_.cookie_threshold;
  eo.max_child_sas_per_connection = options_.max_child_sas_per_connection;
  eo.max_ike_sas_per_peer = options_.max_ike_sas_per_peer;
  eo.nat_keepalive_interval = options_.nat_keepalive;
  eo.log = [this](std::string_view line) { log_.info("engine", line); };
  engine_ = std::make_unique<engine::Engine>(*loop_, *transport_, *kernel_, *random_, eo);

  if (!options_.metrics.empty() && options_.metrics != "off") {
    MetricsOptions mo;
    mo.listen = options_.metrics;
    mo.per_connection_labels = options_.per_connection_metrics;
    metrics_ = std::make_unique<Metrics>(mo);
    auto bound = metrics_->serve();
    if (!bound) {
      return BoolResult::failure(bound.error());
    }
    log_.info("metrics", "serving /metrics on " + bound->url());
  }

  store_ = std::make_unique<Store>(options_.state_dir);
  for (const auto& d : store_->load_intents()) {
    log_.warning("store", d.str());
  }
  ControllerOptions co;
  co.resync_period = options_.resync_period;
  if (metrics_) {
    co.on_reconcile = [m = metrics_.get()](Duration took, bool error) {
      m->reconciled(took, error);
    };
  }
  co.on_dead_peer = [this](const std::string& name, model::DpdAction action,
                           const std::string& reason) {
    log_.warning("controller", name + ": dead peer (" + reason +
                                   "); dpdaction=" + std::string(model::dpd_action_name(action)));
    if (metrics_) {
      metrics_->dead_peer(action);
    }
  };
  controller_ = std::make_unique<Controller>(*store_, *engine_, *kernel_, *loop_, real_clock(), co);

  if (!options_.secrets.empty()) {
    auto parsed = model::parse_secrets_file(options_.secrets);
    for (const auto& d : parsed.diagnostics.all()) {
      log_.log(d.severity == model::Severity::kError ? LogLevel::kError : LogLevel::kWarning,
               "secrets", d.str());
    }
    engine_->set_secrets(std::make_shared<const model::Secrets>(std::move(parsed.secrets)));
  }

  loop_thread_ = std::thread([this] { loop_->run(); });
  controller_->start();
  engine::Engine* engine = engine_.get();
  run_on_loop([this, engine] {
    [[maybe_unused]] uint64_t id =
        engine->subscribe([this](const engine::Event& e) { on_engine_event(e); });
    loop_->schedule(kHousekeepingPeriod, [this] { housekeeping(); });
  });

  if (auto s = start_sources(); !s) {
    return s;
  }
  if (auto l = start_listeners(); !l) {
    return l;
  }
  return true;
}

BoolResult Daemon::open_kernel() {
  if (options_.kernel == KernelKind::kMemory) {
    kernel_ = std::make_unique<kernel::MemoryBackend>(std::make_shared<kernel::MemoryKernel>());
    log_.info("kernel", "memory kernel (in-process; no packet is protected)");
    return true;
  }
  auto own = kernel::Ownership::load_or_create(options_.state_dir);
  if (!own.ok()) {
    return BoolResult::failure("--kernel xfrm: " + own.error().message);
  }
  auto backend = kernel::XfrmBackend::open(own.value());
  if (!backend.ok()) {
    return BoolResult::failure("--kernel xfrm: " + backend.error().message);
  }
  kernel_ = std::move(backend).value();
  // An earlier run's SA-bound policies have no SA we can key any more: turn
  // them into traps, so their traffic waits for a negotiation instead of
  // leaking in clear, and let the first sync prune what nothing wants.
  size_t converted = 0;
  if (auto listed = kernel_->list_policies(); listed.ok()) {
    for (const auto& p : listed.value()) {
      if (p.own && p.kind == kernel::PolicyKind::kProtect) {
        kernel::PolicySpec trap;
        trap.id = p.id;
        trap.kind = kernel::PolicyKind::kTrap;
        trap.templates = p.templates;
        trap.lifetime = p.lifetime;
        if (kernel_->update_policy(trap).ok()) {
          ++converted;
        }
      }
    }
  }
  const kernel::SweepReport report = kernel_->sweep(
      [](const kernel::PolicyState& p) { return p.kind != kernel::PolicyKind::kProtect; },
      [](const kernel::SaState&) { return false; });
  log_.info("kernel", "xfrm: kept " + std::to_string(report.adopted_policies) + " own policies (" +
                          std::to_string(converted) + " turned into traps), removed " +
                          std::to_string(report.removed_policies) + " policies and " +
                          std::to_string(report.removed_sas) + " SAs of an earlier run, left " +
                          std::to_string(report.foreign) + " foreign objects alone");
  for (const auto& f : report.failures) {
    log_.warning("kernel", "start-up sweep: " + f.message);
  }
  return true;
}

BoolResult Daemon::open_transport() {
  engine::UdpOptions uo;
  uo.ike_port = options_.ike_port;
  uo.natt_port = options_.natt_port;
  for (const auto& text : options_.listen) {
    // libreswan's listen= takes one address; --listen is repeatable.
    auto a = kernel::Address::parse(text);
    if (!a) {
      return BoolResult::failure("--listen '" + text + "': expected an IPv4 or IPv6 address");
    }
    uo.addresses.push_back(*a);
  }
  if (uo.addresses.empty()) {
    uo.addresses = interface_addresses();
    if (uo.addresses.empty()) {
      return BoolResult::failure("no interface address to listen on; give --listen ADDR");
    }
  }
  std::string error;
  transport_ = engine::UdpTransport::open(*loop_, uo, error);
  if (!transport_) {
    return BoolResult::failure("IKE sockets: " + error);
  }
  std::string where;
  for (const auto& ep : transport_->local_endpoints()) {
    where += (where.empty() ? "" : ", ") + ep.str();
  }
  log_.info("engine", "IKE on " + where);
  return true;
}

BoolResult Daemon::start_sources() {
  WatcherOptions wo;
  wo.debounce = options_.debounce;
  auto observe = [this](SourceFeed::Source source) {
    const std::string origin = source.origin;
    // Every load, full or of the changed files only, is logged and counted.
    auto report = [this, origin](const Snapshot& snapshot) {
      for (const auto& d : snapshot.diagnostics) {
        log_.log(d.severity == model::Severity::kError ? LogLevel::kError : LogLevel::kWarning,
                 "config", d.str());
      }
      if (!snapshot.ok()) {
        log_.error("config", origin + ": rejected; the last good state stays");
      }
      if (metrics_) {
        metrics_->config_reloaded(snapshot.ok(), std::chrono::system_clock::now());
      }
    };
    source.load = [report, load = source.load] {
      Snapshot snapshot = load();
      report(snapshot);
      return snapshot;
    };
    if (source.load_changed) {
      source.load_changed = [report, load = source.load_changed](const std::set<std::string>& p) {
        Snapshot snapshot = load(p);
        report(snapshot);
        return snapshot;
      };
    }
    return source;
  };
  if (!options_.config.empty()) {
    model::ParseOptions po;
    po.keep_ignored = false;
    config_source_ = std::make_unique<ConfigFileSource>(options_.config, po);
    auto feed = SourceFeed::start(*controller_, observe(SourceFeed::from(*config_source_)), wo);
    if (!feed.ok()) {
      return BoolResult::failure(feed.error());
    }
    feeds_.push_back(std::move(feed).value());
  }
  for (const auto& dir : options_.watch_dirs) {
    dir_sources_.push_back(std::make_unique<WatchDirSource>(dir));
    auto feed =
        SourceFeed::start(*controller_, observe(SourceFeed::from(*dir_sources_.back())), wo);
    if (!feed.ok()) {
      return BoolResult::failure(feed.error());
    }
    feeds_.push_back(std::move(feed).value());
  }
  for (const auto& feed : feeds_) {
    for (const auto& problem : feed->watch_problems()) {
      if (!problem.empty()) {
        log_.warning("config", problem);
      }
    }
  }
  if (!options_.secrets.empty()) {
    auto watcher = DirectoryWatcher::start(
        [this] {
          auto r = reload_secrets();
          if (r.ok()) {
            log_.info("secrets", options_.secrets + " changed: " + std::to_string(r->secrets) +
                                     " secrets loaded");
          }
        },
        wo);
    if (!watcher.ok()) {
      return BoolResult::failure("--secrets " + options_.secrets + ": " + watcher.error());
    }
    secrets_watcher_ = std::move(watcher).value();
    for (const auto& problem :
         secrets_watcher_->watch({WatchTarget{WatchTarget::Kind::kFile, options_.secrets, {}}})) {
      log_.warning("secrets", problem);
    }
  }
  maybe_drop_pending_intents();
  return true;
}

BoolResult Daemon::start_listeners() {
  ApiOptions ao;
  ao.listen = options_.api;
  ao.state_dir = options_.state_dir;
  api_ = std::make_unique<ApiServer>(*this, ao);
  auto bound = api_->start();
  if (!bound) {
    return BoolResult::failure(bound.error());
  }
  log_.info("api",
            "REST API on " + bound->url() + " (address and token in " + options_.state_dir + ")");
  if (!options_.health.empty() && options_.health != "off") {
    ApiOptions ho;
    ho.listen = options_.health;
    ho.probes_only = true;
    health_ = std::make_unique<ApiServer>(*this, ho);
    auto h = health_->start();
    if (!h) {
      return BoolResult::failure(h.error());
    }
    log_.info("api", "/healthz and /readyz on " + h->url());
  }
  return true;
}

void Daemon::maybe_drop_pending_intents() {
  if (intents_settled_.load() || !store_) {
    return;
  }
  for (const auto& origin : store_->origins()) {
    if (!store_->errors(origin).empty()) {
      return;  // a broken file may still define a name whose intent waits
    }
  }
  if (auto dropped = store_->drop_pending_intents(); !dropped) {
    log_.warning("store", dropped.error());
  }
  intents_settled_.store(true);
}

void Daemon::run_on_loop(const std::function<void()>& fn) {
  std::promise<void> ran;
  auto done = ran.get_future();
  loop_->post([&fn, &ran] {
    fn();
    ran.set_value();
  });
  done.wait();
}

// ---- the loop's periodic work --------------------------------------------------

void Daemon::housekeeping() {
  if (stopping_.load()) {
    return;
  }
  // Every name reconciled once: keys waiting out a backoff (failing ones) do not hold it up.
  if (!synced_.load() && controller_->queue().depth() == 0 &&
      controller_->queue().in_flight() == 0) {
    const size_t pruned = controller_->reconciler_for_loop().prune_policies();
    synced_.store(true);
    log_.info(
        "controller",
        "in sync: " + std::to_string(store_->size()) + " connections reconciled" +
            (pruned ? ", " + std::to_string(pruned) + " policies of an earlier run removed" : ""));
  }
  maybe_drop_pending_intents();
  const auto now = std::chrono::steady_clock::now();
  if (metrics_ && now - last_metrics_ >= kMetricsPeriod) {
    last_metrics_ = now;
    update_metrics();
  }
  loop_->schedule(kHousekeepingPeriod, [this] { housekeeping(); });
}

void Daemon::update_metrics() {
  const Reconciler::Summary sum = controller_->reconciler().summary();
  for (auto s : {ConnectionState::kLoaded, ConnectionState::kRouted, ConnectionState::kConnecting,
                 ConnectionState::kEstablished, ConnectionState::kFailing}) {
    metrics_->set_connections(s, sum.by_state[static_cast<size_t>(s)]);
  }
  size_t ike[4] = {};
  size_t children = 0;
  std::map<std::string, std::map<uint32_t, std::pair<uint64_t, uint64_t>>> seen;
  for (const auto& sa : engine_->list()) {
    ++ike[static_cast<size_t>(ike_sa_metric_state(sa.state))];
    for (const auto& c : sa.children) {
      ++children;
      // Per-SA counters restart with every SA: count what each grew since the last look.
      auto& last = bytes_seen_[c.connection][c.spi_in];
      const uint64_t din = c.in.bytes >= last.first ? c.in.bytes - last.first : c.in.bytes;
      const uint64_t dout = c.out.bytes >= last.second ? c.out.bytes - last.second : c.out.bytes;
      // A new SA is reported even with nothing moved yet, so its series exists from the start.
      if (din != 0 || dout != 0 || (last.first == 0 && last.second == 0)) {
        metrics_->child_sa_bytes(c.connection, din, dout);
      }
      seen[c.connection][c.spi_in] = {c.in.bytes, c.out.bytes};
    }
  }
  for (const auto& [name, spis] : bytes_seen_) {
    if (!seen.contains(name) && !store_->get(name)) {
      metrics_->forget_connection(name);
    }
  }
  bytes_seen_ = std::move(seen);
  for (auto s : {IkeSaState::kConnecting, IkeSaState::kEstablished, IkeSaState::kRekeying,
                 IkeSaState::kDeleting}) {
    metrics_->set_ike_sas(s, ike[static_cast<size_t>(s)]);
  }
  metrics_->set_child_sas(children);
  metrics_->set_work_queue_depth(controller_->queue().depth());
  metrics_->set_limit_refusals(engine_->refused_child_sas(), engine_->refused_ike_sas());
}

// Every engine event: a log line, and the metrics' events.
void Daemon::on_engine_event(const engine::Event& e) {
  if (e.type == engine::EventType::kRekeyed) {
    log_.info("engine", e.connection + ": " + describe_rekey(e));
  } else if (e.type == engine::EventType::kRekeyFailed) {
    log_.warning("engine", e.connection + ": " + describe_rekey(e));
  } else if (e.type == engine::EventType::kIkeUp || e.type == engine::EventType::kChildUp ||
             e.type == engine::EventType::kIkeDown || e.type == engine::EventType::kChildDown) {
    log_.info("engine", e.connection + ": " + std::string(engine::name(e.type)) +
                            (e.reason.empty() ? "" : " (" + e.reason + ")"));
  } else {
    log_.warning("engine",
                 e.connection + ": " + std::string(engine::name(e.type)) + ": " + e.reason);
  }
  if (!metrics_) {
    return;
  }
  if (e.type == engine::EventType::kIkeUp) {
    metrics_->ike_sa_established(std::chrono::duration_cast<Duration>(e.handshake));
  } else if (e.type == engine::EventType::kIkeFailed) {
    metrics_->ike_sa_failed(failure_reason(e.reason));
  } else if (e.type == engine::EventType::kRekeyed) {
    metrics_->rekey_finished(rekey_kind(e.rekey), RekeyResult::kSuccess);
  } else if (e.type == engine::EventType::kRekeyFailed) {
    metrics_->rekey_finished(rekey_kind(e.rekey), RekeyResult::kFailure);
  }
}

// ---- reload and shutdown -----------------------------------------------------------

void Daemon::reload() {
  log_.info("daemon", "rereading the configuration and secrets");
  for (const auto& feed : feeds_) {
    const Changes c = feed->reload();
    if (c.accepted && !c.empty()) {
      log_.info("config", std::to_string(c.added.size()) + " added, " +
                              std::to_string(c.updated.size()) + " changed, " +
                              std::to_string(c.removed.size()) + " removed");
    }
  }
  if (!options_.secrets.empty()) {
    auto r = reload_secrets();
    if (!r.ok()) {
      log_.error("secrets", r.error().message);
    }
  }
  controller_->resync();
}

void Daemon::shutdown() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) {
    return;
  }
  stopped_ = true;
  stopping_.store(true);
  if (health_) {
    health_->stop();
  }
  if (api_) {
    api_->stop();
  }
  feeds_.clear();
  secrets_watcher_.reset();
  const bool loop_running = loop_thread_.joinable();
  if (controller_ && loop_running) {
    controller_->stop();
  }
  if (loop_running && kernel_ && !options_.keep_dataplane_on_exit) {
    log_.info("daemon", "stopping: deleting SAs (telling the peers) and policies");
    run_on_loop([this] { controller_->reconciler_for_loop().teardown_all(); });
    // Wait for the DELETE exchanges, a little.
    const auto deadline = std::chrono::steady_clock::now() + kDeleteGrace;
    while (std::chrono::steady_clock::now() < deadline) {
      size_t left = 0;
      run_on_loop([this, &left] { left = engine_->ike_sa_count(); });
      if (left == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } else if (options_.keep_dataplane_on_exit) {
    log_.info("daemon", "stopping: leaving SAs and policies in the kernel");
  }
  if (loop_running) {
    loop_->stop();
    loop_thread_.join();
  }
  if (kernel_ && !options_.keep_dataplane_on_exit) {
    // Whatever is left of ours (SAs whose DELETE got no answer, policies).
    const kernel::SweepReport report =
        kernel_->sweep([](const kernel::PolicyState&) { return false; },
                       [](const kernel::SaState&) { return false; });
    if (report.removed_policies + report.removed_sas > 0) {
      log_.info("kernel", "removed " + std::to_string(report.removed_policies) + " policies and " +
                              std::to_string(report.removed_sas) + " SAs");
    }
  }
  if (metrics_) {
    metrics_->stop();
  }
  controller_.reset();
  engine_.reset();
  transport_.reset();
}

Daemon::~Daemon() {
  shutdown();
}

std::optional<ListenAddress> Daemon::api_address() const {
  return api_ ? std::optional(api_->address()) : std::nullopt;
}
std::optional<ListenAddress> Daemon::metrics_address() const {
  return metrics_ ? std::optional(metrics_->address()) : std::nullopt;
}
std::optional<ListenAddress> Daemon::health_address() const {
  return health_ ? std::optional(health_->address()) : std::nullopt;
}

// ---- Control ---------------------------------------------------------------------------

std::map<std::string, std::vector<engine::IkeSaInfo>> Daemon::live_sas(
    const std::vector<std::string>& names) {
  std::map<std::string, std::vector<engine::IkeSaInfo>> out;
  if (stopping_.load()) {
    return out;  // the loop may be gone: the last reconcile's view will do
  }
  run_on_loop([&] {
    for (const auto& name : names) {
      out[name] = engine_->list(name);
    }
  });
  return out;
}

ConnectionStatus Daemon::status_of(const std::string& name,
                                   const std::vector<engine::IkeSaInfo>* live) const {
  ConnectionStatus out;
  out.name = name;
  const auto entry = store_->get(name);
  const auto st = controller_->reconciler().status(name);
  if (entry) {
    out.origin = entry->origin;
    out.generation = entry->generation;
    out.intent = entry->intent;
    out.auto_action = std::string(auto_name(entry->connection->auto_action));
    out.last_error = entry->last_error;
  }
  if (!st) {
    Condition pending{std::string(kConditionReady),
                      ConditionStatus::kUnknown,
                      "Pending",
                      "not reconciled yet",
                      started_at_,
                      out.generation};
    out.conditions.set_condition(pending, started_at_);
    return out;
  }
  out.observed_generation = st->applied_generation;
  out.conditions = st->conditions;
  if (!st->last_error.empty()) {
    out.last_error = st->last_error;
  }
  const uint16_t natt = transport_ ? transport_->natt_port() : 4500;
  for (const auto& sa : live != nullptr ? *live : st->sas) {
    const bool encapsulated = sa.local.ends_with(":" + std::to_string(natt));
    out.ike_sas.push_back(ike_sa_status(sa));
    for (const auto& c : sa.children) {
      if (c.connection != name) {
        continue;
      }
      out.child_sas.push_back(child_sa_status(c, encapsulated));
    }
  }
  return out;
}

ControlResult<std::vector<ConnectionStatus>> Daemon::list() {
  std::vector<ConnectionStatus> out;
  const auto names = store_->names();
  const auto live = live_sas(names);
  out.reserve(names.size());
  for (const auto& name : names) {
    auto it = live.find(name);
    out.push_back(status_of(name, it == live.end() ? nullptr : &it->second));
  }
  return out;
}

ControlResult<ConnectionStatus> Daemon::get(const std::string& name) {
  if (!store_->get(name)) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  const auto live = live_sas({name});
  auto it = live.find(name);
  return status_of(name, it == live.end() ? nullptr : &it->second);
}

Changes Daemon::apply_api_locked() {
  Snapshot snapshot;
  for (const auto& [name, c] : api_conns_) {
    snapshot.connections.push_back(Definition{c, "", 0});  // shared, not copied
  }
  return controller_->apply("api", std::move(snapshot));
}

ControlResult<ConnectionStatus> Daemon::add(ConnectionSpec spec) {
  if (stopping_.load()) {
    return Error{ErrorCode::kUnavailable, "ipsecd is stopping"};
  }
  const std::string name = spec.connection.name;
  {
    std::lock_guard lock(api_mu_);
    if (auto existing = store_->get(name)) {
      return Error{ErrorCode::kConflict,
                   "connection " + name + " already exists (from " + existing->origin + ")"};
    }
    api_conns_[name] = std::make_shared<const model::Connection>(std::move(spec.connection));
    apply_api_locked();
  }
  log_.info("api", "added " + name);
  return status_of(name);
}

ControlResult<ConnectionStatus> Daemon::replace(const std::string& name, ConnectionSpec spec) {
  if (stopping_.load()) {
    return Error{ErrorCode::kUnavailable, "ipsecd is stopping"};
  }
  {
    std::lock_guard lock(api_mu_);
    if (std::optional<Error> refused = not_api_owned(*store_, name, "edit that file instead")) {
      return *refused;
    }
    api_conns_[name] = std::make_shared<const model::Connection>(std::move(spec.connection));
    apply_api_locked();
  }
  log_.info("api", "replaced " + name);
  return status_of(name);
}

ControlResult<Done> Daemon::remove(const std::string& name) {
  {
    std::lock_guard lock(api_mu_);
    if (std::optional<Error> refused = not_api_owned(*store_, name, "remove it from that file")) {
      return *refused;
    }
    api_conns_.erase(name);
    apply_api_locked();
  }
  log_.info("api", "deleted " + name);
  return Done{};
}

ControlResult<IntentOutcome> Daemon::intent(const std::string& name, Intent intent,
                                            std::optional<Duration> wait) {
  if (stopping_.load()) {
    return Error{ErrorCode::kUnavailable, "ipsecd is stopping"};
  }
  if (!store_->get(name)) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  const auto before = controller_->reconciler().status(name);
  const uint64_t failures_before = before ? before->failures : 0;
  auto set = controller_->set_intent(name, intent);
  if (!set.ok()) {
    return Error{ErrorCode::kFailed, set.error()};
  }
  log_.info("api", name + ": intent " + std::string(intent_name(intent)));
  IntentOutcome outcome;
  outcome.intent = intent;
  if (!wait) {
    outcome.connection = status_of(name);
    return outcome;
  }
  const auto entry = store_->get(name);
  const uint64_t generation = entry ? entry->generation : 0;
  bool failed = false;
  auto done = [&](const std::optional<ReconcileStatus>& st) {
    if (!st) {
      return false;
    }
    if (st->intent != intent || st->generation != generation) {
      return false;  // not reconciled since the intent was set
    }
    if (st->failures > failures_before) {
      failed = true;
      return true;
    }
    const Condition* ready = st->conditions.find(kConditionReady);
    switch (intent) {
      case Intent::kUp:
        return st->conditions.is_true(kConditionEstablished);
      case Intent::kDown:
        return ready != nullptr && ready->status == ConditionStatus::kTrue;
      case Intent::kRoute:
        if (const Condition* r = st->conditions.find(kConditionRouted);
            r != nullptr && (r->reason == "RouteFailed" || r->reason == "NoPeerAddress")) {
          failed = true;
          return true;
        }
        return st->conditions.is_true(kConditionRouted);
      case Intent::kUnroute:
        return !st->conditions.is_true(kConditionRouted);
      case Intent::kNone:
        return true;
    }
    return true;
  };
  auto [held, last] = controller_->reconciler().wait_status(name, done, *wait);
  outcome.connection = status_of(name);
  if (!held) {
    if (!store_->get(name)) {
      return Error{ErrorCode::kNotFound, "connection " + name + " was removed while waiting"};
    }
    return Error{
        ErrorCode::kTimeout,
        name + ": " + std::string(intent_name(intent)) + " did not complete within " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*wait).count()) + " s" +
            (outcome.connection.last_error.empty()
                 ? std::string()
                 : "; last error: " + outcome.connection.last_error)};
  }
  if (failed) {
    return Error{ErrorCode::kFailed,
                 name + ": " + std::string(intent_name(intent)) + " failed: " +
                     (last && !last->last_error.empty() ? last->last_error : "negotiation failed")};
  }
  outcome.completed = true;
  return outcome;
}

ControlResult<DaemonStatus> Daemon::status() {
  DaemonStatus out;
  out.version = IPSECD_VERSION;
  out.started_at = started_at_;
  out.ready = synced_.load();
  const Reconciler::Summary sum = controller_->reconciler().summary();
  out.connections = store_->size();
  out.established = sum.established;
  out.routed = sum.routed;
  out.failing = sum.failing;
  out.ike_sas = sum.ike_sas;
  out.child_sas = sum.child_sas;
  out.work_queue_depth = controller_->queue().depth();
  auto per_origin = store_->origin_sizes();
  for (const auto& origin : store_->origins()) {
    SourceStatus s;
    s.origin = origin;
    s.connections = per_origin[origin];
    for (const auto& d : store_->errors(origin)) {
      s.errors.push_back(d.str());
    }
    out.sources.push_back(std::move(s));
  }
  return out;
}

ControlResult<SecretsReload> Daemon::reload_secrets() {
  if (options_.secrets.empty()) {
    return Error{ErrorCode::kInvalid, "ipsecd runs without --secrets: there is nothing to reread"};
  }
  std::lock_guard lock(secrets_mu_);
  auto parsed = model::parse_secrets_file(options_.secrets);
  SecretsReload out;
  std::string errors;
  for (const auto& d : parsed.diagnostics.all()) {
    if (d.severity == model::Severity::kError) {
      errors += (errors.empty() ? "" : "; ") + d.str();
    } else {
      out.warnings.push_back(d.str());
    }
  }
  if (!errors.empty()) {
    return Error{ErrorCode::kInvalid, "secrets not reloaded, the old ones stay: " + errors};
  }
  out.secrets = parsed.secrets.entries.size();
  auto secrets = std::make_shared<const model::Secrets>(std::move(parsed.secrets));
  if (stopping_.load()) {
    return Error{ErrorCode::kUnavailable, "ipsecd is stopping"};
  }
  run_on_loop([this, &secrets] { engine_->set_secrets(secrets); });
  return out;
}

ControlResult<Done> Daemon::ready() {
  if (stopping_.load()) {
    return Error{ErrorCode::kUnavailable, "ipsecd is stopping"};
  }
  if (!synced_.load()) {
    return Error{ErrorCode::kUnavailable, "the first reconcile of every connection is not done"};
  }
  return Done{};
}

namespace {

// The loaded connections, whose leftrsasigkey=/leftcert= the pubkeys listing shows; valid
// while `entries` lives.
std::vector<const model::Connection*> connections_of(const std::vector<Entry>& entries) {
  std::vector<const model::Connection*> connections;
  connections.reserve(entries.size());
  for (const Entry& e : entries) {
    if (e.connection) {
      connections.push_back(e.connection.get());
    }
  }
  return connections;
}

}  // namespace

ControlResult<CertListing> Daemon::list_certs(CertKind kind) {
  const std::vector<Entry> entries = store_->entries();
  return certs_->listing(kind, connections_of(entries));
}

ControlResult<std::vector<CertListing>> Daemon::reload_certs(std::optional<CertKind> kind) {
  const std::vector<Entry> entries = store_->entries();
  auto reloaded = certs_->reload(kind, connections_of(entries));
  log_.info("certs", "reread " + options_.ipsecdir);
  return reloaded;
}

ControlResult<CertCheck> Daemon::check_certs(Duration window) {
  return certs_->check(window, std::chrono::system_clock::now());
}

ControlResult<size_t> Daemon::purge_ocsp() {
  return certs_->purge_ocsp();
}

ControlResult<std::vector<PolicyGroup>> Daemon::list_groups() {
  return certs_->groups();
}

ControlResult<std::vector<PolicyGroup>> Daemon::reload_groups() {
  return certs_->reload_groups();
}

}  // namespace ipsecd::controller
