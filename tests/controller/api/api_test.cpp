// The control API over real HTTP on 127.0.0.1, against a fake Control that
// records every call.
#include "controller/api/api.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cpprest/http_client.h>
#include <cpprest/json.h>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/support/fake_control.h"
#include "tests/support/temp_dir.h"

namespace ipsecd::controller {
namespace {

namespace fs = std::filesystem;
namespace http = web::http;

constexpr const char* kConf = "conn west\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tauto=start\n";

using ipsecd::testing::FakeControl;

using ipsecd::testing::read_text;
using ipsecd::testing::TempDir;

struct Answer {
  int status = 0;
  std::string body;
  web::json::value json;
  http::http_headers headers;

  std::string code() const {
    if (json.is_object() && json.has_field("error")) {
      return json.at("error").at("code").as_string();
    }
    return "";
  }
  std::string message() const {
    if (json.is_object() && json.has_field("error")) {
      return json.at("error").at("message").as_string();
    }
    return "";
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void TearDown() override { server_.reset(); }

  void start(ApiOptions options) {
    server_.reset();
    options.listen = "127.0.0.1:0";
    options.state_dir = state_dir_;
    server_ = std::make_unique<ApiServer>(control_, options);
    model::Result<ListenAddress> bound = server_->start();
    ASSERT_TRUE(bound) << bound.error();
    url_ = read_text(state_dir_ + "/api");
    ASSERT_FALSE(url_.empty());
    url_.pop_back();  // the newline
    token_ = read_text(state_dir_ + "/token");
    ASSERT_EQ(token_.size(), 65u);
    token_.pop_back();
  }

  Answer send(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& content_type = "application/json",
              std::optional<std::string> authorization = std::nullopt) {
    web::http::client::http_client client(url_);
    http::http_request request(method);
    request.set_request_uri(path);
    request.headers().add("Authorization", authorization.value_or("Bearer " + token_));
    if (authorization && authorization->empty()) {
      request.headers().remove("Authorization");
    }
    if (!body.empty() || method == http::methods::POST || method == http::methods::PUT) {
      request.set_body(body, content_type);
    }
    http::http_response response = client.request(request).get();
    Answer a;
    a.status = response.status_code();
    a.headers = response.headers();
    std::vector<unsigned char> bytes = response.extract_vector().get();
    a.body.assign(bytes.begin(), bytes.end());
    try {
      a.json = web::json::value::parse(a.body);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "the answer is not JSON: " << a.body;
    }
    return a;
  }

  Answer send_spec(const std::string& method, const std::string& path, const std::string& spec) {
    web::json::value body = web::json::value::object();
    body["spec"] = web::json::value::string(spec);
    return send(method, path, body.serialize());
  }

  void add_file_connection(const std::string& name) {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns[name] = FakeControl::make(name, "file:/etc/ipsec.conf");
  }

  FakeControl control_;
  std::unique_ptr<ApiServer> server_;
  TempDir root_dir_{"ipsecd-api"};
  std::string root_ = root_dir_.path();
  std::string state_dir_ = root_ + "/state";
  std::string url_;
  std::string token_;
};

TEST_F(ApiTest, WritesAddressAndTokenToTheStateDir) {
  ListenAddress bound = server_->address();
  EXPECT_EQ(bound.host, "127.0.0.1");
  EXPECT_NE(bound.port, 0);
  EXPECT_EQ(url_, "http://127.0.0.1:" + std::to_string(bound.port));
  struct stat st {};
  ASSERT_EQ(::stat((state_dir_ + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(token_.find_first_not_of("0123456789abcdef"), std::string::npos) << token_;
  EXPECT_EQ(token_.size(), 64u);
  ASSERT_EQ(::stat(state_dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(fs::is_empty(state_dir_) == false);
  EXPECT_EQ(std::distance(fs::directory_iterator(state_dir_), fs::directory_iterator()), 2)
      << "only api and token, no temporary files left";
}

TEST_F(ApiTest, EachStartHasANewTokenAndStopRemovesTheFiles) {
  std::string first = token_;
  start({});
  EXPECT_NE(token_, first);
  EXPECT_EQ(send("GET", "/healthz").status, 200);
  EXPECT_EQ(send("GET", "/healthz", "", "", "Bearer " + first).status, 401);
  server_->stop();
  EXPECT_FALSE(fs::exists(state_dir_ + "/api"));
  EXPECT_FALSE(fs::exists(state_dir_ + "/token"));
}

TEST_F(ApiTest, EveryRouteNeedsTheToken) {
  add_file_connection("west");
  const std::pair<const char*, const char*> routes[] = {
      {"GET", "/v1/connections"},
      {"POST", "/v1/connections"},
      {"GET", "/v1/connections/west"},
      {"PUT", "/v1/connections/west"},
      {"DELETE", "/v1/connections/west"},
      {"POST", "/v1/connections/west:up"},
      {"POST", "/v1/connections/west:down?async=true"},
      {"POST", "/v1/connections/west:route"},
      {"POST", "/v1/connections/west:unroute"},
      {"GET", "/v1/status"},
      {"POST", "/v1/secrets:reload"},
      {"GET", "/v1/certs?kind=certs"},
      {"POST", "/v1/certs:reload"},
      {"POST", "/v1/certs:check"},
      {"POST", "/v1/ocsp:purge"},
      {"GET", "/v1/groups"},
      {"POST", "/v1/groups:reload"},
      {"GET", "/healthz"},
      {"GET", "/readyz"},
      {"GET", "/nowhere"},
  };
  std::string wrong = token_;
  wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
  for (const std::string& auth : {std::string(""), "Bearer " + wrong, "Bearer " + token_ + "0",
                                  std::string("Bearer"), "Basic " + token_, token_}) {
    for (const auto& [method, path] : routes) {
      bool with_body = std::string(method) == "POST" || std::string(method) == "PUT";
      Answer a = send(method, path, with_body ? kConf : "", "text/plain", auth);
      EXPECT_EQ(a.status, 401) << method << " " << path << " with '" << auth << "'";
      EXPECT_EQ(a.code(), "unauthenticated");
      EXPECT_EQ(a.headers["WWW-Authenticate"], "Bearer realm=\"ipsecd\"");
    }
  }
  EXPECT_EQ(control_.calls, 0) << "no request without the token reached the daemon";
  EXPECT_EQ(control_.conns.size(), 1u);
  // The scheme is case-insensitive, as RFC 7235 says.
  EXPECT_EQ(send("GET", "/v1/status", "", "", "bearer " + token_).status, 200);
}

TEST_F(ApiTest, ListAndGetRenderStatusWithConditions) {
  add_file_connection("west");
  add_file_connection("east");
  Answer all = send("GET", "/v1/connections");
  ASSERT_EQ(all.status, 200) << all.body;
  web::json::array list = all.json.at("connections").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list.at(0).at("name").as_string(), "east");
  Answer one = send("GET", "/v1/connections/west");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json.at("origin").as_string(), "file:/etc/ipsec.conf");
  EXPECT_EQ(one.json.at("generation").as_integer(), 1);
  web::json::array conditions = one.json.at("conditions").as_array();
  ASSERT_EQ(conditions.size(), 1u);
  std::vector<std::string> fields;
  for (const auto& [key, value] : conditions.at(0).as_object()) {
    fields.push_back(key);
  }
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"lastTransitionTime", "message", "observedGeneration",
                                              "reason", "status", "type"}));
  EXPECT_EQ(conditions.at(0).at("status").as_string(), "True");
  EXPECT_EQ(conditions.at(0).at("lastTransitionTime").as_string(), "2026-01-01T00:00:00Z");
  EXPECT_EQ(one.headers.content_type(), "application/json");
}

TEST_F(ApiTest, UnknownConnectionIs404) {
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/v1/connections/nope"},
                                                        {"DELETE", "/v1/connections/nope"},
                                                        {"POST", "/v1/connections/nope:up"}}) {
    Answer a = send(method, path);
    EXPECT_EQ(a.status, 404) << method << " " << path;
    EXPECT_EQ(a.code(), "not_found");
    EXPECT_EQ(a.message(), "no connection named nope");
  }
  Answer put = send_spec("PUT", "/v1/connections/west", kConf);
  EXPECT_EQ(put.status, 404);
}

TEST_F(ApiTest, AddFromJsonYamlAndText) {
  Answer a = send_spec("POST", "/v1/connections", kConf);
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json.at("name").as_string(), "west");
  EXPECT_EQ(a.json.at("origin").as_string(), "api");
  EXPECT_EQ(a.headers["Location"], "/v1/connections/west");
  EXPECT_EQ(control_.last_spec_text, kConf);

