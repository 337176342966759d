#include "model/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "model/connection.h"

namespace ipsecd::model {
namespace {

Config parse(std::string_view text) {
  return parse_config_text(text, "ipsec.conf");
}

std::vector<std::string> messages(const Config& c) {
  std::vector<std::string> out;
  for (const Diagnostic& d : c.diagnostics.all()) {
    out.push_back(d.str());
  }
  return out;
}

TEST(Config, ParsesSetupAndConns) {
  Config c = parse(
      "config setup\n"
      "\tuniqueids=yes\n"
      "\n"
      "conn west-east\n"
      "\tleft=192.0.2.1\n"
      "\tright=192.0.2.2\n"
      "\tleftsubnet=198.51.100.0/24\n"
      "\tauto=start\n");
  ASSERT_FALSE(c.diagnostics.has_errors()) << messages(c)[0];
  EXPECT_EQ(c.setup_value("uniqueids"), "yes");
  ASSERT_EQ(c.conns.size(), 1u);
  EXPECT_EQ(c.conns[0].name, "west-east");
  EXPECT_EQ(c.conns[0].get("", Side::kLeft), "192.0.2.1");
  EXPECT_EQ(c.conns[0].get("subnet", Side::kLeft), "198.51.100.0/24");
  EXPECT_EQ(c.conns[0].get("auto"), "start");
}

TEST(Config, CommentsQuotesAndSpacesAroundEquals) {
  Config c = parse(
      "# leading comment\n"
      "conn a # trailing comment\n"
      "    leftid=\"C=CA, O=Example, CN=west\"\n"
      "    rightid=@#0a0b   # a key id keeps its '#'\n"
      "    ike = aes256-sha2\n"
      "\n"
      "# a column-0 comment inside a conn\n"
      "    right=192.0.2.2\n");
  ASSERT_FALSE(c.diagnostics.has_errors()) << messages(c)[0];
  EXPECT_EQ(c.conns[0].get("id", Side::kLeft), "C=CA, O=Example, CN=west");
  EXPECT_EQ(c.conns[0].get("id", Side::kRight), "@#0a0b");
  EXPECT_EQ(c.conns[0].get("ike"), "aes256-sha2");
  EXPECT_EQ(c.conns[0].get("", Side::kRight), "192.0.2.2");
}

TEST(Config, DefaultAppliesToEveryConnWhereverItStands) {
  Config c = parse(
      "conn a\n"
      "\tleft=192.0.2.1\n"
      "conn %default\n"
      "\tleft=192.0.2.9\n"
      "\tikelifetime=1h\n"
      "conn b\n"
      "\tright=192.0.2.2\n");
  ASSERT_FALSE(c.diagnostics.has_errors());
  ASSERT_EQ(c.conns.size(), 2u);
  EXPECT_EQ(c.conns[0].get("", Side::kLeft), "192.0.2.1");  // own value wins
  EXPECT_EQ(c.conns[0].get("ikelifetime"), "1h");
  EXPECT_EQ(c.conns[1].get("", Side::kLeft), "192.0.2.9");
}

TEST(Config, AlsoPrecedenceOwnThenEarlierAlsoThenDefault) {
  Config c = parse(
      "conn %default\n"
      "\tikelifetime=2h\n"
      "\tesp=aes128\n"
      "conn base1\n"
      "\tike=aes256-sha2\n"
      "\tesp=aes256\n"
      "\talso=nested\n"
      "conn base2\n"
      "\tike=aes128-sha1\n"
      "\tikelifetime=3h\n"
      "conn nested\n"
      "\tleftsubnet=198.51.100.0/24\n"
      "conn top\n"
      "\tesp=aes_gcm256\n"
      "\talso=base1\n"
      "\talso=base2\n");
  ASSERT_FALSE(c.diagnostics.has_errors()) << messages(c)[0];
  const ConnSpec* top = c.find_conn("top");
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->get("esp"), "aes_gcm256");
  EXPECT_EQ(top->get("ike"), "aes256-sha2");
  EXPECT_EQ(top->get("ikelifetime"), "3h");
  EXPECT_EQ(top->get("subnet", Side::kLeft), "198.51.100.0/24");
  EXPECT_EQ(top->also, (std::vector<std::string>{"base1", "nested", "base2"}));
}

TEST(Config, AlsoErrorsPointAtTheLine) {
  Config c = parse(
      "conn a\n"
      "\talso=missing\n"
      "conn b\n"
      "\talso=c\n"
      "conn c\n"
      "\talso=b\n");
  auto m = messages(c);
  ASSERT_GE(m.size(), 2u);
  EXPECT_EQ(m[0], "ipsec.conf:2: error: also=missing: no conn named missing is defined");
  EXPECT_NE(m[1].find("forms a cycle"), std::string::npos) << m[1];
}

TEST(Config, AlsoflipSwapsSides) {
  Config c = parse(
      "conn base\n"
      "\tleft=192.0.2.1\n"
      "\tright=192.0.2.2\n"
      "conn mirrored\n"
      "\talsoflip=base\n");
  ASSERT_FALSE(c.diagnostics.has_errors());
  EXPECT_EQ(c.find_conn("mirrored")->get("", Side::kLeft), "192.0.2.2");
}

TEST(Config, UnknownKeywordSuggestsNearest) {
  Config c = parse("conn a\n\tleftsubnt=198.51.100.0/24\n");
  ASSERT_EQ(messages(c).size(), 1u);
  EXPECT_EQ(messages(c)[0],
            "ipsec.conf:2: error: unknown keyword leftsubnt; did you mean leftsubnet?");
}

TEST(Config, KeywordInWrongSection) {
  Config c = parse("config setup\n\tleft=192.0.2.1\n");
  EXPECT_EQ(messages(c).at(0),
            "ipsec.conf:2: error: left belongs in a 'conn' section, not in 'config setup'");
}

TEST(Config, AliasesResolveAndObsoleteWarns) {
  Config c = parse("conn a\n\tkeylife=1h\n\tkeyingtries=3\n");
  ASSERT_FALSE(c.diagnostics.has_errors());
  EXPECT_EQ(c.conns[0].get("ipsec-lifetime"), "1h");
  ASSERT_EQ(c.diagnostics.all().size(), 1u);
  EXPECT_EQ(c.diagnostics.all()[0].str(),
            "ipsec.conf:3: warning: keyword keyingtries is obsolete and ignored");
}

TEST(Config, CaseInsensitiveAndDashForms) {
  Config c = parse("conn a\n\tLeft=192.0.2.1\n\tright-subnet=203.0.113.0/24\n");
  ASSERT_FALSE(c.diagnostics.has_errors()) << messages(c)[0];
  EXPECT_EQ(c.conns[0].get("", Side::kLeft), "192.0.2.1");
  EXPECT_EQ(c.conns[0].get("subnet", Side::kRight), "203.0.113.0/24");
}

TEST(Config, StructuralErrors) {
  EXPECT_EQ(messages(parse("left=192.0.2.1\n")).at(0),
            "ipsec.conf:1: error: unexpected 'left=192.0.2.1' at the start of a line: expected "
            "'conn NAME', 'config setup' or 'include FILE' (settings must be indented)");
  EXPECT_EQ(messages(parse("  left=1\n")).at(0),
            "ipsec.conf:1: error: setting left is outside of any 'config setup' or 'conn' "
            "section");
  EXPECT_EQ(messages(parse("conn\n")).at(0), "ipsec.conf:1: error: 'conn' needs a name: conn NAME");
  EXPECT_EQ(messages(parse("conn a\n\tleftid=\"open\n")).at(0),
            "ipsec.conf:2: error: unterminated quoted value for leftid");
  EXPECT_EQ(messages(parse("conn a\n\tike=aes256, aes128\n")).at(0),
            "ipsec.conf:2: error: value of ike has a space before 'aes128'; put the whole value "
            "in double quotes");
  EXPECT_EQ(messages(parse("conn a\n\tauto\n")).at(0),
            "ipsec.conf:2: error: expected KEYWORD=VALUE, got 'auto'");
  EXPECT_EQ(messages(parse("conn a\nconn a\n")).at(0),
            "ipsec.conf:2: error: conn a is already defined at ipsec.conf:1");
  EXPECT_EQ(messages(parse("conn a\n\tauto=add\n\tauto=start\n")).at(0),
            "ipsec.conf:3: error: auto is set twice in this section (first at line 2); remove "
            "one of them");
}

TEST(Config, InvalidValuesNameTheKeyword) {
  EXPECT_EQ(messages(parse("conn a\n\tauto=sometimes\n")).at(0),
            "ipsec.conf:2: error: auto=sometimes: expected one of ignore, add, ondemand, route, "
            "start, up, keep");
  EXPECT_EQ(messages(parse("conn a\n\tpfs=maybe\n")).at(0),
            "ipsec.conf:2: error: pfs=maybe: expected yes or no");
  EXPECT_EQ(messages(parse("conn a\n\tkeyexchange=ikev1\n")).at(0),
            "ipsec.conf:2: error: keyexchange=ikev1: IKEv1 is not supported (RFC 9395 deprecates "
            "it); use keyexchange=ikev2");
  EXPECT_EQ(messages(parse("conn a\n\tikev2=never\n")).at(0),
            "ipsec.conf:2: error: ikev2=never: IKEv1 is not supported (RFC 9395 deprecates it); "
            "use ikev2=insist (or remove it)");
}

TEST(Config, BothKeyexchangeSpellingsAccepted) {
  EXPECT_FALSE(parse("conn a\n\tkeyexchange=ike\n\tikev2=insist\n").diagnostics.has_errors());
  EXPECT_FALSE(parse("conn a\n\tkeyexchange=ikev2\n").diagnostics.has_errors());
}

TEST(Config, EmptyValueLeavesKeywordUnset) {
  Config c = parse("conn %default\n\tleftid=@x\nconn a\n\tike=\n");
  ASSERT_FALSE(c.diagnostics.has_errors());
  EXPECT_EQ(c.conns[0].get("ike"), "");
  EXPECT_EQ(c.conns[0].find(*keyword_id("ike", Section::kConn)), nullptr);
}

class IncludeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ipsecd-include-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::filesystem::path dir_;
};

