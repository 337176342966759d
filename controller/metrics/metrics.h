#pragma once
// Prometheus metrics of the daemon, served on --metrics without a token (a
// scraper has none), bound to loopback unless told otherwise. The daemon
// reports events and levels through the calls below; names, types and labels
// are listed in docs/api.md. The metrics library stays inside metrics.cpp.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "controller/clock.h"
#include "controller/listen_address.h"
#include "model/connection.h"
#include "model/result.h"

namespace ipsecd::controller {

inline constexpr std::string_view kDefaultMetricsAddress = "127.0.0.1:9810";

// Where a loaded connection stands; each is one value of ipsec_connections{state}.
enum class ConnectionState : uint8_t { kLoaded, kRouted, kConnecting, kEstablished, kFailing };
std::string_view connection_state_name(ConnectionState state);  // "loaded", ...

enum class IkeSaState : uint8_t { kConnecting, kEstablished, kRekeying, kDeleting };
std::string_view ike_sa_state_name(IkeSaState state);  // "connecting", ...

// Why an IKE SA did not come up (a fixed set, so the label stays small).
enum class IkeFailure : uint8_t {
  kTimeout,         // no answer within the retransmit timeout
  kAuthentication,  // AUTHENTICATION_FAILED either way
  kNoProposal,      // NO_PROPOSAL_CHOSEN
  kTsUnacceptable,  // TS_UNACCEPTABLE for the first CHILD SA
  kPeerError,       // any other error notify from the peer
  kLocalError,      // kernel or local resource failure
};
std::string_view ike_failure_name(IkeFailure reason);  // "timeout", "authentication_failed", ...

enum class RekeyKind : uint8_t { kIke, kChild, kReauth };
std::string_view rekey_kind_name(RekeyKind kind);  // "ike", "child", "reauth"

// A rekey completed (the new SA replaced the old) or gave up (the old one stays until it expires).
enum class RekeyResult : uint8_t { kSuccess, kFailure };
std::string_view rekey_result_name(RekeyResult result);  // "success", "failure"

struct MetricsOptions {
  std::string listen = std::string(kDefaultMetricsAddress);  // HOST:PORT; port 0: any free port
  // Off: ipsec_child_sa_bytes_total carries only {direction}, for nodes with
  // so many connections that one series each would swamp the scraper.
  bool per_connection_labels = true;
};

class Metrics {
 public:
  explicit Metrics(MetricsOptions options = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves /metrics on options.listen; fails with the reason (address in use).
  model::Result<ListenAddress> serve();
  void stop();
  ListenAddress address() const;  // port resolved, once serving
  // The text exposition format, as a scrape returns it.
  std::string text() const;

  // Levels, set to what the daemon counts now.
  void set_connections(ConnectionState state, size_t count);
  void set_ike_sas(IkeSaState state, size_t count);
  void set_child_sas(size_t count);
  void set_work_queue_depth(size_t depth);
  // The engine's totals of requests refused at its limits (counters: only
  // what grew since the last call is added).
  void set_limit_refusals(uint64_t child_sas_per_connection, uint64_t ike_sas_per_peer);

  // Events.
  void ike_sa_established(Duration handshake);
  void ike_sa_failed(IkeFailure reason);
  void rekey_finished(RekeyKind kind, RekeyResult result);
  // A connection's peer was declared dead (DPD) and dpdaction= `action` taken.
  void dead_peer(model::DpdAction action);
  // Bytes moved since the last call for this connection (the daemon turns the
  // kernel's per-SA counters, which restart with each SA, into deltas).
  void child_sa_bytes(const std::string& connection, uint64_t bytes_in, uint64_t bytes_out);
  // Drops a removed connection's series.
  void forget_connection(const std::string& connection);
  // A configuration (re)load; `when` is recorded on success only.
  void config_reloaded(bool ok, WallTime when);
  void reconciled(Duration took, bool error);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipsecd::controller
