#include "controller/api/api.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpprest/http_listener.h>
#include <cpprest/json.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "model/text.h"
#include "model/values.h"

namespace ipsecd::controller {

namespace http = web::http;

namespace {

std::string errno_text(int err) {
  return std::strerror(err);
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_;
};

}  // namespace

model::Result<std::string> make_api_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return model::Result<std::string>::failure("cannot draw random bytes for the API token");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(64);
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  OPENSSL_cleanse(bytes, sizeof(bytes));
  return token;
}

model::Result<bool> prepare_state_dir(const std::string& dir) {
  using R = model::Result<bool>;
  if (dir.empty()) {
    return R::failure("no state directory given (--state-dir)");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return R::failure("state directory " + dir + ": " + errno_text(errno));
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return R::failure("cannot create state directory " + dir + ": " + ec.message());
    }
    if (::chmod(dir.c_str(), 0700) != 0 || ::stat(dir.c_str(), &st) != 0) {
      return R::failure("cannot set mode 0700 on state directory " + dir + ": " +
                        errno_text(errno));
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    return R::failure("state directory " + dir + " exists but is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    return R::failure("state directory " + dir + " belongs to uid " + std::to_string(st.st_uid) +
                      ", not to this process (uid " + std::to_string(::geteuid()) +
                      "); give it to this user or pick another --state-dir");
  }
  if ((st.st_mode & 022) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", st.st_mode & 07777);
    return R::failure("state directory " + dir + " is writable by group or others (mode " + mode +
                      "); run chmod 0700 " + dir);
  }
  return true;
}

model::Result<bool> write_file_atomically(const std::string& path, const std::string& content,
                                          unsigned mode) {
  using R = model::Result<bool>;
  static std::atomic<uint64_t> counter{0};
  std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    return R::failure("cannot create " + tmp + ": " + errno_text(errno));
  }
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return R::failure(what + " " + tmp + ": " + errno_text(err));
  };
  // The umask must not widen or narrow what the caller asked for.
  if (::fchmod(fd.get(), mode) != 0) {
    return fail("cannot set the mode of");
  }
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return fail("cannot sync");
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail("cannot rename over " + path + " from");
  }
  return true;
}

namespace {

// What a route answers.
struct Reply {
  http::status_code status = http::status_codes::OK;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Reply json_reply(http::status_code status, std::string body) {
  return Reply{status, std::move(body), {}};
}

Reply error_reply(http::status_code status, std::string_view code, std::string_view message) {
  return Reply{status, error_json(code, message), {}};
}

http::status_code http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kNotFound:
      return http::status_codes::NotFound;
    case ErrorCode::kConflict:
      return http::status_codes::Conflict;
    case ErrorCode::kInvalid:
      return http::status_codes::BadRequest;
    case ErrorCode::kFailed:
      return http::status_codes::InternalError;
    case ErrorCode::kTimeout:
      return http::status_codes::GatewayTimeout;
    case ErrorCode::kUnavailable:
      return http::status_codes::ServiceUnavailable;
  }
  return http::status_codes::InternalError;
}

Reply control_error(const Error& error) {
  return error_reply(http_status(error.code), error_code_name(error.code), error.message);
}

Reply method_not_allowed(const std::string& method, const std::string& path,
                         const std::string& allowed) {
  Reply r = error_reply(http::status_codes::MethodNotAllowed, "method_not_allowed",
                        method + " is not allowed on " + path + "; allowed: " + allowed);
  r.headers.emplace_back("Allow", allowed);
  return r;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

// A query parameter of whole seconds from LO to HI: decimal digits only (no
// sign, blank or 0x), read by the parser ipsec.conf's numbers use.
std::optional<std::chrono::seconds> query_seconds(const std::string& value, uint64_t lo,
                                                  uint64_t hi) {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  model::Result<uint64_t> n = model::parse_unsigned(value, lo, hi);
  if (!n) {
    return std::nullopt;
  }
  return std::chrono::seconds(static_cast<std::chrono::seconds::rep>(n.value()));
}

std::string trim(std::string_view s) {
  return std::string(model::text::trim(s));
}

// A request's query parameters, decoded; fails on a malformed or repeated one.
model::Result<std::map<std::string, std::string>> query_params(const std::string& query) {
  using R = model::Result<std::map<std::string, std::string>>;
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    if (part.empty()) {
      continue;
    }
    size_t eq = part.find('=');
    std::string key;
    std::string value;
    try {
      key = web::uri::decode(part.substr(0, eq));
      value = eq == std::string::npos ? "" : web::uri::decode(part.substr(eq + 1));
    } catch (const std::exception&) {
      return R::failure("the query parameter '" + part + "' is not validly percent-encoded");
    }
    if (!out.emplace(key, value).second) {
      return R::failure("the query parameter '" + key + "' is given more than once");
    }
  }
  return out;
}

