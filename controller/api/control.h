#pragma once
// What the control API (and through it `ipsec auto`) may ask of the daemon.
// The REST layer (controller/api/api.h) speaks HTTP and JSON and calls only this
// interface; the daemon implements it over the Store, the work queue and the
// engine. Every call answers a value or an Error whose code the API maps to
// an HTTP status.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "controller/clock.h"
#include "controller/conditions.h"
#include "controller/store.h"
#include "engine/x509/cert_store.h"
#include "model/connection.h"

namespace ipsecd::controller {

// The certificate store is the engine's (engine/x509/cert_store.h): it authenticates
// with it. The controller lists, reloads and checks it through these names.
using engine::x509::cert_kind_name;
using engine::x509::CertCheck;
using engine::x509::CertCheckItem;
using engine::x509::CertItem;
using engine::x509::CertKind;
using engine::x509::CertListing;
using engine::x509::CertStatus;
using engine::x509::CertStore;
using engine::x509::CrlItem;
using engine::x509::kAllCertKinds;
using engine::x509::kDefaultIpsecDir;
using engine::x509::parse_cert_kind;
using engine::x509::PolicyGroup;
using engine::x509::PubkeyItem;
using engine::x509::RevokedSerial;

enum class ErrorCode : uint8_t {
  kNotFound,     // no connection of that name
  kConflict,     // the name exists, or belongs to another origin
  kInvalid,      // the request or spec is wrong; the message says what would be right
  kFailed,       // tried and failed (negotiation, kernel, journal)
  kTimeout,      // the outcome did not come within the wait
  kUnavailable,  // the daemon cannot answer now (starting, shutting down, not ready)
};
// "not_found", "conflict", "invalid", "failed", "timeout", "unavailable"
std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kFailed;
  std::string message;  // for an operator; never holds a secret
};

