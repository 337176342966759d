#include "model/values.h"

#include "model/text.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>

namespace ipsecd::model {

using text::hex_value;
using text::iequals;
using text::lower;
using text::to_lower;
using text::trim;

namespace {

// Longest value any of these parsers looks at; longer input is refused before work is done.
constexpr size_t kMaxValueLength = 4096;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Quotes a value for an error message, cutting it so a huge input cannot flood a log.
std::string quoted(std::string_view s) {
  constexpr size_t kShown = 80;
  std::string out = "\"";
  for (char c : s.substr(0, kShown)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  if (s.size() > kShown) {
    out += "...";
  }
  out += '"';
  return out;
}

// Decimal digits only, no sign, no spaces; nullopt on anything else or on overflow past max.
std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t max) {
  if (s.empty()) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) {
      return std::nullopt;
    }
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (max - d) / 10) {
      return std::nullopt;
    }
    v = v * 10 + d;
  }
  return v;
}

// One dotted-decimal part: no sign, no leading zeros (so "010" is not read as octal or ten).
std::optional<uint64_t> parse_ipv4_part(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0')) {
    return std::nullopt;
  }
  return parse_decimal(s, max);
}

// Dotted quad, plus the short forms libreswan (like inet_aton) reads: "0", "a.b.c", "a.b".
std::optional<std::array<uint8_t, 4>> parse_ipv4(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
    if (parts.size() > 4) {
      return std::nullopt;
    }
  }
  if (parts.size() > 4) {
    return std::nullopt;
  }
  uint32_t value = 0;
  if (parts.size() == 1) {
    // Only the "0" of "0/0" is accepted as a one-part address; "1234" is not an address.
    if (parts[0] != "0") {
      return std::nullopt;
    }
  } else {
    size_t n = parts.size();
    for (size_t i = 0; i + 1 < n; ++i) {
      auto v = parse_ipv4_part(parts[i], 255);
      if (!v) {
        return std::nullopt;
      }
      value |= static_cast<uint32_t>(*v) << (24 - 8 * i);
    }
    // The last part fills the remaining bytes, as inet_aton does.
    uint64_t last_max = (uint64_t{1} << (8 * (5 - n))) - 1;
    auto v = parse_ipv4_part(parts[n - 1], last_max);
    if (!v) {
      return std::nullopt;
    }
    value |= static_cast<uint32_t>(*v);
  }
  return std::array<uint8_t, 4>{static_cast<uint8_t>(value >> 24),
                                static_cast<uint8_t>(value >> 16), static_cast<uint8_t>(value >> 8),
                                static_cast<uint8_t>(value)};
}

// Strict dotted quad, for the IPv4 tail of an IPv6 address.
std::optional<std::array<uint8_t, 4>> parse_ipv4_strict(std::string_view s) {
  if (std::count(s.begin(), s.end(), '.') != 3) {
    return std::nullopt;
  }
  return parse_ipv4(s);
}

std::optional<std::array<uint8_t, 16>> parse_ipv6(std::string_view s) {
  std::array<uint8_t, 16> out{};
  size_t gap = s.find("::");
  if (gap != std::string_view::npos && s.find("::", gap + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  // Parses one side of "::" into 16-bit words (an IPv4 tail counts as two words).
  auto parse_side = [](std::string_view side, bool allow_v4_tail,
                       std::vector<uint16_t>& words) -> bool {
    if (side.empty()) {
      return true;
    }
    size_t start = 0;
    while (true) {
      size_t colon = side.find(':', start);
      std::string_view group =
          side.substr(start, colon == std::string_view::npos ? colon : colon - start);
      bool last = colon == std::string_view::npos;
      if (last && allow_v4_tail && group.find('.') != std::string_view::npos) {
        auto v4 = parse_ipv4_strict(group);
        if (!v4) {
          return false;
        }
        words.push_back(static_cast<uint16_t>(((*v4)[0] << 8) | (*v4)[1]));
        words.push_back(static_cast<uint16_t>(((*v4)[2] << 8) | (*v4)[3]));
        return true;
      }
      if (group.empty() || group.size() > 4) {
        return false;
      }
      uint16_t w = 0;
      for (char c : group) {
        if (!is_hex_digit(c)) {
          return false;
        }
        w = static_cast<uint16_t>((w << 4) | hex_value(c));
      }
      words.push_back(w);
      if (words.size() > 8) {
        return false;
      }
      if (last) {
        return true;
      }
      start = colon + 1;
    }
  };
  std::vector<uint16_t> head;
  std::vector<uint16_t> tail;
  if (gap == std::string_view::npos) {
    if (!parse_side(s, true, head) || head.size() != 8) {
      return std::nullopt;
    }
  } else {
    if (!parse_side(s.substr(0, gap), false, head) || !parse_side(s.substr(gap + 2), true, tail) ||
        head.size() + tail.size() > 7) {
      return std::nullopt;
    }
  }
  for (size_t i = 0; i < head.size(); ++i) {
    out[2 * i] = static_cast<uint8_t>(head[i] >> 8);
    out[2 * i + 1] = static_cast<uint8_t>(head[i]);
  }
  size_t base = 8 - tail.size();
  for (size_t i = 0; i < tail.size(); ++i) {
    out[2 * (base + i)] = static_cast<uint8_t>(tail[i] >> 8);
    out[2 * (base + i) + 1] = static_cast<uint8_t>(tail[i]);
  }
  return out;
}

const char* const kAddressHint =
    "expected an IPv4 address such as 192.0.2.1 or an IPv6 address such as 2001:db8::1";

}  // namespace

// ---------------------------------------------------------------- IpAddress

Result<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty()) {
    return Result<IpAddress>::failure(std::string("empty address; ") + kAddressHint);
  }
  if (text.size() > 64) {
    return Result<IpAddress>::failure("address " + quoted(text) + " is too long; " + kAddressHint);
  }
  IpAddress a;
  if (text.find(':') != std::string_view::npos) {
    if (text.find('%') != std::string_view::npos) {
      return Result<IpAddress>::failure("address " + quoted(text) +
                                        ": IPv6 zone ids (%...) are not accepted here; "
                                        "write the address without the zone");
    }
    auto v6 = parse_ipv6(text);
    if (!v6) {
      return Result<IpAddress>::failure(quoted(text) +
                                        " is not a valid IPv6 address; expected e.g. "
                                        "2001:db8::1 or ::ffff:192.0.2.1");
    }
    a.family = AddressFamily::kIpv6;
    a.bytes = *v6;
    return a;
  }
  auto v4 = parse_ipv4(text);
  if (!v4) {
    return Result<IpAddress>::failure(quoted(text) + " is not a valid address; " + kAddressHint +
                                      " (each of the four parts 0-255)");
  }
  a.family = AddressFamily::kIpv4;
  std::copy(v4->begin(), v4->end(), a.bytes.begin());
  return a;
}

