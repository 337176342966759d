// The certificate, public key, group and OCSP operations against an HTTP
// endpoint answering the shapes the API contract gives for /v1/certs,
// /v1/groups and /v1/ocsp; and the client's own timeout.
#include <gtest/gtest.h>

#include "cli/exit_codes.h"
#include "tests/cli/helpers.h"

namespace ipsecd::cli {
namespace {

using namespace ipsecd::cli::testing;

constexpr const char* kToken = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string cert_listing(const std::string& kind, const std::string& dir) {
  return "{\"kind\":\"" + kind + "\",\"directory\":\"" + dir +
         "\",\"items\":[{\"file\":\"west.pem\",\"format\":\"PEM\",\"subject\":\"CN=west\","
         "\"issuer\":\"CN=Example CA\",\"serial\":\"0a1b\",\"notBefore\":\"2026-01-01T00:00:00Z\","
         "\"notAfter\":\"2027-01-01T00:00:00Z\",\"keyType\":\"EC P-256\","
         "\"fingerprintSha256\":\"AB:CD:EF\",\"isCa\":false,"
         "\"subjectAltNames\":[\"DNS:west.example\",\"IP:192.0.2.1\"],\"hasPrivateKey\":true}],"
         "\"errors\":[\"broken.pem: not a certificate (no PEM block, not DER)\"]}";
}

constexpr const char* kCrls =
    "{\"kind\":\"crls\",\"directory\":\"/etc/ipsec.d/crls\",\"items\":[{\"file\":\"ca.crl\","
    "\"issuer\":\"CN=Example CA\",\"thisUpdate\":\"2026-01-01T00:00:00Z\","
    "\"nextUpdate\":\"2026-02-01T00:00:00Z\",\"revoked\":[{\"serial\":\"0c\","
    "\"revokedAt\":\"2026-01-02T03:04:05Z\"}],\"verified\":false,"
    "\"verifyError\":\"issuer not among the CA certificates\"}],\"errors\":[]}";

constexpr const char* kPubkeys =
    "{\"kind\":\"pubkeys\",\"directory\":\"\",\"items\":[{\"connection\":\"west\","
    "\"side\":\"right\",\"id\":\"@east\",\"keyType\":\"RSA\",\"bits\":3072,"
    "\"keyId\":\"AwEAAbc12\",\"source\":\"rsasigkey\"}],\"errors\":[]}";

constexpr const char* kGroups =
    "{\"groups\":[{\"name\":\"private\",\"file\":\"/etc/ipsec.d/policies/private\","
    "\"entries\":[\"198.51.100.0/24\",\"203.0.113.0/24\"],"
    "\"errors\":[\"/etc/ipsec.d/policies/private:3: not an address or subnet: 'x'\"]}]}";

constexpr const char* kCheck =
    "{\"window\":2592000,\"items\":[{\"kind\":\"certs\",\"name\":\"west.pem\","
    "\"notAfter\":\"2026-01-10T00:00:00Z\",\"status\":\"expiring\","
    "\"message\":\"expires in 9 days\"},{\"kind\":\"cacerts\",\"name\":\"old-ca.pem\","
    "\"notAfter\":\"2025-01-01T00:00:00Z\",\"status\":\"expired\",\"message\":\"expired\"},"
    "{\"kind\":\"certs\",\"name\":\"fresh.pem\",\"notAfter\":\"2030-01-01T00:00:00Z\","
    "\"status\":\"ok\",\"message\":\"\"}]}";

class CertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = dir_.path() + "/state";
    http_.write_state_dir(state_dir_, kToken);
    for (const char* kind : {"certs", "cacerts", "acerts", "aacerts"}) {
      http_.answer(std::string("GET /v1/certs?kind=") + kind, 200,
                   cert_listing(kind, std::string("/etc/ipsec.d/") + kind));
      http_.answer(
          std::string("POST /v1/certs:reload?kind=") + kind, 200,
          "{\"reloaded\":[" + cert_listing(kind, std::string("/etc/ipsec.d/") + kind) + "]}");
    }
    http_.answer("GET /v1/certs?kind=crls", 200, kCrls);
    http_.answer("POST /v1/certs:reload?kind=crls", 200,
                 std::string("{\"reloaded\":[") + kCrls + "]}");
    http_.answer("GET /v1/certs?kind=pubkeys", 200, kPubkeys);
    http_.answer(
        "POST /v1/certs:reload", 200,
        "{\"reloaded\":[" + cert_listing("certs", "/etc/ipsec.d/certs") + "," + kCrls + "]}");
    http_.answer("POST /v1/certs:check", 200, kCheck);
    http_.answer("GET /v1/groups", 200, kGroups);
    http_.answer("POST /v1/groups:reload", 200, kGroups);
    http_.answer("POST /v1/ocsp:purge", 200, "{\"purged\":4}");
    http_.answer("POST /v1/secrets:reload", 200, "{\"secrets\":2,\"warnings\":[]}");
  }

