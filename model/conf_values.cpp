#include <algorithm>
#include <cctype>
#include <string>

#include "model/detail/conf_values.h"
#include "model/proposals.h"
#include "model/text.h"
#include "model/values.h"

namespace ipsecd::model::detail {
namespace {

using text::lower;

bool in_list(std::string_view list, std::string_view word) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    if (item == word) {
      return true;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string one_of(std::string_view list) {
  std::string out = "expected one of ";
  bool first = true;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    if (!item.empty() && item.front() != '%') {
      out += first ? "" : ", ";
      out += item;
      first = false;
    }
    if (comma == std::string_view::npos) {
      break;
    }
    list.remove_prefix(comma + 1);
  }
  return out;
}

// Host names as DNS allows them (RFC 1123 labels), for left= and friends.
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t label = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return false;
    }
    if (++label > 63) {
      return false;
    }
  }
  return true;
}

constexpr std::string_view kBoolTrue = "yes,true,on,y,1";
constexpr std::string_view kBoolFalse = "no,false,off,n,0";

std::string check_bool(std::string_view value) {
  std::string v = lower(value);
  if (in_list(kBoolTrue, v) || in_list(kBoolFalse, v)) {
    return {};
  }
  return "expected yes or no";
}

std::string check_ikev1(const Keyword& k, std::string_view v) {
  const char* hint = nullptr;
  if (k.name == "keyexchange" && v == "ikev1") {
    hint = "use keyexchange=ikev2";
  } else if (k.name == "ikev2" && (v == "never" || v == "no")) {
    hint = "use ikev2=insist (or remove it)";
  } else if (k.name == "aggressive" && in_list(kBoolTrue, lower(v))) {
    hint = "aggressive mode exists only in IKEv1; remove aggressive=";
  }
  if (hint == nullptr) {
    return {};
  }
  return std::string("IKEv1 is not supported (RFC 9395 deprecates it); ") + hint;
}

// Numbers with an optional binary or decimal unit: "1000", "2KiB", "1M".
std::string check_scaled(std::string_view value) {
  size_t digits = 0;
  while (digits < value.size() && std::isdigit(static_cast<unsigned char>(value[digits]))) {
    ++digits;
  }
  if (digits == 0) {
    return "expected a number, optionally followed by a unit (K, Ki, KiB, M, Mi, MiB, ...)";
  }
  if (auto n = parse_unsigned(value.substr(0, digits)); !n) {
    return n.error();
  }
  std::string unit = lower(value.substr(digits));
  static constexpr std::string_view kUnits[] = {"",   "b",   "k",   "ki", "kib", "kb",  "m",
                                                "mi", "mib", "mb",  "g",  "gi",  "gib", "gb",
                                                "t",  "ti",  "tib", "tb", "p",   "pi",  "pib"};
  if (std::find(std::begin(kUnits), std::end(kUnits), unit) == std::end(kUnits)) {
    return "unknown unit '" + std::string(value.substr(digits)) + "'";
  }
  return {};
}

std::string check_percent(std::string_view value) {
  std::string_view num = value;
  if (!num.empty() && num.back() == '%') {
    num.remove_suffix(1);
  }
  auto n = parse_unsigned(num, 0, 1000000);
  return n ? std::string() : "expected a percentage such as 100%";
}

std::string check_host(std::string_view value) {
  if (value.empty()) {
    return {};
  }
  if (value.front() == '%') {
    static constexpr std::string_view kSpecial =
        "%any,%any4,%any6,%defaultroute,%defaultroute6,%opportunistic,%opportunisticgroup,%oppo,"
        "%oppogroup,%group,%hostname,%direct,%none";
    if (in_list(kSpecial, lower(value))) {
      return {};
    }
    return "unknown special value; expected an address, a host name, %any, %defaultroute, "
           "%opportunistic or %group";
  }
  if (IpAddress::parse(value)) {
    return {};
  }
  if (is_dns_name(value)) {
    return {};
  }
  return "expected an IP address, a host name or %any";
}

std::string check_nexthop(std::string_view value) {
  std::string v = lower(value);
  if (v.empty() || v == "%direct" || v == "%defaultroute") {
    return {};
  }
  if (auto a = IpAddress::parse(value); !a) {
    return a.error() + "; or use %direct / %defaultroute";
  }
  return {};
}

