#pragma once
// libreswan ipsec.conf: parsing, include/also=/%default resolution and
// per-keyword validation. The result is the resolved keyword form of every
// conn (what `ipsec readwriteconf` prints); model/connection.h builds the
// structured Connection from it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/diagnostic.h"
#include "model/keywords.h"

namespace ipsecd::model {

struct Setting {
  KeywordId keyword = 0;  // canonical keyword (aliases resolved)
  Side side = Side::kNone;
  std::string value;  // unquoted
  uint32_t file = 0;  // index into Config::files
  uint32_t line = 0;
};

struct ConnSpec {
  std::string name;
  uint32_t file = 0;
  uint32_t line = 0;
  std::vector<std::string> also;  // conns pulled in with also=, in order
  std::vector<Setting> settings;  // one per (keyword, side), sorted by them

  const Setting* find(KeywordId keyword, Side side = Side::kNone) const;
  // By canonical keyword name: get("subnet", Side::kLeft); empty if unset.
  std::string_view get(std::string_view keyword_name, Side side = Side::kNone) const;
};

struct Config {
  std::vector<std::string> files;  // every file read, the top-level one first
  std::vector<Setting> setup;      // `config setup`, sorted by keyword
  std::vector<ConnSpec> conns;     // in file order; %default and also= applied
  Diagnostics diagnostics;

  const ConnSpec* find_conn(std::string_view name) const;
  std::string_view setup_value(std::string_view keyword_name) const;
};

struct ParseOptions {
  // Prefix for absolute include paths (libreswan's readwriteconf --rootdir).
  std::string rootdir;
  int max_include_depth = 10;
  // Keep conns with auto=ignore (readwriteconf prints them; the daemon skips them).
  bool keep_ignored = true;
};

// Reads the file and everything it includes. Errors and warnings land in
// Config::diagnostics with file:line; a conn with an error is still returned
// so that all errors of a file are reported in one pass.
Config parse_config_file(const std::string& path, const ParseOptions& options = {});
// Parses text as the file `name` (relative includes resolve against base_dir).
Config parse_config_text(std::string_view text, const std::string& name,
                         const ParseOptions& options = {}, const std::string& base_dir = ".");

// The printed forms of the resolved configuration (ipsec readwriteconf):
// libreswan's text layout and the JSON shape
// {"config setup": {K: V}, "conns": {NAME: {K: V}}}.
std::string format_config_text(const Config& config);
std::string format_config_json(const Config& config);
// One resolved conn in that text layout ("conn NAME" and its settings, also=
// already folded in): what `ipsec auto --add` sends to the daemon.
std::string format_conn_text(const ConnSpec& conn);

// libreswan's spelling of a setting's value (yes/no for booleans, enum
// aliases folded: auto=route prints as "ondemand").
std::string canonical_value(const Setting& setting);

}  // namespace ipsecd::model