  std::string yaml =
      "apiVersion: ipsecd.io/v1\nkind: IPsecConnection\nmetadata: {name: east}\nspec:\n"
      "  left: {host: 192.0.2.1}\n  right: {host: 192.0.2.3}\n";
  Answer y = send("POST", "/v1/connections", yaml, "application/yaml");
  ASSERT_EQ(y.status, 201) << y.body;
  EXPECT_EQ(y.json.at("name").as_string(), "east");

  Answer t = send("POST", "/v1/connections", "conn north\n\tleft=192.0.2.1\n\tright=192.0.2.4\n",
                  "text/plain; charset=utf-8");
  ASSERT_EQ(t.status, 201) << t.body;

  web::json::value body = web::json::value::object();
  body["spec"] = web::json::value::string(yaml);
  body["format"] = web::json::value::string("ipsec.conf");
  Answer forced = send("POST", "/v1/connections", body.serialize());
  EXPECT_EQ(forced.status, 400) << "YAML read as ipsec.conf does not parse";
  EXPECT_EQ(control_.conns.size(), 3u);
}

TEST_F(ApiTest, AddTwiceIsAConflict) {
  ASSERT_EQ(send_spec("POST", "/v1/connections", kConf).status, 201);
  Answer again = send_spec("POST", "/v1/connections", kConf);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.code(), "conflict");
  EXPECT_EQ(again.message(), "connection west exists");
}

