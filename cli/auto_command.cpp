#include "cli/auto_command.h"

#include <cpprest/json.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <functional>
#include <optional>
#include <string>

#include "cli/api_client.h"
#include "cli/certs_text.h"
#include "cli/detail/json_text.h"
#include "cli/exit_codes.h"
#include "cli/status_text.h"
#include "model/config.h"
#include "model/connection.h"
#include "model/keywords.h"

namespace ipsecd::cli {
namespace {

enum class Op {
  kAdd,
  kDelete,
  kReplace,
  kUp,
  kDown,
  kRoute,
  kUnroute,
  kStatus,
  kTrafficStatus,
  kReady,
  kRereadSecrets,
  kRereadAll,
  kListAll,
  kListCerts,
  kListPubkeys,
  kCheckPubkeys,
  kListCacerts,
  kRereadCacerts,
  kListCrls,
  kRereadCrls,
  kListAcerts,
  kRereadAcerts,
  kListAacerts,
  kRereadAacerts,
  kListGroups,
  kRereadGroups,
  kPurgeOcsp,
};

struct OpInfo {
  std::string_view name;  // the option without "--", and the libreswan-5 command
  Op op;
  bool takes_name;
  std::string_view kind;  // the /v1/certs kind of a list or reread of certificates
};

constexpr std::array<OpInfo, 27> kOps = {{
    {"add", Op::kAdd, true, ""},
    {"delete", Op::kDelete, true, ""},
    {"replace", Op::kReplace, true, ""},
    {"up", Op::kUp, true, ""},
    {"down", Op::kDown, true, ""},
    {"route", Op::kRoute, true, ""},
    {"unroute", Op::kUnroute, true, ""},
    {"status", Op::kStatus, false, ""},
    {"trafficstatus", Op::kTrafficStatus, false, ""},
    {"ready", Op::kReady, false, ""},
    {"rereadsecrets", Op::kRereadSecrets, false, ""},
    {"rereadall", Op::kRereadAll, false, ""},
    {"listall", Op::kListAll, false, ""},
    {"listcerts", Op::kListCerts, false, "certs"},
    {"listpubkeys", Op::kListPubkeys, false, "pubkeys"},
    {"checkpubkeys", Op::kCheckPubkeys, false, ""},
    {"listcacerts", Op::kListCacerts, false, "cacerts"},
    {"rereadcacerts", Op::kRereadCacerts, false, "cacerts"},
    {"listcrls", Op::kListCrls, false, "crls"},
    {"rereadcrls", Op::kRereadCrls, false, "crls"},
    {"listacerts", Op::kListAcerts, false, "acerts"},
    {"rereadacerts", Op::kRereadAcerts, false, "acerts"},
    {"listaacerts", Op::kListAacerts, false, "aacerts"},
    {"rereadaacerts", Op::kRereadAacerts, false, "aacerts"},
    {"listgroups", Op::kListGroups, false, ""},
    {"rereadgroups", Op::kRereadGroups, false, ""},
    {"purgeocsp", Op::kPurgeOcsp, false, ""},
}};

const OpInfo* find_op(std::string_view name) {
  for (const OpInfo& info : kOps) {
    if (info.name == name) {
      return &info;
    }
  }
  return nullptr;
}

// What --listall lists, in this order.
constexpr std::array<std::string_view, 6> kListAllKinds = {"pubkeys", "certs",   "cacerts",
                                                           "acerts",  "aacerts", "crls"};

constexpr int kDefaultRequestSeconds = 30;
constexpr int kDefaultIntentWaitSeconds = 60;  // the API's own default wait
constexpr int kMaxIntentWaitSeconds = 600;
// Time for the answer to travel after the daemon's wait ran out.
constexpr int kIntentAnswerSlackSeconds = 10;

constexpr std::string_view kAutoUsage =
    "usage: ipsec auto [--showonly] [--asynchronous] [--config FILE] [--verbose]\n"
    "                  [--state-dir DIR] [--timeout SECONDS] [--utc] [--json] OPERATION [NAME]\n"
    "connection operations (one, with NAME):\n"
    "  --add --delete --replace --up --down --route --unroute\n"
    "other operations (several may be given):\n"
    "  --status --trafficstatus --ready --rereadsecrets --rereadall --listall --listcerts\n"
    "  --listpubkeys --checkpubkeys --listcacerts --rereadcacerts --listcrls --rereadcrls\n"
    "  --listacerts --rereadacerts --listaacerts --rereadaacerts --listgroups --rereadgroups\n"
    "  --purgeocsp\n"
    "see ipsec(8) (docs/ipsec.8.md)\n";

struct AutoOptions {
  bool showonly = false;
  bool asynchronous = false;
  bool verbose = false;
  bool utc = false;
  bool json = false;
  std::string config = "/etc/ipsec.conf";
  std::optional<std::string> state_dir;
  std::optional<int> timeout;  // seconds
  std::vector<const OpInfo*> ops;
  std::optional<std::string> name;
};

// Parses the arguments; prints the problem and returns nullopt on a usage error.
std::optional<AutoOptions> parse_auto_args(const std::vector<std::string_view>& args,
                                           std::string_view prog, std::ostream& err) {
  AutoOptions o;
  auto usage = [&](const std::string& why) -> std::optional<AutoOptions> {
    err << prog << ": " << why << "\n" << kAutoUsage;
    return std::nullopt;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    std::optional<std::string_view> inline_value;
    if (a.starts_with("--") && a.find('=') != std::string_view::npos) {
      inline_value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) {
        return std::string(*inline_value);
      }
      if (i + 1 >= args.size()) {
        return std::nullopt;
      }
      return std::string(args[++i]);
    };
    bool takes_value = a == "--config" || a == "--state-dir" || a == "--timeout";
    if (inline_value && !takes_value) {
      return usage(std::string(a) + " takes no value");
    }
    if (a == "--showonly") {
      o.showonly = true;
    } else if (a == "--asynchronous") {
      o.asynchronous = true;
    } else if (a == "--verbose") {
      o.verbose = true;
    } else if (a == "--utc") {
      o.utc = true;
    } else if (a == "--json") {
      o.json = true;
    } else if (takes_value) {
      std::optional<std::string> v = value();
      if (!v || v->empty()) {
        return usage(std::string(a) + " needs a value");
      }
      if (a == "--config") {
        o.config = *v;
      } else if (a == "--state-dir") {
        o.state_dir = *v;
      } else {
        int seconds = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), seconds);
        if (ec != std::errc() || end != v->data() + v->size() || seconds < 1 ||
            seconds > kMaxIntentWaitSeconds) {
          return usage("--timeout " + *v + ": give whole seconds from 1 to " +
                       std::to_string(kMaxIntentWaitSeconds));
        }
        o.timeout = seconds;
      }
    } else if (a.starts_with("--")) {
      const OpInfo* op = find_op(a.substr(2));
      if (op == nullptr) {
        return usage("unknown option " + std::string(a));
      }
      if (std::find(o.ops.begin(), o.ops.end(), op) == o.ops.end()) {
        o.ops.push_back(op);
      }
    } else if (!o.name) {
      o.name = std::string(a);
    } else {
      return usage("one connection name at a time ('" + *o.name + "' and '" + std::string(a) +
                   "' given)");
    }
  }
  if (o.ops.empty()) {
    return usage("no operation given");
  }
  const auto named =
      std::find_if(o.ops.begin(), o.ops.end(), [](const OpInfo* op) { return op->takes_name; });
  if (named != o.ops.end()) {
    if (o.ops.size() > 1) {
      return usage("--" + std::string((*named)->name) +
                   " takes one connection and combines with no other operation");
    }
    if (!o.name || o.name->empty()) {
      return usage("--" + std::string((*named)->name) + " needs a connection name");
    }
  } else if (o.name) {
    return usage("--" + std::string(o.ops.front()->name) + " takes no connection name ('" +
                 *o.name + "' given)");
  }
  return o;
}

