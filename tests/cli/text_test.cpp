// The pieces of the `ipsec` command that need no daemon: exit code mapping,
// path encoding, time display and tolerance of odd answers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/api_client.h"
#include "cli/certs_text.h"
#include "cli/detail/json_text.h"
#include "cli/exit_codes.h"
#include "cli/status_text.h"

namespace ipsecd::cli {
namespace {

TEST(ExitCodes, FollowTheDocumentedTable) {
  EXPECT_EQ(exit_code_for(200, "", "/v1/status"), kExitOk);
  EXPECT_EQ(exit_code_for(201, "", "/v1/connections"), kExitOk);
  EXPECT_EQ(exit_code_for(400, "invalid", "/v1/connections"), kExitConfigError);
  EXPECT_EQ(exit_code_for(401, "unauthenticated", "/v1/status"), kExitUnreachable);
  EXPECT_EQ(exit_code_for(404, "not_found", "/v1/connections/west:up"), kExitUnknownConnection);
  EXPECT_EQ(exit_code_for(404, "not_found", "/v1/groups"), kExitFailed);
  EXPECT_EQ(exit_code_for(405, "method_not_allowed", "/v1/status"), kExitFailed);
  EXPECT_EQ(exit_code_for(409, "conflict", "/v1/connections"), kExitFailed);
  EXPECT_EQ(exit_code_for(413, "too_large", "/v1/connections"), kExitConfigError);
  EXPECT_EQ(exit_code_for(500, "failed", "/v1/connections/west:up"), kExitFailed);
  EXPECT_EQ(exit_code_for(503, "unavailable", "/readyz"), kExitFailed);
  EXPECT_EQ(exit_code_for(504, "timeout", "/v1/connections/west:up"), kExitTimeout);
}

TEST(ExitCodes, ConflictOnAddSaysAlreadyExists) {
  ApiRequest add{"POST", "/v1/connections", "conn a\n", "text/plain"};
  ApiFailure f = failure_from_response(
      add,
      {409, "Conflict", "{\"error\":{\"code\":\"conflict\",\"message\":\"connection a exists\"}}"});
  EXPECT_EQ(f.exit_code, kExitFailed);
  EXPECT_EQ(f.message, "already exists: connection a exists");
  EXPECT_EQ(f.error_code, "conflict");
}

TEST(PathSegments, ReservedCharactersAreEncoded) {
  EXPECT_EQ(encode_path_segment("west-east_1.x~"), "west-east_1.x~");
  EXPECT_EQ(encode_path_segment("a:b/c d%"), "a%3Ab%2Fc%20d%25");
  EXPECT_EQ(encode_path_segment("\xc3\xa9"), "%C3%A9");
}

TEST(Times, Rfc3339ParsesAndDisplays) {
  EXPECT_EQ(detail::parse_rfc3339("1970-01-01T00:00:00Z"), std::optional<std::time_t>(0));
  EXPECT_EQ(detail::parse_rfc3339("2026-01-01T00:00:00.250Z"),
            std::optional<std::time_t>(1767225600));
  EXPECT_EQ(detail::parse_rfc3339("2026-01-01T02:00:00+02:00"),
            std::optional<std::time_t>(1767225600));
  for (const char* bad : {"", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00",
                          "2026-01-01T00:00:00Zjunk", "yesterday"}) {
    EXPECT_EQ(detail::parse_rfc3339(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(detail::display_time("2026-01-01T00:00:00Z", true), "2026-01-01 00:00:00 UTC");
  EXPECT_EQ(detail::display_time("", true), "-");
  EXPECT_EQ(detail::display_time("soon", true), "soon");
}

TEST(Text, MalformedAnswersFailWithTheReason) {
  auto status = format_status("{", "{\"connections\":[]}", true);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("GET /v1/status is not JSON"), std::string::npos);
  auto conns = format_trafficstatus("{\"connections\": 5}");
  ASSERT_FALSE(conns);
  EXPECT_NE(conns.error().find("no \"connections\" array"), std::string::npos);
  auto listing = format_listing("[]", true);
  ASSERT_FALSE(listing);
  EXPECT_NE(listing.error().find("has no \"items\""), std::string::npos);
  // Fields of the wrong type print as unknown instead of failing.
  auto odd = format_listing("{\"kind\":\"certs\",\"items\":[{\"file\":3,\"isCa\":\"x\"}]}", true);
  ASSERT_TRUE(odd) << odd.error();
  EXPECT_NE(odd->find("  ?\n"), std::string::npos) << *odd;
}

TEST(Text, EmptyListingsSayNone) {
  auto listing = format_listing("{\"kind\":\"cacerts\",\"directory\":\"/d\",\"items\":[]}", true);
  ASSERT_TRUE(listing);
  EXPECT_EQ(*listing, "X.509 CA certificates in /d:\n  (none)\n");
  auto status = format_status("{\"version\":\"1\"}", "{\"connections\":[]}", true);
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("no connections loaded"), std::string::npos) << *status;
  auto traffic = format_trafficstatus("{\"connections\":[]}");
  ASSERT_TRUE(traffic);
  EXPECT_EQ(*traffic, "");
}

TEST(Text, StatusShowsRekeyTimesStatesAndCounts) {
  const std::string conns =
      R"({"connections":[{"name":"west","origin":"api","auto":"start","intent":"none",)"
      R"("generation":1,"observedGeneration":1,"conditions":[],)"
      R"("ikeSas":[{"localSpi":"0000000000000001","remoteSpi":"0000000000000002",)"
      R"("initiator":true,"state":"REKEYING","localAddress":"192.0.2.1:500",)"
      R"("remoteAddress":"192.0.2.2:500","localId":"","remoteId":"","encryption":"AES_GCM_16_256",)"
      R"("integrity":"","prf":"PRF_HMAC_SHA2_256","dhGroup":"DH31",)"
      R"("establishedAt":"2026-01-01T00:00:00Z","rekeyAt":null,)"
      R"("reauthAt":"2026-01-01T01:00:00Z","expiresAt":"2026-01-01T02:00:00Z","rekeys":5}],)"
      R"("childSas":[{"spiIn":"c0ffee01","spiOut":"c0ffee02","reqid":1,"state":"REKEYED",)"
      R"("protocol":"ESP","mode":"tunnel","udpEncapsulated":false,)"
      R"("encryption":"AES_GCM_16_256","integrity":"","dhGroup":"","esn":false,)"
      R"("bytesIn":0,"bytesOut":0,"packetsIn":0,"packetsOut":0,)"
      R"("localTs":["198.51.100.0/24"],"remoteTs":["203.0.113.0/24"],)"
      R"("establishedAt":"2026-01-01T00:00:00Z","rekeyAt":null,)"
      R"("expiresAt":"2026-01-01T08:00:00Z","rekeys":12}],"lastError":""}]})";
  auto status = format_status(R"({"version":"1"})", conns, true);
  ASSERT_TRUE(status) << status.error();
  for (const char* expected :
       {"IKE SA 0000000000000001:0000000000000002 REKEYING initiator",
        "; established 2026-01-01 00:00:00 UTC, rekey -, reauth 2026-01-01 01:00:00 UTC, "
        "expires 2026-01-01 02:00:00 UTC, rekeys 5\n",
        "reqid 1 REKEYED 198.51.100.0/24 === 203.0.113.0/24\n",
        "      established 2026-01-01 00:00:00 UTC, rekey -, expires 2026-01-01 08:00:00 UTC, "
        "rekeys 12\n"}) {
    EXPECT_NE(status->find(expected), std::string::npos) << expected << "\n" << *status;
  }
  // An older daemon without the fields: nothing claims a count it did not send.
  auto old = format_status(
      R"({"version":"1"})",
      R"({"connections":[{"name":"west","ikeSas":[{"state":"ESTABLISHED"}]}]})", true);
  ASSERT_TRUE(old) << old.error();
  EXPECT_NE(old->find("rekey -\n"), std::string::npos) << *old;
  EXPECT_EQ(old->find("rekeys"), std::string::npos) << *old;
  EXPECT_EQ(old->find("expires"), std::string::npos) << *old;
}

}  // namespace
}  // namespace ipsecd::cli

namespace ipsecd::cli {
namespace {

// Runs the bash completion for the words of a command line; the last word is
// the one being completed.
std::string complete(const std::string& words) {
  const char* src = std::getenv("IPSECD_SOURCE_DIR");
  std::string script = std::string(src != nullptr ? src : ".") + "/cli/completion/ipsec.bash";
  std::string cmd = "bash -c 'source " + script + "; COMP_WORDS=(" + words +
                    "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ipsec; echo \"${COMPREPLY[*]}\"'";
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    return "";
  }
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) {
    out += buf;
  }
  ::pclose(pipe);
  return out;
}

TEST(Completion, OperationsOptionsAndConnNames) {
  char tmpl[] = "/tmp/ipsecd-cli-completion-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  std::string conf = "conn %default\n\tikev2=yes\nconn west\n\tleft=192.0.2.1\nconn east\n";
  ASSERT_EQ(::write(fd, conf.data(), conf.size()), static_cast<ssize_t>(conf.size()));
  ::close(fd);
  std::string path = tmpl;
  EXPECT_EQ(complete("ipsec up --config " + path + " \"\""), "west east\n");
  EXPECT_EQ(complete("ipsec auto --config=" + path + " --replace w"), "west\n");
  EXPECT_EQ(complete("ipsec trafficst"), "trafficstatus\n");
  EXPECT_EQ(complete("ipsec auto --rereadc"), "--rereadcacerts --rereadcrls\n");
  EXPECT_EQ(complete("ipsec status --ut"), "--utc\n");
  ::unlink(tmpl);
}

}  // namespace
}  // namespace ipsecd::cli
