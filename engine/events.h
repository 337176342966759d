#pragma once
// What the engine tells the controller, and what it lists.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/algorithms.h"
#include "kernel/backend.h"

namespace ipsecd::engine {

enum class EventType : uint8_t {
  kIkeUp,
  kIkeDown,
  kIkeFailed,
  kChildUp,
  kChildDown,
  kChildFailed,
  kRekeyed,      // an SA was replaced by a new one; the connection stayed up throughout
  kRekeyFailed,  // a rekey did not complete; the old SA stays until it expires
};
std::string_view name(EventType type);  // "ike-up", "child-failed", "rekeyed", ...

// What a rekey replaced: the IKE SA (RFC 7296 1.3.2), a CHILD SA (1.3.3), or
// the IKE SA by a new IKE_SA_INIT and IKE_AUTH (reauth=yes).
enum class RekeyKind : uint8_t { kIke, kChild, kReauth };
std::string_view name(RekeyKind kind);  // "ike", "child", "reauth"

struct Event {
  EventType type = EventType::kIkeUp;
  std::string connection;
  uint64_t spi_i = 0;  // the IKE SA's SPIs
  uint64_t spi_r = 0;
  uint32_t child_spi_in = 0;  // CHILD events: our inbound and outbound ESP SPIs
  uint32_t child_spi_out = 0;
  std::string reason;  // why it failed or went down; empty for up
  // kIkeFailed and kChildDown: the IKE SA ended because the peer did not answer
  // a liveness check (DPD, RFC 7296 2.4) within dpdtimeout (else
  // retransmit-timeout): the peer is dead, which dpdaction= acts on.
  bool dead_peer = false;
  std::chrono::nanoseconds handshake{};  // kIkeUp: from the SA's creation to established
  // kRekeyed and kRekeyFailed: what was (to be) replaced. For kRekeyed the
  // SPIs above are the new SA's and these the old one's (IKE SPIs for kIke
  // and kReauth, CHILD SPIs for kChild).
  RekeyKind rekey = RekeyKind::kChild;
  uint64_t replaced_spi_i = 0;
  uint64_t replaced_spi_r = 0;
  uint32_t replaced_child_spi_in = 0;
  uint32_t replaced_child_spi_out = 0;
};

struct ChildSaInfo {
  std::string connection;
  // "installed"; "rekeying" (our rekey is under way); "rekeyed" (replaced,
  // kept for inbound packets until its DELETE completes); "deleting"
  std::string state;
  uint32_t spi_in = 0;
  uint32_t spi_out = 0;
  uint32_t reqid = 0;
  EspAlgorithms algorithms;
  std::string mode;      // "tunnel" or "transport"
  std::string local_ts;  // "[10.0.1.0/24 10.0.9.0/24]"
  std::string remote_ts;
  std::vector<std::string> local_selectors;  // the same, one entry per selector
  std::vector<std::string> remote_selectors;
  std::chrono::system_clock::time_point established;
  std::optional<std::chrono::system_clock::time_point> rekey_at;    // null: rekey=no or replaced
  std::optional<std::chrono::system_clock::time_point> expires_at;  // the hard lifetime
  uint32_t rekeys = 0;  // how often this CHILD SA's predecessors were rekeyed
  kernel::Counters in;  // from the kernel; zero when it could not be read
  kernel::Counters out;
};

struct IkeSaInfo {
  std::string connection;
  std::string state;  // "connecting", "established", "rekeying", "deleting"
  bool initiator = false;
  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  std::string local;  // "192.0.2.1:500"
  std::string remote;
  std::string local_id;
  std::string remote_id;
  std::optional<IkeAlgorithms> algorithms;  // none before IKE_SA_INIT ends
  std::optional<std::chrono::system_clock::time_point> established;
  std::optional<std::chrono::system_clock::time_point> rekey_at;    // rekey=yes, reauth=no
  std::optional<std::chrono::system_clock::time_point> reauth_at;   // reauth=yes
  std::optional<std::chrono::system_clock::time_point> expires_at;  // rekey=no: deleted then
  uint32_t rekeys = 0;  // how often this IKE SA's predecessors were rekeyed or reauthenticated
  std::vector<ChildSaInfo> children;
};

}  // namespace ipsecd::engine