std::string IpAddress::str() const {
  char buf[64];
  if (family == AddressFamily::kIpv4) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    return buf;
  }
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) {
    w[i] = static_cast<uint16_t>((bytes[2 * i] << 8) | bytes[2 * i + 1]);
  }
  // RFC 5952 5: IPv4-mapped addresses keep the dotted tail.
  bool mapped = w[0] == 0 && w[1] == 0 && w[2] == 0 && w[3] == 0 && w[4] == 0 && w[5] == 0xffff;
  int words = mapped ? 6 : 8;
  // RFC 5952 4.2: compress the longest run of two or more zero words, the first on a tie.
  int best_start = -1;
  int best_len = 0;
  for (int i = 0; i < words;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < words && w[j] == 0) {
      ++j;
    }
    if (j - i > best_len && j - i >= 2) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < words; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') {
      out += ':';
    }
    std::snprintf(buf, sizeof buf, "%x", w[i]);
    out += buf;
  }
  if (mapped) {
    if (out.back() != ':') {
      out += ':';
    }
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes[12], bytes[13], bytes[14], bytes[15]);
    out += buf;
  }
  return out;
}

bool IpAddress::is_unspecified() const {
  for (size_t i = 0; i < size(); ++i) {
    if (bytes[i] != 0) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- Subnet

namespace {

bool host_bits_clear(const IpAddress& a, unsigned prefix_len) {
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    uint8_t mask;
    if (bit + 8 <= prefix_len) {
      mask = 0xff;
    } else if (bit >= prefix_len) {
      mask = 0;
    } else {
      mask = static_cast<uint8_t>(0xff << (8 - (prefix_len - bit)));
    }
    if ((a.bytes[i] & static_cast<uint8_t>(~mask)) != 0) {
      return false;
    }
  }
  return true;
}

IpAddress masked(IpAddress a, unsigned prefix_len) {
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix_len) {
      a.bytes[i] = 0;
    } else if (bit + 8 > prefix_len) {
      a.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (prefix_len - bit)));
    }
  }
  return a;
}

}  // namespace

