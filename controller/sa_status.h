#pragma once
// The engine's IKE and CHILD SAs as the controller reads them: which states
// count as up, how they show in status (control.h) and metrics, and the log
// line of a rekey. The engine's states are lower case ("established",
// "rekeying"); status shows them upper case ("ESTABLISHED", "REKEYING").

#include <string>
#include <string_view>

#include "controller/api/control.h"
#include "controller/metrics/metrics.h"
#include "engine/events.h"

namespace ipsecd::controller {

// "rekeying" -> "REKEYING", "rekeyed" -> "REKEYED": the status API's spelling.
std::string status_state(std::string_view engine_state);

// An IKE SA that protects its CHILD SAs: established, or established and
// being rekeyed (the old SA stays in use until the new one is up).
bool ike_sa_up(std::string_view engine_state);
// A CHILD SA that carries the traffic: installed, or being rekeyed. A
// "rekeyed" one is replaced (its successor carries it) and a "deleting" one going.
bool child_sa_up(std::string_view engine_state);

// The ipsec_ike_sas{state} an IKE SA counts under; unknown states count as connecting.
IkeSaState ike_sa_metric_state(std::string_view engine_state);

// The ipsec_rekeys_total{kind} of an engine rekey.
RekeyKind rekey_kind(engine::RekeyKind kind);

IkeSaStatus ike_sa_status(const engine::IkeSaInfo& sa);
// `udp_encapsulated`: its IKE SA runs on the NAT-T port (ESP in UDP).
ChildSaStatus child_sa_status(const engine::ChildSaInfo& sa, bool udp_encapsulated);

// The log line of a kRekeyed or kRekeyFailed event, after "NAME: ":
//   "rekeyed child SA 0xc0ffee01/0xc0ffee02 -> 0xc0ffee03/0xc0ffee04" (in/out)
//   "rekeyed IKE SA 0x0123456789abcdef/0xfedcba9876543210 -> 0x.../0x..." (i/r)
//   "rekey-failed: child SA 0xc0ffee01/0xc0ffee02: REASON"
std::string describe_rekey(const engine::Event& event);

}  // namespace ipsecd::controller