// A value or the Error that prevents it.
template <class T>
class [[nodiscard]] ControlResult {
 public:
  ControlResult(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  ControlResult(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const T* operator->() const { return &std::get<0>(state_); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// The value of a call that has nothing to say but "done".
struct Done {};

// --- status -----------------------------------------------------------------

struct IkeAlgorithms {
  std::string encryption;  // "AES_GCM_16_256", "AES_CBC_256"
  std::string integrity;   // "" with an AEAD cipher
  std::string prf;         // "PRF_HMAC_SHA2_256"
  std::string dh_group;    // libreswan's names: "MODP2048", "DH19", "DH31"
};

struct IkeSaStatus {
  uint64_t local_spi = 0;
  uint64_t remote_spi = 0;
  bool initiator = false;      // this side sent IKE_SA_INIT
  std::string state;           // "CONNECTING", "ESTABLISHED", "REKEYING", "DELETING"
  std::string local_address;   // "192.0.2.1:500"
  std::string remote_address;  // "192.0.2.2:4500"
  std::string local_id;
  std::string remote_id;
  IkeAlgorithms algorithms;
  std::optional<WallTime> established_at;
  std::optional<WallTime> rekey_at;  // when this side starts the next rekey
  std::optional<WallTime> reauth_at;
  std::optional<WallTime> expires_at;  // rekey=no: deleted then
  uint32_t rekeys = 0;                 // how often its predecessors were rekeyed or reauthenticated
};

struct ChildAlgorithms {
  std::string encryption;
  std::string integrity;
  std::string dh_group;  // PFS group; "" without PFS
  bool esn = false;
};

struct ChildSaStatus {
  uint32_t spi_in = 0;
  uint32_t spi_out = 0;
  uint32_t reqid = 0;
  // "INSTALLED", "REKEYING", "REKEYED" (replaced, kept for inbound packets
  // until its DELETE completes), "DELETING"
  std::string state;
  std::string protocol;  // "ESP", "AH"
  std::string mode;      // "tunnel", "transport"
  bool udp_encapsulated = false;
  ChildAlgorithms algorithms;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t packets_in = 0;
  uint64_t packets_out = 0;
  std::vector<std::string> local_ts;  // "198.51.100.0/24"
  std::vector<std::string> remote_ts;
  std::optional<WallTime> established_at;
  std::optional<WallTime> rekey_at;
  std::optional<WallTime> expires_at;  // hard lifetime
  uint32_t rekeys = 0;                 // how often its predecessors were rekeyed
};

struct ConnectionStatus {
  std::string name;
  std::string origin;  // "file:PATH", "dir:PATH", "api"
  uint64_t generation = 0;
  uint64_t observed_generation = 0;  // the generation the reconciler last acted on
  Intent intent = Intent::kNone;
  std::string auto_action;  // the spec's auto= ("add", "route", "start")
  Conditions conditions;
  std::vector<IkeSaStatus> ike_sas;
  std::vector<ChildSaStatus> child_sas;
  std::string last_error;  // "" when none
};

struct SourceStatus {
  std::string origin;
  size_t connections = 0;
  std::vector<std::string> errors;  // "FILE:LINE: error: ..." as diagnostics print
};

// The daemon-wide summary behind GET /v1/status.
struct DaemonStatus {
  std::string version;
  std::optional<WallTime> started_at;
  bool ready = false;
  size_t connections = 0;
  size_t established = 0;  // connections whose Established condition is True
  size_t routed = 0;
  size_t failing = 0;  // connections with a last error
  size_t ike_sas = 0;
  size_t child_sas = 0;
  size_t work_queue_depth = 0;
  std::vector<SourceStatus> sources;
};

struct SecretsReload {
  size_t secrets = 0;  // how many entries the secrets file holds now
  std::vector<std::string> warnings;
};

// The answer to an intent: `completed` false when the call did not wait
// (accepted and queued); then `connection` is the status at acceptance.
struct IntentOutcome {
  Intent intent = Intent::kNone;
  bool completed = false;
  ConnectionStatus connection;
};

// --- requests ---------------------------------------------------------------

enum class SpecFormat : uint8_t { kAuto, kIpsecConf, kYaml };
std::string_view spec_format_name(SpecFormat format);  // "auto", "ipsec.conf", "yaml"
std::optional<SpecFormat> parse_spec_format(std::string_view text);

// A connection as the API received it: parsed and validated, with its text.
struct ConnectionSpec {
  model::Connection connection;
  std::string text;
  SpecFormat format = SpecFormat::kIpsecConf;
};

// Parses one conn from ipsec.conf text ("conn NAME" + settings, %default
// allowed) or one IPsecConnection YAML document. kAuto picks YAML when the
// text has an apiVersion:/kind: line and no conn line. Fails (kInvalid) on any
// error, on `include` and `config setup` (the API never reads the daemon's
// files), on zero or several conns, and on auto=ignore (it would not load).
ControlResult<ConnectionSpec> parse_connection_spec(std::string text, SpecFormat format);

// --- the interface ----------------------------------------------------------

class Control {
 public:
  virtual ~Control() = default;

  virtual ControlResult<std::vector<ConnectionStatus>> list() = 0;  // sorted by name
  virtual ControlResult<ConnectionStatus> get(const std::string& name) = 0;
  // kConflict when the name is loaded from any origin.
  virtual ControlResult<ConnectionStatus> add(ConnectionSpec spec) = 0;
  // kNotFound when not loaded; kConflict when its origin is not "api" (edit
  // the file instead). The spec's name equals `name` (the API checks).
  virtual ControlResult<ConnectionStatus> replace(const std::string& name, ConnectionSpec spec) = 0;
  // Removes an API-added connection (kConflict for file-defined ones).
  virtual ControlResult<Done> remove(const std::string& name) = 0;
  // Sets the operator intent. With `wait`, returns once the connection
  // reached the outcome (kFailed when it cannot, kTimeout past the wait);
  // without, returns at once with completed = false.
  virtual ControlResult<IntentOutcome> intent(const std::string& name, Intent intent,
                                              std::optional<Duration> wait) = 0;
  virtual ControlResult<DaemonStatus> status() = 0;
  virtual ControlResult<SecretsReload> reload_secrets() = 0;
  // Done when listening on every configured address and the first sync of
  // every source is done; kUnavailable with what is still missing otherwise.
  virtual ControlResult<Done> ready() = 0;

  // Certificates, keys and policy groups under --ipsecdir (engine/x509/cert_store.h).
  virtual ControlResult<CertListing> list_certs(CertKind kind) = 0;
  // Rereads one kind (nullopt: every kind) and answers its new listing(s).
  virtual ControlResult<std::vector<CertListing>> reload_certs(std::optional<CertKind> kind) = 0;
  // Every certificate, CA and CRL: ok, expiring within `window`, expired or invalid.
  virtual ControlResult<CertCheck> check_certs(Duration window) = 0;
  // Empties the OCSP response cache; answers how many responses it held.
  virtual ControlResult<size_t> purge_ocsp() = 0;
  virtual ControlResult<std::vector<PolicyGroup>> list_groups() = 0;
  virtual ControlResult<std::vector<PolicyGroup>> reload_groups() = 0;
};

// --- JSON ---------------------------------------------------------------------

// {"name", "origin", "generation", "observedGeneration", "intent", "auto",
//  "conditions": [to_json(Condition)...], "ikeSas": [...], "childSas": [...],
//  "lastError"}; absent times are null. Schema: docs/api.md.
std::string to_json(const ConnectionStatus& status);
std::string to_json(const IkeSaStatus& sa);
std::string to_json(const ChildSaStatus& sa);
std::string to_json(const SourceStatus& source);
std::string to_json(const DaemonStatus& status);
std::string to_json(const SecretsReload& reload);
std::string to_json(const IntentOutcome& outcome);
// The certificate store's answers (engine/x509/cert_store.h):
// {"kind","directory","items":[...],"errors":[...]} (docs/api.md)
std::string to_json(const CertListing& listing);
std::string to_json(const CertItem& item);
std::string to_json(const CrlItem& item);
std::string to_json(const PubkeyItem& item);
// {"window":SECONDS,"items":[{"kind","name","notAfter","status","message"}]}
std::string to_json(const CertCheck& check);
std::string to_json(const PolicyGroup& group);
// {"groups":[...]}
std::string groups_json(const std::vector<PolicyGroup>& groups);
// {"reloaded":[LISTING...]}
std::string reloaded_json(const std::vector<CertListing>& listings);
// {"error": {"code": CODE, "message": MESSAGE}}
std::string error_json(std::string_view code, std::string_view message);

}  // namespace ipsecd::controller
