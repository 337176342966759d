#pragma once
// Exit codes of the `ipsec` command; documented in docs/ipsec.8.md.

namespace ipsecd::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitConfigError = 1,        // the configuration is invalid
  kExitUsage = 2,              // the command line is wrong
  kExitUnknownConnection = 3,  // no connection of that name
  kExitUnreachable = 4,        // the daemon cannot be reached
  kExitFailed = 5,             // the operation failed (e.g. negotiation)
  kExitTimeout = 6,            // the outcome did not arrive in time
};

}  // namespace ipsecd::cli