// One invocation: the options, where output goes, and the client once opened.
class Session {
 public:
  Session(AutoOptions options, std::string prog, std::ostream& out, std::ostream& err)
      : o_(std::move(options)), prog_(std::move(prog)), out_(out), err_(err) {}

  int run() {
    for (const OpInfo* op : o_.ops) {
      prefix_ = prog_ + (prog_ == "ipsec auto" ? " --" + std::string(op->name) : "") +
                (o_.name ? " " + *o_.name : "");
      int code = run_op(*op);
      if (code != kExitOk) {
        return code;
      }
    }
    return kExitOk;
  }

 private:
  int run_op(const OpInfo& op) {
    switch (op.op) {
      case Op::kAdd:
        return add(false);
      case Op::kReplace:
        return add(true);
      case Op::kDelete:
        return remove();
      case Op::kUp:
      case Op::kDown:
      case Op::kRoute:
      case Op::kUnroute:
        return intent(op.name);
      case Op::kStatus:
        return status();
      case Op::kTrafficStatus:
        return trafficstatus();
      case Op::kReady:
        return ready();
      case Op::kRereadSecrets:
        return reread_secrets();
      case Op::kRereadAll:
        return reread_all();
      case Op::kListAll:
        return list_all();
      case Op::kListCerts:
      case Op::kListPubkeys:
      case Op::kListCacerts:
      case Op::kListCrls:
      case Op::kListAcerts:
      case Op::kListAacerts:
        return list_kind(op.kind);
      case Op::kRereadCacerts:
      case Op::kRereadCrls:
      case Op::kRereadAcerts:
      case Op::kRereadAacerts:
        return reread_kind(op.kind);
      case Op::kCheckPubkeys:
        return check_pubkeys();
      case Op::kListGroups:
        return simple({"GET", "/v1/groups", "", ""},
                      [](const std::string& body) { return format_groups(body); });
      case Op::kRereadGroups:
        return simple({"POST", "/v1/groups:reload", "", ""}, format_reloaded_groups);
      case Op::kPurgeOcsp:
        return simple({"POST", "/v1/ocsp:purge", "", ""}, format_purged);
    }
    return kExitUsage;
  }