Result<Subnet> Subnet::parse(std::string_view text) {
  using R = Result<Subnet>;
  if (text.size() > kMaxValueLength) {
    return R::failure("subnet value is too long");
  }
  if (text.empty()) {
    return R::failure("empty subnet; expected ADDRESS/PREFIXLEN such as 192.0.2.0/24");
  }
  if (text == "%any" || text == "%any4") {
    return Subnet{IpAddress{}, 0};
  }
  if (text == "%any6") {
    return Subnet{IpAddress{AddressFamily::kIpv6, {}}, 0};
  }
  if (text.starts_with("vhost:") || text.starts_with("vnet:")) {
    return R::failure("subnet " + quoted(text) +
                      ": the vhost:/vnet: forms belong to IKEv1 virtual-private and are not "
                      "supported; write an explicit subnet such as 192.0.2.0/24");
  }
  size_t slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) {
    return R::failure("subnet " + quoted(text) + ": " + addr.error());
  }
  unsigned max_len = addr->family == AddressFamily::kIpv4 ? 32 : 128;
  unsigned prefix_len = max_len;
  if (slash != std::string_view::npos) {
    std::string_view len_text = text.substr(slash + 1);
    if (len_text.find('/') != std::string_view::npos) {
      return R::failure("subnet " + quoted(text) +
                        " has more than one '/'; write the protocol and port in "
                        "leftprotoport=/rightprotoport= instead");
    }
    if (addr->family == AddressFamily::kIpv4 && len_text.find('.') != std::string_view::npos) {
      // The old netmask form, 10.0.0.0/255.255.255.0.
      auto mask = parse_ipv4_strict(len_text);
      if (!mask) {
        return R::failure("subnet " + quoted(text) + ": netmask " + quoted(len_text) +
                          " is not a dotted quad");
      }
      uint32_t m = (uint32_t{(*mask)[0]} << 24) | (uint32_t{(*mask)[1]} << 16) |
                   (uint32_t{(*mask)[2]} << 8) | (*mask)[3];
      unsigned ones = 0;
      while (ones < 32 && (m & (uint32_t{1} << (31 - ones))) != 0) {
        ++ones;
      }
      if (ones < 32 && (m << ones) != 0) {
        return R::failure("subnet " + quoted(text) + ": netmask " + quoted(len_text) +
                          " is not contiguous; use a prefix length such as /24");
      }
      prefix_len = ones;
    } else {
      auto len = parse_decimal(len_text, 1000);
      if (!len || *len > max_len || len_text.size() > 3) {
        return R::failure("subnet " + quoted(text) + ": prefix length " + quoted(len_text) +
                          " is not a number from 0 to " + std::to_string(max_len));
      }
      prefix_len = static_cast<unsigned>(*len);
    }
  }
  if (!host_bits_clear(*addr, prefix_len)) {
    return R::failure("subnet " + quoted(text) + " has host bits set below the /" +
                      std::to_string(prefix_len) + " prefix; did you mean " +
                      masked(*addr, prefix_len).str() + "/" + std::to_string(prefix_len) + "?");
  }
  return Subnet{*addr, static_cast<uint8_t>(prefix_len)};
}

std::string Subnet::str() const {
  return address.str() + "/" + std::to_string(prefix_len);
}

bool Subnet::contains(const IpAddress& a) const {
  if (a.family != address.family) {
    return false;
  }
  return masked(a, prefix_len) == address;
}

Result<std::vector<Subnet>> parse_subnet_list(std::string_view text) {
  using R = Result<std::vector<Subnet>>;
  if (text.size() > kMaxValueLength * 16) {
    return R::failure("subnet list is too long");
  }
  std::string_view body = trim(text);
  if (!body.empty() && body.front() == '{') {
    if (body.back() != '}') {
      return R::failure("subnet list " + quoted(text) +
                        " opens '{' but does not close it with '}'");
    }
    body = trim(body.substr(1, body.size() - 2));
  } else if (!body.empty() && body.back() == '}') {
    return R::failure("subnet list " + quoted(text) + " closes '}' without an opening '{'");
  }
  std::vector<Subnet> out;
  size_t i = 0;
  while (i < body.size()) {
    if (body[i] == ',' || body[i] == ' ' || body[i] == '\t') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < body.size() && body[j] != ',' && body[j] != ' ' && body[j] != '\t') {
      ++j;
    }
    auto s = Subnet::parse(body.substr(i, j - i));
    if (!s) {
      return R::failure(s.error());
    }
    out.push_back(*s);
    i = j;
  }
  if (out.empty()) {
    return R::failure("empty subnet list; expected e.g. {192.0.2.0/24,198.51.100.0/24}");
  }
  return out;
}

// ---------------------------------------------------------------- ProtoPort

namespace {

struct NamedNumber {
  const char* name;
  uint16_t number;
};

// IANA protocol numbers under the names /etc/protocols uses (no NSS lookup: results must not
// depend on the host).
constexpr NamedNumber kProtocols[] = {
    {"ip", 0},           {"icmp", 1},  {"igmp", 2},   {"ipencap", 4}, {"ipip", 4},
    {"tcp", 6},          {"egp", 8},   {"udp", 17},   {"ipv6", 41},   {"rsvp", 46},
    {"gre", 47},         {"esp", 50},  {"ah", 51},    {"icmpv6", 58}, {"ipv6-icmp", 58},
    {"ospf", 89},        {"pim", 103}, {"l2tp", 115}, {"sctp", 132},  {"udplite", 136},
    {"mpls-in-ip", 137},
};

// Well-known services, for the "tcp/ssh" spelling.
constexpr NamedNumber kServices[] = {
    {"ftp", 21},     {"ssh", 22},    {"telnet", 23},        {"smtp", 25},     {"domain", 53},
    {"bootps", 67},  {"bootpc", 68}, {"tftp", 69},          {"http", 80},     {"ntp", 123},
    {"snmp", 161},   {"bgp", 179},   {"ldap", 389},         {"https", 443},   {"isakmp", 500},
    {"syslog", 514}, {"l2tp", 1701}, {"ipsec-nat-t", 4500}, {"geneve", 6081}, {"vxlan", 4789},
};

}  // namespace

