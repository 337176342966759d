// `ipsec auto` and its libreswan-5 spellings against the real control API
// server on 127.0.0.1, backed by a fake Control that records every call.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "cli/exit_codes.h"
#include "controller/api/api.h"
#include "tests/cli/helpers.h"
#include "tests/support/fake_control.h"

namespace ipsecd::cli {
namespace {

using controller::ConnectionStatus;
using controller::ControlResult;
using controller::Duration;
using controller::Error;
using controller::ErrorCode;
using controller::Intent;
using controller::WallTime;
using namespace ipsecd::cli::testing;

constexpr const char* kConfig =
    "config setup\n"
    "\tlogfile=/dev/null\n"
    "\n"
    "conn %default\n"
    "\tikelifetime=3h\n"
    "\n"
    "conn base\n"
    "\tleft=192.0.2.1\n"
    "\tleftsubnet=198.51.100.0/24\n"
    "\tauthby=secret\n"
    "\n"
    "conn west\n"
    "\talso=base\n"
    "\tright=192.0.2.2\n"
    "\trightsubnet=203.0.113.0/24\n"
    "\tauto=start\n"
    "\n"
    "conn quiet\n"
    "\tleft=192.0.2.1\n"
    "\tright=192.0.2.3\n"
    "\tauto=ignore\n";

using ipsecd::testing::FakeControl;

class AutoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = dir_.path() + "/state";
    config_ = dir_.path() + "/ipsec.conf";
    write_text(config_, kConfig);
    controller::ApiOptions options;
    options.listen = "127.0.0.1:0";
    options.state_dir = state_dir_;
    server_ = std::make_unique<controller::ApiServer>(control_, options);
    model::Result<controller::ListenAddress> bound = server_->start();
    ASSERT_TRUE(bound) << bound.error();
  }

  // `ipsec auto ARGS... --state-dir STATE --config CONFIG`
  CliRun autorun(std::vector<std::string> args) {
    args.insert(args.end(), {"--state-dir", state_dir_, "--config", config_});
    return run_auto(args);
  }
  CliRun spelled(const std::string& command, std::vector<std::string> args) {
    args.insert(args.end(), {"--state-dir", state_dir_, "--config", config_});
    return run_spelling(command, args);
  }

  void add_file_connection(const std::string& name) {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns[name] = FakeControl::make(name, "file:/etc/ipsec.conf");
  }

  TempDir dir_;
  std::string state_dir_;
  std::string config_;
  FakeControl control_;
  std::unique_ptr<controller::ApiServer> server_;
};

