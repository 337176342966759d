#pragma once
// The ipsec.conf keyword table: every keyword libreswan knows, with its
// section, whether it has left/right forms, its value syntax and its status
// (keyword, alias of another, obsolete). Generated from libreswan's own list by
// model/tools/gen_keywords.py.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ipsecd::model {

enum class Section : uint8_t { kSetup, kConn };
enum class Side : uint8_t { kNone, kLeft, kRight };
enum class KeywordStatus : uint8_t { kKeyword, kAlias, kObsolete };

enum class ValueKind : uint8_t {
  kString,            // free text (file names, labels)
  kBool,              // yes/no (and true/false, on/off, y/n, 1/0)
  kEnum,              // one of Keyword::values
  kNumber,            // unsigned decimal
  kPort,              // 1..65535
  kTime,              // duration with unit
  kPercent,           // "100%" or a number
  kBytes,             // byte count with optional binary suffix
  kCount,             // packet count with optional suffix
  kHost,              // left=: address, %any, %defaultroute, %opportunistic..., or a DNS name
  kNexthop,           // address, %direct or %defaultroute
  kIpAddr,            // an address
  kSubnet,            // a subnet, or vhost:/vnet: forms
  kSubnets,           // a list of subnets
  kInterfaceAddress,  // an interface's address with its prefix: 192.0.2.1/24
  kRange,             // addresspool: address range or subnet
  kId,                // IKE identity
  kProtoport,         // protocol[/port]
  kIke,               // ike= proposals
  kEsp,               // esp= / phase2alg= proposals
  kAh,                // ah= proposals
  kMark,              // mark value[/mask]
  kAuthby,            // authby= list
  kPubkey,            // raw public key or %cert/%dns...
  kLset,              // plutodebug= word list
  kAlso,              // also= reference to another conn
  kAppend,            // a value that accumulates (connalias=)
};

namespace kw {
inline constexpr uint8_t kLibreswan5 = 1;       // not in libreswan 4.10's parser
inline constexpr uint8_t kCommandLineOnly = 2;  // an error in a file
inline constexpr uint8_t kRepeatable = 4;       // may appear several times in a conn
}  // namespace kw

struct Keyword {
  std::string_view name;  // canonical spelling without left/right ("" is left=/right=)
  Section section;
  bool sided;
  KeywordStatus status;
  std::string_view alias_of;  // canonical name when status is kAlias
  ValueKind kind;
  std::string_view values;  // kEnum: comma-separated allowed values
  uint8_t flags;

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
  // "leftsubnet", "auto", "left"; side kNone for an unsided keyword.
  std::string spelled(Side side) const;
};

using KeywordId = uint16_t;

struct KeywordMatch {
  KeywordId id;  // index into keyword_table()
  Side side;
};

std::span<const Keyword> keyword_table();
inline const Keyword& keyword(KeywordId id) {
  return keyword_table()[id];
}

// Finds a keyword as written in a file: "leftsubnet", "left-subnet",
// "rightid", "Auto" (case-insensitive). Aliases are returned as themselves;
// resolve_alias() gives the canonical keyword.
std::optional<KeywordMatch> find_keyword(std::string_view spelled, Section section);
KeywordId resolve_alias(KeywordId id);
// Finds a keyword by canonical name ("subnet", "auto").
std::optional<KeywordId> keyword_id(std::string_view name, Section section);

// The known spelling closest to an unknown one, for "did you mean" hints;
// empty when nothing is close.
std::string nearest_keyword(std::string_view spelled, Section section);

}  // namespace ipsecd::model
