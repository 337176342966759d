#include "cli/api_client.h"

#include <cpprest/http_client.h>
#include <cpprest/json.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

namespace ipsecd::cli {
namespace {

namespace http = web::http;

// The files the daemon writes are a line each; anything longer is not theirs.
constexpr size_t kMaxStateFileBytes = 4096;

struct FileText {
  bool ok = false;
  std::string text;
  std::string why;  // when not ok
};

FileText read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int e = errno;
    return {false, "", e == 0 ? "cannot open it" : std::strerror(e)};
  }
  std::string text(kMaxStateFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxStateFileBytes) {
    return {false, "", "it is larger than " + std::to_string(kMaxStateFileBytes) + " bytes"};
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return {true, text, ""};
}

ApiFailure unreachable(std::string message) {
  return ApiFailure{kExitUnreachable, std::move(message), "", 0};
}

bool is_timeout(const http::http_exception& e) {
  const std::error_code& code = e.error_code();
  if (code == std::errc::timed_out) {
    return true;
  }
  return std::string_view(e.what()).find("timed out") != std::string_view::npos;
}

std::string truncated(std::string_view text, size_t max) {
  if (text.size() <= max) {
    return std::string(text);
  }
  return std::string(text.substr(0, max)) + "...";
}

}  // namespace

