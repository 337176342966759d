// A private network namespace for one test: addresses on lo, routes for the test prefixes.
#pragma once

#include <string>

#include "kernel/backend.h"

namespace ipsecd::kernel::testing {

// Moves the calling (single-threaded) test process into a fresh network namespace; the
// previous test's namespace disappears with its last socket. Returns why not, or "".
std::string enter_fresh_netns();
// Runs an `ip` command line; returns its exit status.
int ip(const std::string& args);
// Sends one UDP datagram from src; returns 0 or the errno sendto reported.
int send_udp_datagram(const Address& src, const Address& dst, uint16_t dport);

}  // namespace ipsecd::kernel::testing
