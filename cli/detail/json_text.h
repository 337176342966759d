#pragma once
// Reading the daemon's JSON answers without trusting their shape, and
// printing the times they carry. Private to cli/.

#include <cpprest/json.h>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/result.h"

namespace ipsecd::cli::detail {

// The daemon's answer to WHAT ("GET /v1/status") parsed, or the error "the
// daemon's answer to WHAT is not JSON: REASON".
model::Result<web::json::value> parse_answer(const std::string& body, std::string_view what);

// The member `key` of an object; nullptr when `v` is no object or lacks it.
const web::json::value* member(const web::json::value& v, std::string_view key);
// The string member, or `fallback` when absent, null or not a string.
std::string text(const web::json::value& v, std::string_view key, std::string_view fallback = "");
// The number member as an unsigned integer, or 0.
uint64_t number(const web::json::value& v, std::string_view key);
bool flag(const web::json::value& v, std::string_view key);
// The array member's elements; empty when absent or not an array.
std::vector<web::json::value> items(const web::json::value& v, std::string_view key);
// The array member's strings joined with `sep`.
std::string joined(const web::json::value& v, std::string_view key, std::string_view sep);

// Seconds since the epoch of an RFC 3339 time ("2026-01-01T10:00:00Z",
// fractions and numeric offsets allowed); nullopt when it is not one.
std::optional<std::time_t> parse_rfc3339(std::string_view text);
// "2026-01-01 10:00:00 UTC" with `utc`, else the local time with its zone
// abbreviation; "-" for an absent time; the text itself when it does not parse.
std::string display_time(std::string_view rfc3339, bool utc);
// display_time of a member that may be null or absent.
std::string time_member(const web::json::value& v, std::string_view key, bool utc);

// Columns padded to their widest cell, two spaces apart, no trailing blanks.
std::string table(const std::vector<std::vector<std::string>>& rows, std::string_view indent = "");

}  // namespace ipsecd::cli::detail
