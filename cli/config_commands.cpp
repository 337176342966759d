#include "cli/config_commands.h"

#include <optional>
#include <string>

#include "cli/exit_codes.h"
#include "model/config.h"
#include "model/connection.h"
#include "model/yaml_spec.h"

namespace ipsecd::cli {
namespace {

struct ConfigArgs {
  std::string config = "/etc/ipsec.conf";
  std::string rootdir;
  enum class Format { kText, kJson, kYaml } format = Format::kText;
};

std::optional<ConfigArgs> parse_args(const std::vector<std::string_view>& args, bool formats,
                                     std::string_view command, std::ostream& err) {
  ConfigArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) {
        err << "ipsec " << command << ": " << a << " needs a value\n";
        return std::nullopt;
      }
      return std::string(args[++i]);
    };
    if (a == "--config") {
      auto v = value();
      if (!v) {
        return std::nullopt;
      }
      out.config = *v;
    } else if (a == "--rootdir") {
      auto v = value();
      if (!v) {
        return std::nullopt;
      }
      out.rootdir = *v;
    } else if (formats && a == "--json") {
      out.format = ConfigArgs::Format::kJson;
    } else if (formats && a == "--yaml") {
      out.format = ConfigArgs::Format::kYaml;
    } else {
      err << "ipsec " << command << ": unknown option " << a << "\n";
      return std::nullopt;
    }
  }
  return out;
}

// Prints every diagnostic, one per line; returns whether any is an error.
// Cross-keyword checks (model::build_connections) run only on a file whose
// keywords are valid, so each problem is reported once.
bool load(const ConfigArgs& args, model::Config& config, std::vector<model::Connection>* conns,
          std::ostream& err) {
  model::ParseOptions options;
  options.rootdir = args.rootdir;
  config = model::parse_config_file(args.config, options);
  model::Diagnostics diags = config.diagnostics;
  if (!diags.has_errors()) {
    model::ConnectionSet set = model::build_connections(config);
    diags.append(set.diagnostics);
    if (conns != nullptr) {
      *conns = std::move(set.connections);
    }
  }
  for (const model::Diagnostic& d : diags.all()) {
    err << d.str() << "\n";
  }
  return !diags.has_errors();
}

}  // namespace

int run_checkconfig(const std::vector<std::string_view>& args, std::ostream& out,
                    std::ostream& err) {
  auto parsed = parse_args(args, false, "checkconfig", err);
  if (!parsed) {
    return kExitUsage;
  }
  model::Config config;
  bool ok = load(*parsed, config, nullptr, err);
  (void)out;
  return ok ? kExitOk : kExitConfigError;
}

int run_readwriteconf(const std::vector<std::string_view>& args, std::ostream& out,
                      std::ostream& err) {
  auto parsed = parse_args(args, true, "readwriteconf", err);
  if (!parsed) {
    return kExitUsage;
  }
  model::Config config;
  std::vector<model::Connection> conns;
  if (!load(*parsed, config, &conns, err)) {
    return kExitConfigError;
  }
  switch (parsed->format) {
    case ConfigArgs::Format::kText:
      out << model::format_config_text(config);
      break;
    case ConfigArgs::Format::kJson:
      out << model::format_config_json(config);
      break;
    case ConfigArgs::Format::kYaml:
      out << model::to_yaml(conns);
      break;
  }
  return kExitOk;
}

}  // namespace ipsecd::cli
