#include "tests/support/fake_control.h"

#include <chrono>
#include <stdexcept>
#include <utility>

#include "controller/conditions.h"

namespace ipsecd::testing {

using controller::CertKind;
using controller::ConnectionStatus;
using controller::Error;
using controller::ErrorCode;

controller::WallTime wall_time(int64_t seconds) {
  return controller::WallTime(std::chrono::seconds(seconds));
}

ConnectionStatus FakeControl::make(const std::string& name, const std::string& origin) {
  ConnectionStatus s;
  s.name = name;
  s.origin = origin;
  s.generation = 1;
  s.observed_generation = 1;
  s.auto_action = "add";
  s.conditions.set_condition({std::string(controller::kConditionLoaded),
                              controller::ConditionStatus::kTrue,
                              "Loaded",
                              "loaded from " + origin,
                              {},
                              1},
                             wall_time(1767225600));
  return s;
}

ConnectionStatus FakeControl::established(const std::string& name) {
  ConnectionStatus s = make(name, "file:/etc/ipsec.conf");
  s.auto_action = "start";
  s.conditions.set_condition({std::string(controller::kConditionEstablished),
                              controller::ConditionStatus::kTrue,
                              "Established",
                              "IKE and CHILD SA up",
                              {},
                              1},
                             wall_time(1767225700));
  controller::IkeSaStatus ike;
  ike.local_spi = 0x0123456789abcdefULL;
  ike.remote_spi = 0xfedcba9876543210ULL;
  ike.initiator = true;
  ike.state = "ESTABLISHED";
  ike.local_address = "192.0.2.1:500";
  ike.remote_address = "192.0.2.2:500";
  ike.local_id = "@west";
  ike.remote_id = "@east";
  ike.algorithms = {"AES_GCM_16_256", "", "PRF_HMAC_SHA2_256", "DH31"};
  ike.established_at = wall_time(1767225700);
  ike.rekey_at = wall_time(1767250000);
  ike.rekeys = 1;
  s.ike_sas.push_back(ike);
  controller::ChildSaStatus child;
  child.spi_in = 0xc0ffee01;
  child.spi_out = 0xc0ffee02;
  child.reqid = 16385;
  child.state = "INSTALLED";
  child.protocol = "ESP";
  child.mode = "tunnel";
  child.algorithms = {"AES_GCM_16_256", "", "DH31", false};
  child.bytes_in = 1024;
  child.bytes_out = 2048;
  child.packets_in = 8;
  child.packets_out = 16;
  child.local_ts = {"198.51.100.0/24"};
  child.remote_ts = {"203.0.113.0/24"};
  child.established_at = wall_time(1767225700);
  child.rekeys = 2;
  s.child_sas.push_back(child);
  return s;
}

controller::CertListing FakeControl::listing(CertKind kind) {
  controller::CertListing l;
  l.kind = kind;
  l.directory = "/etc/ipsec.d/" + std::string(controller::cert_kind_name(kind));
  if (kind == CertKind::kCrls) {
    l.crls.push_back({"ca.crl",
                      "PEM",
                      "CN=CA",
                      wall_time(1767225600),
                      std::nullopt,
                      {{"0A", wall_time(1767225600)}},
                      true,
                      ""});
  } else if (kind == CertKind::kPubkeys) {
    l.pubkeys.push_back({"west", "left", "@west", "RSA", 3072, "AwEAAbcde", "rsasigkey"});
  } else {
    controller::CertItem c;
    c.file = "west.pem";
    c.format = "PEM";
    c.subject = "CN=west";
    c.serial = "01";
    c.not_after = wall_time(1767225600);
    c.key_type = "EC P-256";
    c.subject_alt_names = {"DNS:west.example", "IP:192.0.2.1"};
    c.has_private_key = true;
    l.certs.push_back(c);
  }
  l.errors.push_back(std::string(controller::cert_kind_name(kind)) + "/junk: not a certificate");
  return l;
}

void FakeControl::release() {
  std::lock_guard<std::mutex> lock(hold_mu_);
  released_ = true;
  hold_cv_.notify_all();
}

FakeControl::Result<std::vector<ConnectionStatus>> FakeControl::list() {
  ++calls;
  std::lock_guard<std::mutex> lock(mu);
  std::vector<ConnectionStatus> out;
  for (const auto& [name, s] : conns) {
    out.push_back(s);
  }
  return out;
}

FakeControl::Result<ConnectionStatus> FakeControl::get(const std::string& name) {
  ++calls;
  std::lock_guard<std::mutex> lock(mu);
  auto it = conns.find(name);
  if (it == conns.end()) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  return it->second;
}

FakeControl::Result<ConnectionStatus> FakeControl::add(controller::ConnectionSpec spec) {
  ++calls;
  std::lock_guard<std::mutex> lock(mu);
  const std::string& name = spec.connection.name;
  if (conns.count(name) > 0) {
    return Error{ErrorCode::kConflict, "connection " + name + " exists"};
  }
  last_spec_text = spec.text;
  ConnectionStatus s = make(name, "api");
  s.auto_action = std::string(spec.connection.value("auto"));
  return conns[name] = s;
}

FakeControl::Result<ConnectionStatus> FakeControl::replace(const std::string& name,
                                                           controller::ConnectionSpec spec) {
  ++calls;
  std::lock_guard<std::mutex> lock(mu);
  auto it = conns.find(name);
  if (it == conns.end()) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  if (it->second.origin != "api") {
    return Error{ErrorCode::kConflict, name + " is defined by " + it->second.origin};
  }
  last_spec_text = spec.text;
  ++it->second.generation;
  return it->second;
}

FakeControl::Result<controller::Done> FakeControl::remove(const std::string& name) {
  ++calls;
  std::lock_guard<std::mutex> lock(mu);
  auto it = conns.find(name);
  if (it == conns.end()) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  if (it->second.origin != "api") {
    return Error{ErrorCode::kConflict, name + " is defined by " + it->second.origin};
  }
  conns.erase(it);
  return controller::Done{};
}

FakeControl::Result<controller::IntentOutcome> FakeControl::intent(const std::string& name,
                                                                   controller::Intent intent,
                                                                   std::optional<Duration> wait) {
  ++calls;
  if (name == "hold") {
    std::unique_lock<std::mutex> lock(hold_mu_);
    holding = true;
    hold_cv_.wait(lock, [&] { return released_; });
  }
  std::lock_guard<std::mutex> lock(mu);
  last_wait = wait;
  last_intent = intent;
  if (name == "slow" && wait) {
    return Error{ErrorCode::kTimeout, "slow did not come up within the wait"};
  }
  if (name == "broken" && wait) {
    return Error{ErrorCode::kFailed, "broken: peer answered NO_PROPOSAL_CHOSEN"};
  }
  auto it = conns.find(name);
  if (it == conns.end()) {
    return Error{ErrorCode::kNotFound, "no connection named " + name};
  }
  it->second.intent = intent;
  return controller::IntentOutcome{intent, wait.has_value(), it->second};
}

FakeControl::Result<controller::DaemonStatus> FakeControl::status() {
  ++calls;
  if (throw_on_status) {
    throw std::runtime_error("status exploded");
  }
  std::lock_guard<std::mutex> lock(mu);
  controller::DaemonStatus s;
  s.version = "0.1.0";
  s.started_at = wall_time(1767225600);
  s.ready = is_ready;
  s.connections = conns.size();
  s.established = 1;
  s.ike_sas = 1;
  s.child_sas = 1;
  s.sources.push_back({"file:/etc/ipsec.conf", 2, {"/etc/ipsec.conf:7: error: bad"}});
  return s;
}

FakeControl::Result<controller::SecretsReload> FakeControl::reload_secrets() {
  ++calls;
  ++secrets_reloads;
  return controller::SecretsReload{3, {"/etc/ipsec.secrets:2: warning: unused"}};
}

FakeControl::Result<controller::Done> FakeControl::ready() {
  ++calls;
  if (!is_ready) {
    return Error{ErrorCode::kUnavailable, "waiting for the first sync of dir:/etc/ipsec.d"};
  }
  return controller::Done{};
}

FakeControl::Result<controller::CertListing> FakeControl::list_certs(CertKind kind) {
  ++calls;
  last_kind = kind;
  if (certs_unavailable) {
    return Error{ErrorCode::kUnavailable, "the certificate store is not loaded yet"};
  }
  return listing(kind);
}

FakeControl::Result<std::vector<controller::CertListing>> FakeControl::reload_certs(
    std::optional<CertKind> kind) {
  ++calls;
  last_kind = kind;
  std::vector<controller::CertListing> out;
  for (CertKind k : controller::kAllCertKinds) {
    if (!kind || *kind == k) {
      out.push_back(listing(k));
    }
  }
  return out;
}

FakeControl::Result<controller::CertCheck> FakeControl::check_certs(Duration window) {
  ++calls;
  last_window = window;
  controller::CertCheck c;
  c.window = window;
  c.items.push_back({CertKind::kCerts, "old.pem", wall_time(1767225600),
                     controller::CertStatus::kExpired, "expired"});
  return c;
}

FakeControl::Result<size_t> FakeControl::purge_ocsp() {
  ++calls;
  return size_t{7};
}

FakeControl::Result<std::vector<controller::PolicyGroup>> FakeControl::list_groups() {
  ++calls;
  return std::vector<controller::PolicyGroup>{
      {"private", "/etc/ipsec.d/policies/private", {"198.51.100.0/24"}, {}},
      {"clear", "/etc/ipsec.d/policies/clear", {}, {"/etc/ipsec.d/policies/clear:2: bad"}}};
}

FakeControl::Result<std::vector<controller::PolicyGroup>> FakeControl::reload_groups() {
  return list_groups();
}

}  // namespace ipsecd::testing