std::optional<Intent> action_intent(std::string_view verb) {
  if (verb == "up") {
    return Intent::kUp;
  }
  if (verb == "down") {
    return Intent::kDown;
  }
  if (verb == "route") {
    return Intent::kRoute;
  }
  if (verb == "unroute") {
    return Intent::kUnroute;
  }
  return std::nullopt;
}

// The kinds a ?kind= may name, for messages.
std::string cert_kind_list() {
  std::string out;
  for (CertKind kind : kAllCertKinds) {
    out += (out.empty() ? "" : ", ") + std::string(cert_kind_name(kind));
  }
  return out;
}

// Routes of the certificate store and policy groups (ipsec auto --list*,
// --reread*, --checkpubkeys, --purgeocsp, --listgroups, --rereadgroups);
// nullopt when `path` is none of them.
std::optional<Reply> cert_route(Control& control, const std::string& method,
                                const std::string& path,
                                const std::map<std::string, std::string>& params) {
  const bool certs = path == "/v1/certs";
  const bool reload = path == "/v1/certs:reload";
  const bool check = path == "/v1/certs:check";
  const bool ocsp = path == "/v1/ocsp:purge";
  const bool groups = path == "/v1/groups";
  const bool groups_reload = path == "/v1/groups:reload";
  if (!certs && !reload && !check && !ocsp && !groups && !groups_reload) {
    if (path.starts_with("/v1/certs:") || path.starts_with("/v1/groups:") ||
        path.starts_with("/v1/ocsp")) {
      return error_reply(http::status_codes::NotFound, "not_found",
                         "no resource at " + path +
                             "; see /v1/certs, /v1/certs:reload, /v1/certs:check, "
                             "/v1/ocsp:purge, /v1/groups, /v1/groups:reload");
    }
    return std::nullopt;
  }
  const std::string allowed = certs || groups ? "GET" : "POST";
  if (method != allowed) {
    return method_not_allowed(method, path, allowed);
  }
  const std::string takes = certs    ? "kind=" + cert_kind_list()
                            : reload ? "kind=" + cert_kind_list() + " (none: every kind)"
                            : check  ? std::string("window=SECONDS")
                                     : std::string("none");
  std::optional<CertKind> kind;
  std::optional<Duration> window;
  for (const auto& [key, value] : params) {
    if (key == "kind" && (certs || reload)) {
      kind = parse_cert_kind(value);
      if (!kind) {
        return error_reply(http::status_codes::BadRequest, "invalid",
                           "kind=" + value + " is not a kind; use one of " + cert_kind_list());
      }
    } else if (key == "window" && check) {
      // Up to ten years: beyond that every certificate is "expiring".
      constexpr uint64_t kMaxWindow = 10ULL * 365 * 24 * 3600;
      window = query_seconds(value, 0, kMaxWindow);
      if (!window) {
        return error_reply(http::status_codes::BadRequest, "invalid",
                           "window=" + value + " must be whole seconds from 0 to " +
                               std::to_string(kMaxWindow) + " (default 2592000, 30 days)");
      }
    } else {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "unknown query parameter '" + key + "'; " + path + " takes " + takes);
    }
  }
  if (certs) {
    if (!kind) {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "/v1/certs needs kind=, one of " + cert_kind_list());
    }
    ControlResult<CertListing> listing = control.list_certs(*kind);
    return listing ? json_reply(http::status_codes::OK, to_json(listing.value()))
                   : control_error(listing.error());
  }
  if (reload) {
    ControlResult<std::vector<CertListing>> reloaded = control.reload_certs(kind);
    return reloaded ? json_reply(http::status_codes::OK, reloaded_json(reloaded.value()))
                    : control_error(reloaded.error());
  }
  if (check) {
    ControlResult<CertCheck> checked =
        control.check_certs(window.value_or(std::chrono::seconds(2592000)));
    return checked ? json_reply(http::status_codes::OK, to_json(checked.value()))
                   : control_error(checked.error());
  }
  if (ocsp) {
    ControlResult<size_t> purged = control.purge_ocsp();
    return purged ? json_reply(http::status_codes::OK,
                               "{\"purged\":" + std::to_string(purged.value()) + "}")
                  : control_error(purged.error());
  }
  ControlResult<std::vector<PolicyGroup>> listed =
      groups ? control.list_groups() : control.reload_groups();
  return listed ? json_reply(http::status_codes::OK, groups_json(listed.value()))
                : control_error(listed.error());
}

}  // namespace

