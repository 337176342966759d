#pragma once
// A Control (controller/api/control.h) for the API and CLI tests: connections
// in a map, every call counted and its arguments recorded, answers as the
// daemon gives them (a connection defined by a file cannot be replaced or
// removed through the API), and a few names that behave on purpose:
//   intent("slow", wait)    -> kTimeout      intent("broken", wait) -> kFailed
//   intent("hold", ...)     blocks until release()

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/control.h"

namespace ipsecd::testing {

// Seconds since the epoch as the status API's wall time.
controller::WallTime wall_time(int64_t seconds);

class FakeControl final : public controller::Control {
 public:
  using Duration = controller::Duration;
  template <class T>
  using Result = controller::ControlResult<T>;

  // A loaded connection (condition Loaded True, generation 1, auto=add).
  static controller::ConnectionStatus make(const std::string& name, const std::string& origin);
  // An established auto=start connection from the config file, with one IKE and
  // one CHILD SA.
  static controller::ConnectionStatus established(const std::string& name);
  // The listing list_certs answers for KIND: one item of its sort and one error.
  static controller::CertListing listing(controller::CertKind kind);

  void release();

  std::atomic<int> calls{0};
  std::mutex mu;  // guards conns and the last_* records
  std::map<std::string, controller::ConnectionStatus> conns;
  std::optional<Duration> last_wait;
  controller::Intent last_intent = controller::Intent::kNone;
  std::string last_spec_text;
  std::optional<controller::CertKind> last_kind;
  std::optional<Duration> last_window;
  bool is_ready = true;
  bool throw_on_status = false;
  bool certs_unavailable = false;
  int secrets_reloads = 0;
  std::atomic<bool> holding{false};

  Result<std::vector<controller::ConnectionStatus>> list() override;
  Result<controller::ConnectionStatus> get(const std::string& name) override;
  Result<controller::ConnectionStatus> add(controller::ConnectionSpec spec) override;
  Result<controller::ConnectionStatus> replace(const std::string& name,
                                               controller::ConnectionSpec spec) override;
  Result<controller::Done> remove(const std::string& name) override;
  Result<controller::IntentOutcome> intent(const std::string& name, controller::Intent intent,
                                           std::optional<Duration> wait) override;
  Result<controller::DaemonStatus> status() override;
  Result<controller::SecretsReload> reload_secrets() override;
  Result<controller::Done> ready() override;
  Result<controller::CertListing> list_certs(controller::CertKind kind) override;
  Result<std::vector<controller::CertListing>> reload_certs(
      std::optional<controller::CertKind> kind) override;
  Result<controller::CertCheck> check_certs(Duration window) override;
  Result<size_t> purge_ocsp() override;
  Result<std::vector<controller::PolicyGroup>> list_groups() override;
  Result<std::vector<controller::PolicyGroup>> reload_groups() override;

 private:
  std::mutex hold_mu_;
  std::condition_variable hold_cv_;
  bool released_ = false;
};

}  // namespace ipsecd::testing
