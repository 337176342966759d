#pragma once
// The readable forms of the daemon's status answers (docs/api.md shapes):
// `ipsec status`, `ipsec trafficstatus` and the one-line outcome of an add,
// delete or intent. Each takes the JSON text the API answered and fails with
// the reason when it is not JSON of the documented shape.

#include <string>

#include "model/result.h"

namespace ipsecd::cli {

// GET /v1/status and GET /v1/connections as a summary, the sources with
// their errors, a table of connections (name, origin, auto=, intent,
// generation/observed, conditions) and under each its IKE and CHILD SAs
// (SPIs, state, addresses, IDs, algorithms, bytes, times, rekey counts) and
// last error. Times in UTC with `utc`, else local time.
model::Result<std::string> format_status(const std::string& status_json,
                                         const std::string& connections_json, bool utc);

// {"status": STATUS, "connections": [CONNECTION...]}: what --json prints.
model::Result<std::string> combine_status_json(const std::string& status_json,
                                               const std::string& connections_json);

// libreswan's trafficstatus lines, one per CHILD SA of GET /v1/connections:
//   006 #N: "NAME", type=ESP, add_time=EPOCH, inBytes=N, outBytes=N, id='REMOTE-ID'
// N counts the CHILD SAs listed from 1 (ipsecd has no state serial numbers);
// id= is the remote ID of the connection's first IKE SA, left out when none.
model::Result<std::string> format_trafficstatus(const std::string& connections_json);

// One line for a connection status answer (add, replace) or an intent outcome.
std::string describe_connection(const std::string& status_json);
std::string describe_intent(const std::string& outcome_json);

}  // namespace ipsecd::cli
