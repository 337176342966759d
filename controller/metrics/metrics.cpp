#include "controller/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <map>
#include <mutex>
#include <utility>

namespace ipsecd::controller {

std::string_view connection_state_name(ConnectionState state) {
  switch (state) {
    case ConnectionState::kLoaded:
      return "loaded";
    case ConnectionState::kRouted:
      return "routed";
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kEstablished:
      return "established";
    case ConnectionState::kFailing:
      return "failing";
  }
  return "loaded";
}

std::string_view ike_sa_state_name(IkeSaState state) {
  switch (state) {
    case IkeSaState::kConnecting:
      return "connecting";
    case IkeSaState::kEstablished:
      return "established";
    case IkeSaState::kRekeying:
      return "rekeying";
    case IkeSaState::kDeleting:
      return "deleting";
  }
  return "connecting";
}

std::string_view ike_failure_name(IkeFailure reason) {
  switch (reason) {
    case IkeFailure::kTimeout:
      return "timeout";
    case IkeFailure::kAuthentication:
      return "authentication_failed";
    case IkeFailure::kNoProposal:
      return "no_proposal_chosen";
    case IkeFailure::kTsUnacceptable:
      return "ts_unacceptable";
    case IkeFailure::kPeerError:
      return "peer_error";
    case IkeFailure::kLocalError:
      return "local_error";
  }
  return "local_error";
}

std::string_view rekey_kind_name(RekeyKind kind) {
  switch (kind) {
    case RekeyKind::kIke:
      return "ike";
    case RekeyKind::kChild:
      return "child";
    case RekeyKind::kReauth:
      return "reauth";
  }
  return "ike";
}

std::string_view rekey_result_name(RekeyResult result) {
  switch (result) {
    case RekeyResult::kSuccess:
      return "success";
    case RekeyResult::kFailure:
      return "failure";
  }
  return "failure";
}

namespace {

constexpr ConnectionState kConnectionStates[] = {
    ConnectionState::kLoaded, ConnectionState::kRouted, ConnectionState::kConnecting,
    ConnectionState::kEstablished, ConnectionState::kFailing};
constexpr IkeSaState kIkeSaStates[] = {IkeSaState::kConnecting, IkeSaState::kEstablished,
                                       IkeSaState::kRekeying, IkeSaState::kDeleting};
constexpr IkeFailure kIkeFailures[] = {IkeFailure::kTimeout,    IkeFailure::kAuthentication,
                                       IkeFailure::kNoProposal, IkeFailure::kTsUnacceptable,
                                       IkeFailure::kPeerError,  IkeFailure::kLocalError};
constexpr RekeyKind kRekeyKinds[] = {RekeyKind::kIke, RekeyKind::kChild, RekeyKind::kReauth};
constexpr RekeyResult kRekeyResults[] = {RekeyResult::kSuccess, RekeyResult::kFailure};
constexpr model::DpdAction kDpdActions[] = {model::DpdAction::kHold, model::DpdAction::kClear,
                                            model::DpdAction::kRestart};

double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

prometheus::Labels label(std::string_view key, std::string_view value) {
  return {{std::string(key), std::string(value)}};
}

}  // namespace

class Metrics::Impl {
 public:
  explicit Impl(MetricsOptions options);

  MetricsOptions options;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  prometheus::Family<prometheus::Gauge>& connections;
  prometheus::Family<prometheus::Gauge>& ike_sas;
  prometheus::Gauge& child_sas;
  prometheus::Counter& ike_established;
  prometheus::Family<prometheus::Counter>& ike_failures;
  prometheus::Family<prometheus::Counter>& child_bytes;
  prometheus::Family<prometheus::Counter>& rekeys;
  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Gauge& last_reload_success;
  prometheus::Counter& reconcile_total;
  prometheus::Counter& reconcile_errors;
  prometheus::Histogram& reconcile_duration;
  prometheus::Gauge& queue_depth;
  prometheus::Histogram& handshake_duration;
  prometheus::Family<prometheus::Counter>& limit_refusals;
  prometheus::Family<prometheus::Counter>& dead_peers;
  prometheus::Counter* refused_child = nullptr;
  prometheus::Counter* refused_ike = nullptr;
  uint64_t refused_child_seen = 0;
  uint64_t refused_ike_seen = 0;

