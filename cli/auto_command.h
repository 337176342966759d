#pragma once
// `ipsec auto` (ipsec_auto(8)) and its libreswan-5 spellings (`ipsec up NAME`,
// `ipsec status`, `ipsec listcerts` ...), carried out through the daemon's
// control API. docs/ipsec.8.md describes every operation and exit code.

#include <ostream>
#include <string_view>
#include <vector>

namespace ipsecd::cli {

// `ipsec auto ARGS...` (args without "auto"). Returns the exit code
// (cli/exit_codes.h); results go to `out`, diagnostics and errors to `err`.
int run_auto(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err);

// Whether `command` is a libreswan-5 spelling of an auto operation: add,
// delete, replace, up, down, route, unroute, status, trafficstatus, ready,
// listall, listcerts, ..., rereadsecrets, rereadall, purgeocsp.
bool is_auto_spelling(std::string_view command);

// `ipsec COMMAND ARGS...` for such a command: exactly `ipsec auto --COMMAND
// ARGS...`, without a warning, with messages naming `ipsec COMMAND`.
int run_auto_spelling(std::string_view command, const std::vector<std::string_view>& args,
                      std::ostream& out, std::ostream& err);

}  // namespace ipsecd::cli