class ApiServer::Impl {
 public:
  Impl(Control& control, ApiOptions options) : control_(control), options_(std::move(options)) {}
  ~Impl() { stop(); }

  model::Result<ListenAddress> start();
  void stop();
  ListenAddress address() const {
    std::lock_guard<std::mutex> lock(mu_);
    return bound_;
  }

 private:
  // Binds the listener on `address` (port resolved); throws what the HTTP
  // library throws.
  void open_listener(const ListenAddress& address);
  void handle(http::http_request request);
  Reply route(http::http_request& request);
  bool authorized(const http::http_request& request) const;
  model::Result<std::string> read_body(http::http_request& request) const;
  // The spec of an add or replace body, or the reply that refuses it.
  std::variant<ConnectionSpec, Reply> read_spec(http::http_request& request) const;
  Reply connections(http::http_request& request, const std::string& method);
  Reply connection(http::http_request& request, const std::string& method, const std::string& name);
  Reply action(const std::string& method, const std::string& path, const std::string& name,
               Intent intent, const std::map<std::string, std::string>& params);

  Control& control_;
  const ApiOptions options_;
  std::string token_;
  mutable std::mutex mu_;
  ListenAddress bound_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  std::string api_file_;
  std::string token_file_;
  std::atomic<size_t> waiting_{0};
};

namespace {

// A bound, not listening, SO_REUSEADDR socket that holds a free port while
// the HTTP library (which cannot bind port 0 and tell which port it got)
// binds the same port with SO_REUSEADDR and listens.
model::Result<std::pair<Fd, uint16_t>> reserve_port(const std::string& host) {
  using R = model::Result<std::pair<Fd, uint16_t>>;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), "0", &hints, &found);
  if (rc != 0) {
    return R::failure("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(found, ::freeaddrinfo);
  Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return R::failure("cannot open a socket for " + host + ": " + errno_text(errno));
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) {
    return R::failure("cannot bind " + host + ": " + errno_text(errno));
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    return R::failure("cannot read the port bound on " + host + ": " + errno_text(errno));
  }
  uint16_t port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                           : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return std::pair<Fd, uint16_t>{std::move(fd), port};
}

}  // namespace

void ApiServer::Impl::open_listener(const ListenAddress& address) {
  web::http::experimental::listener::http_listener_config config;
  auto listener = std::make_unique<web::http::experimental::listener::http_listener>(
      address.url() + "/", config);
  listener->support([this](http::http_request request) { handle(std::move(request)); });
  listener->open().wait();
  listener_ = std::move(listener);
}