  // Every label value of a fixed set, created up front so each series shows 0
  // before its first event (a rate() over a series that appears late is wrong).
  std::array<prometheus::Gauge*, std::size(kConnectionStates)> connection_gauges{};
  std::array<prometheus::Gauge*, std::size(kIkeSaStates)> ike_sa_gauges{};
  std::array<prometheus::Counter*, std::size(kIkeFailures)> failure_counters{};
  // [kind][result]
  std::array<std::array<prometheus::Counter*, std::size(kRekeyResults)>, std::size(kRekeyKinds)>
      rekey_counters{};
  std::array<prometheus::Counter*, std::size(kDpdActions)> dead_peer_counters{};
  prometheus::Counter* reload_success = nullptr;
  prometheus::Counter* reload_failure = nullptr;

  std::mutex mu;  // guards the per-connection series and the exposer
  std::map<std::string, std::pair<prometheus::Counter*, prometheus::Counter*>, std::less<>> bytes;
  std::unique_ptr<prometheus::Exposer> exposer;
  ListenAddress bound;

  std::pair<prometheus::Counter*, prometheus::Counter*> bytes_for_locked(
      const std::string& connection);
};

Metrics::Impl::Impl(MetricsOptions opts)
    : options(std::move(opts)),
      connections(prometheus::BuildGauge()
                      .Name("ipsec_connections")
                      .Help("Loaded connections by where they stand")
                      .Register(*registry)),
      ike_sas(prometheus::BuildGauge()
                  .Name("ipsec_ike_sas")
                  .Help("IKE SAs by state")
                  .Register(*registry)),
      child_sas(prometheus::BuildGauge()
                    .Name("ipsec_child_sas")
                    .Help("Installed CHILD SA pairs")
                    .Register(*registry)
                    .Add({})),
      ike_established(prometheus::BuildCounter()
                          .Name("ipsec_ike_sa_established_total")
                          .Help("IKE SAs that completed IKE_AUTH")
                          .Register(*registry)
                          .Add({})),
      ike_failures(prometheus::BuildCounter()
                       .Name("ipsec_ike_sa_failures_total")
                       .Help("IKE SA setups that failed, by reason")
                       .Register(*registry)),
      child_bytes(prometheus::BuildCounter()
                      .Name("ipsec_child_sa_bytes_total")
                      .Help("Bytes through CHILD SAs, by direction")
                      .Register(*registry)),
      rekeys(prometheus::BuildCounter()
                 .Name("ipsec_rekeys_total")
                 .Help("Rekeys of IKE and CHILD SAs, by kind and result")
                 .Register(*registry)),
      reloads(prometheus::BuildCounter()
                  .Name("ipsec_config_reloads_total")
                  .Help("Configuration loads, by result")
                  .Register(*registry)),
      last_reload_success(prometheus::BuildGauge()
                              .Name("ipsec_config_last_reload_success_timestamp_seconds")
                              .Help("When the configuration last loaded without error")
                              .Register(*registry)
                              .Add({})),
      reconcile_total(prometheus::BuildCounter()
                          .Name("ipsec_reconcile_total")
                          .Help("Reconcile calls")
                          .Register(*registry)
                          .Add({})),
      reconcile_errors(prometheus::BuildCounter()
                           .Name("ipsec_reconcile_errors_total")
                           .Help("Reconcile calls that returned an error")
                           .Register(*registry)
                           .Add({})),
      reconcile_duration(
          prometheus::BuildHistogram()
              .Name("ipsec_reconcile_duration_seconds")
              .Help("Time one reconcile call took")
              .Register(*registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                               0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                               5, 10, 30, 60})),
      queue_depth(prometheus::BuildGauge()
                      .Name("ipsec_work_queue_depth")
                      .Help("Connections waiting in the work queue")
                      .Register(*registry)
                      .Add({})),
      handshake_duration(
          prometheus::BuildHistogram()
              .Name("ipsec_ike_handshake_duration_seconds")
              .Help("From the first IKE_SA_INIT to an established IKE SA")
              .Register(*registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 30, 60, 120})),
      limit_refusals(prometheus::BuildCounter()
                         .Name("ipsec_sa_limit_refusals_total")
                         .Help("SAs a peer asked for beyond the daemon's limits, by limit")
                         .Register(*registry)),
      dead_peers(prometheus::BuildCounter()
                     .Name("ipsec_dead_peers_total")
                     .Help("Connections whose peer stopped answering liveness checks (DPD), by "
                           "the dpdaction= taken")
                     .Register(*registry)) {
  refused_child = &limit_refusals.Add(label("limit", "child_sas_per_connection"));
  refused_ike = &limit_refusals.Add(label("limit", "ike_sas_per_peer"));
  for (size_t i = 0; i < std::size(kConnectionStates); ++i) {
    connection_gauges[i] =
        &connections.Add(label("state", connection_state_name(kConnectionStates[i])));
  }
  for (size_t i = 0; i < std::size(kIkeSaStates); ++i) {
    ike_sa_gauges[i] = &ike_sas.Add(label("state", ike_sa_state_name(kIkeSaStates[i])));
  }
  for (size_t i = 0; i < std::size(kIkeFailures); ++i) {
    failure_counters[i] = &ike_failures.Add(label("reason", ike_failure_name(kIkeFailures[i])));
  }
  for (size_t i = 0; i < std::size(kRekeyKinds); ++i) {
    for (size_t j = 0; j < std::size(kRekeyResults); ++j) {
      rekey_counters[i][j] =
          &rekeys.Add({{"kind", std::string(rekey_kind_name(kRekeyKinds[i]))},
                       {"result", std::string(rekey_result_name(kRekeyResults[j]))}});
    }
  }
  for (size_t i = 0; i < std::size(kDpdActions); ++i) {
    dead_peer_counters[i] =
        &dead_peers.Add(label("action", model::dpd_action_name(kDpdActions[i])));
  }
  reload_success = &reloads.Add(label("result", "success"));
  reload_failure = &reloads.Add(label("result", "failure"));
  if (!options.per_connection_labels) {
    bytes[""] = {&child_bytes.Add(label("direction", "in")),
                 &child_bytes.Add(label("direction", "out"))};
  }
}

