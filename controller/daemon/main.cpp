// ipsecd: the reconciling IPsec daemon. Flags: ipsecd --help; the design:
// docs/controller.md. This file turns the command line and signals into
// calls on controller::Daemon.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "controller/daemon/daemon.h"
#include "controller/daemon/daemon_options.h"
#include "controller/log.h"
#include "model/config.h"

namespace {

using ipsecd::controller::CommandLine;
using ipsecd::controller::Daemon;
using ipsecd::controller::Logger;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto parsed = ipsecd::controller::parse_command_line(args);
  if (!parsed.ok()) {
    std::cerr << "ipsecd: " << parsed.error() << "\n";
    return kExitUsage;
  }
  CommandLine cl = std::move(parsed).value();
  if (cl.action == CommandLine::Action::kHelp) {
    std::cout << ipsecd::controller::daemon_usage();
    return kExitOk;
  }
  if (cl.action == CommandLine::Action::kVersion) {
    std::cout << "ipsecd " IPSECD_VERSION "\n";
    return kExitOk;
  }

  // `config setup` of the --config file fills what the flags left open.
  std::vector<std::string> setup_warnings;
  if (!cl.options.config.empty()) {
    ipsecd::model::ParseOptions po;
    po.keep_ignored = false;
    const auto config = ipsecd::model::parse_config_file(cl.options.config, po);
    setup_warnings = ipsecd::controller::apply_config_setup(cl.options, config);
  }
  Logger log(cl.options.log_format, cl.options.log_level);
  for (const auto& w : setup_warnings) {
    log.warning("config", w);
  }

  // Signals are taken by sigwait() on this thread only: block them before any
  // thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not end the daemon

  log.info("daemon", "ipsecd " IPSECD_VERSION " starting");
  auto started = Daemon::start(cl.options, log);
  if (!started.ok()) {
    log.error("daemon", "cannot start: " + started.error());
    return kExitFailure;
  }
  std::unique_ptr<Daemon> daemon = std::move(started).value();
  log.info("daemon", "running (pid " + std::to_string(::getpid()) + ")");

  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) {
      continue;
    }
    if (sig == SIGHUP) {
      daemon->reload();
      continue;
    }
    log.info("daemon",
             std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
    break;
  }
  daemon->shutdown();
  daemon.reset();
  log.info("daemon", "stopped");
  return kExitOk;
}
