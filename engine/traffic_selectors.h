#pragma once
// Traffic selectors (RFC 7296 3.13): built from a connection's subnets and
// protoport, narrowed as 2.9 says, and turned into kernel policy selectors.

#include <string>
#include <vector>

#include "engine/wire/message.h"
#include "kernel/backend.h"
#include "model/connection.h"
#include "model/result.h"

namespace ipsecd::engine {

// The endpoint's subnets, or the host address when it has none, each with
// the endpoint's protocol and port.
std::vector<wire::TrafficSelector> endpoint_selectors(const model::Endpoint& endpoint,
                                                      const model::IpAddress& host);
wire::TrafficSelector host_selector(const kernel::Address& address);

// Every non-empty intersection of an offered selector with one of ours; empty
// when nothing overlaps (answer TS_UNACCEPTABLE).
std::vector<wire::TrafficSelector> narrow(const std::vector<wire::TrafficSelector>& offered,
                                          const std::vector<wire::TrafficSelector>& ours);
// Whether every answered selector lies inside one of those offered.
bool within(const std::vector<wire::TrafficSelector>& answered,
            const std::vector<wire::TrafficSelector>& offered);
bool same_selectors(const std::vector<wire::TrafficSelector>& a,
                    const std::vector<wire::TrafficSelector>& b);

// Outbound kernel selectors (local to remote) for every pair of a local and a
// remote selector of one family; address ranges become prefixes. Fails for a
// port range other than one port or all (XFRM selectors hold one port).
model::Result<std::vector<kernel::Selector>> flows(
    const std::vector<wire::TrafficSelector>& local,
    const std::vector<wire::TrafficSelector>& remote);

std::string str(const wire::TrafficSelector& ts);  // "10.0.1.0/24", "10.0.1.0..10.0.1.9 tcp/22"
std::string str(const std::vector<wire::TrafficSelector>& list);

}  // namespace ipsecd::engine