TEST_F(IncludeTest, GlobRelativeAndAbsolute) {
  write("ipsec.conf", "config setup\n\tuniqueids=no\ninclude conf.d/*.conf\n");
  write("conf.d/b.conf", "conn b\n\tleft=192.0.2.2\n");
  write("conf.d/a.conf", "conn a\n\tleft=192.0.2.1\ninclude " + (dir_ / "extra").string() + "\n");
  write("extra", "conn c\n\tleft=192.0.2.3\n");
  Config c = parse_config_file((dir_ / "ipsec.conf").string());
  ASSERT_FALSE(c.diagnostics.has_errors()) << messages(c)[0];
  ASSERT_EQ(c.conns.size(), 3u);
  EXPECT_EQ(c.conns[0].name, "a");  // glob results are sorted
  EXPECT_EQ(c.conns[1].name, "c");
  EXPECT_EQ(c.conns[2].name, "b");
  EXPECT_EQ(c.files.size(), 4u);
}

TEST_F(IncludeTest, EmptyGlobIsFineMissingFileIsNot) {
  write("ipsec.conf", "include none.d/*.conf\ninclude missing.conf\n");
  Config c = parse_config_file((dir_ / "ipsec.conf").string());
  ASSERT_EQ(messages(c).size(), 1u);
  EXPECT_NE(messages(c)[0].find(":2: error: included file missing.conf does not exist"),
            std::string::npos)
      << messages(c)[0];
}