Result<ProtoPort> ProtoPort::parse(std::string_view text) {
  using R = Result<ProtoPort>;
  if (text.size() > 64) {
    return R::failure("protoport value is too long; expected PROTOCOL[/PORT] such as tcp/22");
  }
  if (text.empty()) {
    return R::failure("empty protoport; expected PROTOCOL[/PORT] such as tcp/22 or 17/1701");
  }
  size_t slash = text.find('/');
  std::string_view proto_text = text.substr(0, slash);
  ProtoPort pp;
  if (proto_text == "%any") {
    pp.protocol = 0;
  } else if (!proto_text.empty() && is_digit(proto_text[0])) {
    auto n = parse_decimal(proto_text, 1000);
    if (!n || *n > 255) {
      return R::failure("protoport " + quoted(text) + ": protocol " + quoted(proto_text) +
                        " is not a number from 0 to 255 or a name such as tcp, udp, icmp");
    }
    pp.protocol = static_cast<uint8_t>(*n);
  } else {
    bool found = false;
    for (const auto& p : kProtocols) {
      if (iequals(proto_text, p.name)) {
        pp.protocol = static_cast<uint8_t>(p.number);
        found = true;
        break;
      }
    }
    if (!found) {
      return R::failure("protoport " + quoted(text) + ": unknown protocol " + quoted(proto_text) +
                        "; expected a number from 0 to 255 or one of tcp, udp, icmp, icmpv6, "
                        "gre, sctp, esp, ah, ...");
    }
  }
  if (slash == std::string_view::npos) {
    return pp;
  }
  std::string_view port_text = text.substr(slash + 1);
  if (port_text == "%any") {
    pp.any_port = true;
  } else if (!port_text.empty() && is_digit(port_text[0])) {
    auto n = parse_decimal(port_text, 100000);
    if (!n || *n > 65535) {
      return R::failure("protoport " + quoted(text) + ": port " + quoted(port_text) +
                        " is not a number from 0 to 65535, a service name or %any");
    }
    pp.port = static_cast<uint16_t>(*n);
  } else {
    bool found = false;
    for (const auto& s : kServices) {
      if (iequals(port_text, s.name)) {
        pp.port = s.number;
        found = true;
        break;
      }
    }
    if (!found) {
      return R::failure("protoport " + quoted(text) + ": unknown port " + quoted(port_text) +
                        "; expected a number from 0 to 65535 or %any");
    }
  }
  if (pp.protocol == 0 && (pp.port != 0 || pp.any_port)) {
    return R::failure("protoport " + quoted(text) + ": a port needs a protocol; write e.g. tcp/" +
                      std::string(port_text));
  }
  return pp;
}

std::string ProtoPort::str() const {
  return std::to_string(protocol) + "/" + (any_port ? std::string("%any") : std::to_string(port));
}

// ---------------------------------------------------------------- Identity