TEST_F(ApiTest, BadBodiesAre400WithTheReason) {
  struct Case {
    std::string body;
    std::string type;
    int status;
    std::string says;
  };
  const Case cases[] = {
      {"{\"spec\": ", "application/json", 400, "not valid JSON"},
      {"[1,2]", "application/json", 400, "must be a JSON object"},
      {"{}", "application/json", 400, "needs \"spec\""},
      {"{\"spec\": 5}", "application/json", 400, "needs \"spec\""},
      {"{\"spec\": \"x\", \"extra\": 1}", "application/json", 400, "unknown field \"extra\""},
      {"{\"spec\": \"x\", \"format\": \"toml\"}", "application/json", 400, "\"format\" must be"},
      {"{\"spec\": \"conn a\\n\\tleft=192.0.2.1\\n\\tright=192.0.2.2\\n\\tbogus=1\\n\"}",
       "application/json", 400, "spec:4"},
      {"include /etc/ipsec.secrets\n", "text/plain", 400, "'include' is not allowed"},
      {std::string(100000, '['), "application/json", 400, "not valid JSON"},
      {kConf, "application/x-www-form-urlencoded", 415, "Content-Type"},
  };
  for (const Case& c : cases) {
    Answer a = send("POST", "/v1/connections", c.body, c.type);
    EXPECT_EQ(a.status, c.status) << c.body.substr(0, 80) << " -> " << a.body;
    EXPECT_NE(a.message().find(c.says), std::string::npos) << a.message();
  }
  EXPECT_EQ(control_.calls, 0);
}

TEST_F(ApiTest, BodyOverTheLimitIs413) {
  ApiOptions options;
  options.max_body_bytes = 1000;
  start(options);
  std::string big = std::string(kConf) + "# " + std::string(2000, 'x') + "\n";
  Answer a = send("POST", "/v1/connections", big, "text/plain");
  EXPECT_EQ(a.status, 413);
  EXPECT_EQ(a.code(), "too_large");
  EXPECT_NE(a.message().find("1000 bytes"), std::string::npos);
  EXPECT_EQ(control_.calls, 0);
}