TEST_F(IncludeTest, CyclesAndDepthAreReported) {
  write("ipsec.conf", "include a.conf\n");
  write("a.conf", "include ipsec.conf\n");
  Config c = parse_config_file((dir_ / "ipsec.conf").string());
  ASSERT_EQ(messages(c).size(), 1u);
  EXPECT_NE(messages(c)[0].find("a.conf:1: error: include cycle"), std::string::npos)
      << messages(c)[0];

  for (int i = 0; i < 12; ++i) {
    write("d" + std::to_string(i), "include d" + std::to_string(i + 1) + "\n");
  }
  write("d12", "conn deep\n");
  Config deep = parse_config_file((dir_ / "d0").string());
  ASSERT_EQ(messages(deep).size(), 1u);
  EXPECT_NE(messages(deep)[0].find("include nesting deeper than 10 levels"), std::string::npos);
}

TEST(Format, TextAndJson) {
  Config c = parse(
      "config setup\n\tuniqueids=yes\nconn a\n\tleft=192.0.2.1\n\tauto=route\n"
      "\tleftid=\"C=CA, CN=x\"\n");
  ASSERT_FALSE(c.diagnostics.has_errors());
  EXPECT_EQ(format_config_json(c),
            "{\"config setup\": {\"uniqueids\": \"yes\"}, \"conns\": {\"a\": {\"left\": "
            "\"192.0.2.1\", \"leftid\": \"C=CA, CN=x\", \"auto\": \"ondemand\"}}}\n");
  EXPECT_EQ(format_config_text(c),
            "config setup\n\tuniqueids=yes\n\nconn a\n\tleft=192.0.2.1\n\tleftid=\"C=CA, "
            "CN=x\"\n\tauto=ondemand\n");
}