namespace {

struct DnAttribute {
  const char* canonical;
  const char* aliases[4];
};

// Attribute names libreswan and OpenSSL print, with the spellings users write.
constexpr DnAttribute kDnAttributes[] = {
    {"C", {"countryName"}},
    {"ST", {"S", "SP", "stateOrProvinceName"}},
    {"L", {"localityName"}},
    {"O", {"organizationName"}},
    {"OU", {"organizationalUnitName"}},
    {"CN", {"commonName"}},
    {"E", {"emailAddress", "Email"}},
    {"DC", {"domainComponent"}},
    {"SN", {"surname"}},
    {"GN", {"G", "givenName"}},
    {"I", {"initials"}},
    {"T", {"title"}},
    {"UID", {"userId"}},
    {"serialNumber", {}},
    {"street", {"STREET"}},
    {"postalCode", {}},
    {"pseudonym", {}},
    {"dnQualifier", {}},
    {"N", {"name"}},
    {"generationQualifier", {}},
    {"unstructuredName", {"UN"}},
    {"unstructuredAddress", {}},
    {"ID", {"uniqueIdentifier"}},
    {"TCGID", {}},
    {"businessCategory", {}},
};

std::optional<std::string> canonical_dn_attribute(std::string_view key) {
  for (const auto& a : kDnAttributes) {
    if (iequals(key, a.canonical)) {
      return std::string(a.canonical);
    }
    for (const char* alias : a.aliases) {
      if (alias != nullptr && iequals(key, alias)) {
        return std::string(a.canonical);
      }
    }
  }
  // A dotted OID ("2.5.4.3" or "OID.2.5.4.3") names any attribute.
  std::string_view oid = key;
  if (oid.size() > 4 && iequals(oid.substr(0, 4), "oid.")) {
    oid.remove_prefix(4);
  }
  if (!oid.empty() && is_digit(oid.front()) && is_digit(oid.back()) &&
      oid.find("..") == std::string_view::npos &&
      std::all_of(oid.begin(), oid.end(), [](char c) { return is_digit(c) || c == '.'; })) {
    return std::string(oid);
  }
  return std::nullopt;
}

struct Rdn {
  std::string key;
  std::string value;
};

// Whether position i of s starts "KEY=" for a known attribute (used to find '/' separators).
bool starts_attribute(std::string_view s, size_t i) {
  size_t eq = s.find('=', i);
  if (eq == std::string_view::npos || eq == i) {
    return false;
  }
  return canonical_dn_attribute(trim(s.substr(i, eq - i))).has_value();
}

Result<std::vector<Rdn>> parse_dn(std::string_view text) {
  using R = Result<std::vector<Rdn>>;
  std::string_view s = trim(text);
  // The slash form: "/C=CA/O=Example" or "C=CA/O=Example/CN=x" (no comma separators).
  bool slash_form = false;
  if (!s.empty() && s.front() == '/') {
    slash_form = true;
    s.remove_prefix(1);
  } else {
    bool has_separator_comma = false;
    bool in_quotes = false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        in_quotes = !in_quotes;
      } else if (!in_quotes && s[i] == ',') {
        has_separator_comma = true;
      }
    }
    if (!has_separator_comma) {
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '/' && starts_attribute(s, i + 1)) {
          slash_form = true;
          break;
        }
      }
    }
  }
  const char sep = slash_form ? '/' : ',';
  std::vector<Rdn> rdns;
  size_t i = 0;
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) {
      return R::failure("DN " + quoted(text) + ": " + quoted(s.substr(i)) +
                        " is not ATTRIBUTE=VALUE; expected e.g. C=CA, O=Example, CN=east");
    }
    std::string_view key = trim(s.substr(i, eq - i));
    auto canonical = canonical_dn_attribute(key);
    if (!canonical) {
      return R::failure("DN " + quoted(text) + ": unknown attribute " + quoted(key) +
                        "; expected one of C, ST, L, O, OU, CN, E, DC, SN, GN, UID, "
                        "serialNumber or a dotted OID");
    }
    i = eq + 1;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    std::string value;
    bool was_quoted = false;
    if (i < s.size() && s[i] == '"') {
      was_quoted = true;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          value += s[i + 1];
          i += 2;
        } else if (s[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          value += s[i++];
        }
      }
      if (!closed) {
        return R::failure("DN " + quoted(text) + ": the value of " + *canonical +
                          " opens a quote that is never closed");
      }
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
        ++i;
      }
      if (i < s.size() && s[i] != sep) {
        return R::failure("DN " + quoted(text) + ": unexpected " + quoted(s.substr(i, 1)) +
                          " after the quoted value of " + *canonical);
      }
    } else {
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          value += s[i + 1];
          i += 2;
        } else if (s[i] == sep && sep == ',' && i + 1 < s.size() && s[i + 1] == ',') {
          // libreswan reads ",," as a literal comma.
          value += ',';
          i += 2;
        } else if (s[i] == sep && (sep == ',' || starts_attribute(s, i + 1))) {
          break;
        } else {
          value += s[i++];
        }
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.pop_back();
      }
    }
    if (value.empty() && !was_quoted) {
      return R::failure("DN " + quoted(text) + ": attribute " + *canonical + " has an empty value");
    }
    rdns.push_back({*canonical, std::move(value)});
    if (i >= s.size()) {
      break;
    }
    ++i;  // the separator
    if (i >= s.size()) {
      return R::failure("DN " + quoted(text) + " ends with a separator");
    }
  }
  return rdns;
}

std::string format_dn(const std::vector<Rdn>& rdns) {
  std::string out;
  for (const auto& r : rdns) {
    if (!out.empty()) {
      out += ", ";
    }
    out += r.key;
    out += '=';
    bool needs_quotes = r.value.empty() || r.value.front() == ' ' || r.value.back() == ' ' ||
                        r.value.find_first_of(",/\"\\+;=") != std::string::npos;
    if (!needs_quotes) {
      out += r.value;
      continue;
    }
    out += '"';
    for (char c : r.value) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  return out;
}

struct X509NameFree {
  void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

// "@~HEX" is an ASN.1 DER distinguished name in hex; turn it into the text form.
Result<std::string> der_dn_to_text(std::string_view hex) {
  using R = Result<std::string>;
  if (hex.empty() || hex.size() % 2 != 0 ||
      !std::all_of(hex.begin(), hex.end(), [](char c) { return is_hex_digit(c); })) {
    return R::failure("@~ must be followed by an even number of hex digits (a DER-encoded DN)");
  }
  std::vector<unsigned char> der;
  der.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    der.push_back(static_cast<unsigned char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1])));
  }
  const unsigned char* p = der.data();
  std::unique_ptr<X509_NAME, X509NameFree> name(
      d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  if (!name || p != der.data() + der.size()) {
    return R::failure("@~" + std::string(hex.substr(0, 40)) + (hex.size() > 40 ? "..." : "") +
                      " is not a DER-encoded distinguished name");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio) {
    return R::failure("out of memory converting a DER distinguished name");
  }
  constexpr unsigned long kFlags =
      XN_FLAG_SEP_CPLUS_SPC | ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_UTF8_CONVERT | XN_FLAG_FN_SN;
  if (X509_NAME_print_ex(bio.get(), name.get(), 0, kFlags) < 0) {
    return R::failure("cannot print the DER distinguished name");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bool valid_host_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '.' || c == '_' || c == '*';
  });
}

