// The certificate store's answers as the API serves them (docs/api.md): each listing,
// the check and the policy groups have the documented members, no more.
#include <gtest/gtest.h>

#include <cpprest/json.h>

#include <chrono>
#include <memory>

#include "controller/api/control.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"

namespace ipsecd::controller {
namespace {

using ipsecd::testing::ec_key;
using ipsecd::testing::kDay;
using ipsecd::testing::make_cert;
using ipsecd::testing::make_crl;
using ipsecd::testing::pem;
using ipsecd::testing::PkeyPtr;
using ipsecd::testing::TempDir;
using ipsecd::testing::X509Ptr;

TEST(CertsJson, ListingsCheckAndGroupsHaveTheContractShape) {
  TempDir tmp("ipsecd-certs-json");
  PkeyPtr ca_key = ec_key();
  PkeyPtr leaf_key = ec_key();
  X509Ptr ca =
      make_cert({"Example CA", 1, -kDay, 3650 * kDay, true, ""}, ca_key.get(), nullptr, nullptr);
  X509Ptr leaf = make_cert({"leaf", 0x1001, -kDay, 365 * kDay, false, "DNS:leaf.example"},
                           leaf_key.get(), ca.get(), ca_key.get());
  tmp.write("cacerts/ca.pem", pem(ca.get()));
  tmp.write("certs/leaf.pem", pem(leaf.get()));
  tmp.write("certs/garbage.pem", "this is not a certificate\n");
  tmp.write("crls/ca.crl", pem(make_crl(ca.get(), ca_key.get(), {0x3003}, 7 * kDay).get()));
  model::Result<std::unique_ptr<CertStore>> opened = CertStore::open(tmp.path());
  ASSERT_TRUE(opened) << opened.error();
  const CertStore& store = *opened.value();

  web::json::value certs = web::json::value::parse(to_json(store.listing(CertKind::kCerts)));
  EXPECT_EQ(certs.at("kind").as_string(), "certs");
  EXPECT_EQ(certs.at("errors").size(), 1u);  // garbage.pem
  const web::json::value& item = certs.at("items").at(0);
  for (const char* key :
       {"file", "format", "subject", "issuer", "serial", "notBefore", "notAfter", "keyType",
        "fingerprintSha256", "isCa", "subjectAltNames", "hasPrivateKey"}) {
    EXPECT_TRUE(item.has_field(key)) << key;
  }
  EXPECT_EQ(item.size(), 12u);
  EXPECT_EQ(item.at("notAfter").as_string().back(), 'Z');

  web::json::value crls = web::json::value::parse(to_json(store.listing(CertKind::kCrls)));
  const web::json::value& crl = crls.at("items").at(0);
  for (const char* key :
       {"file", "issuer", "thisUpdate", "nextUpdate", "revoked", "verified", "verifyError"}) {
    EXPECT_TRUE(crl.has_field(key)) << key;
  }
  EXPECT_EQ(crl.size(), 7u);

  web::json::value check = web::json::value::parse(
      to_json(store.check(std::chrono::hours(24 * 30), std::chrono::system_clock::now())));
  EXPECT_EQ(check.at("window").as_integer(), 2592000);
  for (const char* key : {"kind", "name", "notAfter", "status", "message"}) {
    EXPECT_TRUE(check.at("items").at(0).has_field(key)) << key;
  }
  web::json::value groups = web::json::value::parse(groups_json(store.groups()));
  EXPECT_EQ(groups.at("groups").size(), engine::x509::kPolicyGroupNames.size());
}

}  // namespace
}  // namespace ipsecd::controller
