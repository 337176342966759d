#include "controller/daemon/daemon_options.h"

#include <algorithm>
#include <charconv>

namespace ipsecd::controller {
namespace {

using R = model::Result<CommandLine>;

constexpr std::string_view kUsage =
    "usage: ipsecd [OPTIONS]\n"
    "\n"
    "desired state:\n"
    "  --config FILE           ipsec.conf (includes, also=, %default); SIGHUP rereads it\n"
    "  --watch-dir DIR         *.conf and *.yaml drops, watched with inotify (repeatable)\n"
    "  --secrets FILE          ipsec.secrets; reread when it changes\n"
    "  --ipsecdir DIR          certificate store (default /etc/ipsec.d)\n"
    "dataplane:\n"
    "  --kernel xfrm|memory    the kernel backend (default xfrm; memory: in-process, no root)\n"
    "  --listen ADDR           local IKE address (repeatable; default every interface address)\n"
    "  --ike-port N            IKE port (default 500)\n"
    "  --natt-port N           NAT-T port (default 4500)\n"
    "  --max-child-sas-per-connection N  CHILD SAs a peer may hold of one connection on one\n"
    "                          IKE SA, beside rekeys (default 4; 0: no limit)\n"
    "  --max-ike-sas-per-peer N  IKE SAs one peer (address and id) may hold (default 8; 0: no "
    "limit)\n"
    "  --keep-dataplane-on-exit  leave SAs and policies in the kernel on SIGTERM\n"
    "control and observability:\n"
    "  --api HOST:PORT         REST API (default 127.0.0.1:0, any free port)\n"
    "  --metrics HOST:PORT|off Prometheus metrics (default 127.0.0.1:9810)\n"
    "  --health HOST:PORT|off  unauthenticated /healthz and /readyz (default off)\n"
    "  --no-per-connection-metrics  no {connection} label on byte counters\n"
    "  --state-dir DIR         api address, token, intents (default /run/ipsecd)\n"
    "  --log-format text|json  (default text)\n"
    "  --log-level debug|info|warning|error  (default info)\n"
    "  --resync SECONDS        look at every connection again this often (default 30)\n"
    "  --debounce MS           coalesce file changes this long (default 50)\n"
    "  --version, --help\n"
    "\n"
    "Signals: SIGHUP rereads the configuration and secrets; SIGTERM and SIGINT stop,\n"
    "deleting the daemon's SAs and policies (telling the peers) unless\n"
    "--keep-dataplane-on-exit.\n";

std::optional<uint64_t> number(std::string_view text, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > max) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

bool DaemonOptions::was_given(std::string_view flag) const {
  return std::find(given.begin(), given.end(), flag) != given.end();
}

std::string_view daemon_usage() {
  return kUsage;
}

model::Result<CommandLine> parse_command_line(const std::vector<std::string_view>& args) {
  CommandLine cl;
  DaemonOptions& o = cl.options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      cl.action = CommandLine::Action::kHelp;
      return cl;
    }
    if (arg == "--version") {
      cl.action = CommandLine::Action::kVersion;
      return cl;
    }
    if (arg.substr(0, 2) != "--") {
      return R::failure("unexpected argument '" + std::string(arg) + "'; see ipsecd --help");
    }
    std::string flag(arg);
    std::optional<std::string> inline_value;
    if (auto eq = flag.find('='); eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    // Flags without a value.
    if (flag == "--keep-dataplane-on-exit" || flag == "--no-per-connection-metrics") {
      if (inline_value) {
        return R::failure(flag + " takes no value");
      }
      if (flag == "--keep-dataplane-on-exit") {
        o.keep_dataplane_on_exit = true;
      } else {
        o.per_connection_metrics = false;
      }
      o.given.push_back(flag);
      continue;
    }
    static constexpr std::string_view kWithValue[] = {"--config",
                                                      "--watch-dir",
                                                      "--secrets",
                                                      "--ipsecdir",
                                                      "--kernel",
                                                      "--listen",
                                                      "--ike-port",
                                                      "--natt-port",
                                                      "--api",
                                                      "--metrics",
                                                      "--health",
                                                      "--state-dir",
                                                      "--log-format",
                                                      "--log-level",
                                                      "--resync",
                                                      "--debounce",
                                                      "--max-child-sas-per-connection",
                                                      "--max-ike-sas-per-peer"};
    if (std::find(std::begin(kWithValue), std::end(kWithValue), flag) == std::end(kWithValue)) {
      return R::failure("unknown option '" + flag + "'; see ipsecd --help");
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = std::string(args[++i]);
    } else {
      return R::failure(flag + " needs a value");
    }
    o.given.push_back(flag);
    auto port = [&](uint16_t& out) -> std::optional<std::string> {
      auto n = number(value, 65535);
      if (!n) {
        return flag + " '" + value + "': expected a port number 0-65535";
      }
      out = static_cast<uint16_t>(*n);
      return std::nullopt;
    };
    std::optional<std::string> error;
    if (value.empty()) {
      error = flag + " needs a non-empty value";
    } else if (flag == "--config") {
      o.config = value;
    } else if (flag == "--watch-dir") {
      o.watch_dirs.push_back(value);
    } else if (flag == "--secrets") {
      o.secrets = value;
    } else if (flag == "--ipsecdir") {
      o.ipsecdir = value;
    } else if (flag == "--kernel") {
      if (value == "xfrm") {
        o.kernel = KernelKind::kXfrm;
      } else if (value == "memory") {
        o.kernel = KernelKind::kMemory;
      } else {
        error = "--kernel '" + value + "': expected xfrm or memory";
      }
    } else if (flag == "--listen") {
      o.listen.push_back(value);
    } else if (flag == "--ike-port") {
      error = port(o.ike_port);
    } else if (flag == "--natt-port") {
      error = port(o.natt_port);
    } else if (flag == "--api") {
      o.api = value;
    } else if (flag == "--metrics") {
      o.metrics = value;
    } else if (flag == "--health") {
      o.health = value;
    } else if (flag == "--state-dir") {
      o.state_dir = value;
    } else if (flag == "--log-format") {
      if (auto f = parse_log_format(value)) {
        o.log_format = *f;
      } else {
        error = "--log-format '" + value + "': expected text or json";
      }
    } else if (flag == "--log-level") {
      if (auto l = parse_log_level(value)) {
        o.log_level = *l;
      } else {
        error = "--log-level '" + value + "': expected debug, info, warning or error";
      }
    } else if (flag == "--resync") {
      auto n = number(value, 86400);
      if (!n || *n == 0) {
        error = "--resync '" + value + "': expected seconds, 1-86400";
      } else {
        o.resync_period = std::chrono::seconds(*n);
      }
    } else if (flag == "--max-child-sas-per-connection" || flag == "--max-ike-sas-per-peer") {
      auto n = number(value, 1000000);
      if (!n) {
        error = flag + " '" + value + "': expected a number, 0-1000000 (0: no limit)";
      } else {
        (flag == "--max-ike-sas-per-peer" ? o.max_ike_sas_per_peer
                                          : o.max_child_sas_per_connection) = *n;
      }
    } else if (flag == "--debounce") {
      auto n = number(value, 60000);
      if (!n) {
        error = "--debounce '" + value + "': expected milliseconds, 0-60000";
      } else {
        o.debounce = std::chrono::milliseconds(*n);
      }
    }
    if (error) {
      return R::failure(*error);
    }
  }
  if (o.ike_port != 0 && o.ike_port == o.natt_port) {
    return R::failure("--ike-port and --natt-port are both " + std::to_string(o.ike_port) +
                      "; they must differ");
  }
  return cl;
}

std::vector<std::string> apply_config_setup(DaemonOptions& o, const model::Config& config) {
  std::vector<std::string> warnings;
  auto value = [&](std::string_view keyword) { return std::string(config.setup_value(keyword)); };
  if (auto v = value("listen"); !v.empty() && !o.was_given("--listen")) {
    o.listen = {v};
  }
  if (auto v = value("ipsecdir"); !v.empty() && !o.was_given("--ipsecdir")) {
    o.ipsecdir = v;
  }
  if (auto v = value("secretsfile"); !v.empty() && !o.was_given("--secrets")) {
    o.secrets = v;
  }
  if (auto v = value("keep-alive"); !v.empty()) {
    if (auto n = number(v, 86400)) {
      o.nat_keepalive = std::chrono::seconds(*n);
    } else {
      warnings.push_back("config setup keep-alive=" + v + ": expected seconds; using " +
                         std::to_string(o.nat_keepalive.count()));
    }
  }
  if (auto v = value("ddos-ike-threshold"); !v.empty()) {
    if (auto n = number(v, 1u << 24)) {
      o.cookie_threshold = *n;
    } else {
      warnings.push_back("config setup ddos-ike-threshold=" + v + ": expected a number; using " +
                         std::to_string(o.cookie_threshold));
    }
  }
  if (auto v = value("plutodebug"); !v.empty() && v != "none" && !o.was_given("--log-level")) {
    o.log_level = LogLevel::kDebug;
  }
  for (std::string_view ignored : {"logfile", "protostack", "interfaces", "listen-tcp"}) {
    if (auto v = value(ignored); !v.empty()) {
      warnings.push_back("config setup " + std::string(ignored) + "=" + v +
                         " is not used by ipsecd (see ipsecd --help for its options)");
    }
  }
  return warnings;
}

}  // namespace ipsecd::controller
