#include "controller/sa_status.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>

namespace ipsecd::controller {
namespace {

IkeAlgorithms ike_algorithms(const std::optional<engine::IkeAlgorithms>& a) {
  if (!a) {
    return {};
  }
  return {engine::encr_label(a->encr), engine::integ_label(a->integ), engine::prf_label(a->prf),
          engine::dh_label(a->dh)};
}

ChildAlgorithms child_algorithms(const engine::EspAlgorithms& a) {
  return {engine::encr_label(a.encr), engine::integ_label(a.integ), engine::dh_label(a.dh), a.esn};
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