model::Result<ListenAddress> ApiServer::Impl::start() {
  using R = model::Result<ListenAddress>;
  std::lock_guard<std::mutex> lock(mu_);
  if (listener_) {
    return bound_;
  }
  const std::string flag = options_.probes_only ? "--health" : "--api";
  model::Result<ListenAddress> wanted = parse_listen_address(options_.listen, flag);
  if (!wanted) {
    return wanted;
  }
  if (wanted->host.find(':') != std::string::npos) {
    // cpprestsdk 2.10's listener splits HOST:PORT at the first ':'.
    return R::failure(flag + " " + wanted->str() +
                      ": the HTTP server cannot listen on an IPv6 address; use an IPv4 address "
                      "such as 127.0.0.1 (the CLI on the node reaches it through loopback)");
  }
  if (!options_.probes_only) {
    if (model::Result<bool> dir = prepare_state_dir(options_.state_dir); !dir) {
      return R::failure(dir.error());
    }
    model::Result<std::string> token = make_api_token();
    if (!token) {
      return R::failure(token.error());
    }
    token_ = token.value();
  }

  ListenAddress address = *wanted;
  std::string last_error;
  // A reserved port can still be taken between the probe and the listener
  // by a process that binds it explicitly: try a few.
  for (int attempt = 0; attempt < 5 && !listener_; ++attempt) {
    Fd probe;
    if (wanted->port == 0) {
      auto reserved = reserve_port(wanted->host);
      if (!reserved) {
        return R::failure(flag + " " + wanted->str() + ": " + reserved.error());
      }
      std::pair<Fd, uint16_t> held = std::move(reserved).value();
      probe = std::move(held.first);
      address.port = held.second;
    }
    try {
      open_listener(address);
    } catch (const std::exception& e) {
      last_error = e.what();
      if (wanted->port != 0) {
        break;
      }
    }
  }
  if (!listener_) {
    return R::failure(flag + " " + address.str() + ": cannot listen: " + last_error);
  }
  bound_ = address;
  if (options_.probes_only) {
    return bound_;
  }

  std::string dir = options_.state_dir;
  token_file_ = dir + "/token";
  api_file_ = dir + "/api";
  // The token first: a client that finds the address can also read a valid token.
  model::Result<bool> written = write_file_atomically(token_file_, token_ + "\n", 0600);
  if (written) {
    written = write_file_atomically(api_file_, bound_.url() + "\n", 0644);
  }
  if (!written) {
    listener_->close().wait();
    listener_.reset();
    ::unlink(token_file_.c_str());
    return R::failure(written.error());
  }
  return bound_;
}

void ApiServer::Impl::stop() {
  std::unique_ptr<web::http::experimental::listener::http_listener> listener;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener = std::move(listener_);
  }
  if (!listener) {
    return;
  }
  try {
    listener->close().wait();
  } catch (const std::exception&) {
    // Closing a listener whose connections already failed: nothing left to release.
  }
  if (!options_.probes_only) {
    ::unlink(api_file_.c_str());
    ::unlink(token_file_.c_str());
  }
}

bool ApiServer::Impl::authorized(const http::http_request& request) const {
  auto it = request.headers().find("Authorization");
  if (it == request.headers().end()) {
    return false;
  }
  std::string value = trim(it->second);
  if (value.size() < 7 || lower(value.substr(0, 7)) != "bearer ") {
    return false;
  }
  std::string given = trim(std::string_view(value).substr(7));
  // The token's length is public (64 hex digits); its content is compared in constant time.
  return given.size() == token_.size() &&
         CRYPTO_memcmp(given.data(), token_.data(), token_.size()) == 0;
}

model::Result<std::string> ApiServer::Impl::read_body(http::http_request& request) const {
  using R = model::Result<std::string>;
  std::string limit = std::to_string(options_.max_body_bytes) + " bytes";
  if (request.headers().content_length() > options_.max_body_bytes) {
    return R::failure("the body is larger than " + limit);
  }
  std::vector<unsigned char> bytes = request.extract_vector().get();
  if (bytes.size() > options_.max_body_bytes) {
    return R::failure("the body is larger than " + limit);
  }
  return std::string(bytes.begin(), bytes.end());
}

