#pragma once
// The control API: REST over HTTP on --api, every request authenticated with
// the bearer token the server writes to STATE_DIR/token (0600); the address it
// bound goes to STATE_DIR/api. Routes, bodies and status codes: docs/api.md.
// The HTTP library stays inside api.cpp.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "controller/api/control.h"
#include "controller/clock.h"
#include "controller/listen_address.h"
#include "model/result.h"

namespace ipsecd::controller {

inline constexpr std::string_view kDefaultApiAddress = "127.0.0.1:0";

struct ApiOptions {
  std::string listen = std::string(kDefaultApiAddress);  // HOST:PORT; port 0: any free port
  std::string state_dir;  // where `api` and `token` go; created 0700 when missing
  size_t max_body_bytes = size_t{1} << 20;
  // How long an intent waits for its outcome unless ?timeout= says otherwise.
  Duration default_wait = std::chrono::seconds(60);
  Duration max_wait = std::chrono::minutes(10);
  // Requests waiting for an intent's outcome at once; more get 503 (each holds
  // a server thread while it waits).
  size_t max_waiting_requests = 16;
  // Lets /healthz and /readyz answer without the token (for kubelet probes);
  // they reveal nothing but "ok" or what readiness waits for.
  bool open_health_probes = false;
  // Serves /healthz and /readyz only, without a token, and writes nothing to
  // the state dir: the --health listener kubelet probes.
  bool probes_only = false;
};

class ApiServer {
 public:
  ApiServer(Control& control, ApiOptions options);
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Creates the token, binds, then writes STATE_DIR/token and STATE_DIR/api.
  // Fails with the reason (address in use, state dir unusable); nothing keeps
  // running then.
  model::Result<ListenAddress> start();
  // Stops serving and removes STATE_DIR/api and STATE_DIR/token. Idempotent.
  void stop();

  // The bound address (port resolved) once started.
  ListenAddress address() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// 32 random bytes as 64 lowercase hex digits (OpenSSL RAND_bytes).
model::Result<std::string> make_api_token();

// Creates `dir` with mode 0700 when missing (parents too); refuses one that
// is not a directory or that group or others may write to.
model::Result<bool> prepare_state_dir(const std::string& dir);

// Replaces `path` with `content` (mode `mode`): a fresh file created with
// O_EXCL|O_NOFOLLOW next to it, fsynced, then renamed over, so a reader never
// sees a partial file and a planted symlink is replaced, not followed.
model::Result<bool> write_file_atomically(const std::string& path, const std::string& content,
                                          unsigned mode);

}  // namespace ipsecd::controller