std::string resolve_state_dir(const std::optional<std::string>& flag) {
  if (flag) {
    return *flag;
  }
  const char* env = std::getenv("IPSECD_STATE_DIR");
  if (env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(kDefaultStateDir);
}

std::string encode_path_segment(std::string_view text) {
  return web::uri::encode_data_string(std::string(text));
}

std::string ApiRequest::describe() const {
  std::string out = method + " " + path + "\n";
  if (!body.empty()) {
    out += "Content-Type: " + content_type + "\n\n" + body;
    if (body.back() != '\n') {
      out += '\n';
    }
  }
  return out;
}

int exit_code_for(int http_status, std::string_view error_code, std::string_view path) {
  if (http_status >= 200 && http_status < 300) {
    return kExitOk;
  }
  if (http_status == 400 || error_code == "invalid" || http_status == 413) {
    return kExitConfigError;
  }
  if (http_status == 401) {
    return kExitUnreachable;
  }
  if (http_status == 404) {
    return path.starts_with("/v1/connections/") ? kExitUnknownConnection : kExitFailed;
  }
  if (http_status == 504 || error_code == "timeout") {
    return kExitTimeout;
  }
  return kExitFailed;
}

ApiFailure failure_from_response(const ApiRequest& request, const ApiResponse& response) {
  ApiFailure f;
  f.http_status = response.status;
  std::string message;
  try {
    web::json::value body = web::json::value::parse(response.body);
    const web::json::value& error = body.at("error");
    f.error_code = error.at("code").as_string();
    message = error.at("message").as_string();
  } catch (const std::exception&) {
    message = "HTTP " + std::to_string(response.status) + " " + response.reason + ": " +
              truncated(response.body, 200);
  }
  f.exit_code = exit_code_for(response.status, f.error_code, request.path);
  if (response.status == 401) {
    f.message =
        "the daemon refused the token (wrong token: the token file is stale or belongs "
        "to another daemon instance): " +
        message;
  } else if (response.status == 404 && f.exit_code == kExitFailed) {
    f.message = "the daemon does not serve " + request.method + " " + request.path +
                " (an older ipsecd?): " + message;
  } else if (response.status == 409 && request.method == "POST" &&
             request.path == "/v1/connections") {
    f.message = "already exists: " + message;
  } else {
    f.message = message;
  }
  return f;
}

ApiResult<ApiClient> ApiClient::open(const std::string& state_dir) {
  const std::string api_path = state_dir + "/api";
  const std::string token_path = state_dir + "/token";
  const std::string hint = "; is ipsecd running with --state-dir " + state_dir +
                           "? (set --state-dir or IPSECD_STATE_DIR for another one)";
  FileText api = read_small_file(api_path);
  if (!api.ok) {
    return ApiResult<ApiClient>::fail(
        unreachable("daemon unreachable: cannot read " + api_path + ": " + api.why + hint));
  }
  if (!api.text.starts_with("http://") && !api.text.starts_with("https://")) {
    return ApiResult<ApiClient>::fail(unreachable(
        "daemon unreachable: " + api_path + " does not hold a URL (http://HOST:PORT)" + hint));
  }
  try {
    web::uri parsed(api.text);
    (void)parsed;
  } catch (const std::exception& e) {
    return ApiResult<ApiClient>::fail(unreachable("daemon unreachable: " + api_path + " holds '" +
                                                  truncated(api.text, 100) +
                                                  "', not a URL: " + e.what()));
  }
  FileText token = read_small_file(token_path);
  if (!token.ok) {
    std::string why = "daemon unreachable: cannot read " + token_path + ": " + token.why;
    if (token.why == std::strerror(EACCES)) {
      why += " (the token is readable only by the daemon's user; run as that user or root)";
    } else {
      why += hint;
    }
    return ApiResult<ApiClient>::fail(unreachable(why));
  }
  if (token.text.empty() || token.text.find_first_of(" \t\r\n\"\\") != std::string::npos) {
    // The content is a secret: say what is wrong, never what it holds.
    return ApiResult<ApiClient>::fail(unreachable(
        "daemon unreachable: " + token_path + " does not hold a token (one line of hex digits)"));
  }
  return ApiResult<ApiClient>{ApiClient(state_dir, api.text, token.text), {}};
}

// One cpprestsdk client per timeout: the timeout is part of its configuration.
struct ApiClient::Http {
  std::chrono::seconds timeout{0};
  std::optional<http::client::http_client> client;
};

ApiClient::ApiClient(std::string state_dir, std::string url, std::string token)
    : state_dir_(std::move(state_dir)),
      url_(std::move(url)),
      token_(std::move(token)),
      http_(std::make_shared<Http>()) {}

ApiResult<ApiResponse> ApiClient::send(const ApiRequest& request, std::chrono::seconds timeout,
                                       std::ostream* verbose) const {
  if (verbose != nullptr) {
    *verbose << "> " << request.method << " " << url_ << request.path;
    if (!request.body.empty()) {
      *verbose << " (" << request.content_type << ", " << request.body.size() << " bytes)";
    }
    *verbose << "\n";
  }
  try {
    if (!http_->client || http_->timeout != timeout) {
      http::client::http_client_config config;
      config.set_timeout(timeout);
      http_->client.emplace(url_, config);
      http_->timeout = timeout;
    }
    http::http_request message(request.method);
    message.set_request_uri(request.path);
    message.headers().add("Authorization", "Bearer " + token_);
    message.headers().add("Accept", "application/json");
    if (!request.body.empty()) {
      message.set_body(request.body, request.content_type);
    }
    http::http_response answer = http_->client->request(message).get();
    ApiResponse out;
    out.status = answer.status_code();
    out.reason = answer.reason_phrase();
    std::vector<unsigned char> bytes = answer.extract_vector().get();
    out.body.assign(bytes.begin(), bytes.end());
    if (verbose != nullptr) {
      *verbose << "< " << out.status << " " << out.reason << " (" << out.body.size() << " bytes)\n";
    }
    return ApiResult<ApiResponse>{std::move(out), {}};
  } catch (const http::http_exception& e) {
    if (is_timeout(e)) {
      return ApiResult<ApiResponse>::fail(
          ApiFailure{kExitTimeout,
                     "no answer from the daemon at " + url_ + " within " +
                         std::to_string(timeout.count()) + " s (" + request.method + " " +
                         request.path + "); raise --timeout or use --asynchronous",
                     "", 0});
    }
    return ApiResult<ApiResponse>::fail(unreachable("daemon unreachable: cannot talk to " + url_ +
                                                    " (from " + state_dir_ + "/api): " + e.what() +
                                                    "; is ipsecd running?"));
  } catch (const std::exception& e) {
    return ApiResult<ApiResponse>::fail(
        unreachable("daemon unreachable: " + url_ + " (from " + state_dir_ + "/api): " + e.what()));
  }
}

}  // namespace ipsecd::cli
