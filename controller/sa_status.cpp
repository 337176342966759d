#include "controller/sa_status.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <vector>

namespace ipsecd::controller {
namespace {

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    out.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool is_integrity_name(std::string_view s) {
  return s.starts_with("HMAC") || s.starts_with("AES_XCBC") || s.starts_with("AES_CMAC") ||
         s.starts_with("AUTH");
}

// "AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE25519" (engine::IkeAlgorithms::str()).
IkeAlgorithms ike_algorithms(std::string_view text) {
  IkeAlgorithms out;
  if (text.empty()) {
    return out;
  }
  auto parts = split(text, '/');
  out.encryption = parts.front();
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].starts_with("PRF_")) {
      out.prf = parts[i];
    } else if (i + 1 == parts.size()) {
      out.dh_group = parts[i];
    } else {
      out.integrity = parts[i];
    }
  }
  return out;
}

// "AES_CBC_256/HMAC_SHA2_256_128/MODP_2048/ESN" (engine::EspAlgorithms::str()).
ChildAlgorithms child_algorithms(std::string_view text) {
  ChildAlgorithms out;
  if (text.empty()) {
    return out;
  }
  auto parts = split(text, '/');
  out.encryption = parts.front();
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == "ESN") {
      out.esn = true;
    } else if (is_integrity_name(parts[i])) {
      out.integrity = parts[i];
    } else {
      out.dh_group = parts[i];
    }
  }
  return out;
}

std::optional<WallTime> wall(const std::optional<std::chrono::system_clock::time_point>& t) {
  if (!t || *t == std::chrono::system_clock::time_point{}) {
    return std::nullopt;
  }
  return *t;
}

std::optional<WallTime> wall(std::chrono::system_clock::time_point t) {
  return wall(std::optional(t));
}

// "0xc0ffee01/0xc0ffee02": a pair of SPIs as the kernel's log lines print one.
std::string spis(uint64_t a, uint64_t b, int digits) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "0x%0*llx/0x%0*llx", digits,
                static_cast<unsigned long long>(a), digits, static_cast<unsigned long long>(b));
  return buffer;
}

// "child SA", "IKE SA", "IKE SA (reauth)".
std::string what(engine::RekeyKind kind) {
  switch (kind) {
    case engine::RekeyKind::kChild:
      return "child SA";
    case engine::RekeyKind::kIke:
      return "IKE SA";
    case engine::RekeyKind::kReauth:
      return "IKE SA (reauth)";
  }
  return "SA";
}

}  // namespace

std::string status_state(std::string_view engine_state) {
  std::string out(engine_state);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool ike_sa_up(std::string_view engine_state) {
  return engine_state == "established" || engine_state == "rekeying";
}

bool child_sa_up(std::string_view engine_state) {
  return engine_state == "installed" || engine_state == "rekeying";
}

IkeSaState ike_sa_metric_state(std::string_view engine_state) {
  if (engine_state == "established") {
    return IkeSaState::kEstablished;
  }
  if (engine_state == "rekeying") {
    return IkeSaState::kRekeying;
  }
  if (engine_state == "deleting") {
    return IkeSaState::kDeleting;
  }
  return IkeSaState::kConnecting;
}

RekeyKind rekey_kind(engine::RekeyKind kind) {
  switch (kind) {
    case engine::RekeyKind::kIke:
      return RekeyKind::kIke;
    case engine::RekeyKind::kChild:
      return RekeyKind::kChild;
    case engine::RekeyKind::kReauth:
      return RekeyKind::kReauth;
  }
  return RekeyKind::kChild;
}

IkeSaStatus ike_sa_status(const engine::IkeSaInfo& sa) {
  IkeSaStatus out;
  out.initiator = sa.initiator;
  out.local_spi = sa.initiator ? sa.spi_i : sa.spi_r;
  out.remote_spi = sa.initiator ? sa.spi_r : sa.spi_i;
  out.state = status_state(sa.state);
  out.local_address = sa.local;
  out.remote_address = sa.remote;
  out.local_id = sa.local_id;
  out.remote_id = sa.remote_id;
  out.algorithms = ike_algorithms(sa.algorithms);
  out.established_at = wall(sa.established);
  out.rekey_at = wall(sa.rekey_at);
  out.reauth_at = wall(sa.reauth_at);
  out.expires_at = wall(sa.expires_at);
  out.rekeys = sa.rekeys;
  return out;
}

ChildSaStatus child_sa_status(const engine::ChildSaInfo& sa, bool udp_encapsulated) {
  ChildSaStatus out;
  out.spi_in = sa.spi_in;
  out.spi_out = sa.spi_out;
  out.reqid = sa.reqid;
  out.state = status_state(sa.state);
  out.protocol = "ESP";
  out.mode = sa.mode;
  out.udp_encapsulated = udp_encapsulated;
  out.algorithms = child_algorithms(sa.algorithms);
  out.bytes_in = sa.in.bytes;
  out.bytes_out = sa.out.bytes;
  out.packets_in = sa.in.packets;
  out.packets_out = sa.out.packets;
  out.local_ts = sa.local_selectors;
  out.remote_ts = sa.remote_selectors;
  out.established_at = wall(sa.established);
  out.rekey_at = wall(sa.rekey_at);
  out.expires_at = wall(sa.expires_at);
  out.rekeys = sa.rekeys;
  return out;
}

std::string describe_rekey(const engine::Event& e) {
  const bool child = e.rekey == engine::RekeyKind::kChild;
  const std::string old_spis = child ? spis(e.replaced_child_spi_in, e.replaced_child_spi_out, 8)
                                     : spis(e.replaced_spi_i, e.replaced_spi_r, 16);
  const std::string new_spis =
      child ? spis(e.child_spi_in, e.child_spi_out, 8) : spis(e.spi_i, e.spi_r, 16);
  if (e.type == engine::EventType::kRekeyed) {
    return "rekeyed " + what(e.rekey) + " " + old_spis + " -> " + new_spis;
  }
  // A failed rekey names the SA it was to replace (the SPIs above, should the
  // engine leave the replaced ones unset).
  const bool replaced_set = child ? (e.replaced_child_spi_in != 0 || e.replaced_child_spi_out != 0)
                                  : (e.replaced_spi_i != 0 || e.replaced_spi_r != 0);
  return std::string(engine::name(e.type)) + ": " + what(e.rekey) + " " +
         (replaced_set ? old_spis : new_spis) + (e.reason.empty() ? "" : ": " + e.reason);
}

}  // namespace ipsecd::controller
