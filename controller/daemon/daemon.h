#pragma once
// ipsecd as one object: the kernel backend, the engine on its loop thread,
// the Store and Controller, the on-disk sources and their watchers, the
// secrets, the REST API (this class is its Control), the health listener and
// the metrics. controller/daemon/main.cpp turns flags and signals into calls here.
//
// Start-up: state dir, kernel (own protect policies of an earlier run become
// traps so no packet leaks in clear, own SAs go: their IKE state died with
// that run), loop, transport, engine, Controller, sources (first snapshots),
// listeners. Once every source is applied and the queue has gone idle the
// daemon is ready and prunes adopted policies nothing wants.
// Shutdown: listeners close, watchers stop, the Controller stops; unless the
// dataplane is kept, every connection is torn down (DELETEs to peers) and
// every own kernel object removed.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/control.h"
#include "controller/daemon/daemon_options.h"
#include "controller/listen_address.h"
#include "controller/log.h"
#include "model/result.h"

namespace ipsecd::engine {
class Engine;
class EpollLoop;
struct IkeSaInfo;
struct Event;
class RealClock;
class UdpTransport;
namespace crypto {
class SystemRandom;
}
}  // namespace ipsecd::engine
namespace ipsecd::kernel {
class Backend;
}

namespace ipsecd::controller {

class ApiServer;
class ConfigFileSource;
class Controller;
class DirectoryWatcher;
class Metrics;
class SourceFeed;
class Store;
class WatchDirSource;

class Daemon final : public Control {
 public:
  // Starts everything; on failure nothing keeps running and the error says
  // what could not be set up (flag, address, errno text).
  static model::Result<std::unique_ptr<Daemon>> start(DaemonOptions options, Logger& log);
  Daemon(DaemonOptions options, Logger& log);  // start() constructs
  ~Daemon() override;
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // SIGHUP: rereads the config file, every watched directory and the secrets.
  void reload();
  // SIGTERM: stops as described above. Idempotent.
  void shutdown();

  std::optional<ListenAddress> api_address() const;
  std::optional<ListenAddress> metrics_address() const;
  std::optional<ListenAddress> health_address() const;
  // Every source applied and the first reconcile of everything done.
  bool synced() const { return synced_.load(); }

  // Control (the REST API).
  ControlResult<std::vector<ConnectionStatus>> list() override;
  ControlResult<ConnectionStatus> get(const std::string& name) override;
  ControlResult<ConnectionStatus> add(ConnectionSpec spec) override;
  ControlResult<ConnectionStatus> replace(const std::string& name, ConnectionSpec spec) override;
  ControlResult<Done> remove(const std::string& name) override;
  ControlResult<IntentOutcome> intent(const std::string& name, Intent intent,
                                      std::optional<Duration> wait) override;
  ControlResult<DaemonStatus> status() override;
  ControlResult<SecretsReload> reload_secrets() override;
  ControlResult<Done> ready() override;
  ControlResult<CertListing> list_certs(CertKind kind) override;
  ControlResult<std::vector<CertListing>> reload_certs(std::optional<CertKind> kind) override;
  ControlResult<CertCheck> check_certs(Duration window) override;
  ControlResult<size_t> purge_ocsp() override;
  ControlResult<std::vector<PolicyGroup>> list_groups() override;
  ControlResult<std::vector<PolicyGroup>> reload_groups() override;

 private:
  model::Result<bool> init();
  model::Result<bool> open_kernel();
  model::Result<bool> open_transport();
  model::Result<bool> start_sources();
  model::Result<bool> start_listeners();
  // The "api" origin's snapshot, from api_conns_ (api_mu_ held).
  Changes apply_api_locked();
  // `live`: the connection's SAs as the engine has them now (counters
  // included); nullptr: those of its last reconcile.
  ConnectionStatus status_of(const std::string& name,
                             const std::vector<engine::IkeSaInfo>* live = nullptr) const;
  // The engine's SAs of these connections now, by name (one trip to the loop).
  std::map<std::string, std::vector<engine::IkeSaInfo>> live_sas(
      const std::vector<std::string>& names);
  // On the loop thread.
  void housekeeping();
  void update_metrics();
  void on_engine_event(const engine::Event& event);
  void run_on_loop(const std::function<void()>& fn);
  void maybe_drop_pending_intents();

  DaemonOptions options_;
  Logger& log_;
  WallTime started_at_{};

  std::unique_ptr<kernel::Backend> kernel_;
  std::unique_ptr<engine::RealClock> clock_;
  std::unique_ptr<engine::EpollLoop> loop_;
  std::unique_ptr<engine::crypto::SystemRandom> random_;
  std::unique_ptr<engine::UdpTransport> transport_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Controller> controller_;
  std::thread loop_thread_;
  std::unique_ptr<Metrics> metrics_;

  std::unique_ptr<ConfigFileSource> config_source_;
  std::vector<std::unique_ptr<WatchDirSource>> dir_sources_;
  std::vector<std::unique_ptr<SourceFeed>> feeds_;
  std::unique_ptr<DirectoryWatcher> secrets_watcher_;
  std::mutex secrets_mu_;  // one reread at a time

  std::unique_ptr<CertStore> certs_;  // --ipsecdir
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<ApiServer> health_;

  std::mutex api_mu_;  // API adds, replaces and removes, one at a time
  std::map<std::string, std::shared_ptr<const model::Connection>> api_conns_;

  std::atomic<bool> synced_{false};
  std::atomic<bool> intents_settled_{false};
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
  std::mutex stop_mu_;

  // Loop thread only.
  std::map<std::string, std::map<uint32_t, std::pair<uint64_t, uint64_t>>> bytes_seen_;
  std::chrono::steady_clock::time_point last_metrics_{};
};

}  // namespace ipsecd::controller