TEST_F(ApiTest, ReplaceAndRemove) {
  ASSERT_EQ(send_spec("POST", "/v1/connections", kConf).status, 201);
  std::string changed = "conn west\n\tleft=192.0.2.1\n\tright=192.0.2.9\n";
  Answer r = send_spec("PUT", "/v1/connections/west", changed);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("generation").as_integer(), 2);
  EXPECT_EQ(control_.last_spec_text, changed);

  Answer mismatch = send_spec("PUT", "/v1/connections/east", changed);
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_NE(mismatch.message().find("defines connection west but the path names east"),
            std::string::npos);

  add_file_connection("filed");
  Answer filed = send_spec("PUT", "/v1/connections/filed",
                           "conn filed\n\tleft=192.0.2.1\n\tright=192.0.2.2\n");
  EXPECT_EQ(filed.status, 409);
  // Nor removed: the file defines it, as the daemon answers.
  Answer filed_delete = send("DELETE", "/v1/connections/filed");
  EXPECT_EQ(filed_delete.status, 409);
  EXPECT_NE(filed_delete.message().find("filed is defined by file:/etc/ipsec.conf"),
            std::string::npos)
      << filed_delete.body;
  EXPECT_EQ(send("GET", "/v1/connections/filed").status, 200);

  Answer gone = send("DELETE", "/v1/connections/west");
  ASSERT_EQ(gone.status, 200) << gone.body;
  EXPECT_EQ(gone.json.at("removed").as_bool(), true);
  EXPECT_EQ(send("GET", "/v1/connections/west").status, 404);
  EXPECT_EQ(send("DELETE", "/v1/connections/west").status, 404);
}

TEST_F(ApiTest, WrongMethodIs405WithAllow) {
  struct Case {
    std::string method, path, allow;
  };
  const Case cases[] = {
      {"DELETE", "/v1/connections", "GET, POST"},
      {"POST", "/v1/connections/west", "GET, PUT, DELETE"},
      {"GET", "/v1/connections/west:up", "POST"},
      {"PUT", "/v1/status", "GET"},
      {"GET", "/v1/secrets:reload", "POST"},
      {"POST", "/healthz", "GET"},
      {"DELETE", "/readyz", "GET"},
      {"POST", "/v1/certs?kind=certs", "GET"},
      {"GET", "/v1/certs:reload", "POST"},
      {"GET", "/v1/certs:check", "POST"},
      {"DELETE", "/v1/ocsp:purge", "POST"},
      {"POST", "/v1/groups", "GET"},
      {"GET", "/v1/groups:reload", "POST"},
  };
  for (const Case& c : cases) {
    Answer a = send(c.method, c.path);
    EXPECT_EQ(a.status, 405) << c.method << " " << c.path;
    EXPECT_EQ(a.code(), "method_not_allowed");
    EXPECT_EQ(a.headers["Allow"], c.allow);
  }
  EXPECT_EQ(control_.calls, 0);
}

TEST_F(ApiTest, UnknownPathsAndActionsAre404) {
  EXPECT_EQ(send("GET", "/v2/connections").code(), "not_found");
  EXPECT_EQ(send("GET", "/v1/connections/a/b").status, 404);
  Answer verb = send("POST", "/v1/connections/west:restart");
  EXPECT_EQ(verb.status, 404);
  EXPECT_NE(verb.message().find("unknown action ':restart'"), std::string::npos);
  EXPECT_EQ(control_.calls, 0);
}

TEST_F(ApiTest, IntentWaitsForTheOutcomeUnlessAsync) {
  add_file_connection("west");
  Answer waited = send("POST", "/v1/connections/west:up");
  ASSERT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(waited.json.at("completed").as_bool(), true);
  EXPECT_EQ(waited.json.at("intent").as_string(), "up");
  EXPECT_EQ(waited.json.at("connection").at("intent").as_string(), "up");
  EXPECT_EQ(control_.last_wait, std::optional<Duration>(std::chrono::seconds(60)));

  Answer timed = send("POST", "/v1/connections/west:route?timeout=5");
  ASSERT_EQ(timed.status, 200) << timed.body;
  EXPECT_EQ(control_.last_intent, Intent::kRoute);
  EXPECT_EQ(control_.last_wait, std::optional<Duration>(std::chrono::seconds(5)));

  Answer async = send("POST", "/v1/connections/west:down?async=true");
  ASSERT_EQ(async.status, 202) << async.body;
  EXPECT_EQ(async.json.at("completed").as_bool(), false);
  EXPECT_EQ(control_.last_intent, Intent::kDown);
  EXPECT_EQ(control_.last_wait, std::nullopt);

  EXPECT_EQ(send("POST", "/v1/connections/west:unroute?async=false").status, 200);
  EXPECT_EQ(control_.last_intent, Intent::kUnroute);
}

