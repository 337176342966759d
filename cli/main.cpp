// ipsec: the command-line front end of ipsecd.

#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/config_commands.h"
#include "cli/exit_codes.h"

namespace {

constexpr std::string_view kUsage =
    "usage: ipsec COMMAND [OPTIONS]\n"
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
  std::cerr << "ipsec: unknown command '" << command << "'\n" << kUsage;
  return ipsecd::cli::kExitUsage;
}