TEST(Connection, BuildsStructuredFieldsAndStableHash) {
  Config c = parse(
      "conn a\n\tleft=192.0.2.1\n\tright=%any\n\tleftsubnet=198.51.100.0/24\n"
      "\trightid=@east.example\n\tauto=start\n\ttype=transport\n\tikelifetime=1h\n"
      "\tauthby=secret\n\tmark=0x10/0xff\n");
  ConnectionSet set = build_connections(c);
  ASSERT_FALSE(set.diagnostics.has_errors());
  const Connection& conn = set.connections.at(0);
  EXPECT_EQ(conn.left.host_kind, HostKind::kAddress);
  EXPECT_EQ(conn.right.host_kind, HostKind::kAny);
  ASSERT_EQ(conn.left.subnets.size(), 1u);
  EXPECT_EQ(conn.left.subnets[0].str(), "198.51.100.0/24");
  EXPECT_EQ(conn.right.id.kind, IdKind::kFqdn);
  EXPECT_EQ(conn.auto_action, AutoAction::kStart);
  EXPECT_EQ(conn.mode, Mode::kTransport);
  EXPECT_EQ(conn.ike_lifetime, std::chrono::seconds(3600));
  EXPECT_EQ(conn.authby, AuthMethod::kPsk);
  ASSERT_TRUE(conn.mark_in.has_value());
  EXPECT_EQ(conn.mark_in->value, 0x10u);

  // Same canonical text, same hash; one changed value, another hash.
  Config again = parse(
      "conn %default\n\tauthby=secret\nconn a\n\tauto=start\n\tleft=192.0.2.1\n\tright=%any\n"
      "\tleftsubnet=198.51.100.0/24\n\trightid=@east.example\n\ttype=transport\n"
      "\tikelifetime=1h\n\tmark=0x10/0xff\n");
  EXPECT_EQ(build_connections(again).connections.at(0).hash, conn.hash);
  Config changed = parse("conn a\n\tleft=192.0.2.3\n");
  EXPECT_NE(build_connections(changed).connections.at(0).hash, conn.hash);
}