  CliRun autorun(std::vector<std::string> args) {
    args.insert(args.end(), {"--state-dir", state_dir_, "--utc"});
    return run_auto(args);
  }

  std::vector<std::string> targets() {
    std::vector<std::string> out;
    for (const FakeHttp::Seen& s : http_.seen()) {
      out.push_back(s.method + " " + s.target);
    }
    return out;
  }

  TempDir dir_;
  FakeHttp http_;
  std::string state_dir_;
};

TEST_F(CertsTest, ListcertsPrintsEachCertificate) {
  CliRun r = autorun({"--listcerts"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  for (const char* expected :
       {"X.509 end certificates in /etc/ipsec.d/certs:", "  west.pem (PEM)", "subject:    CN=west",
        "issuer:     CN=Example CA", "serial:     0a1b",
        "validity:   2026-01-01 00:00:00 UTC .. 2027-01-01 00:00:00 UTC",
        "key:        EC P-256, private key present", "CA:         no",
        "altNames:   DNS:west.example, IP:192.0.2.1", "SHA-256:    AB:CD:EF",
        "error: broken.pem: not a certificate"}) {
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << "\n" << r.out;
  }
  ASSERT_EQ(http_.seen().size(), 1u);
  EXPECT_EQ(http_.seen()[0].target, "/v1/certs?kind=certs");
  EXPECT_EQ(http_.seen()[0].authorization, std::string("Bearer ") + kToken);
}

TEST_F(CertsTest, EveryListAndRereadUsesItsRoute) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--listcacerts", "GET /v1/certs?kind=cacerts"},
      {"--listacerts", "GET /v1/certs?kind=acerts"},
      {"--listaacerts", "GET /v1/certs?kind=aacerts"},
      {"--listcrls", "GET /v1/certs?kind=crls"},
      {"--listpubkeys", "GET /v1/certs?kind=pubkeys"},
      {"--rereadcacerts", "POST /v1/certs:reload?kind=cacerts"},
      {"--rereadcrls", "POST /v1/certs:reload?kind=crls"},
      {"--rereadacerts", "POST /v1/certs:reload?kind=acerts"},
      {"--rereadaacerts", "POST /v1/certs:reload?kind=aacerts"},
      {"--checkpubkeys", "POST /v1/certs:check"},
      {"--listgroups", "GET /v1/groups"},
      {"--rereadgroups", "POST /v1/groups:reload"},
      {"--purgeocsp", "POST /v1/ocsp:purge"},
  };
  for (const auto& [option, route] : cases) {
    size_t before = http_.seen().size();
    CliRun r = autorun({option});
    EXPECT_EQ(r.code, kExitOk) << option << ": " << r.err;
    ASSERT_EQ(http_.seen().size(), before + 1) << option;
    EXPECT_EQ(targets().back(), route) << option;
    // The libreswan-5 spelling sends the same and prints the same.
    CliRun spelled = run_spelling(option.substr(2), {"--state-dir", state_dir_, "--utc"});
    EXPECT_EQ(spelled.code, r.code) << option;
    EXPECT_EQ(spelled.out, r.out) << option;
    EXPECT_EQ(targets().back(), route) << option;
    // And --json prints the answer as JSON.
    CliRun json = autorun({option, "--json"});
    EXPECT_EQ(json.code, kExitOk) << option;
    EXPECT_TRUE(parses_as_json(json.out)) << option << ": " << json.out;
  }
}

