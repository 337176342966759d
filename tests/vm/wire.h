// What a packet capture shows about traffic on a link: ESP, ESP-in-UDP, clear ICMP echoes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernel/backend.h"

namespace ipsecd::vmtest {

struct WireSummary {
  size_t frames = 0;          // Ethernet frames in the capture
  size_t esp = 0;             // IP protocol 50
  size_t esp_in_udp = 0;      // UDP port 4500 with a non-zero SPI (RFC 3948)
  size_t icmp_echo = 0;       // clear ICMP/ICMPv6 echo request or reply
  size_t inner_in_clear = 0;  // IP packets whose own addresses lie in a protected subnet
  size_t pattern_hits = 0;    // frames containing the ping payload pattern
};

// Reads a pcap file written by tcpdump (Ethernet link type). `inner` are the subnets that must
// never show up as a packet's outer addresses; `pattern` the bytes that must never show up at all.
// Returns an error message for a file that is not a complete Ethernet pcap.
struct WireResult {
  WireSummary summary;
  std::string error;
};
WireResult summarize_pcap(const std::string& path, const std::vector<kernel::Prefix>& inner,
                          const std::vector<uint8_t>& pattern);

}  // namespace ipsecd::vmtest