std::pair<prometheus::Counter*, prometheus::Counter*> Metrics::Impl::bytes_for_locked(
    const std::string& connection) {
  const std::string& key = options.per_connection_labels ? connection : std::string();
  auto it = bytes.find(key);
  if (it != bytes.end()) {
    return it->second;
  }
  std::pair<prometheus::Counter*, prometheus::Counter*> counters{
      &child_bytes.Add({{"connection", connection}, {"direction", "in"}}),
      &child_bytes.Add({{"connection", connection}, {"direction", "out"}})};
  bytes.emplace(key, counters);
  return counters;
}

Metrics::Metrics(MetricsOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Metrics::~Metrics() {
  stop();
}

model::Result<ListenAddress> Metrics::serve() {
  using R = model::Result<ListenAddress>;
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->exposer) {
    return impl_->bound;
  }
  R wanted = parse_listen_address(impl_->options.listen, "--metrics");
  if (!wanted) {
    return wanted;
  }
  if (wanted->host.find(':') != std::string::npos) {
    // Debian's civetweb, under prometheus-cpp, is built without IPv6.
    return R::failure("--metrics " + wanted->str() +
                      ": the metrics server cannot listen on an IPv6 address; use an IPv4 "
                      "address such as 127.0.0.1, or 0.0.0.0 for a scraper off the node");
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(wanted->str(), 2);
  } catch (const std::exception& e) {
    return R::failure("--metrics " + wanted->str() + ": cannot listen: " + e.what());
  }
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports.front() <= 0 || ports.front() > 65535) {
    return R::failure("--metrics " + wanted->str() + ": the server reports no listening port");
  }
  exposer->RegisterCollectable(impl_->registry);
  impl_->exposer = std::move(exposer);
  impl_->bound = ListenAddress{wanted->host, static_cast<uint16_t>(ports.front())};
  return impl_->bound;
}