std::variant<ConnectionSpec, Reply> ApiServer::Impl::read_spec(http::http_request& request) const {
  model::Result<std::string> body = read_body(request);
  if (!body) {
    return error_reply(http::status_codes::RequestEntityTooLarge, "too_large", body.error());
  }
  std::string type = lower(request.headers().content_type());
  type = trim(type.substr(0, type.find(';')));
  std::string text;
  SpecFormat format = SpecFormat::kAuto;
  if (type == "application/yaml" || type == "application/x-yaml" || type == "text/yaml") {
    text = body.value();
    format = SpecFormat::kYaml;
  } else if (type == "text/plain") {
    text = body.value();
    format = SpecFormat::kIpsecConf;
  } else if (type == "application/json" || type.empty()) {
    web::json::value json;
    try {
      json = web::json::value::parse(body.value());
    } catch (const std::exception& e) {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         std::string("the body is not valid JSON: ") + e.what());
    }
    if (!json.is_object()) {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "the body must be a JSON object {\"spec\": \"...\"}");
    }
    for (const auto& [key, value] : json.as_object()) {
      if (key != "spec" && key != "format") {
        return error_reply(http::status_codes::BadRequest, "invalid",
                           "unknown field \"" + key +
                               "\" in the body; expected \"spec\" and "
                               "optionally \"format\"");
      }
    }
    if (!json.has_field("spec") || !json.at("spec").is_string()) {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "the body needs \"spec\": a string holding one ipsec.conf conn "
                         "section or one IPsecConnection YAML document");
    }
    text = json.at("spec").as_string();
    if (json.has_field("format")) {
      const web::json::value& f = json.at("format");
      std::optional<SpecFormat> parsed =
          f.is_string() ? parse_spec_format(f.as_string()) : std::nullopt;
      if (!parsed) {
        return error_reply(http::status_codes::BadRequest, "invalid",
                           "\"format\" must be \"auto\", \"ipsec.conf\" or \"yaml\"");
      }
      format = *parsed;
    }
  } else {
    return error_reply(http::status_codes::UnsupportedMediaType, "unsupported_media_type",
                       "Content-Type " + type +
                           " is not accepted; use application/json ({\"spec\": ...}), "
                           "application/yaml or text/plain (ipsec.conf)");
  }
  ControlResult<ConnectionSpec> spec = parse_connection_spec(std::move(text), format);
  if (!spec) {
    return control_error(spec.error());
  }
  return std::move(spec).value();
}

Reply ApiServer::Impl::connections(http::http_request& request, const std::string& method) {
  if (method == http::methods::GET) {
    ControlResult<std::vector<ConnectionStatus>> all = control_.list();
    if (!all) {
      return control_error(all.error());
    }
    std::string body = "{\"connections\":[";
    const std::vector<ConnectionStatus>& list = all.value();
    for (size_t i = 0; i < list.size(); ++i) {
      body += (i > 0 ? "," : "") + to_json(list[i]);
    }
    return json_reply(http::status_codes::OK, body + "]}");
  }
  if (method == http::methods::POST) {
    std::variant<ConnectionSpec, Reply> spec = read_spec(request);
    if (Reply* refused = std::get_if<Reply>(&spec)) {
      return std::move(*refused);
    }
    ControlResult<ConnectionStatus> added = control_.add(std::get<ConnectionSpec>(std::move(spec)));
    if (!added) {
      return control_error(added.error());
    }
    Reply r = json_reply(http::status_codes::Created, to_json(added.value()));
    r.headers.emplace_back("Location",
                           "/v1/connections/" + web::uri::encode_data_string(added->name));
    return r;
  }
  return method_not_allowed(method, "/v1/connections", "GET, POST");
}

Reply ApiServer::Impl::connection(http::http_request& request, const std::string& method,
                                  const std::string& name) {
  if (method == http::methods::GET) {
    ControlResult<ConnectionStatus> got = control_.get(name);
    return got ? json_reply(http::status_codes::OK, to_json(got.value()))
               : control_error(got.error());
  }
  if (method == http::methods::PUT) {
    std::variant<ConnectionSpec, Reply> spec = read_spec(request);
    if (Reply* refused = std::get_if<Reply>(&spec)) {
      return std::move(*refused);
    }
    ConnectionSpec& parsed = std::get<ConnectionSpec>(spec);
    if (parsed.connection.name != name) {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "the spec defines connection " + parsed.connection.name +
                             " but the path names " + name + "; they must be the same");
    }
    ControlResult<ConnectionStatus> replaced = control_.replace(name, std::move(parsed));
    return replaced ? json_reply(http::status_codes::OK, to_json(replaced.value()))
                    : control_error(replaced.error());
  }
  if (method == http::methods::DEL) {
    ControlResult<Done> removed = control_.remove(name);
    return removed ? json_reply(http::status_codes::OK,
                                "{\"name\":" + json_quote(name) + ",\"removed\":true}")
                   : control_error(removed.error());
  }
  return method_not_allowed(method, "/v1/connections/{name}", "GET, PUT, DELETE");
}

