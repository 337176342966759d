#include "engine/traffic_selectors.h"

#include <algorithm>

namespace ipsecd::engine {
namespace {

using wire::TrafficSelector;
using wire::TsType;
using u128 = unsigned __int128;

std::size_t width(TsType type) {
  return type == TsType::kIpv4AddrRange ? 4 : 16;
}

u128 to_number(const std::array<uint8_t, 16>& bytes, std::size_t n) {
  u128 v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v = (v << 8) | bytes[i];
  }
  return v;
}

std::array<uint8_t, 16> from_number(u128 v, std::size_t n) {
  std::array<uint8_t, 16> out{};
  for (std::size_t i = n; i-- > 0;) {
    out[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
  return out;
}

bool address_type(const TrafficSelector& ts) {
  return ts.type == TsType::kIpv4AddrRange || ts.type == TsType::kIpv6AddrRange;
}

std::optional<TrafficSelector> intersect(const TrafficSelector& a, const TrafficSelector& b) {
  if (a.type != b.type || !address_type(a)) {
    return std::nullopt;
  }
  TrafficSelector out;
  out.type = a.type;
  if (a.ip_protocol != 0 && b.ip_protocol != 0 && a.ip_protocol != b.ip_protocol) {
    return std::nullopt;
  }
  out.ip_protocol = a.ip_protocol != 0 ? a.ip_protocol : b.ip_protocol;
  out.start_port = std::max(a.start_port, b.start_port);
  out.end_port = std::min(a.end_port, b.end_port);
  if (out.start_port > out.end_port) {
    return std::nullopt;
  }
  out.start_address = std::max(a.start_address, b.start_address);
  out.end_address = std::min(a.end_address, b.end_address);
  if (out.start_address > out.end_address) {
    return std::nullopt;
  }
  return out;
}

bool inside(const TrafficSelector& inner, const TrafficSelector& outer) {
  return inner.type == outer.type && address_type(inner) &&
         (outer.ip_protocol == 0 || outer.ip_protocol == inner.ip_protocol) &&
         inner.start_port >= outer.start_port && inner.end_port <= outer.end_port &&
         inner.start_address >= outer.start_address && inner.end_address <= outer.end_address;
}

// The fewest prefixes covering [start, end] exactly.
std::vector<kernel::Prefix> prefixes(const TrafficSelector& ts) {
  const std::size_t n = width(ts.type);
  const unsigned bits = static_cast<unsigned>(n * 8);
  const auto family = n == 4 ? kernel::Family::kIpv4 : kernel::Family::kIpv6;
  u128 lo = to_number(ts.start_address, n);
  const u128 hi = to_number(ts.end_address, n);
  std::vector<kernel::Prefix> out;
  while (true) {
    unsigned host_bits = 0;
    // Grow the block while lo stays aligned and the block stays inside the range.
    while (host_bits < bits) {
      u128 size = static_cast<u128>(1) << (host_bits + 1);
      if ((lo & (size - 1)) != 0 || lo + (size - 1) > hi || (host_bits + 1 == 128)) {
        break;
      }
      ++host_bits;
    }
    if (host_bits + 1 == 128 && lo == 0 && hi == ~static_cast<u128>(0)) {
      host_bits = 128;  // the whole IPv6 space
    }
    auto bytes = from_number(lo, n);
    out.push_back(kernel::Prefix{kernel::Address::from_bytes(family, bytes.data()),
                                 static_cast<uint8_t>(bits - host_bits)});
    if (host_bits == 128) {
      break;
    }
    u128 last = lo + ((static_cast<u128>(1) << host_bits) - 1);
    if (last >= hi) {
      break;
    }
    lo = last + 1;
  }
  return out;
}

model::Result<uint16_t> single_port(const TrafficSelector& ts) {
  if (ts.start_port == 0 && ts.end_port == 65535) {
    return static_cast<uint16_t>(0);
  }
  if (ts.start_port == ts.end_port) {
    return ts.start_port;
  }
  return model::Result<uint16_t>::failure(
      "port range " + std::to_string(ts.start_port) + "-" + std::to_string(ts.end_port) +
      " cannot be installed; kernel selectors take one port or all");
}

}  // namespace

std::vector<TrafficSelector> endpoint_selectors(const model::Endpoint& endpoint,
                                                const model::IpAddress& host) {
  std::vector<model::Subnet> subnets = endpoint.subnets;
  if (subnets.empty()) {
    subnets.push_back(model::Subnet{host, static_cast<uint8_t>(host.size() * 8)});
  }
  std::vector<TrafficSelector> out;
  for (const auto& s : subnets) {
    TrafficSelector ts;
    const std::size_t n = s.address.size();
    ts.type = n == 4 ? TsType::kIpv4AddrRange : TsType::kIpv6AddrRange;
    u128 base = to_number(s.address.bytes, n);
    const unsigned bits = static_cast<unsigned>(n * 8);
    u128 host_mask = s.prefix_len == 0 ? ~static_cast<u128>(0)
                                       : ((static_cast<u128>(1) << (bits - s.prefix_len)) - 1);
    if (bits == 32) {
      host_mask &= 0xffffffffu;
    }
    ts.start_address = from_number(base & ~host_mask, n);
    ts.end_address = from_number((base & ~host_mask) | host_mask, n);
    ts.ip_protocol = endpoint.protoport.protocol;
    if (endpoint.protoport.port != 0 && !endpoint.protoport.any_port) {
      ts.start_port = ts.end_port = endpoint.protoport.port;
    }
    out.push_back(ts);
  }
  return out;
}

TrafficSelector host_selector(const kernel::Address& address) {
  TrafficSelector ts;
  ts.type =
      address.family() == kernel::Family::kIpv4 ? TsType::kIpv4AddrRange : TsType::kIpv6AddrRange;
  std::copy(address.data(), address.data() + address.size(), ts.start_address.begin());
  ts.end_address = ts.start_address;
  return ts;
}

std::vector<TrafficSelector> narrow(const std::vector<TrafficSelector>& offered,
                                    const std::vector<TrafficSelector>& ours) {
  std::vector<TrafficSelector> out;
  for (const auto& o : offered) {
    for (const auto& m : ours) {
      if (auto i = intersect(o, m)) {
        if (std::find(out.begin(), out.end(), *i) == out.end()) {
          out.push_back(*i);
        }
      }
    }
  }
  return out;
}

bool within(const std::vector<TrafficSelector>& answered,
            const std::vector<TrafficSelector>& offered) {
  return !answered.empty() &&
         std::all_of(answered.begin(), answered.end(), [&offered](const TrafficSelector& a) {
           return std::any_of(offered.begin(), offered.end(),
                              [&a](const TrafficSelector& o) { return inside(a, o); });
         });
}

bool same_selectors(const std::vector<TrafficSelector>& a, const std::vector<TrafficSelector>& b) {
  return within(a, b) && within(b, a);
}

model::Result<std::vector<kernel::Selector>> flows(const std::vector<TrafficSelector>& local,
                                                   const std::vector<TrafficSelector>& remote) {
  using R = model::Result<std::vector<kernel::Selector>>;
  std::vector<kernel::Selector> out;
  for (const auto& l : local) {
    for (const auto& r : remote) {
      if (l.type != r.type || !address_type(l)) {
        continue;
      }
      if (l.ip_protocol != 0 && r.ip_protocol != 0 && l.ip_protocol != r.ip_protocol) {
        continue;
      }
      auto sport = single_port(l);
      auto dport = single_port(r);
      if (!sport.ok() || !dport.ok()) {
        return R::failure(!sport.ok() ? sport.error() : dport.error());
      }
      for (const auto& src : prefixes(l)) {
        for (const auto& dst : prefixes(r)) {
          kernel::Selector sel;
          sel.src = src;
          sel.dst = dst;
          sel.proto = l.ip_protocol != 0 ? l.ip_protocol : r.ip_protocol;
          sel.sport = *sport;
          sel.dport = *dport;
          out.push_back(sel);
        }
      }
    }
  }
  if (out.empty()) {
    return R::failure("the selectors " + str(local) + " and " + str(remote) +
                      " share no address family");
  }
  return out;
}

std::string str(const TrafficSelector& ts) {
  if (!address_type(ts)) {
    return "TS type " + std::to_string(static_cast<unsigned>(ts.type));
  }
  auto p = prefixes(ts);
  std::string out;
  if (p.size() == 1) {
    out = p.front().str();
  } else {
    out = p.front().addr.str() + ".." +
          kernel::Address::from_bytes(
              ts.type == TsType::kIpv4AddrRange ? kernel::Family::kIpv4 : kernel::Family::kIpv6,
              ts.end_address.data())
              .str();
  }
  if (ts.ip_protocol != 0 || ts.start_port != 0 || ts.end_port != 65535) {
    out += " " + std::to_string(ts.ip_protocol);
    if (ts.start_port == ts.end_port) {
      out += "/" + std::to_string(ts.start_port);
    } else if (ts.start_port != 0 || ts.end_port != 65535) {
      out += "/" + std::to_string(ts.start_port) + "-" + std::to_string(ts.end_port);
    }
  }
  return out;
}

std::string str(const std::vector<TrafficSelector>& list) {
  std::string out;
  for (const auto& ts : list) {
    out += out.empty() ? "" : " ";
    out += str(ts);
  }
  return "[" + out + "]";
}

}  // namespace ipsecd::engine