  // --- talking to the daemon -------------------------------------------------

  // The answer when the request succeeded (or its status is in `tolerated`);
  // nullopt when it was only shown (--showonly) or failed: then the error is
  // printed and exit_ says why.
  std::optional<ApiResponse> call(const ApiRequest& request, std::chrono::seconds timeout,
                                  std::initializer_list<int> tolerated = {}) {
    if (o_.showonly) {
      out_ << request.describe();
      return std::nullopt;
    }
    if (!client_) {
      ApiResult<ApiClient> opened = ApiClient::open(resolve_state_dir(o_.state_dir));
      if (!opened.ok()) {
        return fail(opened.failure);
      }
      client_ = std::move(opened.value);
    }
    ApiResult<ApiResponse> answer = client_->send(request, timeout, o_.verbose ? &err_ : nullptr);
    if (!answer.ok()) {
      return fail(answer.failure);
    }
    int status = answer.value->status;
    bool ok = status >= 200 && status < 300;
    if (!ok && std::find(tolerated.begin(), tolerated.end(), status) == tolerated.end()) {
      return fail(failure_from_response(request, *answer.value));
    }
    return answer.value;
  }

  std::optional<ApiResponse> call(const ApiRequest& request) {
    return call(request, std::chrono::seconds(o_.timeout.value_or(kDefaultRequestSeconds)));
  }

  std::nullopt_t fail(const ApiFailure& failure) {
    err_ << prefix_ << ": " << failure.message << "\n";
    exit_ = failure.exit_code == kExitOk ? kExitFailed : failure.exit_code;
    return std::nullopt;
  }

  int fail_with(int code, const std::string& message) {
    err_ << prefix_ << ": " << message << "\n";
    return code;
  }

  // Prints a text rendering, or the reason the answer could not be read.
  int print(const model::Result<std::string>& rendered) {
    if (!rendered) {
      return fail_with(kExitFailed, rendered.error());
    }
    out_ << *rendered;
    return kExitOk;
  }

  void print_json(const std::string& body) {
    out_ << body;
    if (body.empty() || body.back() != '\n') {
      out_ << "\n";
    }
  }

  // One request whose answer prints as JSON or through `render`.
  using Render = std::function<model::Result<std::string>(const std::string&)>;

  // One request: its body as it is under --json, rendered as text otherwise.
  int simple(const ApiRequest& request, const Render& render) {
    return simple(request, render,
                  std::chrono::seconds(o_.timeout.value_or(kDefaultRequestSeconds)));
  }
  int simple(const ApiRequest& request, const Render& render, std::chrono::seconds timeout) {
    std::optional<ApiResponse> answer = call(request, timeout);
    if (!answer) {
      return exit_;
    }
    if (o_.json) {
      print_json(answer->body);
      return kExitOk;
    }
    return print(render(answer->body));
  }

  std::string connection_path() const { return "/v1/connections/" + encode_path_segment(*o_.name); }

  // --- operations ----------------------------------------------------------------

  int add(bool replace) {
    std::optional<std::string> spec = conn_text();
    if (!spec) {
      return exit_;
    }
    if (replace) {
      // A 404 means nothing by that name is loaded: replace is then an add.
      std::optional<ApiResponse> removed =
          call({"DELETE", connection_path(), "", ""},
               std::chrono::seconds(o_.timeout.value_or(kDefaultRequestSeconds)), {404});
      if (!removed && exit_ != kExitOk) {
        return exit_;
      }
      if (removed && o_.verbose && removed->status == 404) {
        err_ << prefix_ << ": was not loaded; adding it\n";
      }
    }
    std::optional<ApiResponse> added =
        call({"POST", "/v1/connections", std::move(*spec), "text/plain"});
    if (!added) {
      return exit_;
    }
    if (o_.json) {
      print_json(added->body);
    } else {
      out_ << (replace ? "replaced " : "added ") << describe_connection(added->body) << "\n";
    }
    return kExitOk;
  }

