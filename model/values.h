#pragma once
// Typed values of ipsec.conf keywords: addresses, subnets, protoports,
// identities and durations, parsed in libreswan's syntax and printed in
// libreswan's spelling. Every parser is bounds-checked and answers bad input
// with a message that names what was expected.

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace ipsecd::model {

enum class AddressFamily : uint8_t { kIpv4 = 4, kIpv6 = 6 };

struct IpAddress {
  AddressFamily family = AddressFamily::kIpv4;
  std::array<uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  static Result<IpAddress> parse(std::string_view text);
  std::string str() const;  // RFC 5952 for IPv6
  bool is_unspecified() const;
  size_t size() const { return family == AddressFamily::kIpv4 ? 4 : 16; }
  auto operator<=>(const IpAddress&) const = default;
};

// A prefix: "192.0.2.0/24", "2001:db8::/32"; a bare address is a host prefix.
// Host bits set below the prefix length are an error, as in libreswan.
struct Subnet {
  IpAddress address;
  uint8_t prefix_len = 0;

  static Result<Subnet> parse(std::string_view text);
  std::string str() const;
  bool contains(const IpAddress& a) const;
  auto operator<=>(const Subnet&) const = default;
};

// "{10.0.1.0/24 10.0.2.0/24}" or "10.0.1.0/24,10.0.2.0/24" (leftsubnets=).
Result<std::vector<Subnet>> parse_subnet_list(std::string_view text);

// leftprotoport=: "tcp", "tcp/22", "17/1701", "udp/%any", "6/0".
struct ProtoPort {
  uint8_t protocol = 0;   // 0 = any
  uint16_t port = 0;      // 0 = any
  bool any_port = false;  // written "%any"

  static Result<ProtoPort> parse(std::string_view text);
  std::string str() const;  // libreswan prints the numbers: "6/22"
  auto operator<=>(const ProtoPort&) const = default;
};

// IKE identities (leftid=), RFC 7296 3.5 ID types plus libreswan's specials.
enum class IdKind : uint8_t {
  kNone,      // %none
  kAny,       // %any or empty
  kIpv4,      // 192.0.2.1
  kIpv6,      // 2001:db8::1
  kFqdn,      // @east.example.org or a bare host name
  kUserFqdn,  // user@example.org or @@user... (libreswan "user@host")
  kDn,        // "C=CA, O=Libreswan, CN=east" (ASN.1 DN in text form)
  kKeyId,     // @#0a0b0c (hex) or @~0a0b (raw, legacy)
  kFromCert,  // %fromcert
  kNull,      // %null (RFC 7619)
};

struct Identity {
  IdKind kind = IdKind::kAny;
  std::string value;  // the text after any '@' prefix, or the DN / address text

  static Result<Identity> parse(std::string_view text);
  std::string str() const;  // as libreswan prints it (without quotes)
  auto operator<=>(const Identity&) const = default;
};

// Durations: "3600", "60s", "30m", "8h", "1d", "1w"; libreswan also accepts
// fractional values ("1.5h") and "ms" for the keywords measured in
// milliseconds. A plain number means seconds unless default_unit says otherwise.
enum class TimeUnit : uint8_t { kSeconds, kMilliseconds };
Result<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                 TimeUnit default_unit = TimeUnit::kSeconds);

// yes/no and their spellings (true/false, on/off, 1/0 are not libreswan: only
// yes/no plus those the keyword table lists).
Result<bool> parse_yes_no(std::string_view text);

// Unsigned decimal (or 0x hex where libreswan allows it) within [lo, hi].
Result<uint64_t> parse_unsigned(std::string_view text, uint64_t lo = 0, uint64_t hi = UINT64_MAX);

// Binary data in libreswan's ttodata(3) forms, as ipsec.secrets (PSKs, keys) and
// ipsec.conf (leftrsasigkey=) write it: "0x" hex digits (either case; one '_'
// may separate whole bytes), "0s" base64 (RFC 4648: a multiple of four
// characters, '=' only at the end, zero padding bits) or "0t" text; the prefix
// letter in either case. Decodes into OUT, which must hold text.size() bytes (no
// form decodes longer), and answers the decoded length. Errors name character
// positions from the start of TEXT, never the characters: TEXT may be a secret.
Result<size_t> decode_ttodata(std::string_view text, std::span<char> out);

// mark=, mark-in=, mark-out=: "VALUE[/MASK]", "-1" for unique.
struct Mark {
  uint32_t value = 0;
  uint32_t mask = 0xffffffff;
  bool unique = false;  // "-1": a unique mark per instance

  static Result<Mark> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Mark&) const = default;
};

}  // namespace ipsecd::model