TEST_F(ApiTest, IntentErrors) {
  Answer slow = send("POST", "/v1/connections/slow:up");
  EXPECT_EQ(slow.status, 504);
  EXPECT_EQ(slow.code(), "timeout");
  Answer broken = send("POST", "/v1/connections/broken:up");
  EXPECT_EQ(broken.status, 500);
  EXPECT_EQ(broken.code(), "failed");
  EXPECT_NE(broken.message().find("NO_PROPOSAL_CHOSEN"), std::string::npos);
  int before = control_.calls;
  for (const char* query :
       {"?timeout=0", "?timeout=601", "?timeout=5s", "?timeout=+5", "?timeout=%205", "?timeout=0x5",
        "?async=maybe", "?wait=1", "?async=true&async=false", "?timeout=%zz"}) {
    Answer a = send("POST", std::string("/v1/connections/west:up") + query);
    EXPECT_EQ(a.status, 400) << query << " " << a.body;
    EXPECT_EQ(a.code(), "invalid");
  }
  EXPECT_EQ(control_.calls, before);
}

TEST_F(ApiTest, AWaitingIntentDoesNotBlockOtherRequests) {
  add_file_connection("hold");
  std::future<Answer> waiting =
      std::async(std::launch::async, [&] { return send("POST", "/v1/connections/hold:up"); });
  for (int i = 0; i < 5000 && !control_.holding; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(control_.holding);
  EXPECT_EQ(send("GET", "/healthz").status, 200);
  EXPECT_EQ(send("GET", "/v1/connections/hold").status, 200);
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  control_.release();
  Answer done = waiting.get();
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.json.at("completed").as_bool(), true);
}

TEST_F(ApiTest, PercentEncodedNames) {
  add_file_connection("a:b c");
  Answer a = send("GET", "/v1/connections/a%3Ab%20c");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json.at("name").as_string(), "a:b c");
  EXPECT_EQ(send("POST", "/v1/connections/a%3Ab%20c:up?async=true").status, 202);
}

