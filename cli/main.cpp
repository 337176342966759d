// ipsec: the command-line front end of ipsecd.

#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/auto_command.h"
#include "cli/config_commands.h"
#include "cli/exit_codes.h"

namespace {

constexpr std::string_view kUsage =
    "usage: ipsec COMMAND [OPTIONS]\n"
    "\n"
    "the daemon (through its control API; see ipsec(8)):\n"
    "  auto [OPTIONS] --add|--delete|--replace|--up|--down|--route|--unroute NAME\n"
    "  auto [OPTIONS] --status|--ready|--listall|--rereadall|... (ipsec auto --help)\n"
    "  add|delete|replace|up|down|route|unroute NAME   the same as auto --OPERATION NAME\n"
    "  status|trafficstatus|ready|listall|listcerts|listpubkeys|checkpubkeys|listcacerts|\n"
    "  rereadcacerts|listcrls|rereadcrls|listacerts|rereadacerts|listaacerts|rereadaacerts|\n"
    "  listgroups|rereadgroups|rereadsecrets|rereadall|purgeocsp\n"
    "                                 the same as auto --OPERATION\n"
    "  options: --state-dir DIR (default $IPSECD_STATE_DIR or /run/ipsecd), --config FILE,\n"
    "           --showonly, --asynchronous, --timeout SECONDS, --verbose, --utc, --json\n"
    "\n"
    "configuration:\n"
    "  checkconfig --config FILE      check ipsec.conf; exit 0 when valid\n"
    "  readwriteconf --config FILE [--json | --yaml]\n"
    "                                 print the resolved configuration\n"
    "  --version                      print the version\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? ipsecd::cli::kExitUsage : ipsecd::cli::kExitOk;
  }
  std::string_view command = args[0];
  args.erase(args.begin());
  if (command == "--version" || command == "version") {
    std::cout << "ipsecd " IPSECD_VERSION "\n";
    return ipsecd::cli::kExitOk;
  }
  if (command == "checkconfig") {
    return ipsecd::cli::run_checkconfig(args, std::cout, std::cerr);
  }
  if (command == "readwriteconf") {
    return ipsecd::cli::run_readwriteconf(args, std::cout, std::cerr);
  }
  if (command == "auto") {
    return ipsecd::cli::run_auto(args, std::cout, std::cerr);
  }
  if (ipsecd::cli::is_auto_spelling(command)) {
    return ipsecd::cli::run_auto_spelling(command, args, std::cout, std::cerr);
  }
  std::cerr << "ipsec: unknown command '" << command << "'\n" << kUsage;
  return ipsecd::cli::kExitUsage;
}