std::vector<std::string> messages(const ConnectionSet& set) {
  std::vector<std::string> out;
  for (const Diagnostic& d : set.diagnostics.all()) {
    out.push_back(d.str());
  }
  return out;
}

TEST(Connection, DpdActionIsHoldUnlessSetAsInLibreswan4) {
  ConnectionSet set = build_connections(parse("conn a\n\tleft=192.0.2.1\n\tdpddelay=10\n"));
  ASSERT_EQ(set.connections.size(), 1u);
  EXPECT_EQ(set.connections[0].dpd_action, DpdAction::kHold);
  EXPECT_TRUE(set.diagnostics.all().empty()) << messages(set).at(0);
}

TEST(Connection, DpdActionReadsHoldClearAndRestart) {
  ConnectionSet set =
      build_connections(parse("conn %default\n\tdpddelay=10\nconn h\n\tdpdaction=hold\nconn c\n"
                              "\tdpdaction=clear\nconn r\n\tdpdaction=Restart\n"));
  ASSERT_EQ(set.connections.size(), 3u);
  EXPECT_EQ(set.connections[0].dpd_action, DpdAction::kHold);
  EXPECT_EQ(set.connections[1].dpd_action, DpdAction::kClear);
  EXPECT_EQ(set.connections[2].dpd_action, DpdAction::kRestart);
  EXPECT_TRUE(set.diagnostics.all().empty()) << messages(set).at(0);
  EXPECT_EQ(dpd_action_name(DpdAction::kClear), "clear");
  // Part of the canonical form: changing it is an edit.
  EXPECT_NE(set.connections[0].hash, set.connections[1].hash);
}

TEST(Connection, DpdActionRestartByPeerIsRestartWithAWarning) {
  Config c = parse("conn a\n\tdpddelay=10\n\tdpdaction=restart_by_peer\n");
  ASSERT_FALSE(c.diagnostics.has_errors());
  EXPECT_EQ(messages(c), (std::vector<std::string>{
                             "ipsec.conf:3: warning: dpdaction=restart_by_peer is the obsolete "
                             "spelling of dpdaction=restart, and is read as restart"}));
  ConnectionSet set = build_connections(c);
  ASSERT_EQ(set.connections.size(), 1u);
  EXPECT_EQ(set.connections[0].dpd_action, DpdAction::kRestart);
  // The same canonical form and hash as the current spelling.
  ConnectionSet spelled = build_connections(parse("conn a\n\tdpddelay=10\n\tdpdaction=restart\n"));
  EXPECT_EQ(set.connections[0].canonical(), spelled.connections.at(0).canonical());
  EXPECT_EQ(set.connections[0].hash, spelled.connections.at(0).hash);
}

TEST(Connection, DpdActionBadValueIsAnErrorNamingTheChoices) {
  Config c = parse("conn a\n\tdpdaction=drop\n");
  ASSERT_TRUE(c.diagnostics.has_errors());
  EXPECT_EQ(messages(c).at(0),
            "ipsec.conf:2: error: dpdaction=drop: expected one of hold, clear, restart, "
            "restart_by_peer");
}

TEST(Connection, DpdActionRestartWithRekeyNoIsHoldAsInLibreswan4) {
  ConnectionSet set =
      build_connections(parse("conn a\n\tdpddelay=10\n\trekey=no\n\tdpdaction=restart\n"));
  ASSERT_EQ(set.connections.size(), 1u);
  EXPECT_EQ(set.connections[0].dpd_action, DpdAction::kHold);
  EXPECT_EQ(messages(set), (std::vector<std::string>{
                               "ipsec.conf:4: warning: conn a: dpdaction=restart cannot be used "
                               "with rekey=no; dpdaction=hold is used"}));
}

