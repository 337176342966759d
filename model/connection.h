#pragma once
// The structured desired state of one connection, built from its resolved
// keywords (model/config.h) or a YAML spec (model/yaml_spec.h). This is what
// the controller stores and diffs and what the engine negotiates.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"
#include "model/proposals.h"
#include "model/values.h"

namespace ipsecd::model {

enum class AutoAction : uint8_t { kIgnore, kAdd, kRoute, kStart };
enum class Mode : uint8_t { kTunnel, kTransport, kPassthrough, kDrop, kReject };
enum class AuthMethod : uint8_t {
  kDefault,
  kPsk,
  kRsaSig,
  kEcdsa,
  kEddsa,
  kNull,
  kNever,
  kEapOnly
};
enum class HostKind : uint8_t {
  kUnset,
  kAddress,        // a literal address
  kAny,            // %any / %any6: accept any peer (road warrior)
  kDefaultRoute,   // %defaultroute: the address of the default route's interface
  kDnsName,        // resolved when the connection is loaded
  kOpportunistic,  // %opportunistic / %opportunisticgroup / %group
};
enum class Tristate : uint8_t { kNo, kYes, kAuto };
// dpdaction=, libreswan 4's meaning: what is left once a liveness check
// (dpddelay=) went unanswered and the peer is declared dead.
enum class DpdAction : uint8_t {
  kHold,     // the SAs go, trap policies hold the traffic; the next packet renegotiates
  kClear,    // the SAs and the policies go; nothing comes back on its own
  kRestart,  // the SAs go and the connection is initiated again at once
};
std::string_view dpd_action_name(DpdAction action);  // "hold", "clear", "restart"

// Settings that are plain text (leftcert=, leftca=, leftupdown=, a DNS name in
// left=, ...) are not copied here: Connection::value() reads them from the
// canonical settings, which keeps a connection small at 10k+ per node.
struct Endpoint {
  HostKind host_kind = HostKind::kUnset;
  std::optional<IpAddress> address;  // kAddress
  std::vector<Subnet> subnets;       // leftsubnet= / leftsubnets=; empty: the host itself
  ProtoPort protoport;
  Identity id;  // kind kAny when unset: the address is used
  AuthMethod auth = AuthMethod::kDefault;
  std::optional<IpAddress> nexthop;
  std::optional<IpAddress> sourceip;
  uint16_t ike_port = 0;  // 0: the daemon's configured port
};

// Parsed proposal lists are shared between the connections that spell them
// the same way (usually all of them, through %default).
using ProposalList = std::shared_ptr<const std::vector<Proposal>>;

struct Connection {
  std::string name;
  Endpoint left;
  Endpoint right;
  AutoAction auto_action = AutoAction::kIgnore;
  Mode mode = Mode::kTunnel;
  AuthMethod authby = AuthMethod::kDefault;

  ProposalList ike;  // null: the engine's defaults
  ProposalList esp;
  bool pfs = true;
  Tristate esn = Tristate::kAuto;  // esn=either
  bool rekey = true;
  bool reauth = false;
  bool mobike = false;
  bool narrowing = false;
  Tristate encapsulation = Tristate::kAuto;  // NAT-T UDP encapsulation
  bool nat_keepalive = true;
  Tristate fragmentation = Tristate::kYes;

  std::chrono::seconds ike_lifetime{28800};
  std::chrono::seconds ipsec_lifetime{28800};
  std::chrono::seconds rekey_margin{540};
  uint32_t rekey_fuzz_percent = 100;
  uint64_t ipsec_max_bytes = 0;    // 0: unlimited
  uint64_t ipsec_max_packets = 0;  // 0: unlimited
  std::chrono::seconds dpd_delay{0};
  std::chrono::seconds dpd_timeout{0};
  DpdAction dpd_action = DpdAction::kHold;  // libreswan 4's default
  std::chrono::milliseconds retransmit_interval{500};
  std::chrono::milliseconds retransmit_timeout{60000};
  uint32_t replay_window = 128;
  uint32_t reqid = 0;     // 0: allocated by the daemon
  uint32_t priority = 0;  // 0: derived from the selectors
  std::optional<Mark> mark_in;
  std::optional<Mark> mark_out;

  // The resolved keywords this was built from: the canonical form.
  std::vector<Setting> settings;
  // Stable 64-bit content hash of canonical(): same text, same hash, on every
  // machine and version.
  uint64_t hash = 0;

  // "keyword=value" lines in keyword-table order, libreswan spelling.
  std::string canonical() const;
  // The value of a keyword by canonical name ("cert" with Side::kLeft for
  // leftcert=); empty when unset.
  std::string_view value(std::string_view keyword_name, Side side = Side::kNone) const;
};

struct ConnectionSet {
  std::vector<Connection> connections;  // auto=ignore ones included
  Diagnostics diagnostics;
};

// Builds every conn of a parsed configuration; cross-keyword problems
// (e.g. leftsubnet= and rightsubnet= of different families) are reported with
// the conn's file:line.
ConnectionSet build_connections(const Config& config);
// The same, moving the settings out of `config` instead of copying them.
ConnectionSet build_connections(Config&& config);

}  // namespace ipsecd::model
