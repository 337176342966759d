#pragma once
// What the cli tests share: temporary directories, running `ipsec` in-process
// and as the built binary, and a recording HTTP endpoint on 127.0.0.1.

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cpprest/http_listener.h>
#include <cpprest/json.h>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/auto_command.h"
#include "tests/support/temp_dir.h"

namespace ipsecd::cli::testing {

namespace fs = std::filesystem;

using ipsecd::testing::read_text;
using ipsecd::testing::write_text;

using ipsecd::testing::TempDir;

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

inline CliRun run_auto(const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  std::ostringstream out;
  std::ostringstream err;
  CliRun r;
  r.code = ipsecd::cli::run_auto(views, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

inline CliRun run_spelling(const std::string& command, const std::vector<std::string>& args) {
  std::vector<std::string_view> views(args.begin(), args.end());
  std::ostringstream out;
  std::ostringstream err;
  CliRun r;
  r.code = ipsecd::cli::run_auto_spelling(command, views, out, err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// The built `ipsec` binary, output captured through files.
inline CliRun run_binary(const std::vector<std::string>& args, const std::string& scratch) {
  const char* bin_dir = std::getenv("IPSECD_BINARY_DIR");
  std::string cmd = std::string(bin_dir != nullptr ? bin_dir : ".") + "/cli/ipsec";
  for (const std::string& a : args) {
    cmd += " " + shell_quote(a);
  }
  cmd += " >" + scratch + "/stdout 2>" + scratch + "/stderr";
  int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(scratch + "/stdout");
  r.err = read_text(scratch + "/stderr");
  return r;
}

// A port on 127.0.0.1 held by a bound, non-listening SO_REUSEADDR socket:
// cpprestsdk's listener can open it while the probe keeps others away.
class PortProbe {
 public:
  PortProbe() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    socklen_t len = sizeof sin;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
  }
  ~PortProbe() { ::close(fd_); }
  PortProbe(const PortProbe&) = delete;
  PortProbe& operator=(const PortProbe&) = delete;
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// An HTTP endpoint that records every request and answers from a table
// keyed by "METHOD PATH?QUERY" (404 with the API's error shape otherwise).
class FakeHttp {
 public:
  struct Seen {
    std::string method;
    std::string target;  // path and query as sent
    std::string authorization;
    std::string body;
  };
  struct Answer {
    int status = 200;
    std::string body;
  };

  FakeHttp() {
    PortProbe probe;
    url_ = "http://127.0.0.1:" + std::to_string(probe.port());
    listener_ = std::make_unique<web::http::experimental::listener::http_listener>(url_);
    listener_->support([this](web::http::http_request request) { handle(request); });
    listener_->open().wait();
  }
  ~FakeHttp() { listener_->close().wait(); }
  FakeHttp(const FakeHttp&) = delete;
  FakeHttp& operator=(const FakeHttp&) = delete;

  const std::string& url() const { return url_; }
  void answer(const std::string& key, int status, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[key] = {status, body};
  }
  void delay(std::chrono::milliseconds d) { delay_ = d; }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  // Points a state dir at this endpoint with `token`.
  void write_state_dir(const std::string& dir, const std::string& token) const {
    fs::create_directories(dir);
    write_text(dir + "/api", url_ + "\n");
    write_text(dir + "/token", token + "\n");
  }

 private:
  void handle(web::http::http_request request) {
    Seen s;
    s.method = request.method();
    s.target = request.relative_uri().to_string();
    if (request.headers().has("Authorization")) {
      s.authorization = request.headers()["Authorization"];
    }
    s.body = request.extract_string(true).get();
    Answer a{404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no resource at " +
                      request.relative_uri().path() + "\"}}"};
    {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back(s);
      auto it = answers_.find(s.method + " " + s.target);
      if (it != answers_.end()) {
        a = it->second;
      }
    }
    if (delay_.count() > 0) {
      std::this_thread::sleep_for(delay_);
    }
    web::http::http_response response(static_cast<web::http::status_code>(a.status));
    response.set_body(a.body, "application/json");
    request.reply(response).wait();
  }

  std::string url_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  std::mutex mu_;
  std::map<std::string, Answer> answers_;
  std::vector<Seen> seen_;
  std::chrono::milliseconds delay_{0};
};

inline bool parses_as_json(const std::string& text) {
  try {
    web::json::value::parse(text);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace ipsecd::cli::testing