TEST_F(AutoTest, AddSendsTheResolvedConnAndLoadsIt) {
  CliRun r = autorun({"--add", "west"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("added west: origin api, auto=start"), std::string::npos) << r.out;
  // also= and %default folded in, nothing the API refuses.
  const std::string& spec = control_.last_spec_text;
  EXPECT_TRUE(spec.starts_with("conn west\n")) << spec;
  EXPECT_NE(spec.find("\tleft=192.0.2.1\n"), std::string::npos) << spec;
  EXPECT_NE(spec.find("\tleftsubnet=198.51.100.0/24\n"), std::string::npos) << spec;
  EXPECT_NE(spec.find("\tikelifetime="), std::string::npos) << spec;
  EXPECT_EQ(spec.find("also"), std::string::npos) << spec;
  EXPECT_EQ(spec.find("config setup"), std::string::npos) << spec;
  EXPECT_EQ(control_.conns.count("west"), 1u);
}

TEST_F(AutoTest, AddOfAnAutoIgnoreConnLoadsIt) {
  CliRun r = autorun({"--add", "quiet"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(control_.last_spec_text.find("auto="), std::string::npos) << control_.last_spec_text;
  EXPECT_EQ(control_.conns.count("quiet"), 1u);
}

TEST_F(AutoTest, AddTwiceFailsWithAlreadyExists) {
  ASSERT_EQ(autorun({"--add", "west"}).code, kExitOk);
  CliRun again = autorun({"--add", "west"});
  EXPECT_EQ(again.code, kExitFailed);
  EXPECT_NE(again.err.find("ipsec auto --add west: already exists: connection west exists"),
            std::string::npos)
      << again.err;
}

TEST_F(AutoTest, AddOfAConnNotInTheFileIsUnknown) {
  CliRun r = autorun({"--add", "nowhere"});
  EXPECT_EQ(r.code, kExitUnknownConnection);
  EXPECT_NE(r.err.find("no conn nowhere in " + config_), std::string::npos) << r.err;
  EXPECT_EQ(control_.calls, 0);
  EXPECT_EQ(autorun({"--add", "%default"}).code, kExitUnknownConnection);
}

TEST_F(AutoTest, AddFromABadConfigIsAConfigErrorWithFileAndLine) {
  write_text(config_, "conn west\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tbogus=1\n");
  CliRun r = autorun({"--add", "west"});
  EXPECT_EQ(r.code, kExitConfigError);
  EXPECT_NE(r.err.find(config_ + ":4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing sent"), std::string::npos) << r.err;
  EXPECT_EQ(control_.calls, 0);

  CliRun missing = run_auto(
      {"--add", "west", "--state-dir", state_dir_, "--config", dir_.path() + "/absent.conf"});
  EXPECT_EQ(missing.code, kExitConfigError) << missing.err;
  EXPECT_NE(missing.err.find("absent.conf"), std::string::npos) << missing.err;
}

TEST_F(AutoTest, AnInvalidConnIsRefusedButABadNeighbourDoesNotBlockIt) {
  // leftsubnet IPv4 with rightsubnet IPv6: a cross-keyword error of conn mixed only.
  write_text(config_, std::string(kConfig) +
                          "\nconn mixed\n\tleft=192.0.2.1\n\tright=192.0.2.2\n"
                          "\tleftsubnet=198.51.100.0/24\n\trightsubnet=2001:db8::/64\n");
  CliRun bad = autorun({"--add", "mixed"});
  EXPECT_EQ(bad.code, kExitConfigError) << bad.err;
  EXPECT_NE(bad.err.find(config_ + ":"), std::string::npos) << bad.err;
  EXPECT_EQ(autorun({"--add", "west"}).code, kExitOk);
}

TEST_F(AutoTest, ReplaceDeletesThenAdds) {
  CliRun first = autorun({"--replace", "west"});
  ASSERT_EQ(first.code, kExitOk) << first.err << "replace of a connection not loaded adds it";
  EXPECT_NE(first.out.find("replaced west"), std::string::npos) << first.out;
  CliRun second = autorun({"--replace", "west", "--verbose"});
  ASSERT_EQ(second.code, kExitOk) << second.err;
  EXPECT_NE(second.err.find("> DELETE http://127.0.0.1:"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("< 200 OK"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("> POST "), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("< 201 Created"), std::string::npos) << second.err;

  add_file_connection("filed");
  write_text(config_, "conn filed\n\tleft=192.0.2.1\n\tright=192.0.2.2\n");
  CliRun filed = autorun({"--replace", "filed"});
  EXPECT_EQ(filed.code, kExitFailed);
  EXPECT_NE(filed.err.find("filed is defined by file:/etc/ipsec.conf"), std::string::npos)
      << filed.err;
}

TEST_F(AutoTest, DeleteRemovesAndUnknownIs3) {
  ASSERT_EQ(autorun({"--add", "west"}).code, kExitOk);
  CliRun r = autorun({"--delete", "west"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "west: deleted\n");
  EXPECT_EQ(control_.conns.count("west"), 0u);
  CliRun again = autorun({"--delete", "west"});
  EXPECT_EQ(again.code, kExitUnknownConnection);
  EXPECT_NE(again.err.find("ipsec auto --delete west: no connection named west"), std::string::npos)
      << again.err;
}

TEST_F(AutoTest, IntentsWaitForTheOutcome) {
  add_file_connection("west");
  for (const auto& [verb, intent] :
       std::vector<std::pair<std::string, Intent>>{{"up", Intent::kUp},
                                                   {"down", Intent::kDown},
                                                   {"route", Intent::kRoute},
                                                   {"unroute", Intent::kUnroute}}) {
    CliRun r = autorun({"--" + verb, "west"});
    ASSERT_EQ(r.code, kExitOk) << verb << ": " << r.err;
    EXPECT_NE(r.out.find("west: " + verb + " done"), std::string::npos) << r.out;
    EXPECT_EQ(control_.last_intent, intent);
    EXPECT_EQ(control_.last_wait, std::optional<Duration>(std::chrono::seconds(60)));
  }
  ASSERT_EQ(autorun({"--up", "west", "--timeout", "7"}).code, kExitOk);
  EXPECT_EQ(control_.last_wait, std::optional<Duration>(std::chrono::seconds(7)));
}

TEST_F(AutoTest, AsynchronousDoesNotWait) {
  add_file_connection("west");
  CliRun r = autorun({"--asynchronous", "--up", "west"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(control_.last_wait, std::nullopt);
  EXPECT_NE(r.out.find("west: up requested, not waiting"), std::string::npos) << r.out;
  // "slow" would time out if waited for.
  add_file_connection("slow");
  EXPECT_EQ(autorun({"--up", "slow", "--asynchronous"}).code, kExitOk);
}

TEST_F(AutoTest, IntentFailuresMapToExitCodes) {
  CliRun unknown = autorun({"--up", "nope"});
  EXPECT_EQ(unknown.code, kExitUnknownConnection);
  EXPECT_NE(unknown.err.find("no connection named nope"), std::string::npos) << unknown.err;
  CliRun slow = autorun({"--up", "slow"});
  EXPECT_EQ(slow.code, kExitTimeout);
  EXPECT_NE(slow.err.find("ipsec auto --up slow: slow did not come up within the wait"),
            std::string::npos)
      << slow.err;
  CliRun broken = autorun({"--route", "broken"});
  EXPECT_EQ(broken.code, kExitFailed);
  EXPECT_NE(broken.err.find("NO_PROPOSAL_CHOSEN"), std::string::npos) << broken.err;
}

TEST_F(AutoTest, NamesArePercentEncoded) {
  add_file_connection("a:b c");
  CliRun r = autorun({"--down", "a:b c"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(control_.last_intent, Intent::kDown);
}

TEST_F(AutoTest, StatusPrintsConnectionsWithTheirSas) {
  {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns["west"] = FakeControl::established("west");
    control_.conns["idle"] = FakeControl::make("idle", "api");
    control_.conns["idle"].last_error = "peer 192.0.2.7 did not answer";
  }
  CliRun r = autorun({"--status", "--utc"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  for (const char* expected :
       {"ipsecd 0.1.0, started 2026-01-01 00:00:00 UTC, ready",
        "source file:/etc/ipsec.conf: 2 connections", "/etc/ipsec.conf:7: error: bad", "CONNECTION",
        "file:/etc/ipsec.conf", "Loaded=True Established=True",
        "IKE SA 0123456789abcdef:fedcba9876543210 ESTABLISHED initiator",
        "192.0.2.1:500 <-> 192.0.2.2:500 @west <-> @east",
        "AES_GCM_16_256/PRF_HMAC_SHA2_256/DH31; established 2026-01-01 00:01:40 UTC, "
        "rekey 2026-01-01 06:46:40 UTC, rekeys 1\n",
        "CHILD SA ESP tunnel in c0ffee01 out c0ffee02 reqid 16385 INSTALLED",
        "established 2026-01-01 00:01:40 UTC, rekey -, expires -, rekeys 2\n",
        "198.51.100.0/24 === 203.0.113.0/24", "bytes in 1024 out 2048",
        "last error: peer 192.0.2.7 did not answer"}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  }
  EXPECT_LT(r.out.find("idle"), r.out.find("west")) << "sorted by name";
  // The SA lines follow their own connection's row.
  EXPECT_GT(r.out.find("IKE SA 0123"), r.out.find("\nwest "));
  EXPECT_LT(r.out.find("last error:"), r.out.find("\nwest "));
}

TEST_F(AutoTest, TimesAreLocalUnlessUtc) {
  std::string old_tz = std::getenv("TZ") != nullptr ? std::getenv("TZ") : "";
  ::setenv("TZ", "XYZ-3", 1);  // POSIX form: no tz database needed
  ::tzset();
  CliRun local = autorun({"--status"});
  CliRun utc = autorun({"--status", "--utc"});
  if (old_tz.empty()) {
    ::unsetenv("TZ");
  } else {
    ::setenv("TZ", old_tz.c_str(), 1);
  }
  ::tzset();
  EXPECT_NE(local.out.find("started 2026-01-01 03:00:00 XYZ"), std::string::npos) << local.out;
  EXPECT_NE(utc.out.find("started 2026-01-01 00:00:00 UTC"), std::string::npos) << utc.out;
}

TEST_F(AutoTest, StatusJsonIsTheApiJsonCombined) {
  {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns["west"] = FakeControl::established("west");
  }
  CliRun r = autorun({"--status", "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  web::json::value v = web::json::value::parse(r.out);
  EXPECT_EQ(v.at("status").at("version").as_string(), "0.1.0");
  EXPECT_EQ(v.at("connections").as_array().size(), 1u);
  EXPECT_EQ(
      v.at("connections").as_array().at(0).at("childSas").as_array().at(0).at("spiIn").as_string(),
      "c0ffee01");
}

TEST_F(AutoTest, TrafficstatusPrintsLibreswanLines) {
  {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns["west"] = FakeControl::established("west");
    control_.conns["idle"] = FakeControl::make("idle", "api");
  }
  CliRun r = spelled("trafficstatus", {});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out,
            "006 #1: \"west\", type=ESP, add_time=1767225700, inBytes=1024, outBytes=2048, "
            "id='@east'\n");
  CliRun json = spelled("trafficstatus", {"--json"});
  EXPECT_TRUE(parses_as_json(json.out)) << json.out;
}

TEST_F(AutoTest, ReadyAndRereadsecrets) {
  CliRun ready = autorun({"--ready"});
  EXPECT_EQ(ready.code, kExitOk) << ready.err;
  EXPECT_EQ(ready.out, "ready\n");
  control_.is_ready = false;
  CliRun not_ready = spelled("ready", {});
  EXPECT_EQ(not_ready.code, kExitFailed);
  EXPECT_NE(not_ready.err.find("ipsec ready: waiting for the first sync of dir:/etc/ipsec.d"),
            std::string::npos)
      << not_ready.err;

  CliRun secrets = autorun({"--rereadsecrets"});
  ASSERT_EQ(secrets.code, kExitOk) << secrets.err;
  EXPECT_EQ(secrets.out, "reloaded secrets: 3 entries\n");
  EXPECT_NE(secrets.err.find("/etc/ipsec.secrets:2: warning: unused"), std::string::npos);
  CliRun json = autorun({"--rereadsecrets", "--json"});
  ASSERT_EQ(json.code, kExitOk);
  EXPECT_EQ(web::json::value::parse(json.out).at("secrets").as_integer(), 3);
  // --rereadall tells the secrets' reload as --rereadsecrets does, warnings included.
  CliRun all = autorun({"--rereadall"});
  ASSERT_EQ(all.code, kExitOk) << all.err;
  EXPECT_EQ(all.out.find("reloaded secrets: 3 entries\n"), 0u) << all.out;
  EXPECT_NE(all.err.find("/etc/ipsec.secrets:2: warning: unused"), std::string::npos) << all.err;
}

TEST_F(AutoTest, LibreswanFiveSpellingsEqualTheAutoForms) {
  {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns["west"] = FakeControl::established("west");
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"status"},
                                             {"status", "--json"},
                                             {"trafficstatus"},
                                             {"ready"},
                                             {"rereadsecrets"},
                                             {"up", "west"},
                                             {"down", "west", "--asynchronous"},
                                             {"route", "west"},
                                             {"unroute", "west"},
                                             {"up", "nope"},
                                             {"up", "slow"}}) {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    std::vector<std::string> auto_args = rest;
    auto_args.insert(auto_args.begin(), "--" + args[0]);
    CliRun a = autorun(auto_args);
    CliRun b = spelled(args[0], rest);
    EXPECT_EQ(a.code, b.code) << args[0];
    EXPECT_EQ(a.out, b.out) << args[0];
    EXPECT_EQ(a.err.empty(), b.err.empty()) << args[0] << ": " << a.err << " / " << b.err;
    EXPECT_EQ(b.err.find("ipsec auto"), std::string::npos) << "no hint at the old form: " << b.err;
    EXPECT_EQ(b.err.find("deprecated"), std::string::npos) << b.err;
  }
  // add and delete change state: compare them on a fresh name each.
  CliRun add = spelled("add", {"west"});
  EXPECT_EQ(add.code, kExitFailed) << "west is loaded from a file already";
  control_.conns.erase("west");
  EXPECT_EQ(spelled("add", {"west"}).code, kExitOk);
  EXPECT_EQ(spelled("replace", {"west"}).code, kExitOk);
  EXPECT_EQ(spelled("delete", {"west"}).code, kExitOk);
  EXPECT_EQ(control_.conns.count("west"), 0u);
}

TEST_F(AutoTest, EveryJsonOutputParses) {
  {
    std::lock_guard<std::mutex> lock(control_.mu);
    control_.conns["west"] = FakeControl::established("west");
  }
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--status"},
                                             {"--trafficstatus"},
                                             {"--ready"},
                                             {"--rereadsecrets"},
                                             {"--up", "west"},
                                             {"--add", "quiet"},
                                             {"--delete", "quiet"}}) {
    std::vector<std::string> with_json = args;
    with_json.push_back("--json");
    CliRun r = autorun(with_json);
    ASSERT_EQ(r.code, kExitOk) << args[0] << ": " << r.err;
    EXPECT_TRUE(parses_as_json(r.out)) << args[0] << ": " << r.out;
  }
}

TEST_F(AutoTest, ShowonlySendsNothingAndStillValidates) {
  add_file_connection("west");
  int before = control_.calls;
  CliRun add = autorun({"--showonly", "--add", "west"});
  EXPECT_EQ(add.code, kExitOk) << add.err;
  EXPECT_TRUE(add.out.starts_with("POST /v1/connections\nContent-Type: text/plain\n\nconn west\n"))
      << add.out;
  CliRun replace = autorun({"--showonly", "--replace", "west"});
  EXPECT_EQ(replace.code, kExitOk);
  EXPECT_TRUE(replace.out.starts_with("DELETE /v1/connections/west\nPOST /v1/connections\n"))
      << replace.out;
  CliRun up = autorun({"--showonly", "--up", "west", "--asynchronous"});
  EXPECT_EQ(up.out, "POST /v1/connections/west:up?async=true\n");
  CliRun status = autorun({"--showonly", "--status"});
  EXPECT_EQ(status.out, "GET /v1/status\nGET /v1/connections\n");
  CliRun all = autorun({"--showonly", "--rereadall"});
  EXPECT_EQ(all.out, "POST /v1/secrets:reload\nPOST /v1/certs:reload\nPOST /v1/groups:reload\n");
  EXPECT_EQ(control_.calls, before) << "--showonly reached the daemon";

  CliRun unknown = autorun({"--showonly", "--add", "nowhere"});
  EXPECT_EQ(unknown.code, kExitUnknownConnection);
  EXPECT_EQ(unknown.out, "");
  write_text(config_, "conn west\n\tleft=192.0.2.1\n\tbogus=1\n");
  CliRun invalid = autorun({"--showonly", "--replace", "west"});
  EXPECT_EQ(invalid.code, kExitConfigError);
  EXPECT_EQ(invalid.out, "");
  EXPECT_EQ(control_.calls, before);
}

TEST_F(AutoTest, ShowonlyNeedsNoDaemonAndReadsNoToken) {
  std::string empty = dir_.path() + "/no-daemon";
  CliRun r = run_auto({"--showonly", "--add", "west", "--config", config_, "--state-dir", empty});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_FALSE(fs::exists(empty));
}

TEST_F(AutoTest, WrongTokenIsUnreachableAndSaysSo) {
  write_text(state_dir_ + "/token", std::string(64, 'a') + "\n");
  CliRun r = autorun({"--status"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_NE(r.err.find("wrong token"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(std::string(64, 'a')), std::string::npos) << "the token is a secret";
  EXPECT_EQ(control_.calls, 0);
}

TEST_F(AutoTest, DaemonDownIsUnreachable) {
  server_->stop();  // removes api and token
  CliRun gone = autorun({"--up", "west"});
  EXPECT_EQ(gone.code, kExitUnreachable);
  EXPECT_NE(gone.err.find("cannot read " + state_dir_ + "/api"), std::string::npos) << gone.err;

  // Files left behind by a daemon that died: nothing listens at the address.
  std::string url;
  {
    PortProbe probe;  // a port nobody listens on once the probe closes
    url = "http://127.0.0.1:" + std::to_string(probe.port());
  }
  fs::create_directories(state_dir_);
  write_text(state_dir_ + "/api", url + "\n");
  write_text(state_dir_ + "/token", std::string(64, 'b') + "\n");
  CliRun refused = autorun({"--status"});
  EXPECT_EQ(refused.code, kExitUnreachable);
  EXPECT_NE(refused.err.find("cannot talk to " + url), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("is ipsecd running?"), std::string::npos) << refused.err;

  fs::remove(state_dir_ + "/token");
  CliRun no_token = autorun({"--status"});
  EXPECT_EQ(no_token.code, kExitUnreachable);
  EXPECT_NE(no_token.err.find("cannot read " + state_dir_ + "/token"), std::string::npos)
      << no_token.err;

  write_text(state_dir_ + "/api", "garbage\n");
  CliRun garbage = autorun({"--status"});
  EXPECT_EQ(garbage.code, kExitUnreachable);
  EXPECT_NE(garbage.err.find("does not hold a URL"), std::string::npos) << garbage.err;
}

TEST_F(AutoTest, StateDirFromTheEnvironment) {
  ::setenv("IPSECD_STATE_DIR", state_dir_.c_str(), 1);
  CliRun r = run_auto({"--ready"});
  ::unsetenv("IPSECD_STATE_DIR");
  EXPECT_EQ(r.code, kExitOk) << r.err;
}

TEST_F(AutoTest, UsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"--up"},
                                             {"--up", ""},
                                             {"--status", "west"},
                                             {"--up", "a", "b"},
                                             {"--up", "west", "--down"},
                                             {"--frobnicate"},
                                             {"--timeout", "0", "--status"},
                                             {"--config"}}) {
    CliRun r = run_auto(args);
    EXPECT_EQ(r.code, kExitUsage) << (args.empty() ? "(none)" : args[0]);
    EXPECT_NE(r.err.find("usage: ipsec auto"), std::string::npos) << r.err;
  }
  EXPECT_EQ(control_.calls, 0);
}

TEST_F(AutoTest, TheBuiltBinary) {
  add_file_connection("west");
  CliRun up = run_binary({"auto", "--up", "west", "--state-dir", state_dir_}, dir_.path());
  EXPECT_EQ(up.code, kExitOk) << up.err;
  EXPECT_NE(up.out.find("west: up done"), std::string::npos) << up.out;
  CliRun up5 = run_binary({"up", "nope", "--state-dir", state_dir_}, dir_.path());
  EXPECT_EQ(up5.code, kExitUnknownConnection) << up5.err;
  EXPECT_NE(up5.err.find("ipsec up nope: no connection named nope"), std::string::npos) << up5.err;
  CliRun status = run_binary({"status", "--json", "--state-dir", state_dir_}, dir_.path());
  EXPECT_EQ(status.code, kExitOk) << status.err;
  EXPECT_TRUE(parses_as_json(status.out)) << status.out;
  CliRun down =
      run_binary({"auto", "--status", "--state-dir", dir_.path() + "/nothing"}, dir_.path());
  EXPECT_EQ(down.code, kExitUnreachable);
  CliRun showonly = run_binary(
      {"auto", "--showonly", "--add", "nowhere", "--config", config_, "--state-dir", state_dir_},
      dir_.path());
  EXPECT_EQ(showonly.code, kExitUnknownConnection) << showonly.err;
}

}  // namespace
}  // namespace ipsecd::cli
