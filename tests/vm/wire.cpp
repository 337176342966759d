#include "tests/vm/wire.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace ipsecd::vmtest {
namespace {

using kernel::Address;
using kernel::Family;

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr uint32_t kLinkEthernet = 1;
constexpr size_t kGlobalHeader = 24;
constexpr size_t kRecordHeader = 16;
constexpr size_t kEthernetHeader = 14;

uint32_t read32(const uint8_t* p, bool swapped) {
  uint32_t v = static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
               static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
  if (swapped) {
    v = __builtin_bswap32(v);
  }
  return v;
}

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

bool in_any(const std::vector<kernel::Prefix>& nets, const Address& a) {
  return std::any_of(nets.begin(), nets.end(),
                     [&a](const kernel::Prefix& p) { return p.contains(a); });
}

// Looks at one IP packet (starting at its header) and counts what it is.
void classify_ip(const uint8_t* p, size_t len, uint16_t ethertype,
                 const std::vector<kernel::Prefix>& inner, WireSummary& s) {
  uint8_t proto = 0;
  size_t hdr = 0;
  Address src;
  Address dst;
  if (ethertype == 0x0800) {
    if (len < 20 || (p[0] >> 4) != 4) {
      return;
    }
    hdr = static_cast<size_t>(p[0] & 0x0f) * 4;
    if (hdr < 20 || hdr > len) {
      return;
    }
    proto = p[9];
    src = Address::from_bytes(Family::kIpv4, p + 12);
    dst = Address::from_bytes(Family::kIpv4, p + 16);
  } else {
    if (len < 40 || (p[0] >> 4) != 6) {
      return;
    }
    hdr = 40;
    proto = p[6];  // the tunnels here never add extension headers
    src = Address::from_bytes(Family::kIpv6, p + 8);
    dst = Address::from_bytes(Family::kIpv6, p + 24);
  }
  if (in_any(inner, src) || in_any(inner, dst)) {
    ++s.inner_in_clear;
  }
  const uint8_t* l4 = p + hdr;
  size_t l4len = len - hdr;
  if (proto == 50) {
    ++s.esp;
  } else if (proto == 17 && l4len >= 12 && (be16(l4) == 4500 || be16(l4 + 2) == 4500)) {
    // A zero in the SPI position is the non-ESP marker of IKE on 4500, not ESP.
    if (l4[8] != 0 || l4[9] != 0 || l4[10] != 0 || l4[11] != 0) {
      ++s.esp_in_udp;
    }
  } else if (proto == 1 && l4len >= 1 && (l4[0] == 8 || l4[0] == 0)) {
    ++s.icmp_echo;
  } else if (proto == 58 && l4len >= 1 && (l4[0] == 128 || l4[0] == 129)) {
    ++s.icmp_echo;
  }
}

}  // namespace

WireResult summarize_pcap(const std::string& path, const std::vector<kernel::Prefix>& inner,
                          const std::vector<uint8_t>& pattern) {
  WireResult r;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    r.error = path + ": cannot open the capture file";
    return r;
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (data.size() < kGlobalHeader) {
    r.error = path + ": " + std::to_string(data.size()) +
              " bytes is shorter than a pcap header (24 bytes); did tcpdump start?";
    return r;
  }
  uint32_t magic = read32(data.data(), false);
  bool swapped = false;
  if (magic != kMagicMicro && magic != kMagicNano) {
    swapped = true;
    magic = read32(data.data(), true);
    if (magic != kMagicMicro && magic != kMagicNano) {
      r.error = path + ": not a pcap file (magic is neither a1b2c3d4 nor a1b23c4d)";
      return r;
    }
  }
  uint32_t link = read32(data.data() + 20, swapped);
  if (link != kLinkEthernet) {
    r.error = path + ": link type " + std::to_string(link) + ", expected 1 (Ethernet)";
    return r;
  }
  size_t off = kGlobalHeader;
  while (off < data.size()) {
    if (data.size() - off < kRecordHeader) {
      r.error = path + ": truncated record header at offset " + std::to_string(off);
      return r;
    }
    uint32_t caplen = read32(data.data() + off + 8, swapped);
    off += kRecordHeader;
    if (caplen > data.size() - off) {
      r.error = path + ": record at offset " + std::to_string(off) + " claims " +
                std::to_string(caplen) + " bytes, only " + std::to_string(data.size() - off) +
                " remain";
      return r;
    }
    const uint8_t* frame = data.data() + off;
    off += caplen;
    ++r.summary.frames;
    if (!pattern.empty() &&
        std::search(frame, frame + caplen, pattern.begin(), pattern.end()) != frame + caplen) {
      ++r.summary.pattern_hits;
    }
    if (caplen < kEthernetHeader) {
      continue;
    }
    uint16_t ethertype = be16(frame + 12);
    if (ethertype == 0x0800 || ethertype == 0x86dd) {
      classify_ip(frame + kEthernetHeader, caplen - kEthernetHeader, ethertype, inner, r.summary);
    }
  }
  return r;
}

}  // namespace ipsecd::vmtest
