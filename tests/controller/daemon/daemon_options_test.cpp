#include "controller/daemon/daemon_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "controller/log.h"
#include "model/config.h"

namespace ipsecd::controller {
namespace {

model::Result<CommandLine> parse(std::vector<std::string_view> args) {
  return parse_command_line(args);
}

TEST(DaemonOptions, DefaultsAreTheDocumentedOnes) {
  auto cl = parse({});
  ASSERT_TRUE(cl.ok());
  const DaemonOptions& o = cl->options;
  EXPECT_EQ(o.kernel, KernelKind::kXfrm);
  EXPECT_EQ(o.ike_port, 500);
  EXPECT_EQ(o.natt_port, 4500);
  EXPECT_EQ(o.api, "127.0.0.1:0");
  EXPECT_EQ(o.metrics, "127.0.0.1:9810");
  EXPECT_EQ(o.health, "off");
  EXPECT_EQ(o.state_dir, "/run/ipsecd");
  EXPECT_FALSE(o.keep_dataplane_on_exit);
  EXPECT_EQ(o.max_child_sas_per_connection, 4u);
  EXPECT_EQ(o.max_ike_sas_per_peer, 8u);
}

TEST(DaemonOptions, EveryFlagInBothSpellings) {
  auto cl = parse({"--config",
                   "/etc/ipsec.conf",
                   "--watch-dir=/a",
                   "--watch-dir",
                   "/b",
                   "--secrets=/etc/ipsec.secrets",
                   "--ipsecdir",
                   "/d",
                   "--kernel=memory",
                   "--listen",
                   "192.0.2.1",
                   "--listen=2001:db8::1",
                   "--ike-port",
                   "1500",
                   "--natt-port=14500",
                   "--api",
                   "127.0.0.1:8443",
                   "--metrics=off",
                   "--health",
                   "0.0.0.0:9766",
                   "--state-dir",
                   "/tmp/s",
                   "--log-format=json",
                   "--log-level",
                   "debug",
                   "--keep-dataplane-on-exit",
                   "--no-per-connection-metrics",
                   "--resync",
                   "5",
                   "--debounce=10",
                   "--max-child-sas-per-connection",
                   "2",
                   "--max-ike-sas-per-peer=0"});
  ASSERT_TRUE(cl.ok()) << cl.error();
  const DaemonOptions& o = cl->options;
  EXPECT_EQ(o.config, "/etc/ipsec.conf");
  EXPECT_EQ(o.watch_dirs, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(o.secrets, "/etc/ipsec.secrets");
  EXPECT_EQ(o.ipsecdir, "/d");
  EXPECT_EQ(o.kernel, KernelKind::kMemory);
  EXPECT_EQ(o.listen, (std::vector<std::string>{"192.0.2.1", "2001:db8::1"}));
  EXPECT_EQ(o.ike_port, 1500);
  EXPECT_EQ(o.natt_port, 14500);
  EXPECT_EQ(o.api, "127.0.0.1:8443");
  EXPECT_EQ(o.metrics, "off");
  EXPECT_EQ(o.health, "0.0.0.0:9766");
  EXPECT_EQ(o.state_dir, "/tmp/s");
  EXPECT_EQ(o.log_format, LogFormat::kJson);
  EXPECT_EQ(o.log_level, LogLevel::kDebug);
  EXPECT_TRUE(o.keep_dataplane_on_exit);
  EXPECT_FALSE(o.per_connection_metrics);
  EXPECT_EQ(o.resync_period, std::chrono::seconds(5));
  EXPECT_EQ(o.debounce, std::chrono::milliseconds(10));
  EXPECT_EQ(o.max_child_sas_per_connection, 2u);
  EXPECT_EQ(o.max_ike_sas_per_peer, 0u);
}

TEST(DaemonOptions, BadInputNamesTheFlagAndWhatWouldBeRight) {
  struct Case {
    std::vector<std::string_view> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--kernel", "netlink"}, "--kernel 'netlink': expected xfrm or memory"},
      {{"--ike-port", "70000"}, "--ike-port '70000': expected a port number 0-65535"},
      {{"--ike-port", "4500"}, "--ike-port and --natt-port are both 4500; they must differ"},
      {{"--log-format", "xml"}, "--log-format 'xml': expected text or json"},
      {{"--log-level", "loud"}, "--log-level 'loud': expected debug, info, warning or error"},
      {{"--config"}, "--config needs a value"},
      {{"--config="}, "--config needs a non-empty value"},
      {{"--frobnicate"}, "unknown option '--frobnicate'; see ipsecd --help"},
      {{"stray"}, "unexpected argument 'stray'; see ipsecd --help"},
      {{"--keep-dataplane-on-exit=yes"}, "--keep-dataplane-on-exit takes no value"},
      {{"--resync", "0"}, "--resync '0': expected seconds, 1-86400"},
      {{"--max-ike-sas-per-peer", "-1"},
       "--max-ike-sas-per-peer '-1': expected a number, 0-1000000 (0: no limit)"},
  };
  for (const auto& c : cases) {
    auto cl = parse(c.args);
    ASSERT_FALSE(cl.ok()) << c.message;
    EXPECT_EQ(cl.error(), c.message);
  }
}

TEST(DaemonOptions, HelpAndVersion) {
  EXPECT_EQ(parse({"--help"})->action, CommandLine::Action::kHelp);
  EXPECT_EQ(parse({"--kernel", "memory", "--version"})->action, CommandLine::Action::kVersion);
  EXPECT_NE(daemon_usage().find("--keep-dataplane-on-exit"), std::string_view::npos);
}

TEST(DaemonOptions, ConfigSetupFillsWhatFlagsLeftOpen) {
  const auto config = model::parse_config_text(
      "config setup\n  listen=192.0.2.7\n  ipsecdir=/srv/ipsec.d\n  secretsfile=/srv/secrets\n"
      "  keep-alive=30\n  ddos-ike-threshold=500\n  plutodebug=all\n  logfile=/var/log/pluto\n",
      "ipsec.conf");
  ASSERT_FALSE(config.diagnostics.has_errors());
  auto cl = parse({"--secrets", "/etc/ipsec.secrets"});
  ASSERT_TRUE(cl.ok());
  DaemonOptions o = cl->options;
  auto warnings = apply_config_setup(o, config);
  EXPECT_EQ(o.listen, (std::vector<std::string>{"192.0.2.7"}));
  EXPECT_EQ(o.ipsecdir, "/srv/ipsec.d");
  EXPECT_EQ(o.secrets, "/etc/ipsec.secrets");  // the flag wins
  EXPECT_EQ(o.nat_keepalive, std::chrono::seconds(30));
  EXPECT_EQ(o.cookie_threshold, 500u);
  EXPECT_EQ(o.log_level, LogLevel::kDebug);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "config setup logfile=/var/log/pluto is not used by ipsecd (see ipsecd --help for its "
            "options)");
}

TEST(Logger, TextAndJsonLines) {
  Logger text(LogFormat::kText, LogLevel::kInfo);
  EXPECT_EQ(text.format_line(LogLevel::kWarning, "config", "a\nb", "2026-11-27T07:00:00.000Z"),
            "2026-11-27T07:00:00.000Z warning config: a b\n");
  Logger json(LogFormat::kJson, LogLevel::kInfo);
  EXPECT_EQ(json.format_line(LogLevel::kInfo, "api", "added \"x\"", "T"),
            "{\"time\":\"T\",\"level\":\"info\",\"component\":\"api\",\"msg\":\"added "
            "\\\"x\\\"\"}\n");
}

TEST(Logger, FiltersByLevelAndWritesWholeLines) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    Logger log(LogFormat::kText, LogLevel::kWarning, fds[1]);
    log.info("x", "not shown");
    log.error("x", "shown");
  }
  ::close(fds[1]);
  char buffer[512] = {};
  const ssize_t n = ::read(fds[0], buffer, sizeof buffer - 1);
  ::close(fds[0]);
  ASSERT_GT(n, 0);
  const std::string out(buffer, static_cast<size_t>(n));
  EXPECT_EQ(out.find("not shown"), std::string::npos);
  EXPECT_NE(out.find("error   x: shown\n"), std::string::npos);
}

}  // namespace
}  // namespace ipsecd::controller