Reply ApiServer::Impl::action(const std::string& method, const std::string& path,
                              const std::string& name, Intent intent,
                              const std::map<std::string, std::string>& params) {
  if (method != http::methods::POST) {
    return method_not_allowed(method, path, "POST");
  }
  bool async = false;
  Duration wait = options_.default_wait;
  for (const auto& [key, value] : params) {
    if (key == "async") {
      if (value == "true" || value == "1" || value.empty()) {
        async = true;
      } else if (value != "false" && value != "0") {
        return error_reply(http::status_codes::BadRequest, "invalid",
                           "async=" + value + " is not a boolean; use async=true or async=false");
      }
    } else if (key == "timeout") {
      const auto max_seconds = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::seconds>(options_.max_wait).count());
      std::optional<std::chrono::seconds> seconds = query_seconds(value, 1, max_seconds);
      if (!seconds) {
        return error_reply(
            http::status_codes::BadRequest, "invalid",
            "timeout=" + value + " must be whole seconds from 1 to " + std::to_string(max_seconds));
      }
      wait = *seconds;
    } else {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "unknown query parameter '" + key + "'; " + path +
                             " takes async=true|false and timeout=SECONDS");
    }
  }
  if (async) {
    ControlResult<IntentOutcome> accepted = control_.intent(name, intent, std::nullopt);
    return accepted ? json_reply(http::status_codes::Accepted, to_json(accepted.value()))
                    : control_error(accepted.error());
  }
  // Each waiting request holds a server thread: bound how many may.
  if (waiting_.fetch_add(1) >= options_.max_waiting_requests) {
    waiting_.fetch_sub(1);
    return error_reply(http::status_codes::ServiceUnavailable, "unavailable",
                       "too many requests are waiting for an outcome (" +
                           std::to_string(options_.max_waiting_requests) +
                           "); retry later or use ?async=true");
  }
  struct Release {
    std::atomic<size_t>& n;
    ~Release() { n.fetch_sub(1); }
  } release{waiting_};
  ControlResult<IntentOutcome> outcome = control_.intent(name, intent, wait);
  return outcome ? json_reply(http::status_codes::OK, to_json(outcome.value()))
                 : control_error(outcome.error());
}

