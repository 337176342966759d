#include "controller/api/control.h"

#include <gtest/gtest.h>

#include "controller/listen_address.h"

namespace ipsecd::controller {
namespace {

constexpr const char* kConf = "conn west\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tauto=start\n";
constexpr const char* kYaml =
    "apiVersion: ipsecd.io/v1\n"
    "kind: IPsecConnection\n"
    "metadata: {name: west}\n"
    "spec:\n"
    "  auto: route\n"
    "  left: {host: 192.0.2.1}\n"
    "  right: {host: 192.0.2.2}\n";

TEST(ParseConnectionSpec, IpsecConfText) {
  ControlResult<ConnectionSpec> spec = parse_connection_spec(kConf, SpecFormat::kAuto);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->connection.name, "west");
  EXPECT_EQ(spec->connection.auto_action, model::AutoAction::kStart);
  EXPECT_EQ(spec->format, SpecFormat::kIpsecConf);
  EXPECT_EQ(spec->text, kConf);
}

TEST(ParseConnectionSpec, YamlDetectedAndExplicit) {
  for (SpecFormat f : {SpecFormat::kAuto, SpecFormat::kYaml}) {
    ControlResult<ConnectionSpec> spec = parse_connection_spec(kYaml, f);
    ASSERT_TRUE(spec) << spec.error().message;
    EXPECT_EQ(spec->connection.name, "west");
    EXPECT_EQ(spec->connection.auto_action, model::AutoAction::kRoute);
    EXPECT_EQ(spec->format, SpecFormat::kYaml);
  }
}

TEST(ParseConnectionSpec, DefaultSectionAllowed) {
  std::string text = std::string("conn %default\n\tauto=add\n") +
                     "conn west\n\tleft=192.0.2.1\n\tright=192.0.2.2\n";
  ControlResult<ConnectionSpec> spec = parse_connection_spec(text, SpecFormat::kIpsecConf);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->connection.auto_action, model::AutoAction::kAdd);
}

TEST(ParseConnectionSpec, MissingAutoLoadsAsAdd) {
  ControlResult<ConnectionSpec> spec =
      parse_connection_spec("conn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\n", SpecFormat::kAuto);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->connection.auto_action, model::AutoAction::kAdd);
}

struct Refused {
  std::string text;
  std::string says;
};

TEST(ParseConnectionSpec, RefusesWithAPreciseMessage) {
  const Refused cases[] = {
      {"", "empty"},
      {"  \n\t\n", "empty"},
      {"include /etc/ipsec.secrets\nconn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\n",
       "spec:1: 'include' is not allowed"},
      {"config setup\n\tlogfile=/tmp/x\nconn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\n",
       "spec:1: 'config setup' cannot be changed"},
      {"conn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tauto=ignore\n", "auto=ignore"},
      {"conn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\nconn b\n\tleft=192.0.2.1\n\tright=192.0.2.3\n",
       "defines 2 connections (a, b)"},
      {"conn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tbogus=1\n", "spec:4"},
      {"apiVersion: ipsecd.io/v1\nkind: IPsecConnection\nmetadata: {name: x}\nspec: [1\n", "spec:"},
  };
  for (const Refused& c : cases) {
    ControlResult<ConnectionSpec> spec = parse_connection_spec(c.text, SpecFormat::kAuto);
    ASSERT_FALSE(spec) << c.text;
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalid);
    EXPECT_NE(spec.error().message.find(c.says), std::string::npos)
        << "got: " << spec.error().message << "\nwanted: " << c.says;
  }
}

TEST(ListenAddress, Parses) {
  auto v4 = parse_listen_address("127.0.0.1:8080", "--api");
  ASSERT_TRUE(v4) << v4.error();
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  EXPECT_EQ(v4->url(), "http://127.0.0.1:8080");
  auto v6 = parse_listen_address("[::1]:0", "--api");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->str(), "[::1]:0");
  auto name = parse_listen_address("localhost:9810", "--metrics");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "localhost");
}

TEST(ListenAddress, RefusesWithTheOptionName) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:8x",
                          "::1:80", "[::1]80", "[::1", "a b:80"}) {
    auto r = parse_listen_address(bad, "--api");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().rfind("--api " + std::string(bad) + ": ", 0), 0u) << r.error();
  }
}

