#include "controller/api/control.h"

#include <cstdio>

#include "model/config.h"
#include "model/yaml_spec.h"

namespace ipsecd::controller {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kConflict:
      return "conflict";
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kFailed:
      return "failed";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "failed";
}

std::string_view spec_format_name(SpecFormat format) {
  switch (format) {
    case SpecFormat::kAuto:
      return "auto";
    case SpecFormat::kIpsecConf:
      return "ipsec.conf";
    case SpecFormat::kYaml:
      return "yaml";
  }
  return "auto";
}

std::optional<SpecFormat> parse_spec_format(std::string_view text) {
  for (SpecFormat f : {SpecFormat::kAuto, SpecFormat::kIpsecConf, SpecFormat::kYaml}) {
    if (text == spec_format_name(f)) {
      return f;
    }
  }
  return std::nullopt;
}

namespace {

// The name API diagnostics carry in place of a file name.
constexpr const char* kSpecName = "spec";

std::string_view trim_left(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
    ++i;
  }
  return s.substr(i);
}

std::string_view first_word(std::string_view line) {
  line = trim_left(line);
  size_t end = 0;
  while (end < line.size() && line[end] != ' ' && line[end] != '\t' && line[end] != '\r') {
    ++end;
  }
  return line.substr(0, end);
}

// Calls f(line_number, line) for every line of text.
template <class F>
void for_each_line(std::string_view text, F f) {
  int number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    f(++number, line);
    if (nl == std::string_view::npos) {
      break;
    }
    text.remove_prefix(nl + 1);
  }
}

SpecFormat detect_format(std::string_view text) {
  bool yaml_keys = false;
  bool conn_line = false;
  for_each_line(text, [&](int, std::string_view line) {
    std::string_view word = first_word(line);
    if (word == "conn") {
      conn_line = true;
    } else if (line.starts_with("apiVersion:") || line.starts_with("kind:")) {
      yaml_keys = true;
    }
  });
  return yaml_keys && !conn_line ? SpecFormat::kYaml : SpecFormat::kIpsecConf;
}

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalid, std::move(message)};
}

std::string join_errors(const model::Diagnostics& diagnostics) {
  std::string out;
  for (const model::Diagnostic& d : diagnostics.all()) {
    if (d.severity != model::Severity::kError) {
      continue;
    }
    if (!out.empty()) {
      out += "; ";
    }
    out += d.str();
  }
  return out;
}

}  // namespace

ControlResult<ConnectionSpec> parse_connection_spec(std::string text, SpecFormat format) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid(
        "the spec is empty; send one 'conn NAME' section or one IPsecConnection "
        "YAML document");
  }
  if (format == SpecFormat::kAuto) {
    format = detect_format(text);
  }
  model::Config config;
  if (format == SpecFormat::kYaml) {
    config = model::parse_yaml_text(text, kSpecName);
  } else {
    std::string refused;
    for_each_line(text, [&](int number, std::string_view line) {
      std::string_view word = first_word(line);
      std::string where = std::string(kSpecName) + ":" + std::to_string(number) + ": ";
      if (refused.empty() && word == "include") {
        refused = where +
                  "'include' is not allowed in a spec sent to the API (the daemon "
                  "does not read its own files for a client); inline the conn";
      } else if (refused.empty() && word == "config" && !line.starts_with(" ") &&
                 !line.starts_with("\t")) {
        refused = where +
                  "'config setup' cannot be changed through the API; send only conn "
                  "sections (a %default section is fine)";
      }
    });
    if (!refused.empty()) {
      return invalid(std::move(refused));
    }
    model::ParseOptions options;
    options.max_include_depth = 0;  // belt and braces: never read a file for a client
    options.keep_ignored = true;
    config = model::parse_config_text(text, kSpecName, options, "/nonexistent");
  }
  if (config.diagnostics.has_errors()) {
    return invalid(join_errors(config.diagnostics));
  }
  model::ConnectionSet set = model::build_connections(std::move(config));
  if (set.diagnostics.has_errors()) {
    return invalid(join_errors(set.diagnostics));
  }
  if (set.connections.size() != 1) {
    std::string names;
    for (const model::Connection& c : set.connections) {
      names += (names.empty() ? "" : ", ") + c.name;
    }
    return invalid("the spec defines " + std::to_string(set.connections.size()) + " connections" +
                   (names.empty() ? "" : " (" + names + ")") + "; send exactly one per request");
  }
  model::Connection connection = std::move(set.connections.front());
  if (connection.auto_action == model::AutoAction::kIgnore) {
    if (!connection.value("auto").empty()) {
      return invalid("connection " + connection.name +
                     " has auto=ignore and would not be loaded; use auto=add, route or start");
    }
    // As `ipsec auto --add`: a conn sent to be added is loaded whatever auto= says.
    connection.auto_action = model::AutoAction::kAdd;
  }
  return ConnectionSpec{std::move(connection), std::move(text), format};
}