void Metrics::stop() {
  std::unique_ptr<prometheus::Exposer> exposer;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    exposer = std::move(impl_->exposer);
  }
}

ListenAddress Metrics::address() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->bound;
}

std::string Metrics::text() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

void Metrics::set_connections(ConnectionState state, size_t count) {
  impl_->connection_gauges[static_cast<size_t>(state)]->Set(static_cast<double>(count));
}

void Metrics::set_ike_sas(IkeSaState state, size_t count) {
  impl_->ike_sa_gauges[static_cast<size_t>(state)]->Set(static_cast<double>(count));
}

void Metrics::set_child_sas(size_t count) {
  impl_->child_sas.Set(static_cast<double>(count));
}

void Metrics::set_work_queue_depth(size_t depth) {
  impl_->queue_depth.Set(static_cast<double>(depth));
}

void Metrics::set_limit_refusals(uint64_t child_sas_per_connection, uint64_t ike_sas_per_peer) {
  auto add = [](prometheus::Counter* c, uint64_t now, uint64_t& seen) {
    if (now > seen) {
      c->Increment(static_cast<double>(now - seen));
      seen = now;
    }
  };
  add(impl_->refused_child, child_sas_per_connection, impl_->refused_child_seen);
  add(impl_->refused_ike, ike_sas_per_peer, impl_->refused_ike_seen);
}

void Metrics::ike_sa_established(Duration handshake) {
  impl_->ike_established.Increment();
  impl_->handshake_duration.Observe(seconds(handshake));
}

void Metrics::ike_sa_failed(IkeFailure reason) {
  impl_->failure_counters[static_cast<size_t>(reason)]->Increment();
}

void Metrics::rekey_finished(RekeyKind kind, RekeyResult result) {
  impl_->rekey_counters[static_cast<size_t>(kind)][static_cast<size_t>(result)]->Increment();
}

void Metrics::dead_peer(model::DpdAction action) {
  impl_->dead_peer_counters[static_cast<size_t>(action)]->Increment();
}

void Metrics::child_sa_bytes(const std::string& connection, uint64_t bytes_in, uint64_t bytes_out) {
  // Held while incrementing: forget_connection() may free the counters.
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::pair<prometheus::Counter*, prometheus::Counter*> counters =
      impl_->bytes_for_locked(connection);
  counters.first->Increment(static_cast<double>(bytes_in));
  counters.second->Increment(static_cast<double>(bytes_out));
}

void Metrics::forget_connection(const std::string& connection) {
  if (!impl_->options.per_connection_labels) {
    return;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->bytes.find(connection);
  if (it == impl_->bytes.end()) {
    return;
  }
  impl_->child_bytes.Remove(it->second.first);
  impl_->child_bytes.Remove(it->second.second);
  impl_->bytes.erase(it);
}

void Metrics::config_reloaded(bool ok, WallTime when) {
  if (ok) {
    impl_->reload_success->Increment();
    impl_->last_reload_success.Set(std::chrono::duration<double>(when.time_since_epoch()).count());
  } else {
    impl_->reload_failure->Increment();
  }
}

void Metrics::reconciled(Duration took, bool error) {
  impl_->reconcile_total.Increment();
  if (error) {
    impl_->reconcile_errors.Increment();
  }
  impl_->reconcile_duration.Observe(seconds(took));
}

}  // namespace ipsecd::controller