TEST_F(ApiTest, StatusSecretsAndProbes) {
  Answer s = send("GET", "/v1/status");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.json.at("version").as_string(), "0.1.0");
  EXPECT_EQ(s.json.at("sources").as_array().at(0).at("errors").as_array().size(), 1u);
  Answer r = send("POST", "/v1/secrets:reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.at("secrets").as_integer(), 3);
  EXPECT_EQ(send("GET", "/healthz").json.at("status").as_string(), "ok");
  EXPECT_EQ(send("GET", "/readyz").status, 200);
  control_.is_ready = false;
  Answer not_ready = send("GET", "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(not_ready.code(), "unavailable");
  EXPECT_NE(not_ready.message().find("first sync"), std::string::npos);
}

TEST_F(ApiTest, OpenProbesAnswerWithoutTheTokenButNothingElseDoes) {
  ApiOptions options;
  options.open_health_probes = true;
  start(options);
  EXPECT_EQ(send("GET", "/healthz", "", "", "").status, 200);
  EXPECT_EQ(send("GET", "/readyz", "", "", "").status, 200);
  EXPECT_EQ(send("GET", "/v1/status", "", "", "").status, 401);
}

TEST_F(ApiTest, AnExceptionInTheDaemonIs500) {
  control_.throw_on_status = true;
  Answer a = send("GET", "/v1/status");
  EXPECT_EQ(a.status, 500);
  EXPECT_EQ(a.code(), "internal");
  EXPECT_NE(a.message().find("status exploded"), std::string::npos);
  EXPECT_EQ(send("GET", "/healthz").status, 200) << "the server still answers";
}

TEST_F(ApiTest, CertListingsPerKind) {
  for (CertKind kind : kAllCertKinds) {
    std::string name(cert_kind_name(kind));
    Answer a = send("GET", "/v1/certs?kind=" + name);
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(control_.last_kind, kind);
    EXPECT_EQ(a.json.at("kind").as_string(), name);
    EXPECT_EQ(a.json.at("directory").as_string(), "/etc/ipsec.d/" + name);
    EXPECT_EQ(a.json.at("errors").as_array().at(0).as_string(), name + "/junk: not a certificate");
    const web::json::value& item = a.json.at("items").as_array().at(0);
    if (kind == CertKind::kCrls) {
      EXPECT_TRUE(item.at("verified").as_bool());
      EXPECT_TRUE(item.at("nextUpdate").is_null());
      EXPECT_EQ(item.at("revoked").as_array().at(0).at("serial").as_string(), "0A");
      EXPECT_EQ(item.at("revoked").as_array().at(0).at("revokedAt").as_string(),
                "2026-01-01T00:00:00Z");
    } else if (kind == CertKind::kPubkeys) {
      EXPECT_EQ(item.at("keyId").as_string(), "AwEAAbcde");
      EXPECT_EQ(item.at("bits").as_integer(), 3072);
      EXPECT_EQ(item.at("source").as_string(), "rsasigkey");
    } else {
      EXPECT_EQ(item.at("keyType").as_string(), "EC P-256");
      EXPECT_EQ(item.at("notAfter").as_string(), "2026-01-01T00:00:00Z");
      EXPECT_TRUE(item.at("hasPrivateKey").as_bool());
      EXPECT_EQ(item.at("subjectAltNames").as_array().at(1).as_string(), "IP:192.0.2.1");
    }
  }
}

TEST_F(ApiTest, CertRoutesRefuseBadKindsWindowsAndParameters) {
  struct Case {
    std::string method, path, says;
  };
  const Case cases[] = {
      {"GET", "/v1/certs", "needs kind="},
      {"GET", "/v1/certs?kind=keys", "kind=keys is not a kind"},
      {"GET", "/v1/certs?kind=certs&verbose=1", "unknown query parameter 'verbose'"},
      {"POST", "/v1/certs:reload?kind=", "is not a kind"},
      {"POST", "/v1/certs:check?window=-1", "whole seconds"},
      {"POST", "/v1/certs:check?window=10d", "whole seconds"},
      {"POST", "/v1/certs:check?window=999999999999", "whole seconds"},
      // std::stoll, which these parameters once went through, took these.
      {"POST", "/v1/certs:check?window=+60", "whole seconds"},
      {"POST", "/v1/certs:check?window=%2060", "whole seconds"},
      {"POST", "/v1/certs:check?kind=certs", "unknown query parameter 'kind'"},
      {"POST", "/v1/ocsp:purge?all=1", "unknown query parameter 'all'"},
      {"GET", "/v1/groups?name=private", "unknown query parameter 'name'"},
  };
  for (const Case& c : cases) {
    Answer a = send(c.method, c.path);
    EXPECT_EQ(a.status, 400) << c.method << " " << c.path;
    EXPECT_EQ(a.code(), "invalid");
    EXPECT_NE(a.message().find(c.says), std::string::npos) << a.message();
  }
  EXPECT_EQ(control_.calls, 0);
  Answer unknown = send("POST", "/v1/certs:rehash");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.message().find("/v1/certs:reload"), std::string::npos);
  control_.certs_unavailable = true;
  Answer busy = send("GET", "/v1/certs?kind=certs");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.code(), "unavailable");
}