bool printable_without_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

Result<Identity> Identity::parse(std::string_view text) {
  using R = Result<Identity>;
  if (text.size() > kMaxValueLength) {
    return R::failure("identity is too long (more than " + std::to_string(kMaxValueLength) +
                      " characters)");
  }
  if (text.empty() || text == "%any") {
    return Identity{IdKind::kAny, ""};
  }
  if (text == "%none") {
    return Identity{IdKind::kNone, ""};
  }
  if (text == "%null") {
    return Identity{IdKind::kNull, ""};
  }
  if (text == "%fromcert") {
    return Identity{IdKind::kFromCert, ""};
  }
  if (text.front() == '%') {
    return R::failure("unknown identity " + quoted(text) +
                      "; the % forms are %any, %none, %null and %fromcert");
  }
  if (text.find('=') != std::string_view::npos) {
    auto rdns = parse_dn(text);
    if (!rdns) {
      return R::failure(rdns.error());
    }
    return Identity{IdKind::kDn, format_dn(*rdns)};
  }
  if (text.front() == '@') {
    std::string_view rest = text.substr(1);
    if (!rest.empty() && rest.front() == '#') {
      std::string_view hex = rest.substr(1);
      if (hex.empty() || hex.size() % 2 != 0 ||
          !std::all_of(hex.begin(), hex.end(), [](char c) { return is_hex_digit(c); })) {
        return R::failure("key id " + quoted(text) +
                          ": @# must be followed by an even number of hex digits, e.g. @#0a0b0c");
      }
      std::string lower;
      for (char c : hex) {
        lower += to_lower(c);
      }
      return Identity{IdKind::kKeyId, lower};
    }
    if (!rest.empty() && rest.front() == '~') {
      auto dn_text = der_dn_to_text(rest.substr(1));
      if (!dn_text) {
        return R::failure("identity " + quoted(text) + ": " + dn_text.error());
      }
      auto rdns = parse_dn(*dn_text);
      if (!rdns) {
        return R::failure("identity " + quoted(text) + ": " + rdns.error());
      }
      return Identity{IdKind::kDn, format_dn(*rdns)};
    }
    if (!rest.empty() && rest.front() == '[') {
      // "@[name]": a literal FQDN, never looked up.
      if (rest.size() < 3 || rest.back() != ']') {
        return R::failure("identity " + quoted(text) + ": @[ must be closed by ']', e.g. @[east]");
      }
      rest = rest.substr(1, rest.size() - 2);
    }
    if (rest.empty()) {
      return R::failure("identity \"@\" has no name; expected e.g. @east.example.org");
    }
    if (!printable_without_space(rest) || rest.find('@') != std::string_view::npos) {
      return R::failure("identity " + quoted(text) +
                        ": an @FQDN holds one name without spaces or a second '@'");
    }
    return Identity{IdKind::kFqdn, std::string(rest)};
  }
  if (text.find('@') != std::string_view::npos) {
    size_t at = text.find('@');
    if (at == 0 || at + 1 == text.size() || !printable_without_space(text)) {
      return R::failure("identity " + quoted(text) +
                        ": expected user@host (an RFC 822 address) without spaces");
    }
    return Identity{IdKind::kUserFqdn, std::string(text)};
  }
  if (text.find(':') != std::string_view::npos || is_digit(text.front())) {
    auto a = IpAddress::parse(text);
    if (a) {
      return Identity{a->family == AddressFamily::kIpv4 ? IdKind::kIpv4 : IdKind::kIpv6, a->str()};
    }
    if (text.find(':') != std::string_view::npos) {
      return R::failure("identity " + quoted(text) + ": " + a.error());
    }
  }
  if (!valid_host_name(text)) {
    return R::failure("identity " + quoted(text) +
                      " is not an address, @FQDN, user@host, DN (C=.., O=.., CN=..), @#keyid "
                      "or %any/%none/%null/%fromcert");
  }
  return Identity{IdKind::kFqdn, std::string(text)};
}

std::string Identity::str() const {
  switch (kind) {
    case IdKind::kNone:
      return "%none";
    case IdKind::kAny:
      return "%any";
    case IdKind::kNull:
      return "%null";
    case IdKind::kFromCert:
      return "%fromcert";
    case IdKind::kFqdn:
      return "@" + value;
    case IdKind::kKeyId:
      return "@#" + value;
    case IdKind::kIpv4:
    case IdKind::kIpv6:
    case IdKind::kUserFqdn:
    case IdKind::kDn:
      return value;
  }
  return value;
}