TEST(StatusJson, ConnectionHasConditionsAndSas) {
  ConnectionStatus s;
  s.name = "west\"x";
  s.origin = "api";
  s.generation = 3;
  s.observed_generation = 2;
  s.intent = Intent::kUp;
  s.auto_action = "start";
  WallTime t = WallTime(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
  s.conditions.set_condition({std::string(kConditionReady),
                              ConditionStatus::kFalse,
                              "PeerNotResponding",
                              "no answer",
                              {},
                              2},
                             t);
  IkeSaStatus ike;
  ike.local_spi = 0x0123456789abcdefULL;
  ike.remote_spi = 1;
  ike.state = "ESTABLISHED";
  ike.established_at = t;
  s.ike_sas.push_back(ike);
  ChildSaStatus child;
  child.spi_in = 0xc0ffee01;
  child.spi_out = 0x10;
  child.bytes_in = 18446744073709551615ULL;
  child.local_ts = {"198.51.100.0/24"};
  s.child_sas.push_back(child);
  std::string json = to_json(s);
  EXPECT_NE(json.find("\"name\":\"west\\\"x\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"generation\":3,\"observedGeneration\":2,\"intent\":\"up\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":"
                      "\"PeerNotResponding\",\"message\":\"no answer\",\"lastTransitionTime\":"
                      "\"2026-01-01T00:00:00Z\",\"observedGeneration\":2}]"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"localSpi\":\"0123456789abcdef\",\"remoteSpi\":\"0000000000000001\""),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"establishedAt\":\"2026-01-01T00:00:00Z\",\"rekeyAt\":null"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"spiIn\":\"c0ffee01\",\"spiOut\":\"00000010\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"bytesIn\":18446744073709551615"), std::string::npos) << json;
  EXPECT_NE(json.find("\"localTs\":[\"198.51.100.0/24\"]"), std::string::npos) << json;
}

TEST(StatusJson, SasCarryTheirRekeyTimesAndCounts) {
  const WallTime t = WallTime(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z
  IkeSaStatus ike;
  ike.state = "REKEYING";
  ike.established_at = t;
  ike.rekey_at = t + std::chrono::hours(1);
  ike.expires_at = t + std::chrono::hours(2);
  ike.rekeys = 3;
  const std::string ike_json = to_json(ike);
  EXPECT_NE(ike_json.find("\"state\":\"REKEYING\""), std::string::npos) << ike_json;
  EXPECT_NE(ike_json.find("\"establishedAt\":\"2026-01-01T00:00:00Z\",\"rekeyAt\":\"2026-01-01T01:"
                          "00:00Z\",\"reauthAt\":null,\"expiresAt\":\"2026-01-01T02:00:00Z\","
                          "\"rekeys\":3}"),
            std::string::npos)
      << ike_json;
  ike.expires_at.reset();
  ike.reauth_at = t + std::chrono::minutes(30);
  EXPECT_NE(to_json(ike).find("\"reauthAt\":\"2026-01-01T00:30:00Z\",\"expiresAt\":null"),
            std::string::npos)
      << to_json(ike);

  ChildSaStatus child;
  child.state = "REKEYED";
  child.expires_at = t + std::chrono::hours(8);
  child.rekeys = 7;
  const std::string child_json = to_json(child);
  EXPECT_NE(child_json.find("\"state\":\"REKEYED\""), std::string::npos) << child_json;
  EXPECT_NE(child_json.find("\"rekeyAt\":null,\"expiresAt\":\"2026-01-01T08:00:00Z\","
                            "\"rekeys\":7}"),
            std::string::npos)
      << child_json;
  // A fresh SA has had no rekeys: 0, not absent.
  EXPECT_NE(to_json(ChildSaStatus{}).find("\"rekeys\":0}"), std::string::npos);
  EXPECT_NE(to_json(IkeSaStatus{}).find("\"rekeys\":0}"), std::string::npos);
}

TEST(StatusJson, ErrorShape) {
  EXPECT_EQ(error_json("not_found", "no \"x\""),
            "{\"error\":{\"code\":\"not_found\",\"message\":\"no \\\"x\\\"\"}}");
}

}  // namespace
}  // namespace ipsecd::controller