TEST_F(ApiTest, CertReloadCheckOcspAndGroups) {
  Answer all = send("POST", "/v1/certs:reload");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_FALSE(control_.last_kind.has_value()) << "no kind reloads every kind";
  EXPECT_EQ(all.json.at("reloaded").as_array().size(), kAllCertKinds.size());
  Answer one = send("POST", "/v1/certs:reload?kind=crls");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(control_.last_kind, CertKind::kCrls);
  ASSERT_EQ(one.json.at("reloaded").as_array().size(), 1u);
  EXPECT_EQ(one.json.at("reloaded").as_array().at(0).at("kind").as_string(), "crls");

  Answer defaulted = send("POST", "/v1/certs:check");
  ASSERT_EQ(defaulted.status, 200) << defaulted.body;
  EXPECT_EQ(control_.last_window, Duration(std::chrono::seconds(2592000)));
  EXPECT_EQ(defaulted.json.at("window").as_integer(), 2592000);
  const web::json::value& item = defaulted.json.at("items").as_array().at(0);
  EXPECT_EQ(item.at("kind").as_string(), "certs");
  EXPECT_EQ(item.at("name").as_string(), "old.pem");
  EXPECT_EQ(item.at("status").as_string(), "expired");
  EXPECT_EQ(send("POST", "/v1/certs:check?window=0").json.at("window").as_integer(), 0);
  EXPECT_EQ(send("POST", "/v1/certs:check?window=86400").json.at("window").as_integer(), 86400);

  Answer purged = send("POST", "/v1/ocsp:purge");
  ASSERT_EQ(purged.status, 200) << purged.body;
  EXPECT_EQ(purged.json.at("purged").as_integer(), 7);

  for (const auto& [method, path] :
       {std::pair<std::string, std::string>{"GET", "/v1/groups"}, {"POST", "/v1/groups:reload"}}) {
    Answer g = send(method, path);
    ASSERT_EQ(g.status, 200) << g.body;
    const web::json::array& groups = g.json.at("groups").as_array();
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups.at(0).at("name").as_string(), "private");
    EXPECT_EQ(groups.at(0).at("entries").as_array().at(0).as_string(), "198.51.100.0/24");
    EXPECT_EQ(groups.at(1).at("errors").as_array().at(0).as_string(),
              "/etc/ipsec.d/policies/clear:2: bad");
  }
}

TEST(ApiServer, ExplicitPortInUseFailsWithTheAddress) {
  TempDir dir("ipsecd-api");
  const std::string& root = dir.path();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(sin);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  std::string listen = "127.0.0.1:" + std::to_string(ntohs(sin.sin_port));
  FakeControl control;
  ApiOptions options;
  options.listen = listen;
  options.state_dir = root + "/state";
  ApiServer server(control, options);
  model::Result<ListenAddress> bound = server.start();
  ::close(fd);
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().find("--api " + listen + ": cannot listen"), std::string::npos)
      << bound.error();
  EXPECT_FALSE(fs::exists(root + "/state/api"));
  EXPECT_FALSE(fs::exists(root + "/state/token"));
}

TEST(ApiServer, RefusesIpv6WithTheReason) {
  FakeControl control;
  ApiOptions options;
  options.listen = "[::1]:0";
  options.state_dir = (fs::temp_directory_path() / "ipsecd-api-never-created").string();
  model::Result<ListenAddress> bound = ApiServer(control, options).start();
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().find("--api [::1]:0: the HTTP server cannot listen on an IPv6 address"),
            std::string::npos)
      << bound.error();
  EXPECT_FALSE(fs::exists(options.state_dir));
}

TEST_F(ApiTest, WaitingRequestsAreBounded) {
  add_file_connection("west");
  ApiOptions options;
  options.max_waiting_requests = 0;
  start(options);
  Answer waiting = send("POST", "/v1/connections/west:up");
  EXPECT_EQ(waiting.status, 503);
  EXPECT_NE(waiting.message().find("use ?async=true"), std::string::npos);
  EXPECT_EQ(send("POST", "/v1/connections/west:up?async=true").status, 202);
}

TEST(StateDir, RefusesAGroupWritableDirectory) {
  TempDir dir("ipsecd-api");
  const std::string& root = dir.path();
  ASSERT_EQ(::chmod(root.c_str(), 0770), 0);
  model::Result<bool> r = prepare_state_dir(root);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("writable by group or others (mode 0770); run chmod 0700"),
            std::string::npos)
      << r.error();
  std::ofstream(root + "/file") << "x";
  EXPECT_FALSE(prepare_state_dir(root + "/file"));
  ASSERT_EQ(::chmod(root.c_str(), 0700), 0);
  EXPECT_TRUE(prepare_state_dir(root));
}

TEST(StateDir, AtomicWriteReplacesASymlinkInsteadOfFollowingIt) {
  TempDir dir("ipsecd-api");
  const std::string& root = dir.path();
  std::ofstream(root + "/victim") << "keep";
  fs::create_symlink(root + "/victim", root + "/token");
  ASSERT_TRUE(write_file_atomically(root + "/token", "secret\n", 0600));
  EXPECT_EQ(read_text(root + "/victim"), "keep");
  EXPECT_FALSE(fs::is_symlink(root + "/token"));
  EXPECT_EQ(read_text(root + "/token"), "secret\n");
}

}  // namespace
}  // namespace ipsecd::controller