// ---------------------------------------------------------------- durations and numbers

Result<std::chrono::milliseconds> parse_duration(std::string_view text, TimeUnit default_unit) {
  using R = Result<std::chrono::milliseconds>;
  const std::string hint =
      "; expected a number with an optional unit us, ms, s, m, h, d or w "
      "(e.g. 90s, 30m, 8h, 1.5h)";
  if (text.empty()) {
    return R::failure("empty duration" + hint);
  }
  if (text.size() > 64) {
    return R::failure("duration " + quoted(text) + " is too long" + hint);
  }
  size_t i = 0;
  while (i < text.size() && is_digit(text[i])) {
    ++i;
  }
  std::string_view whole = text.substr(0, i);
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    size_t start = ++i;
    while (i < text.size() && is_digit(text[i])) {
      ++i;
    }
    fraction = text.substr(start, i - start);
    if (fraction.empty()) {
      return R::failure("duration " + quoted(text) + " has no digits after the '.'" + hint);
    }
  }
  if (whole.empty()) {
    return R::failure("duration " + quoted(text) + " does not start with a number" + hint);
  }
  std::string_view unit = text.substr(i);
  if (whole == "0" && !unit.empty() && (unit[0] == 'x' || unit[0] == 'X')) {
    return R::failure("duration " + quoted(text) + ": hexadecimal is not accepted" + hint);
  }
  uint64_t unit_us;
  if (unit.empty()) {
    unit_us = default_unit == TimeUnit::kMilliseconds ? 1000 : 1000000;
  } else if (unit == "us") {
    unit_us = 1;
  } else if (unit == "ms") {
    unit_us = 1000;
  } else if (unit == "s") {
    unit_us = 1000000;
  } else if (unit == "m") {
    unit_us = 60ULL * 1000000;
  } else if (unit == "h") {
    unit_us = 3600ULL * 1000000;
  } else if (unit == "d") {
    unit_us = 86400ULL * 1000000;
  } else if (unit == "w") {
    unit_us = 7ULL * 86400 * 1000000;
  } else {
    return R::failure("duration " + quoted(text) + ": unknown unit " + quoted(unit) + hint);
  }
  if (fraction.size() > 9) {
    return R::failure("duration " + quoted(text) + " has more than 9 decimal places" + hint);
  }
  constexpr uint64_t kMaxMs = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  auto w = parse_decimal(whole, UINT64_MAX);
  using u128 = unsigned __int128;
  u128 total_us = 0;
  if (w) {
    total_us = static_cast<u128>(*w) * unit_us;
  }
  if (!w || total_us / 1000 > kMaxMs) {
    return R::failure("duration " + quoted(text) + " is too large");
  }
  if (!fraction.empty()) {
    uint64_t num = *parse_decimal(fraction, UINT64_MAX);
    u128 den = 1;
    for (size_t k = 0; k < fraction.size(); ++k) {
      den *= 10;
    }
    u128 part = static_cast<u128>(num) * unit_us;
    if (part % den != 0) {
      return R::failure("duration " + quoted(text) + " is finer than a microsecond");
    }
    total_us += part / den;
  }
  if (total_us % 1000 != 0) {
    return R::failure("duration " + quoted(text) +
                      " is finer than a millisecond; timers count whole milliseconds");
  }
  if (total_us / 1000 > kMaxMs) {
    return R::failure("duration " + quoted(text) + " is too large");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_us / 1000));
}

Result<bool> parse_yes_no(std::string_view text) {
  if (text == "yes") {
    return true;
  }
  if (text == "no") {
    return false;
  }
  return Result<bool>::failure("expected \"yes\" or \"no\", got " + quoted(text));
}

namespace {

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

std::string character_at(size_t index) {
  return "character " + std::to_string(index + 1);
}

}  // namespace