Reply ApiServer::Impl::route(http::http_request& request) {
  const std::string method = request.method();
  const std::string path = request.relative_uri().path();
  const bool probe = path == "/healthz" || path == "/readyz";
  if (options_.probes_only && !probe) {
    return error_reply(http::status_codes::NotFound, "not_found",
                       "this listener serves only /healthz and /readyz");
  }
  if (!(probe && (options_.open_health_probes || options_.probes_only)) && !authorized(request)) {
    Reply r = error_reply(http::status_codes::Unauthorized, "unauthenticated",
                          "missing or wrong bearer token; send 'Authorization: Bearer TOKEN' "
                          "with the token from the daemon's state directory (file 'token')");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"ipsecd\"");
    return r;
  }
  model::Result<std::map<std::string, std::string>> params =
      query_params(request.relative_uri().query());
  if (!params) {
    return error_reply(http::status_codes::BadRequest, "invalid", params.error());
  }
  auto no_params = [&]() -> std::optional<Reply> {
    if (params->empty()) {
      return std::nullopt;
    }
    return error_reply(
        http::status_codes::BadRequest, "invalid",
        "unknown query parameter '" + params->begin()->first + "'; " + path + " takes none");
  };
  auto get_only = [&]() -> std::optional<Reply> {
    if (method != http::methods::GET) {
      return method_not_allowed(method, path, "GET");
    }
    return no_params();
  };

  if (path == "/healthz") {
    if (auto refused = get_only()) {
      return std::move(*refused);
    }
    return json_reply(http::status_codes::OK, "{\"status\":\"ok\"}");
  }
  if (path == "/readyz") {
    if (auto refused = get_only()) {
      return std::move(*refused);
    }
    ControlResult<Done> ready = control_.ready();
    return ready ? json_reply(http::status_codes::OK, "{\"status\":\"ready\"}")
                 : control_error(ready.error());
  }
  if (path == "/v1/status") {
    if (auto refused = get_only()) {
      return std::move(*refused);
    }
    ControlResult<DaemonStatus> status = control_.status();
    return status ? json_reply(http::status_codes::OK, to_json(status.value()))
                  : control_error(status.error());
  }
  if (path == "/v1/secrets:reload") {
    if (method != http::methods::POST) {
      return method_not_allowed(method, path, "POST");
    }
    if (auto refused = no_params()) {
      return std::move(*refused);
    }
    ControlResult<SecretsReload> reloaded = control_.reload_secrets();
    return reloaded ? json_reply(http::status_codes::OK, to_json(reloaded.value()))
                    : control_error(reloaded.error());
  }
  if (path == "/v1/connections" || path == "/v1/connections/") {
    if (auto refused = no_params()) {
      return std::move(*refused);
    }
    return connections(request, method);
  }
  constexpr std::string_view kItemPrefix = "/v1/connections/";
  if (path.starts_with(kItemPrefix) && path.find('/', kItemPrefix.size()) == std::string::npos) {
    std::string segment = path.substr(kItemPrefix.size());
    // A name holding ':' is sent as %3A, so a raw ':' always starts an action.
    size_t colon = segment.find(':');
    std::string raw_name = segment.substr(0, colon);
    std::string name;
    try {
      name = web::uri::decode(raw_name);
    } catch (const std::exception&) {
      return error_reply(http::status_codes::BadRequest, "invalid",
                         "the connection name in " + path + " is not validly percent-encoded");
    }
    if (name.empty()) {
      return error_reply(http::status_codes::NotFound, "not_found",
                         "no connection name in " + path + "; use /v1/connections/NAME");
    }
    if (colon == std::string::npos) {
      if (auto refused = no_params()) {
        return std::move(*refused);
      }
      return connection(request, method, name);
    }
    std::string verb = segment.substr(colon + 1);
    std::optional<Intent> intent = action_intent(verb);
    if (!intent) {
      return error_reply(
          http::status_codes::NotFound, "not_found",
          "unknown action ':" + verb + "'; connections take :up, :down, :route and :unroute");
    }
    return action(method, "/v1/connections/{name}:" + verb, name, *intent, *params);
  }
  if (std::optional<Reply> reply = cert_route(control_, method, path, *params)) {
    return std::move(*reply);
  }
  return error_reply(http::status_codes::NotFound, "not_found",
                     "no resource at " + path +
                         "; see /v1/connections, /v1/status, /v1/secrets:reload, /v1/certs, "
                         "/v1/groups, /v1/ocsp:purge, /healthz, /readyz");
}

void ApiServer::Impl::handle(http::http_request request) {
  Reply reply;
  try {
    reply = route(request);
  } catch (const std::exception& e) {
    reply = error_reply(http::status_codes::InternalError, "internal",
                        std::string("the request failed inside the daemon: ") + e.what());
  } catch (...) {
    reply = error_reply(http::status_codes::InternalError, "internal",
                        "the request failed inside the daemon");
  }
  http::http_response response(reply.status);
  response.set_body(std::move(reply.body), "application/json");
  response.headers().add("Cache-Control", "no-store");
  for (auto& [key, value] : reply.headers) {
    response.headers().add(key, value);
  }
  // A client that went away leaves nothing to answer; observe the failure so
  // it is not reported as unhandled.
  request.reply(response).then([](pplx::task<void> sent) {
    try {
      sent.get();
    } catch (const std::exception&) {
    }
  });
}

ApiServer::ApiServer(Control& control, ApiOptions options)
    : impl_(std::make_unique<Impl>(control, std::move(options))) {}

ApiServer::~ApiServer() = default;

model::Result<ListenAddress> ApiServer::start() {
  return impl_->start();
}

void ApiServer::stop() {
  impl_->stop();
}

ListenAddress ApiServer::address() const {
  return impl_->address();
}

}  // namespace ipsecd::controller
