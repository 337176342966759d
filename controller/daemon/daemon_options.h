#pragma once
// ipsecd's command line, and the `config setup` keywords of the --config file
// that libreswan has for the same knobs (a flag given on the command line wins).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/log.h"
#include "model/config.h"
#include "model/result.h"

namespace ipsecd::controller {

enum class KernelKind : uint8_t { kXfrm, kMemory };

struct DaemonOptions {
  std::string config;                   // --config: ipsec.conf with includes ("" none)
  std::vector<std::string> watch_dirs;  // --watch-dir, repeatable
  std::string secrets;                  // --secrets ("" none)
  std::string ipsecdir = "/etc/ipsec.d";
  KernelKind kernel = KernelKind::kXfrm;
  std::vector<std::string> listen;  // --listen: local IKE addresses; empty: every interface address
  uint16_t ike_port = 500;
  uint16_t natt_port = 4500;
  std::string api = "127.0.0.1:0";
  std::string metrics = "127.0.0.1:9810";  // "off": no metrics server
  std::string health = "off";              // unauthenticated /healthz and /readyz
  std::string state_dir = "/run/ipsecd";
  LogFormat log_format = LogFormat::kText;
  LogLevel log_level = LogLevel::kInfo;
  bool keep_dataplane_on_exit = false;
  bool per_connection_metrics = true;
  size_t cookie_threshold = 1000;           // config setup ddos-ike-threshold
  size_t max_child_sas_per_connection = 4;  // per IKE SA, beside rekeys; 0: no limit
  size_t max_ike_sas_per_peer = 8;          // per peer address and id; 0: no limit
  std::chrono::seconds nat_keepalive{20};   // config setup keep-alive
  std::chrono::milliseconds resync_period{30000};
  std::chrono::milliseconds debounce{50};  // --debounce: file changes coalesce this long

  // Which flags were given, so config setup does not override them.
  std::vector<std::string> given;
  bool was_given(std::string_view flag) const;
};

// What the command line asks for: run with these options, or print and exit.
struct CommandLine {
  enum class Action : uint8_t { kRun, kHelp, kVersion };
  Action action = Action::kRun;
  DaemonOptions options;
};

// Parses argv (without argv[0]). Both "--flag value" and "--flag=value".
// Errors name the flag and what would be right.
model::Result<CommandLine> parse_command_line(const std::vector<std::string_view>& args);

// Applies `config setup` from the --config file: listen=, ipsecdir=,
// secretsfile=, keep-alive=, ddos-ike-threshold=, plutodebug= (anything but
// "none" means --log-level debug). Returns warnings for setup keywords
// ipsecd reads but cannot honour.
std::vector<std::string> apply_config_setup(DaemonOptions& options, const model::Config& config);

std::string_view daemon_usage();

}  // namespace ipsecd::controller