TEST_F(CertsTest, CrlsPubkeysGroupsCheckAndPurgeRead) {
  CliRun crls = autorun({"--listcrls"});
  EXPECT_NE(crls.out.find("updates:    this 2026-01-01 00:00:00 UTC, next 2026-02-01 00:00:00 UTC"),
            std::string::npos)
      << crls.out;
  EXPECT_NE(crls.out.find("signature:  NOT verified: issuer not among the CA certificates"),
            std::string::npos)
      << crls.out;
  EXPECT_NE(crls.out.find("serial 0c at 2026-01-02 03:04:05 UTC"), std::string::npos) << crls.out;

  CliRun keys = autorun({"--listpubkeys"});
  EXPECT_NE(keys.out.find("west right: id @east, RSA 3072 bits, keyid AwEAAbc12 (from rsasigkey)"),
            std::string::npos)
      << keys.out;

  CliRun groups = autorun({"--listgroups"});
  EXPECT_NE(groups.out.find("private (/etc/ipsec.d/policies/private): 2 entries\n"
                            "    198.51.100.0/24\n    203.0.113.0/24\n"),
            std::string::npos)
      << groups.out;
  EXPECT_NE(groups.out.find("error: /etc/ipsec.d/policies/private:3:"), std::string::npos);

  CliRun check = autorun({"--checkpubkeys"});
  EXPECT_NE(check.out.find("3 certificates checked for expiry within 30 days (2592000 s): 2 "
                           "expiring, expired or invalid\n"),
            std::string::npos)
      << check.out;
  EXPECT_EQ(check.out.find("fresh.pem"), std::string::npos) << "ok ones are not listed";
  EXPECT_NE(check.out.find("expiring  certs    west.pem    notAfter 2026-01-10 00:00:00 UTC"),
            std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find("expired   cacerts  old-ca.pem"), std::string::npos) << check.out;

  CliRun purge = autorun({"--purgeocsp"});
  EXPECT_EQ(purge.out, "purged 4 cached OCSP responses\n");

  CliRun reread = autorun({"--rereadcrls"});
  EXPECT_NE(reread.out.find(
                "reloaded X.509 certificate revocation lists from /etc/ipsec.d/crls: 1 loaded, 0 "
                "errors"),
            std::string::npos)
      << reread.out;
}