// --- JSON ---------------------------------------------------------------------

namespace {

// How a field, a list, a time and a boolean are spelled, for every to_json below.

// RFC 3339 in quotes, or null.
std::string time_json(const std::optional<WallTime>& t) {
  return t ? json_quote(format_rfc3339(*t)) : "null";
}

std::string strings_json(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& s : items) {
    out += (out.size() > 1 ? "," : "") + json_quote(s);
  }
  return out + "]";
}

// A JSON array of to_json(item) for each item.
template <class T>
std::string array_json(const std::vector<T>& items) {
  std::string out = "[";
  for (const T& item : items) {
    out += (out.size() > 1 ? "," : "") + to_json(item);
  }
  return out + "]";
}

// ,"key":value (no comma before the first field of an object).
std::string field(std::string_view key, const std::string& json_value, bool first = false) {
  return (first ? "" : ",") + json_quote(key) + ":" + json_value;
}

std::string boolean(bool b) {
  return b ? "true" : "false";
}

std::string hex(uint64_t value, int digits) {
  char buffer[24];
  std::snprintf(buffer, sizeof(buffer), "%0*llx", digits, static_cast<unsigned long long>(value));
  return json_quote(buffer);
}

}  // namespace

std::string to_json(const IkeSaStatus& sa) {
  std::string out = "{";
  out += field("localSpi", hex(sa.local_spi, 16), true);
  out += field("remoteSpi", hex(sa.remote_spi, 16));
  out += field("initiator", boolean(sa.initiator));
  out += field("state", json_quote(sa.state));
  out += field("localAddress", json_quote(sa.local_address));
  out += field("remoteAddress", json_quote(sa.remote_address));
  out += field("localId", json_quote(sa.local_id));
  out += field("remoteId", json_quote(sa.remote_id));
  out += field("encryption", json_quote(sa.algorithms.encryption));
  out += field("integrity", json_quote(sa.algorithms.integrity));
  out += field("prf", json_quote(sa.algorithms.prf));
  out += field("dhGroup", json_quote(sa.algorithms.dh_group));
  out += field("establishedAt", time_json(sa.established_at));
  out += field("rekeyAt", time_json(sa.rekey_at));
  out += field("reauthAt", time_json(sa.reauth_at));
  out += field("expiresAt", time_json(sa.expires_at));
  out += field("rekeys", std::to_string(sa.rekeys));
  return out + "}";
}

std::string to_json(const ChildSaStatus& sa) {
  std::string out = "{";
  out += field("spiIn", hex(sa.spi_in, 8), true);
  out += field("spiOut", hex(sa.spi_out, 8));
  out += field("reqid", std::to_string(sa.reqid));
  out += field("state", json_quote(sa.state));
  out += field("protocol", json_quote(sa.protocol));
  out += field("mode", json_quote(sa.mode));
  out += field("udpEncapsulated", boolean(sa.udp_encapsulated));
  out += field("encryption", json_quote(sa.algorithms.encryption));
  out += field("integrity", json_quote(sa.algorithms.integrity));
  out += field("dhGroup", json_quote(sa.algorithms.dh_group));
  out += field("esn", boolean(sa.algorithms.esn));
  out += field("bytesIn", std::to_string(sa.bytes_in));
  out += field("bytesOut", std::to_string(sa.bytes_out));
  out += field("packetsIn", std::to_string(sa.packets_in));
  out += field("packetsOut", std::to_string(sa.packets_out));
  out += field("localTs", strings_json(sa.local_ts));
  out += field("remoteTs", strings_json(sa.remote_ts));
  out += field("establishedAt", time_json(sa.established_at));
  out += field("rekeyAt", time_json(sa.rekey_at));
  out += field("expiresAt", time_json(sa.expires_at));
  out += field("rekeys", std::to_string(sa.rekeys));
  return out + "}";
}

std::string to_json(const ConnectionStatus& status) {
  std::string out = "{";
  out += field("name", json_quote(status.name), true);
  out += field("origin", json_quote(status.origin));
  out += field("generation", std::to_string(status.generation));
  out += field("observedGeneration", std::to_string(status.observed_generation));
  out += field("intent", json_quote(intent_name(status.intent)));
  out += field("auto", json_quote(status.auto_action));
  out += field("conditions", to_json(status.conditions));
  out += field("ikeSas", array_json(status.ike_sas));
  out += field("childSas", array_json(status.child_sas));
  out += field("lastError", json_quote(status.last_error));
  return out + "}";
}

std::string to_json(const SourceStatus& source) {
  std::string out = "{";
  out += field("origin", json_quote(source.origin), true);
  out += field("connections", std::to_string(source.connections));
  out += field("errors", strings_json(source.errors));
  return out + "}";
}