  // The conn from --config, resolved and flattened, as the API's text/plain
  // spec; nullopt (exit_ set, diagnostics printed) when it cannot be sent.
  std::optional<std::string> conn_text() {
    model::ParseOptions options;
    options.keep_ignored = true;
    model::Config config = model::parse_config_file(o_.config, options);
    for (const model::Diagnostic& d : config.diagnostics.all()) {
      err_ << d.str() << "\n";
    }
    if (config.diagnostics.has_errors()) {
      exit_ = kExitConfigError;
      err_ << prefix_ << ": " << o_.config << " has errors (above); nothing sent\n";
      return std::nullopt;
    }
    const model::ConnSpec* found = config.find_conn(*o_.name);
    if (found == nullptr || *o_.name == "%default") {
      exit_ = kExitUnknownConnection;
      err_ << prefix_ << ": no conn " << *o_.name << " in " << o_.config << "\n";
      return std::nullopt;
    }
    model::ConnSpec conn = *found;
    // auto=ignore only keeps a conn from loading at start; an explicit add loads it.
    std::optional<model::KeywordId> auto_kw = model::keyword_id("auto", model::Section::kConn);
    if (auto_kw && conn.get("auto") == "ignore") {
      std::erase_if(conn.settings, [&](const model::Setting& s) { return s.keyword == *auto_kw; });
    }
    // Cross-keyword checks of this conn only: another conn's problem is not this add's.
    model::Config single;
    single.files = config.files;
    single.conns.push_back(conn);
    model::ConnectionSet built = model::build_connections(single);
    for (const model::Diagnostic& d : built.diagnostics.all()) {
      err_ << d.str() << "\n";
    }
    if (built.diagnostics.has_errors()) {
      exit_ = kExitConfigError;
      err_ << prefix_ << ": conn " << *o_.name << " in " << o_.config
           << " is invalid (above); nothing sent\n";
      return std::nullopt;
    }
    return model::format_conn_text(conn);
  }

  int remove() {
    return simple({"DELETE", connection_path(), "", ""}, [this](const std::string&) {
      return model::Result<std::string>(*o_.name + ": deleted\n");
    });
  }

  int intent(std::string_view verb) {
    std::string path = connection_path() + ":" + std::string(verb);
    int wait = o_.timeout.value_or(kDefaultIntentWaitSeconds);
    if (o_.asynchronous) {
      path += "?async=true";
    } else if (o_.timeout) {
      path += "?timeout=" + std::to_string(*o_.timeout);
    }
    return simple(
        {"POST", path, "", ""},
        [](const std::string& body) {
          return model::Result<std::string>(describe_intent(body) + "\n");
        },
        std::chrono::seconds(o_.asynchronous ? kDefaultRequestSeconds
                                             : wait + kIntentAnswerSlackSeconds));
  }

  int status() {
    std::optional<ApiResponse> daemon = call({"GET", "/v1/status", "", ""});
    if (!daemon && exit_ != kExitOk) {
      return exit_;
    }
    std::optional<ApiResponse> conns = call({"GET", "/v1/connections", "", ""});
    if (!conns || !daemon) {
      return exit_;
    }
    if (o_.json) {
      return print(combine_status_json(daemon->body, conns->body));
    }
    return print(format_status(daemon->body, conns->body, o_.utc));
  }

  int trafficstatus() { return simple({"GET", "/v1/connections", "", ""}, format_trafficstatus); }

  int ready() {
    std::optional<ApiResponse> answer = call({"GET", "/readyz", "", ""});
    if (!answer) {
      if (exit_ != kExitOk && exit_ != kExitUnreachable && exit_ != kExitTimeout) {
        exit_ = kExitFailed;  // not ready, whatever the daemon's reason
      }
      return exit_;
    }
    if (o_.json) {
      print_json(answer->body);
    } else {
      out_ << "ready\n";
    }
    return kExitOk;
  }

  int reread_secrets() {
    return simple({"POST", "/v1/secrets:reload", "", ""},
                  [this](const std::string& body) { return secrets_reloaded(body); });
  }