TEST_F(CertsTest, ListallAndRereadallCoverEveryKind) {
  CliRun all = autorun({"--listall"});
  ASSERT_EQ(all.code, kExitOk) << all.err;
  EXPECT_EQ(targets(),
            (std::vector<std::string>{"GET /v1/certs?kind=pubkeys", "GET /v1/certs?kind=certs",
                                      "GET /v1/certs?kind=cacerts", "GET /v1/certs?kind=acerts",
                                      "GET /v1/certs?kind=aacerts", "GET /v1/certs?kind=crls",
                                      "GET /v1/groups"}));
  EXPECT_NE(all.out.find("Public keys:"), std::string::npos);
  EXPECT_NE(all.out.find("Policy groups:"), std::string::npos);

  CliRun json = autorun({"--listall", "--json"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  web::json::value v = web::json::value::parse(json.out);
  for (const char* key : {"pubkeys", "certs", "cacerts", "acerts", "aacerts", "crls", "groups"}) {
    EXPECT_TRUE(v.has_field(key)) << key;
  }

  size_t before = http_.seen().size();
  CliRun reread = autorun({"--rereadall"});
  ASSERT_EQ(reread.code, kExitOk) << reread.err;
  std::vector<std::string> sent = targets();
  EXPECT_EQ(std::vector<std::string>(sent.begin() + static_cast<long>(before), sent.end()),
            (std::vector<std::string>{"POST /v1/secrets:reload", "POST /v1/certs:reload",
                                      "POST /v1/groups:reload"}));
  EXPECT_NE(reread.out.find("reloaded secrets: 2 entries"), std::string::npos) << reread.out;
  EXPECT_NE(reread.out.find("reloaded X.509 end certificates from /etc/ipsec.d/certs: 1 loaded"),
            std::string::npos)
      << reread.out;
  CliRun reread_json = autorun({"--rereadall", "--json"});
  web::json::value r = web::json::value::parse(reread_json.out);
  EXPECT_EQ(r.at("secrets").at("secrets").as_integer(), 2);
  EXPECT_TRUE(r.at("certs").has_field("reloaded"));
  EXPECT_TRUE(r.at("groups").has_field("groups"));
}

TEST_F(CertsTest, SeveralOperationsRunInOrder) {
  CliRun r = autorun({"--listcacerts", "--listcrls"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(targets(),
            (std::vector<std::string>{"GET /v1/certs?kind=cacerts", "GET /v1/certs?kind=crls"}));
  EXPECT_LT(r.out.find("CA certificates"), r.out.find("revocation lists"));
}

TEST_F(CertsTest, ShowonlySendsNothing) {
  for (const char* op : {"--listall", "--rereadall", "--purgeocsp", "--checkpubkeys",
                         "--listgroups", "--status", "--ready"}) {
    CliRun r = autorun({"--showonly", op});
    EXPECT_EQ(r.code, kExitOk) << op;
    EXPECT_FALSE(r.out.empty()) << op;
  }
  EXPECT_TRUE(http_.seen().empty()) << targets().front();
}

TEST_F(CertsTest, ARouteTheDaemonDoesNotServeFailsSayingSo) {
  http_.answer("GET /v1/certs?kind=certs", 404,
               "{\"error\":{\"code\":\"not_found\",\"message\":\"no resource at /v1/certs\"}}");
  CliRun r = autorun({"--listcerts"});
  EXPECT_EQ(r.code, kExitFailed);
  EXPECT_NE(r.err.find("the daemon does not serve GET /v1/certs?kind=certs"), std::string::npos)
      << r.err;
}

TEST_F(CertsTest, ErrorAnswersMapToExitCodes) {
  http_.answer("POST /v1/certs:reload?kind=crls", 400,
               "{\"error\":{\"code\":\"invalid\",\"message\":\"kind=crls: bad\"}}");
  EXPECT_EQ(autorun({"--rereadcrls"}).code, kExitConfigError);
  http_.answer("POST /v1/ocsp:purge", 500,
               "{\"error\":{\"code\":\"failed\",\"message\":\"cache locked\"}}");
  CliRun failed = autorun({"--purgeocsp"});
  EXPECT_EQ(failed.code, kExitFailed);
  EXPECT_NE(failed.err.find("ipsec auto --purgeocsp: cache locked"), std::string::npos)
      << failed.err;
  http_.answer("GET /v1/groups", 502, "<html>bad gateway</html>");
  CliRun odd = autorun({"--listgroups"});
  EXPECT_EQ(odd.code, kExitFailed);
  EXPECT_NE(odd.err.find("HTTP 502"), std::string::npos) << odd.err;
  http_.answer("POST /v1/certs:check", 200, "not json");
  CliRun garbled = autorun({"--checkpubkeys"});
  EXPECT_EQ(garbled.code, kExitFailed);
  EXPECT_NE(garbled.err.find("is not JSON"), std::string::npos) << garbled.err;
}

TEST_F(CertsTest, NoAnswerWithinTheTimeoutIsExit6) {
  http_.delay(std::chrono::milliseconds(2500));
  CliRun r = autorun({"--listgroups", "--timeout", "1"});
  EXPECT_EQ(r.code, kExitTimeout) << r.err;
  EXPECT_NE(r.err.find("no answer from the daemon"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("within 1 s"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ipsecd::cli
