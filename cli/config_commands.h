#pragma once
// `ipsec checkconfig` and `ipsec readwriteconf`: offline configuration tools.

#include <ostream>
#include <string_view>
#include <vector>

namespace ipsecd::cli {

int run_checkconfig(const std::vector<std::string_view>& args, std::ostream& out,
                    std::ostream& err);
int run_readwriteconf(const std::vector<std::string_view>& args, std::ostream& out,
                      std::ostream& err);

}  // namespace ipsecd::cli