std::string to_json(const DaemonStatus& status) {
  std::string out = "{";
  out += field("version", json_quote(status.version), true);
  out += field("startedAt", time_json(status.started_at));
  out += field("ready", boolean(status.ready));
  out += field("connections", std::to_string(status.connections));
  out += field("established", std::to_string(status.established));
  out += field("routed", std::to_string(status.routed));
  out += field("failing", std::to_string(status.failing));
  out += field("ikeSas", std::to_string(status.ike_sas));
  out += field("childSas", std::to_string(status.child_sas));
  out += field("workQueueDepth", std::to_string(status.work_queue_depth));
  out += field("sources", array_json(status.sources));
  return out + "}";
}

std::string to_json(const SecretsReload& reload) {
  std::string out = "{";
  out += field("secrets", std::to_string(reload.secrets), true);
  out += field("warnings", strings_json(reload.warnings));
  return out + "}";
}

std::string to_json(const IntentOutcome& outcome) {
  std::string out = "{";
  out += field("intent", json_quote(intent_name(outcome.intent)), true);
  out += field("completed", boolean(outcome.completed));
  out += field("connection", to_json(outcome.connection));
  return out + "}";
}

std::string to_json(const CertItem& item) {
  std::string out = "{";
  out += field("file", json_quote(item.file), true);
  out += field("format", json_quote(item.format));
  out += field("subject", json_quote(item.subject));
  out += field("issuer", json_quote(item.issuer));
  out += field("serial", json_quote(item.serial));
  out += field("notBefore", time_json(item.not_before));
  out += field("notAfter", time_json(item.not_after));
  out += field("keyType", json_quote(item.key_type));
  out += field("fingerprintSha256", json_quote(item.fingerprint_sha256));
  out += field("isCa", boolean(item.is_ca));
  out += field("subjectAltNames", strings_json(item.subject_alt_names));
  out += field("hasPrivateKey", boolean(item.has_private_key));
  return out + "}";
}

std::string to_json(const CrlItem& item) {
  std::string out = "{";
  out += field("file", json_quote(item.file), true);
  out += field("issuer", json_quote(item.issuer));
  out += field("thisUpdate", time_json(item.this_update));
  out += field("nextUpdate", time_json(item.next_update));
  std::string revoked = "[";
  for (const RevokedSerial& r : item.revoked) {
    revoked += std::string(revoked.size() > 1 ? "," : "") + "{" +
               field("serial", json_quote(r.serial), true) +
               field("revokedAt", time_json(r.revoked_at)) + "}";
  }
  out += field("revoked", revoked + "]");
  out += field("verified", boolean(item.verified));
  out += field("verifyError", json_quote(item.verify_error));
  return out + "}";
}

std::string to_json(const PubkeyItem& item) {
  std::string out = "{";
  out += field("connection", json_quote(item.connection), true);
  out += field("side", json_quote(item.side));
  out += field("id", json_quote(item.id));
  out += field("keyType", json_quote(item.key_type));
  out += field("bits", std::to_string(item.bits));
  out += field("keyId", json_quote(item.key_id));
  out += field("source", json_quote(item.source));
  return out + "}";
}

std::string to_json(const CertListing& listing) {
  std::string out = "{";
  out += field("kind", json_quote(cert_kind_name(listing.kind)), true);
  out += field("directory", json_quote(listing.directory));
  if (listing.kind == CertKind::kCrls) {
    out += field("items", array_json(listing.crls));
  } else if (listing.kind == CertKind::kPubkeys) {
    out += field("items", array_json(listing.pubkeys));
  } else {
    out += field("items", array_json(listing.certs));
  }
  out += field("errors", strings_json(listing.errors));
  return out + "}";
}

std::string to_json(const CertCheck& check) {
  std::string out = "{";
  out += field(
      "window",
      std::to_string(std::chrono::duration_cast<std::chrono::seconds>(check.window).count()), true);
  std::string items = "[";
  for (const CertCheckItem& item : check.items) {
    items += std::string(items.size() > 1 ? "," : "") + "{" +
             field("kind", json_quote(cert_kind_name(item.kind)), true) +
             field("name", json_quote(item.name)) + field("notAfter", time_json(item.not_after)) +
             field("status", json_quote(cert_status_name(item.status))) +
             field("message", json_quote(item.message)) + "}";
  }
  out += field("items", items + "]");
  return out + "}";
}

std::string to_json(const PolicyGroup& group) {
  std::string out = "{";
  out += field("name", json_quote(group.name), true);
  out += field("file", json_quote(group.file));
  out += field("entries", strings_json(group.entries));
  out += field("errors", strings_json(group.errors));
  return out + "}";
}

std::string groups_json(const std::vector<PolicyGroup>& groups) {
  return "{\"groups\":" + array_json(groups) + "}";
}

std::string reloaded_json(const std::vector<CertListing>& listings) {
  return "{\"reloaded\":" + array_json(listings) + "}";
}

std::string error_json(std::string_view code, std::string_view message) {
  return "{\"error\":{\"code\":" + json_quote(code) + ",\"message\":" + json_quote(message) + "}}";
}

}  // namespace ipsecd::controller