std::string check_subnet(std::string_view value) {
  std::string v = lower(value);
  if (v.empty() || v == "%no" || v == "%priv" || v == "%any" || v == "%all") {
    return {};
  }
  // IKEv1-era virtual subnets: "vhost:%no,%priv", "vnet:10.0.0.0/8".
  if (v.rfind("vhost:", 0) == 0 || v.rfind("vnet:", 0) == 0) {
    return {};
  }
  if (auto s = Subnet::parse(value); !s) {
    return s.error();
  }
  return {};
}

std::string check_range(std::string_view value) {
  size_t dash = value.find('-');
  if (dash == std::string_view::npos) {
    auto s = Subnet::parse(value);
    return s ? std::string() : s.error();
  }
  auto lo = IpAddress::parse(value.substr(0, dash));
  auto hi = IpAddress::parse(value.substr(dash + 1));
  if (!lo) {
    return lo.error();
  }
  if (!hi) {
    return hi.error();
  }
  if (lo->family != hi->family) {
    return "the two ends of the range are of different address families";
  }
  if (hi.value() < lo.value()) {
    return "the range ends before it starts";
  }
  return {};
}

std::string check_authby(std::string_view value) {
  static constexpr std::string_view kMethods =
      "secret,rsasig,rsa,ecdsa,null,never,eddsa,rsa-sha1,rsa-sha2,rsa-sha2_256,rsa-sha2_384,"
      "rsa-sha2_512,ecdsa-sha2,ecdsa-sha2_256,ecdsa-sha2_384,ecdsa-sha2_512,psk";
  std::string v = lower(value);
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = v.find_first_of(",| ", start);
    if (end == std::string::npos) {
      end = v.size();
    }
    std::string_view item = std::string_view(v).substr(start, end - start);
    if (!item.empty() && !in_list(kMethods, item)) {
      return "unknown authentication method '" + std::string(item) +
             "'; expected secret, rsasig, ecdsa, eddsa, null or never";
    }
    start = end + 1;
  }
  return {};
}

std::string check_pubkey(std::string_view value) {
  std::string v = lower(value);
  if (v.empty() || v == "%cert" || v == "%dns" || v == "%dnsondemand" || v == "%none") {
    return {};
  }
  if (v.rfind("0s", 0) == 0) {
    for (char c : value.substr(2)) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) {
        return "invalid character in base64 key (0s...)";
      }
    }
    return {};
  }
  if (v.rfind("0x", 0) == 0) {
    for (char c : value.substr(2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '_') {
        return "invalid character in hex key (0x...)";
      }
    }
    return {};
  }
  return "expected a key in 0s (base64) or 0x (hex) form, %cert or %dns";
}

std::string check_words(std::string_view value) {
  for (char c : value) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '+' ||
          c == ',' || c == ' ' || c == '\t')) {
      return "unexpected character '" + std::string(1, c) + "'";
    }
  }
  return {};
}

}  // namespace

