#pragma once
// The `ipsec` command's side of the control API (docs/api.md): finds the
// daemon through its state directory, sends one request at a time with the
// bearer token, and turns every failure into an exit code and a message that
// names the cause. The HTTP library stays inside api_client.cpp.
//
// Exit codes (cli/exit_codes.h) for the daemon's answers:
//
//   HTTP  API error code            exit
//   2xx   -                         0 ok
//   400   invalid                   1 config error (the daemon refused the spec or request)
//   401   unauthenticated           4 unreachable ("wrong token": the token file is stale or
//                                     not the running daemon's)
//   404   not_found                 3 unknown connection (on /v1/connections/...);
//                                     5 on any other path (the daemon does not serve it)
//   405   method_not_allowed        5 failed
//   409   conflict                  5 failed ("already exists" for an add)
//   413   too_large                 1 config error (the spec is too large)
//   415   unsupported_media_type    5 failed
//   500   failed, internal          5 failed
//   503   unavailable               5 failed (not ready, shutting down, busy)
//   504   timeout                   6 timeout
//   other -                         5 failed
// And without an answer:
//   no STATE_DIR/api or STATE_DIR/token, unreadable, malformed,
//   connection refused, host unreachable   4 unreachable
//   no answer within the client's timeout  6 timeout

#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "cli/exit_codes.h"

namespace ipsecd::cli {

inline constexpr std::string_view kDefaultStateDir = "/run/ipsecd";

// --state-dir when given, else $IPSECD_STATE_DIR when set and not empty, else
// /run/ipsecd.
std::string resolve_state_dir(const std::optional<std::string>& flag);

// Percent-encodes everything but RFC 3986 unreserved characters, so a
// connection name holding ':' or '/' stays one path segment.
std::string encode_path_segment(std::string_view text);

struct ApiRequest {
  std::string method;  // "GET", "POST", "PUT", "DELETE"
  std::string path;    // "/v1/connections/west:up?async=true", already encoded
  std::string body;    // sent only when not empty
  std::string content_type = "application/json";

  // "METHOD PATH", then the body after a blank line when there is one.
  std::string describe() const;
};

struct ApiResponse {
  int status = 0;      // HTTP status
  std::string reason;  // "OK", "Not Found"
  std::string body;    // JSON
};

// What went wrong, as the user sees it.
struct ApiFailure {
  int exit_code = kExitFailed;
  std::string message;     // names the cause; never holds the token
  std::string error_code;  // the API's error code ("not_found"), "" without an answer
  int http_status = 0;     // 0 without an answer
};

// A value or the failure that prevents it.
template <class T>
struct [[nodiscard]] ApiResult {
  std::optional<T> value;
  ApiFailure failure;

  bool ok() const { return value.has_value(); }
  static ApiResult fail(ApiFailure why) { return ApiResult{std::nullopt, std::move(why)}; }
};

// The exit code for an API error answer (the table above). `path` tells
// not_found on a connection from a route the daemon does not serve.
int exit_code_for(int http_status, std::string_view error_code, std::string_view path);

// {"error": {"code", "message"}} from an error answer; a body that is not
// that shape yields the HTTP status and the start of the body.
ApiFailure failure_from_response(const ApiRequest& request, const ApiResponse& response);

class ApiClient {
 public:
  // Reads STATE_DIR/api and STATE_DIR/token; a failure names the state dir
  // and the file that is missing or malformed (exit 4).
  static ApiResult<ApiClient> open(const std::string& state_dir);

  // Sends one request and waits for the answer at most `timeout`. With
  // `verbose`, the request line and the status line go there (never the
  // token). Fails only without an answer: an HTTP error status is an answer.
  // Requests of one client (and its copies) share one HTTP client, so a
  // command of several requests reuses its connection to the daemon.
  ApiResult<ApiResponse> send(const ApiRequest& request, std::chrono::seconds timeout,
                              std::ostream* verbose) const;

  const std::string& url() const { return url_; }

 private:
  struct Http;  // the HTTP library's client, kept inside api_client.cpp

  ApiClient(std::string state_dir, std::string url, std::string token);

  std::string state_dir_;
  std::string url_;
  std::string token_;
  std::shared_ptr<Http> http_;
};

}  // namespace ipsecd::cli