TEST(Connection, DpdActionWithoutDpdDelayWarnsThatItHasNoEffect) {
  ConnectionSet set = build_connections(parse("conn a\n\tdpdaction=clear\n"));
  ASSERT_EQ(set.connections.size(), 1u);
  EXPECT_EQ(set.connections[0].dpd_action, DpdAction::kClear);
  EXPECT_FALSE(set.diagnostics.has_errors());
  EXPECT_EQ(messages(set),
            (std::vector<std::string>{"ipsec.conf:2: warning: conn a: dpdaction=clear has no "
                                      "effect without dpddelay= (no liveness checks are sent, "
                                      "so no peer is declared dead)"}));
}

TEST(Connection, MixedFamiliesAreRejected) {
  Config c = parse("conn a\n\tleftsubnet=198.51.100.0/24\n\trightsubnet=2001:db8::/64\n");
  ConnectionSet set = build_connections(c);
  ASSERT_EQ(set.diagnostics.all().size(), 1u);
  EXPECT_EQ(set.diagnostics.all()[0].str(),
            "ipsec.conf:1: error: conn a: left and right traffic selectors are of different "
            "address families (IPv4 and IPv6)");
}

}  // namespace
}  // namespace ipsecd::model

namespace ipsecd::model {
namespace {

TEST(Connection, MovingBuildEqualsCopyingBuild) {
  const char* text =
      "conn %default\n\tauthby=secret\n\tike=aes256-sha2;dh19\nconn a\n\tleft=192.0.2.1\n"
      "conn b\n\tleft=192.0.2.2\n\tesp=aes_gcm256\n";
  Config c = parse_config_text(text, "ipsec.conf");
  ConnectionSet copied = build_connections(c);
  ConnectionSet moved = build_connections(parse_config_text(text, "ipsec.conf"));
  ASSERT_EQ(copied.connections.size(), 2u);
  ASSERT_EQ(moved.connections.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(moved.connections[i].canonical(), copied.connections[i].canonical());
    EXPECT_EQ(moved.connections[i].hash, copied.connections[i].hash);
  }
  // Both share one parsed ike= list: it came from %default.
  EXPECT_EQ(copied.connections[0].ike.get(), copied.connections[1].ike.get());
  EXPECT_FALSE(c.conns[0].settings.empty());  // the copying build left its input alone
}

}  // namespace
}  // namespace ipsecd::model

namespace ipsecd::model {
namespace {

// A lattice of also= references (each level names both conns of the next)
// resolves in linear time; every value still arrives once.
TEST(Config, AlsoDiamondsResolveOnce) {
  std::string text = "conn top\n\talso=\"a1 b1\"\n";
  for (int i = 1; i <= 30; ++i) {
    std::string next = std::to_string(i + 1);
    text += "conn a" + std::to_string(i) + "\n\talso=\"a" + next + " b" + next + "\"\n";
    text += "conn b" + std::to_string(i) + "\n\talso=\"a" + next + " b" + next + "\"\n";
  }
  text += "conn a31\n\tconnalias=deep\nconn b31\n\tleft=192.0.2.1\n";
  Config c = parse(text);
  ASSERT_FALSE(c.diagnostics.has_errors()) << messages(c)[0];
  const ConnSpec* top = c.find_conn("top");
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->get("connalias"), "deep");  // appended once, not once per path
  EXPECT_EQ(top->get("", Side::kLeft), "192.0.2.1");
}

TEST_F(IncludeTest, GlobIncludesThatIncludeEachOtherAreBounded) {
  for (int i = 0; i < 8; ++i) {
    write("conf.d/f" + std::to_string(i) + ".conf", "include *.conf\n");
  }
  write("ipsec.conf", "include conf.d/*.conf\n");
  Config c = parse_config_file((dir_ / "ipsec.conf").string());
  ASSERT_TRUE(c.diagnostics.has_errors());
  EXPECT_LE(c.files.size(), 1000u);
}

}  // namespace
}  // namespace ipsecd::model