  // "reloaded secrets: N entries" on stdout and the daemon's warnings on
  // stderr, for --rereadsecrets and --rereadall alike; an answer that is not
  // the documented shape is an error.
  model::Result<std::string> secrets_reloaded(const std::string& body) {
    using R = model::Result<std::string>;
    try {
      web::json::value v = web::json::value::parse(body);
      std::string line =
          "reloaded secrets: " + std::to_string(v.at("secrets").as_number().to_uint64()) +
          " entries\n";
      if (v.has_field("warnings") && v.at("warnings").is_array()) {
        for (const web::json::value& w : v.at("warnings").as_array()) {
          if (w.is_string()) {
            err_ << w.as_string() << "\n";
          }
        }
      }
      return line;
    } catch (const std::exception& e) {
      return R::failure(std::string("the daemon's answer to POST /v1/secrets:reload is not the "
                                    "documented shape: ") +
                        e.what());
    }
  }

  int reread_kind(std::string_view kind) {
    return simple({"POST", "/v1/certs:reload?kind=" + std::string(kind), "", ""}, format_reloaded);
  }

  struct Step {
    std::string key;  // its answer's member in the --json document
    ApiRequest request;
    Render render;
  };

  int reread_all() {
    // secrets, every certificate kind (no kind= reloads them all), groups.
    return gather(
        {
            {"secrets",
             {"POST", "/v1/secrets:reload", "", ""},
             [this](const std::string& body) { return secrets_reloaded(body); }},
            {"certs", {"POST", "/v1/certs:reload", "", ""}, format_reloaded},
            {"groups", {"POST", "/v1/groups:reload", "", ""}, format_reloaded_groups},
        },
        "");
  }

  int list_kind(std::string_view kind) {
    return simple({"GET", "/v1/certs?kind=" + std::string(kind), "", ""},
                  [this](const std::string& body) { return format_listing(body, o_.utc); });
  }

  int list_all() {
    std::vector<Step> steps;
    for (std::string_view kind : kListAllKinds) {
      steps.push_back({std::string(kind),
                       {"GET", "/v1/certs?kind=" + std::string(kind), "", ""},
                       [this](const std::string& body) { return format_listing(body, o_.utc); }});
    }
    steps.push_back({"groups", {"GET", "/v1/groups", "", ""}, [](const std::string& body) {
                       return format_groups(body);
                     }});
    return gather(steps, "\n");
  }

  // Several requests as one operation: under --json one document with each answer under its
  // key; otherwise each answer rendered in turn, `between` after each but the last. A
  // failed request ends it with its exit code.
  int gather(const std::vector<Step>& steps, std::string_view between) {
    web::json::value combined = web::json::value::object();
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      std::optional<ApiResponse> answer = call(step.request);
      if (!answer) {
        if (exit_ != kExitOk) {
          return exit_;
        }
        continue;  // --showonly
      }
      if (o_.json) {
        model::Result<web::json::value> v =
            detail::parse_answer(answer->body, step.request.method + " " + step.request.path);
        if (!v) {
          return fail_with(kExitFailed, v.error());
        }
        combined[step.key] = std::move(v).value();
      } else if (int code = print(step.render(answer->body)); code != kExitOk) {
        return code;
      } else if (i + 1 < steps.size()) {
        out_ << between;
      }
    }
    if (o_.json && !o_.showonly) {
      print_json(combined.serialize());
    }
    return kExitOk;
  }

  int check_pubkeys() {
    return simple({"POST", "/v1/certs:check", "", ""},
                  [this](const std::string& body) { return format_check(body, o_.utc); });
  }

  AutoOptions o_;
  std::string prog_;
  std::ostream& out_;
  std::ostream& err_;
  std::string prefix_;
  std::optional<ApiClient> client_;
  int exit_ = kExitOk;
};

int run(const std::vector<std::string_view>& args, const std::string& prog, std::ostream& out,
        std::ostream& err) {
  std::optional<AutoOptions> options = parse_auto_args(args, prog, err);
  if (!options) {
    return kExitUsage;
  }
  return Session(std::move(*options), prog, out, err).run();
}

}  // namespace

int run_auto(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    out << kAutoUsage;
    return kExitOk;
  }
  return run(args, "ipsec auto", out, err);
}

bool is_auto_spelling(std::string_view command) {
  return find_op(command) != nullptr;
}

int run_auto_spelling(std::string_view command, const std::vector<std::string_view>& args,
                      std::ostream& out, std::ostream& err) {
  std::string option = "--" + std::string(command);
  std::vector<std::string_view> full;
  full.reserve(args.size() + 1);
  full.emplace_back(option);
  full.insert(full.end(), args.begin(), args.end());
  return run(full, "ipsec " + std::string(command), out, err);
}

}  // namespace ipsecd::cli