std::string check_value(const Keyword& k, std::string_view value) {
  if (std::string why = check_ikev1(k, value); !why.empty()) {
    return why;
  }
  switch (k.kind) {
    case ValueKind::kString:
    case ValueKind::kAppend:
      return {};
    case ValueKind::kBool:
      return check_bool(value);
    case ValueKind::kEnum:
      if (in_list(k.values, lower(value))) {
        return {};
      }
      // ipsec-interface= takes yes/no or the interface number (ipsec1 is "1").
      if (k.name == "ipsec-interface" && parse_unsigned(value, 0, UINT32_MAX)) {
        return {};
      }
      return one_of(k.values);
    case ValueKind::kInterfaceAddress: {
      size_t slash = value.find('/');
      auto a = IpAddress::parse(value.substr(0, slash));
      if (!a) {
        return a.error();
      }
      if (slash == std::string_view::npos) {
        return "expected ADDRESS/PREFIX, e.g. 192.0.2.1/24";
      }
      auto len = parse_unsigned(value.substr(slash + 1), 0, a->size() * 8);
      return len ? std::string() : len.error();
    }
    case ValueKind::kNumber: {
      auto n = parse_unsigned(value);
      return n ? std::string() : n.error();
    }
    case ValueKind::kPort: {
      auto n = parse_unsigned(value, 0, 65535);
      return n ? std::string() : n.error();
    }
    case ValueKind::kTime: {
      auto d = parse_duration(value);
      return d ? std::string() : d.error();
    }
    case ValueKind::kPercent:
      return check_percent(value);
    case ValueKind::kBytes:
    case ValueKind::kCount:
      return check_scaled(value);
    case ValueKind::kHost:
      return check_host(value);
    case ValueKind::kNexthop:
      return check_nexthop(value);
    case ValueKind::kIpAddr: {
      if (value.empty() || value.front() == '%' || IpAddress::parse(value) || is_dns_name(value)) {
        return {};
      }
      return IpAddress::parse(value).error();
    }
    case ValueKind::kSubnet:
      return check_subnet(value);
    case ValueKind::kSubnets: {
      auto l = parse_subnet_list(value);
      return l ? std::string() : l.error();
    }
    case ValueKind::kRange:
      return check_range(value);
    case ValueKind::kId: {
      auto id = Identity::parse(value);
      return id ? std::string() : id.error();
    }
    case ValueKind::kProtoport: {
      auto pp = ProtoPort::parse(value);
      return pp ? std::string() : pp.error();
    }
    case ValueKind::kIke:
    case ValueKind::kEsp:
    case ValueKind::kAh: {
      ProposalKind pk = k.kind == ValueKind::kIke   ? ProposalKind::kIke
                        : k.kind == ValueKind::kEsp ? ProposalKind::kEsp
                                                    : ProposalKind::kAh;
      auto p = parse_proposals(pk, value);
      return p ? std::string() : p.error();
    }
    case ValueKind::kMark: {
      auto m = Mark::parse(value);
      return m ? std::string() : m.error();
    }
    case ValueKind::kAuthby:
      return check_authby(value);
    case ValueKind::kPubkey:
      return check_pubkey(value);
    case ValueKind::kLset:
      return check_words(value);
    case ValueKind::kAlso:
      return value.empty() ? "expected the name of a conn" : std::string();
  }
  return {};
}

Interpretation interpret(std::string_view key, Section section, std::string_view value) {
  Interpretation out;
  std::optional<KeywordMatch> match = find_keyword(key, section);
  if (!match) {
    Section other = section == Section::kSetup ? Section::kConn : Section::kSetup;
    if (find_keyword(key, other)) {
      out.message = std::string(key) + " belongs in " +
                    (other == Section::kSetup ? "'config setup'" : "a 'conn' section") +
                    ", not in " +
                    (section == Section::kSetup ? "'config setup'" : "a 'conn' section");
      return out;
    }
    out.message = "unknown keyword " + std::string(key);
    if (std::string hint = nearest_keyword(key, section); !hint.empty()) {
      out.message += "; did you mean " + hint + "?";
    }
    return out;
  }
  const Keyword& kw = keyword(match->id);
  if (kw.has(kw::kCommandLineOnly)) {
    out.message = std::string(key) + " can only be given on the command line";
    return out;
  }
  if (kw.status == KeywordStatus::kObsolete) {
    out.verdict = Verdict::kIgnored;
    out.message = "keyword " + std::string(key) + " is obsolete and ignored";
    return out;
  }
  out.match = {resolve_alias(match->id), match->side};
  if (std::string why = check_value(keyword(out.match.id), value); !why.empty()) {
    out.message = std::string(key) + "=" + std::string(value) + ": " + why;
    return out;
  }
  out.verdict = Verdict::kOk;
  if (kw.name == "dpdaction" && lower(value) == "restart_by_peer") {
    // libreswan 4.10's keyword table maps it to DPD_ACTION_RESTART.
    out.warning = std::string(key) + "=" + std::string(value) + " is the obsolete spelling of " +
                  std::string(key) + "=restart, and is read as restart";
  }
  return out;
}

std::string canonical_value(const Keyword& k, std::string_view value) {
  if (k.kind == ValueKind::kBool) {
    return in_list(kBoolTrue, lower(value)) ? "yes" : "no";
  }
  if (k.kind == ValueKind::kEnum) {
    std::string v = lower(value);
    if (k.name == "auto" && v == "route") {
      return "ondemand";
    }
    if (k.name == "type" && v == "pass") {
      return "passthrough";
    }
    if (k.name == "dpdaction" && v == "restart_by_peer") {
      return "restart";
    }
    return v;
  }
  return std::string(value);
}

}  // namespace ipsecd::model::detail
