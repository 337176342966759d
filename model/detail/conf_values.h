#pragma once
// Per-keyword value checks for ipsec.conf settings (internal to model/).

#include <string>
#include <string_view>

#include "model/keywords.h"

namespace ipsecd::model::detail {

// Empty when `value` is valid for the keyword; otherwise the reason, phrased
// to follow "KEYWORD=VALUE: ".
std::string check_value(const Keyword& keyword, std::string_view value);

// How one "key=value" of a section is taken, shared by the ipsec.conf and
// YAML readers: kOk with the canonical keyword (aliases resolved), kIgnored
// with a warning (obsolete keywords), or kError with the reason.
enum class Verdict { kOk, kIgnored, kError };
struct Interpretation {
  Verdict verdict = Verdict::kError;
  KeywordMatch match{};
  std::string message;  // the warning or error, starting with the keyword
  // kOk: a warning the value is still taken with (an old spelling); "" when none.
  std::string warning;
};
Interpretation interpret(std::string_view key, Section section, std::string_view value);

// libreswan's spelling of a valid value (yes/no, folded enum aliases).
std::string canonical_value(const Keyword& keyword, std::string_view value);

}  // namespace ipsecd::model::detail