Result<size_t> decode_ttodata(std::string_view text, std::span<char> out) {
  using R = Result<size_t>;
  if (text.size() < 2 || text[0] != '0' ||
      std::string_view("xXsStT").find(text[1]) == std::string_view::npos) {
    return R::failure(
        "expected 0x followed by hex digits, 0s followed by base64 or 0t followed "
        "by text");
  }
  if (out.size() < text.size()) {
    return R::failure("internal: the output for " + std::to_string(text.size()) +
                      " characters of data holds only " + std::to_string(out.size()) + " bytes");
  }
  const std::string_view body = text.substr(2);
  const char form = to_lower(text[1]);
  if (body.empty()) {
    return R::failure(std::string("0") + form + " is not followed by any data");
  }
  size_t n = 0;
  if (form == 'x') {
    size_t i = 0;
    while (i < body.size()) {
      if (i + 1 >= body.size()) {
        return R::failure("hex data has an odd number of digits (each byte needs two)");
      }
      const int hi = hex_value(body[i]);
      if (hi < 0) {
        return R::failure("hex data: " + character_at(i + 2) + " is not a hex digit");
      }
      const int lo = hex_value(body[i + 1]);
      if (lo < 0) {
        return R::failure("hex data: " + character_at(i + 3) + " is not a hex digit");
      }
      out[n++] = static_cast<char>((hi << 4) | lo);
      i += 2;
      if (i + 1 < body.size() && body[i] == '_') {
        ++i;
      }
    }
    return n;
  }
  if (form == 's') {
    if (body.size() % 4 != 0) {
      return R::failure("base64 data length is not a multiple of 4 (truncated?)");
    }
    for (size_t g = 0; g < body.size(); g += 4) {
      const bool last = g + 4 == body.size();
      std::array<int, 4> v{};
      int pad = 0;
      for (size_t k = 0; k < 4; ++k) {
        const char c = body[g + k];
        if (c == '=' && last && k >= 2) {
          v[k] = 0;
          ++pad;
          continue;
        }
        if (pad > 0) {
          return R::failure("base64 data: " + character_at(g + k + 2) + " follows '=' padding");
        }
        v[k] = base64_value(c);
        if (v[k] < 0) {
          return R::failure(
              "base64 data: " + character_at(g + k + 2) +
              (c == '=' ? " is padding ('=') before the end" : " is not a base64 character"));
        }
      }
      const unsigned bits = (static_cast<unsigned>(v[0]) << 18) |
                            (static_cast<unsigned>(v[1]) << 12) |
                            (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
      if ((pad == 1 && (bits & 0xffu) != 0) || (pad == 2 && (bits & 0xffffu) != 0)) {
        return R::failure("base64 data: non-zero bits in the padding at the end");
      }
      out[n++] = static_cast<char>((bits >> 16) & 0xff);
      if (pad < 2) {
        out[n++] = static_cast<char>((bits >> 8) & 0xff);
      }
      if (pad < 1) {
        out[n++] = static_cast<char>(bits & 0xff);
      }
    }
    return n;
  }
  for (char c : body) {
    out[n++] = c;
  }
  return n;
}

Result<uint64_t> parse_unsigned(std::string_view text, uint64_t lo, uint64_t hi) {
  using R = Result<uint64_t>;
  auto range = [&] {
    return std::string(" (expected a whole number from ") + std::to_string(lo) + " to " +
           std::to_string(hi) + ")";
  };
  if (text.empty()) {
    return R::failure("empty number" + range());
  }
  if (text.size() > 64) {
    return R::failure("number " + quoted(text) + " is too long" + range());
  }
  std::optional<uint64_t> v;
  bool overflow = false;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    std::string_view hex = text.substr(2);
    if (std::all_of(hex.begin(), hex.end(), [](char c) { return is_hex_digit(c); })) {
      uint64_t acc = 0;
      for (char c : hex) {
        if (acc > (UINT64_MAX >> 4)) {
          overflow = true;
          break;
        }
        acc = (acc << 4) | static_cast<uint64_t>(hex_value(c));
      }
      if (!overflow) {
        v = acc;
      }
    }
  } else if (std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c); })) {
    v = parse_decimal(text, UINT64_MAX);
    overflow = !v;
  }
  if (overflow) {
    return R::failure("number " + quoted(text) + " is too large" + range());
  }
  if (!v) {
    return R::failure(quoted(text) + " is not a number" + range());
  }
  if (*v < lo || *v > hi) {
    return R::failure("number " + quoted(text) + " is out of range" + range());
  }
  return *v;
}

// ---------------------------------------------------------------- Mark

Result<Mark> Mark::parse(std::string_view text) {
  using R = Result<Mark>;
  const std::string hint = "; expected VALUE[/MASK] such as 20/0xffffffff, or -1 for a unique mark";
  if (text.empty()) {
    return R::failure("empty mark" + hint);
  }
  size_t slash = text.find('/');
  std::string_view value_text = text.substr(0, slash);
  Mark m;
  if (value_text == "-1") {
    m.unique = true;
    m.value = 0;
  } else {
    auto v = parse_unsigned(value_text, 0, UINT32_MAX);
    if (!v) {
      return R::failure("mark " + quoted(text) + ": value: " + v.error() + hint);
    }
    m.value = static_cast<uint32_t>(*v);
  }
  if (slash != std::string_view::npos) {
    auto mask = parse_unsigned(text.substr(slash + 1), 0, UINT32_MAX);
    if (!mask) {
      return R::failure("mark " + quoted(text) + ": mask: " + mask.error() + hint);
    }
    m.mask = static_cast<uint32_t>(*mask);
  }
  if (!m.unique && (m.value & ~m.mask) != 0) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": value 0x%08x has bits outside the mask 0x%08x", m.value,
                  m.mask);
    return R::failure("mark " + quoted(text) + buf);
  }
  return m;
}

std::string Mark::str() const {
  char buf[48];
  if (unique) {
    std::snprintf(buf, sizeof buf, "-1/0x%08x", mask);
  } else {
    std::snprintf(buf, sizeof buf, "%u/0x%08x", value, mask);
  }
  return buf;
}

}  // namespace ipsecd::model
