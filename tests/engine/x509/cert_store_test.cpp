// CertStore over an ipsec.d tree generated at test time with OpenSSL: a CA,
// leaves signed by it (valid, expired, expiring, not yet valid, revoked),
// CRLs good and bad, PEM and DER, garbage, and a private key.
#include "engine/x509/cert_store.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "model/config.h"
#include "model/connection.h"
#include "tests/support/pki.h"
#include "tests/support/temp_dir.h"

namespace ipsecd::engine::x509 {
namespace {

namespace fs = std::filesystem;
using ipsecd::testing::TempDir;
using std::chrono::hours;
using std::chrono::seconds;

using ipsecd::testing::base64;
using ipsecd::testing::CertSpec;
using ipsecd::testing::CertUsage;
using ipsecd::testing::CrlPtr;
using ipsecd::testing::der;
using ipsecd::testing::ec_key;
using ipsecd::testing::ed25519_key;
using ipsecd::testing::kDay;
using ipsecd::testing::make_cert;
using ipsecd::testing::make_crl;
using ipsecd::testing::OpenSslPtr;
using ipsecd::testing::pem;
using ipsecd::testing::PkeyPtr;
using ipsecd::testing::private_pem;
using ipsecd::testing::rsa_key;
using ipsecd::testing::rsasigkey;
using ipsecd::testing::X509Ptr;
using OcspPtr = OpenSslPtr<OCSP_RESPONSE, OCSP_RESPONSE_free>;

void write(const fs::path& path, const std::string& content, fs::perms perms = fs::perms(0644)) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
  fs::permissions(path, perms);
}

template <class T>
const T* find_file(const std::vector<T>& items, const std::string& file) {
  for (const T& item : items) {
    if (item.file == file) {
      return &item;
    }
  }
  return nullptr;
}

const CertCheckItem* find_check(const CertCheck& check, CertKind kind, const std::string& name) {
  for (const CertCheckItem& item : check.items) {
    if (item.kind == kind && item.name == name) {
      return &item;
    }
  }
  return nullptr;
}

bool has_error(const std::vector<std::string>& errors, const std::string& text) {
  for (const std::string& e : errors) {
    if (e.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    out += s + "\n";
  }
  return out;
}

class CertStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_key_ = ec_key().release();
    leaf_key_ = rsa_key().release();
    other_key_ = ec_key().release();
    ed_key_ = ed25519_key().release();
  }
  static void TearDownTestSuite() {
    for (EVP_PKEY* k : {ca_key_, leaf_key_, other_key_, ed_key_}) {
      EVP_PKEY_free(k);
    }
  }

  void SetUp() override {
    ca_ = make_cert({"Example CA", 1, -kDay, 3650 * kDay, true, ""}, ca_key_, nullptr, nullptr);
    leaf_ = make_cert({"leaf", 0x1001, -kDay, 365 * kDay, false,
                       "DNS:leaf.example,IP:192.0.2.1,IP:2001:db8::1,email:leaf@example.org"},
                      leaf_key_, ca_.get(), ca_key_);
    X509Ptr expired =
        make_cert({"old", 0x1002, -30 * kDay, -kDay, false, ""}, other_key_, ca_.get(), ca_key_);
    X509Ptr soon =
        make_cert({"soon", 0x1003, -kDay, 10 * kDay, false, ""}, ed_key_, ca_.get(), ca_key_);
    X509Ptr future = make_cert({"future", 0x1004, 5 * kDay, 365 * kDay, false, ""}, other_key_,
                               ca_.get(), ca_key_);
    X509Ptr revoked = make_cert({"revoked", 0x3003, -kDay, 365 * kDay, false, ""}, other_key_,
                                ca_.get(), ca_key_);
    write(dir_ / "cacerts/ca.pem", pem(ca_.get()));
    write(dir_ / "certs/leaf.pem", pem(leaf_.get()));
    write(dir_ / "certs/expired.der", der(expired.get()));
    write(dir_ / "certs/soon.pem", pem(soon.get()));
    write(dir_ / "certs/future.pem", pem(future.get()));
    write(dir_ / "certs/revoked.crt", pem(revoked.get()));
    write(dir_ / "certs/garbage.pem", "this is not a certificate\n");
    write(dir_ / "certs/.hidden", "editor swap file");
    write(dir_ / "private/leaf.key", private_pem(leaf_key_), fs::perms(0600));

    write(dir_ / "crls/ca.crl", pem(make_crl(ca_.get(), ca_key_, {0x3003}, 7 * kDay).get()));
    // Claims the CA as issuer but is signed by another key.
    write(dir_ / "crls/forged.der", der(make_crl(ca_.get(), other_key_, {0x1001}, 7 * kDay).get()));
    write(dir_ / "crls/stale.crl", der(make_crl(ca_.get(), ca_key_, {}, -kDay).get()));
    X509Ptr unknown_ca =
        make_cert({"Unknown CA", 9, -kDay, kDay * 30, true, ""}, other_key_, nullptr, nullptr);
    write(dir_ / "crls/orphan.crl", pem(make_crl(unknown_ca.get(), other_key_, {}, kDay).get()));

    write(dir_ / "policies/private", "# private\n198.51.100.0/24\n\n192.0.2.7  # one host\n");
    write(dir_ / "policies/clear", "203.0.113.0/24\n203.0.113.0/33\n2001:db8::/32\nnot-an-ip\n");
    write(dir_ / "policies/block", "192.0.2.0/24 198.51.100.0/24\n");
  }
  std::unique_ptr<CertStore> open_store() {
    model::Result<std::unique_ptr<CertStore>> store = CertStore::open(dir_.string());
    EXPECT_TRUE(store) << store.error();
    return store ? std::move(store).value() : nullptr;
  }

  static EVP_PKEY* ca_key_;
  static EVP_PKEY* leaf_key_;
  static EVP_PKEY* other_key_;
  static EVP_PKEY* ed_key_;
  TempDir tmp_{"ipsecd-certs"};
  fs::path dir_ = tmp_.path();
  X509Ptr ca_;
  X509Ptr leaf_;
};

EVP_PKEY* CertStoreTest::ca_key_ = nullptr;
EVP_PKEY* CertStoreTest::leaf_key_ = nullptr;
EVP_PKEY* CertStoreTest::other_key_ = nullptr;
EVP_PKEY* CertStoreTest::ed_key_ = nullptr;

TEST_F(CertStoreTest, ListsCertificatesWithTheirFields) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  CertListing certs = store->listing(CertKind::kCerts);
  EXPECT_EQ(certs.directory, (dir_ / "certs").string());
  ASSERT_EQ(certs.certs.size(), 5u) << join(certs.errors);

  const CertItem* leaf = find_file(certs.certs, "leaf.pem");
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(leaf->format, "PEM");
  EXPECT_EQ(leaf->subject, "O=Example, CN=leaf");
  EXPECT_EQ(leaf->issuer, "O=Example, CN=Example CA");
  EXPECT_EQ(leaf->serial, "1001");
  EXPECT_EQ(leaf->key_type, "RSA 2048");
  EXPECT_FALSE(leaf->is_ca);
  EXPECT_TRUE(leaf->has_private_key);
  EXPECT_EQ(leaf->subject_alt_names,
            (std::vector<std::string>{"DNS:leaf.example", "IP:192.0.2.1", "IP:2001:db8::1",
                                      "email:leaf@example.org"}));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(leaf_.get(), EVP_sha256(), md, &len);
  ASSERT_EQ(len, 32u);
  char first[4];
  std::snprintf(first, sizeof(first), "%02X:", md[0]);
  EXPECT_EQ(leaf->fingerprint_sha256.size(), 32u * 3 - 1);
  EXPECT_EQ(leaf->fingerprint_sha256.substr(0, 3), first);
  EXPECT_LT(leaf->not_before, std::chrono::system_clock::now());
  EXPECT_GT(leaf->not_after, std::chrono::system_clock::now() + hours(24 * 364));

  const CertItem* expired = find_file(certs.certs, "expired.der");
  ASSERT_NE(expired, nullptr);
  EXPECT_EQ(expired->format, "DER");
  EXPECT_EQ(expired->key_type, "EC P-256");
  EXPECT_FALSE(expired->has_private_key);
  EXPECT_EQ(find_file(certs.certs, "soon.pem")->key_type, "Ed25519");

  ASSERT_EQ(certs.errors.size(), 1u) << join(certs.errors);
  EXPECT_EQ(certs.errors[0].rfind("certs/garbage.pem: not a certificate (PEM or DER): ", 0), 0u)
      << certs.errors[0];

  CertListing cacerts = store->listing(CertKind::kCaCerts);
  ASSERT_EQ(cacerts.certs.size(), 1u);
  EXPECT_TRUE(cacerts.certs[0].is_ca);
  EXPECT_EQ(cacerts.certs[0].subject, "O=Example, CN=Example CA");
  EXPECT_EQ(cacerts.certs[0].key_type, "EC P-256");
  EXPECT_TRUE(cacerts.errors.empty()) << join(cacerts.errors);

  // Absent kinds are empty, not errors.
  CertListing acerts = store->listing(CertKind::kACerts);
  EXPECT_TRUE(acerts.certs.empty());
  EXPECT_TRUE(acerts.errors.empty()) << join(acerts.errors);
}

TEST_F(CertStoreTest, CrlsAreVerifiedAgainstCacerts) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  CertListing crls = store->listing(CertKind::kCrls);
  EXPECT_TRUE(crls.errors.empty()) << join(crls.errors);
  ASSERT_EQ(crls.crls.size(), 4u);

  const CrlItem* good = find_file(crls.crls, "ca.crl");
  ASSERT_NE(good, nullptr);
  EXPECT_TRUE(good->verified) << good->verify_error;
  EXPECT_EQ(good->verify_error, "");
  EXPECT_EQ(good->issuer, "O=Example, CN=Example CA");
  ASSERT_EQ(good->revoked.size(), 1u);
  EXPECT_EQ(good->revoked[0].serial, "3003");
  ASSERT_TRUE(good->next_update);
  EXPECT_GT(*good->next_update, good->this_update);

  const CrlItem* forged = find_file(crls.crls, "forged.der");
  ASSERT_NE(forged, nullptr);
  EXPECT_EQ(forged->format, "DER");
  EXPECT_FALSE(forged->verified);
  EXPECT_NE(forged->verify_error.find("does not verify with the key of cacerts/ca.pem"),
            std::string::npos)
      << forged->verify_error;

  const CrlItem* orphan = find_file(crls.crls, "orphan.crl");
  ASSERT_NE(orphan, nullptr);
  EXPECT_FALSE(orphan->verified);
  EXPECT_NE(orphan->verify_error.find("no CA certificate in cacerts/"), std::string::npos);
}

TEST_F(CertStoreTest, CheckSortsCertificatesAndCrlsByStatus) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  auto now = std::chrono::system_clock::now();
  CertCheck check = store->check(hours(24 * 30), now);
  auto status = [&](CertKind kind, const std::string& name) {
    const CertCheckItem* item = find_check(check, kind, name);
    EXPECT_NE(item, nullptr) << name;
    return item != nullptr ? item->status : CertStatus::kOk;
  };
  EXPECT_EQ(status(CertKind::kCerts, "leaf.pem"), CertStatus::kOk);
  EXPECT_EQ(status(CertKind::kCerts, "expired.der"), CertStatus::kExpired);
  EXPECT_EQ(status(CertKind::kCerts, "soon.pem"), CertStatus::kExpiring);
  EXPECT_EQ(status(CertKind::kCerts, "future.pem"), CertStatus::kInvalid);
  EXPECT_EQ(status(CertKind::kCerts, "revoked.crt"), CertStatus::kInvalid);
  EXPECT_EQ(status(CertKind::kCerts, "garbage.pem"), CertStatus::kInvalid);
  EXPECT_EQ(status(CertKind::kCaCerts, "ca.pem"), CertStatus::kOk);
  EXPECT_EQ(status(CertKind::kCrls, "ca.crl"), CertStatus::kExpiring) << "nextUpdate in 7 days";
  EXPECT_EQ(status(CertKind::kCrls, "stale.crl"), CertStatus::kExpired);
  EXPECT_EQ(status(CertKind::kCrls, "forged.der"), CertStatus::kInvalid);

  const CertCheckItem* soon = find_check(check, CertKind::kCerts, "soon.pem");
  EXPECT_NE(soon->message.find("in 9 days"), std::string::npos) << soon->message;
  const CertCheckItem* revoked = find_check(check, CertKind::kCerts, "revoked.crt");
  EXPECT_NE(revoked->message.find("revoked at"), std::string::npos) << revoked->message;
  EXPECT_NE(revoked->message.find("crls/ca.crl"), std::string::npos) << revoked->message;
  EXPECT_NE(find_check(check, CertKind::kCerts, "future.pem")->message.find("not valid before"),
            std::string::npos);
  EXPECT_FALSE(find_check(check, CertKind::kCerts, "garbage.pem")->not_after);
  EXPECT_NE(find_check(check, CertKind::kCrls, "stale.crl")->message.find("fresh CRL"),
            std::string::npos);

  // A smaller window moves the 10-day certificate back to ok; the leaf serial
  // 0x1001 is only "revoked" by the forged CRL, which does not count.
  CertCheck narrow = store->check(hours(24), now);
  EXPECT_EQ(find_check(narrow, CertKind::kCerts, "soon.pem")->status, CertStatus::kOk);
  EXPECT_EQ(find_check(narrow, CertKind::kCerts, "leaf.pem")->status, CertStatus::kOk);
  // Past the CA's lifetime everything is expired.
  CertCheck later = store->check(hours(24), now + hours(24 * 3651));
  EXPECT_EQ(find_check(later, CertKind::kCaCerts, "ca.pem")->status, CertStatus::kExpired);
}

TEST_F(CertStoreTest, ALeafWithABadSignatureIsInvalid) {
  // The subject names the CA as issuer, the signature is another key's.
  X509Ptr forged = make_cert({"forged", 0x4004, -kDay, 365 * kDay, false, ""}, other_key_,
                             ca_.get(), other_key_);
  write(dir_ / "certs/forged.pem", pem(forged.get()));
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  const CertCheck check = store->check(hours(1), std::chrono::system_clock::now());
  const CertCheckItem* item = find_check(check, CertKind::kCerts, "forged.pem");
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->status, CertStatus::kInvalid);
  EXPECT_NE(item->message.find("signature does not verify"), std::string::npos) << item->message;
}

TEST_F(CertStoreTest, PubkeysFromRsasigkeyAndFromCertificates) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  std::string key = rsasigkey(leaf_key_);
  model::ConnectionSet set = model::build_connections(model::parse_config_text(
      "conn west\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tleftid=@west\n\tleftrsasigkey=" + key +
          "\n\trightcert=leaf\n\tauthby=rsasig\n"
          "conn broken\n\tleft=192.0.2.1\n\tright=192.0.2.3\n\tleftrsasigkey=0sAwEAAQ==\n\t"
          "rightcert=missing\n\tauthby=rsasig\n",
      "test.conf"));
  ASSERT_FALSE(set.diagnostics.has_errors()) << set.diagnostics.all().front().str();
  ASSERT_EQ(set.connections.size(), 2u);
  std::vector<const model::Connection*> conns = {&set.connections[0], &set.connections[1]};

  CertListing keys = store->listing(CertKind::kPubkeys, conns);
  ASSERT_EQ(keys.pubkeys.size(), 2u) << join(keys.errors);
  const PubkeyItem& left = keys.pubkeys[0];
  EXPECT_EQ(left.connection, "west");
  EXPECT_EQ(left.side, "left");
  EXPECT_EQ(left.id, "@west");
  EXPECT_EQ(left.key_type, "RSA");
  EXPECT_EQ(left.bits, 2048);
  EXPECT_EQ(left.source, "rsasigkey");
  EXPECT_EQ(left.key_id, key.substr(2, 9)) << "libreswan's key id: the key's first base64 chars";
  const PubkeyItem& right = keys.pubkeys[1];
  EXPECT_EQ(right.side, "right");
  EXPECT_EQ(right.source, "cert");
  EXPECT_EQ(right.id, "O=Example, CN=leaf");
  EXPECT_EQ(right.key_id, left.key_id) << "the same key from a certificate has the same id";
  EXPECT_EQ(right.bits, 2048);

  EXPECT_TRUE(has_error(keys.errors, "conn broken: leftrsasigkey: the RSA modulus has 0 bits"))
      << join(keys.errors);
  EXPECT_TRUE(has_error(keys.errors, "conn broken: rightcert=missing: no certificate"))
      << join(keys.errors);
  EXPECT_FALSE(has_error(keys.errors, key.substr(2, 40))) << "errors do not echo keys";
  EXPECT_FALSE(has_error(keys.errors, "AwEAAQ")) << "not even the refused one";
}

TEST(PubkeyValue, ParsesAndRefusesWithTheReason) {
  PkeyPtr key = rsa_key();
  std::string value = rsasigkey(key.get());
  model::Result<PublicKeySummary> ok = parse_pubkey_value(value);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->bits, 2048);
  EXPECT_EQ(ok->key_id.size(), 9u);
  EXPECT_EQ(ok->key_id.substr(0, 5), "AwEAA");  // e = 65537

  // The same key in hex, with libreswan's '_' separators.
  std::string body = value.substr(2);
  std::string raw(body.size(), '\0');
  int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(body.data()),
                                static_cast<int>(body.size()));
  raw.resize(static_cast<size_t>(decoded) - (body.size() - body.find_last_not_of('=') - 1));
  std::string hex = "0x";
  for (size_t i = 0; i < raw.size(); ++i) {
    char buf[3];
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(raw[i]));
    hex += buf;
    if (i % 4 == 3 && i + 1 < raw.size()) {
      hex += '_';
    }
  }
  model::Result<PublicKeySummary> from_hex = parse_pubkey_value(hex);
  ASSERT_TRUE(from_hex) << from_hex.error();
  EXPECT_EQ(from_hex->key_id, ok->key_id);

  // A DER SubjectPublicKeyInfo (pubkey=) of an EC key.
  PkeyPtr ec = ec_key();
  unsigned char* spki = nullptr;
  int len = i2d_PUBKEY(ec.get(), &spki);
  std::string spki_b64 =
      base64(std::string(reinterpret_cast<char*>(spki), static_cast<size_t>(len)));
  OPENSSL_free(spki);
  model::Result<PublicKeySummary> ec_summary = parse_pubkey_value("0s" + spki_b64);
  ASSERT_TRUE(ec_summary) << ec_summary.error();
  EXPECT_EQ(ec_summary->key_type, "EC P-256");
  EXPECT_EQ(ec_summary->bits, 256);

  struct Bad {
    std::string value, says;
  };
  const Bad bad[] = {
      {"AwEAAQ", "expected 0s followed by base64"},
      {"0s", "0s is not followed by any data"},
      {"0s!!!!", "base64 data: character 3 is not a base64 character"},
      {"0sAw==AAAA", "base64 data: character 5 is padding ('=') before the end"},
      {"0x123", "hex data has an odd number of digits"},
      {"0x12zz", "hex data: character 5 is not a hex digit"},
      // Decoded as ipsec.secrets decodes (model::decode_ttodata), which this
      // parser once accepted: base64 without its padding, padding bits set, a
      // '_' inside a byte.
      {"0sAwEAAQA", "base64 data length is not a multiple of 4"},
      {"0sAx==", "non-zero bits in the padding"},
      {"0x0_3", "hex data: character 4 is not a hex digit"},
      {"0sBQEAAQ==", "runs past the end of the key"},
      {"0sAA==", "ends inside its exponent length"},
      {"0sAAAA", "exponent of length 0"},
      {"0sAQAAAA==", "exponent is zero"},
      {"0sAwEAAQAAAAAA", "the RSA modulus has 0 bits"},
      {"0s" + std::string(20000, 'A'), "characters long"},
  };
  for (const Bad& b : bad) {
    model::Result<PublicKeySummary> r = parse_pubkey_value(b.value);
    ASSERT_FALSE(r) << b.value;
    EXPECT_NE(r.error().find(b.says), std::string::npos) << b.value << ": " << r.error();
  }
}

TEST_F(CertStoreTest, PolicyGroupsWithBadLinesNamedByFileAndLine) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  std::vector<PolicyGroup> groups = store->groups();
  ASSERT_EQ(groups.size(), 5u);
  std::map<std::string, PolicyGroup> by_name;
  for (const PolicyGroup& g : groups) {
    by_name[g.name] = g;
  }
  EXPECT_EQ(by_name["private"].entries,
            (std::vector<std::string>{"198.51.100.0/24", "192.0.2.7/32"}));
  EXPECT_TRUE(by_name["private"].errors.empty()) << join(by_name["private"].errors);
  EXPECT_EQ(by_name["private"].file, (dir_ / "policies/private").string());

  const PolicyGroup& clear = by_name["clear"];
  EXPECT_EQ(clear.entries, (std::vector<std::string>{"203.0.113.0/24", "2001:db8::/32"}));
  ASSERT_EQ(clear.errors.size(), 2u) << join(clear.errors);
  std::string file = (dir_ / "policies/clear").string();
  EXPECT_EQ(clear.errors[0].rfind(file + ":2: subnet \"203.0.113.0/33\": ", 0), 0u)
      << clear.errors[0];
  EXPECT_EQ(clear.errors[1].rfind(file + ":4: subnet \"not-an-ip\": ", 0), 0u) << clear.errors[1];

  ASSERT_EQ(by_name["block"].errors.size(), 1u);
  EXPECT_NE(by_name["block"].errors[0].find(":1: expected one CIDR block or address per line"),
            std::string::npos);
  // Absent files are empty groups.
  EXPECT_TRUE(by_name["private-or-clear"].entries.empty());
  EXPECT_TRUE(by_name["private-or-clear"].errors.empty());

  write(dir_ / "policies/private-or-clear", "192.0.2.128/25\n");
  EXPECT_TRUE(store->groups()[4].entries.empty()) << "nothing changes before a reload";
  std::vector<PolicyGroup> reloaded = store->reload_groups();
  EXPECT_EQ(reloaded[4].entries, (std::vector<std::string>{"192.0.2.128/25"}));
  EXPECT_EQ(store->groups()[4].entries, reloaded[4].entries);
}

TEST_F(CertStoreTest, ReloadReadsTheDiskAgainPerKind) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  X509Ptr extra =
      make_cert({"extra", 0x5005, -kDay, 365 * kDay, false, ""}, other_key_, ca_.get(), ca_key_);
  write(dir_ / "certs/extra.pem", pem(extra.get()));
  fs::remove(dir_ / "certs/garbage.pem");
  fs::remove(dir_ / "crls/forged.der");
  EXPECT_EQ(store->listing(CertKind::kCerts).certs.size(), 5u) << "not before a reload";

  std::vector<CertListing> crls_only = store->reload(CertKind::kCrls);
  ASSERT_EQ(crls_only.size(), 1u);
  EXPECT_EQ(crls_only[0].kind, CertKind::kCrls);
  EXPECT_EQ(crls_only[0].crls.size(), 3u);
  EXPECT_EQ(store->listing(CertKind::kCerts).certs.size(), 5u) << "certs/ was not reread";

  std::vector<CertListing> certs = store->reload(CertKind::kCerts);
  ASSERT_EQ(certs.size(), 1u);
  EXPECT_EQ(certs[0].certs.size(), 6u);
  EXPECT_TRUE(certs[0].errors.empty()) << join(certs[0].errors);
  EXPECT_NE(find_file(certs[0].certs, "extra.pem"), nullptr);

  std::vector<CertListing> all = store->reload(std::nullopt);
  ASSERT_EQ(all.size(), kAllCertKinds.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].kind, kAllCertKinds[i]);
  }
}

TEST_F(CertStoreTest, ReadersDuringReloadsSeeWholeStates) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop) {
      size_t n = store->listing(CertKind::kCerts).certs.size();
      if (n != 5 && n != 6) {
        ++torn;
      }
    }
  });
  X509Ptr extra =
      make_cert({"extra", 0x5005, -kDay, 365 * kDay, false, ""}, other_key_, ca_.get(), ca_key_);
  for (int i = 0; i < 20; ++i) {
    if (i % 2 == 0) {
      write(dir_ / "certs/extra.pem", pem(extra.get()));
    } else {
      fs::remove(dir_ / "certs/extra.pem");
    }
    store->reload(CertKind::kCerts);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(torn, 0);
}

// Certificates, CRLs and keys are read by one reader: what each refused, all refuse.
TEST_F(CertStoreTest, KeysAndCrlsHaveTheCertificatesLimits) {
  PkeyPtr spare = ec_key();
  std::string many;
  for (int i = 0; i < 1001; ++i) {
    many += private_pem(spare.get());
  }
  write(dir_ / "private/many.pem", many, fs::perms(0600));
  unsigned char* der = nullptr;
  const int len = i2d_PrivateKey(spare.get(), &der);
  ASSERT_GT(len, 0);
  write(dir_ / "private/trailing.der",
        std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)) + "xx",
        fs::perms(0600));
  OPENSSL_clear_free(der, static_cast<size_t>(len));
  const std::string crl = pem(make_crl(ca_.get(), ca_key_, {}, 7 * kDay).get());
  std::string crls;
  for (int i = 0; i < 1001; ++i) {
    crls += crl;
  }
  write(dir_ / "crls/many.crl", crls);
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  CertListing certs = store->listing(CertKind::kCerts);
  EXPECT_TRUE(has_error(certs.errors,
                        "private/many.pem: not a private key (PEM or DER): holds "
                        "more than 1000 private keys"))
      << join(certs.errors);
  EXPECT_TRUE(has_error(certs.errors,
                        "private/trailing.der: not a private key (PEM or DER): 2 "
                        "bytes of trailing data after the private key"))
      << join(certs.errors);
  CertListing listed = store->listing(CertKind::kCrls);
  EXPECT_TRUE(has_error(listed.errors,
                        "crls/many.crl: not a CRL (PEM or DER): holds more than "
                        "1000 CRLs"))
      << join(listed.errors);
}

TEST_F(CertStoreTest, PrivateKeysAreMatchedNeverShown) {
  PkeyPtr spare = ec_key();
  write(dir_ / "private/locked.pem", private_pem(spare.get(), "secret-passphrase"),
        fs::perms(0600));
  write(dir_ / "private/open.pem", private_pem(spare.get()), fs::perms(0644));
  write(dir_ / "private/junk.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        fs::perms(0600));
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  CertListing certs = store->listing(CertKind::kCerts);
  EXPECT_TRUE(find_file(certs.certs, "leaf.pem")->has_private_key);
  EXPECT_TRUE(has_error(certs.errors, "private/locked.pem: is an encrypted private key"))
      << join(certs.errors);
  EXPECT_TRUE(has_error(certs.errors,
                        "private/open.pem: is accessible by group or others "
                        "(mode 0644); run chmod 0600"))
      << join(certs.errors);
  EXPECT_TRUE(has_error(certs.errors, "private/junk.key: not a private key (PEM or DER)"))
      << join(certs.errors);
  std::string all = join(certs.errors);
  EXPECT_EQ(all.find("secret-passphrase"), std::string::npos);
  EXPECT_EQ(all.find("BEGIN"), std::string::npos);
}

TEST_F(CertStoreTest, FileSizeAndCountLimits) {
  write(dir_ / "cacerts/huge.pem", std::string(kMaxCertFileBytes + 1, 'A'));
  fs::create_directories(dir_ / "acerts");
  for (size_t i = 0; i <= kMaxCertFiles; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "f%05zu", i);
    std::ofstream(dir_ / "acerts" / name) << "x";
  }
  fs::create_directories(dir_ / "aacerts/nested");
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  CertListing cacerts = store->listing(CertKind::kCaCerts);
  EXPECT_EQ(cacerts.certs.size(), 1u);
  EXPECT_TRUE(has_error(cacerts.errors, "cacerts/huge.pem: is larger than 1048576 bytes"))
      << join(cacerts.errors);
  CertListing acerts = store->listing(CertKind::kACerts);
  EXPECT_TRUE(has_error(acerts.errors,
                        "acerts/: holds more than 10000 files; read the first "
                        "10000 by name and skipped the rest (from f10000)"))
      << acerts.errors.front();
  EXPECT_EQ(acerts.errors.size(), kMaxCertFiles + 1) << "one per unreadable file read, plus one";
  CertListing aacerts = store->listing(CertKind::kAaCerts);
  EXPECT_TRUE(has_error(aacerts.errors, "aacerts/nested: is not a regular file"))
      << join(aacerts.errors);
}

TEST_F(CertStoreTest, OcspCacheHoldsParsedResponsesUntilPurged) {
  std::unique_ptr<CertStore> store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->purge_ocsp(), 0u);
  model::Result<bool> bad = store->add_ocsp_response("x", "not DER");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("not a DER OCSPResponse"), std::string::npos);
  OcspPtr response(OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, nullptr));
  unsigned char* out = nullptr;
  int n = i2d_OCSP_RESPONSE(response.get(), &out);
  std::string der_response(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  ASSERT_TRUE(store->add_ocsp_response("a", der_response));
  ASSERT_TRUE(store->add_ocsp_response("b", der_response));
  ASSERT_TRUE(store->add_ocsp_response("a", der_response));
  EXPECT_EQ(store->ocsp_responses(), 2u);
  EXPECT_EQ(store->purge_ocsp(), 2u);
  EXPECT_EQ(store->ocsp_responses(), 0u);
  EXPECT_EQ(store->purge_ocsp(), 0u);
}

// ---- a peer's certificates (validate_peer)

class PeerValidation : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = make_cert({"Root CA", 1, -60 * kDay, 3650 * kDay, true, ""}, root_key_.get(), nullptr,
                      nullptr);
    inter1_ = make_cert({"Intermediate 1", 2, -60 * kDay, 3650 * kDay, true, ""}, inter1_key_.get(),
                        root_.get(), root_key_.get());
    inter2_ = make_cert({"Intermediate 2", 3, -60 * kDay, 3650 * kDay, true, ""}, inter2_key_.get(),
                        inter1_.get(), inter1_key_.get());
    write(dir_ / "cacerts/root.pem", pem(root_.get()));
  }
  X509Ptr leaf(const CertSpec& spec, X509* issuer, EVP_PKEY* issuer_key,
               const CertUsage& usage = {}) {
    return make_cert(spec, leaf_key_.get(), issuer, issuer_key, usage);
  }
  CertSpec spec(long serial) {
    return {"east", serial, -kDay, 365 * kDay, false, "DNS:east.example"};
  }
  model::Result<PeerCertificate> validate(const std::vector<X509*>& sent,
                                          WallTime now = std::chrono::system_clock::now()) {
    model::Result<std::unique_ptr<CertStore>> store = CertStore::open(dir_.string());
    EXPECT_TRUE(store) << store.error();
    std::vector<std::string> ders;
    for (X509* c : sent) {
      ders.push_back(der(c));
    }
    return store.value()->validate_peer(ders, now);
  }
  std::string refusal(const std::vector<X509*>& sent) {
    model::Result<PeerCertificate> r = validate(sent);
    EXPECT_FALSE(r);
    return r ? std::string("accepted") : r.error();
  }

  PkeyPtr root_key_ = ec_key();
  PkeyPtr inter1_key_ = ec_key();
  PkeyPtr inter2_key_ = ec_key();
  PkeyPtr leaf_key_ = ec_key("P-384");
  TempDir tmp_{"ipsecd-peer"};
  fs::path dir_ = tmp_.path();
  X509Ptr root_, inter1_, inter2_;
};

TEST_F(PeerValidation, AChainOfTwoIntermediatesReachesTheAnchor) {
  X509Ptr end = leaf(spec(0x10), inter2_.get(), inter2_key_.get());
  model::Result<PeerCertificate> r = validate({end.get(), inter2_.get(), inter1_.get()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->subject, "O=Example, CN=east");
  EXPECT_EQ(r->issuer, "O=Example, CN=Intermediate 2");
  EXPECT_EQ(r->serial, "10");
  EXPECT_EQ(r->key.describe(), "EC P-384");
  EXPECT_EQ(r->subject_alt_names, (std::vector<std::string>{"DNS:east.example"}));
  EXPECT_EQ(r->chain,
            (std::vector<std::string>{"O=Example, CN=east", "O=Example, CN=Intermediate 2",
                                      "O=Example, CN=Intermediate 1", "O=Example, CN=Root CA"}));
  // The intermediates in any order.
  EXPECT_TRUE(validate({end.get(), inter1_.get(), inter2_.get()}));
}

TEST_F(PeerValidation, EachRefusalNamesTheCertificateAndTheReason) {
  X509Ptr end = leaf(spec(0x11), inter2_.get(), inter2_key_.get());
  std::string missing = refusal({end.get(), inter2_.get()});
  EXPECT_NE(missing.find("certificate O=Example, CN=Intermediate 2 (on the path of O=Example, "
                         "CN=east): unable to get local issuer certificate: no CA in cacerts/"),
            std::string::npos)
      << missing;

  PkeyPtr other_key = ec_key();
  X509Ptr other_ca =
      make_cert({"Other CA", 9, -kDay, 3650 * kDay, true, ""}, other_key.get(), nullptr, nullptr);
  X509Ptr stranger = leaf(spec(0x12), other_ca.get(), other_key.get());
  EXPECT_NE(refusal({stranger.get()})
                .find("certificate O=Example, CN=east: unable to get local "
                      "issuer certificate: no CA in cacerts/ (or "
                      "certificate the peer sent) has its issuer "
                      "O=Example, CN=Other CA as subject"),
            std::string::npos);
  // The peer's own copy of a CA is not a trust anchor.
  EXPECT_FALSE(validate({stranger.get(), other_ca.get()}));

  X509Ptr expired =
      leaf({"east", 0x13, -30 * kDay, -kDay, false, ""}, root_.get(), root_key_.get());
  std::string e = refusal({expired.get()});
  EXPECT_NE(e.find("certificate O=Example, CN=east: certificate has expired (notAfter "),
            std::string::npos)
      << e;
  X509Ptr future =
      leaf({"east", 0x14, 5 * kDay, 30 * kDay, false, ""}, root_.get(), root_key_.get());
  EXPECT_NE(refusal({future.get()}).find("certificate is not yet valid (notBefore "),
            std::string::npos);
  // Validity is judged at the time asked for: the expired one was fine a week ago.
  EXPECT_TRUE(validate({expired.get()}, std::chrono::system_clock::now() - hours(24 * 7)));

  X509Ptr forged = leaf(spec(0x15), root_.get(), other_key.get());  // root's name, other key
  EXPECT_NE(refusal({forged.get()}).find("certificate signature failure"), std::string::npos);
}

TEST_F(PeerValidation, WeakKeysOnThePathAreRefused) {
  PkeyPtr weak = rsa_key(1024);
  X509Ptr end = make_cert(spec(0x70), weak.get(), root_.get(), root_key_.get());
  std::string r = refusal({end.get()});
  EXPECT_NE(r.find("certificate O=Example, CN=east: EE certificate key too weak"),
            std::string::npos)
      << r;
}

TEST_F(PeerValidation, ARevokedCertificateIsRefusedWithTheCrlsWord) {
  X509Ptr end = leaf(spec(0x20), root_.get(), root_key_.get());
  X509Ptr fine = leaf(spec(0x21), root_.get(), root_key_.get());
  // No CRL for the issuer: no refusal (strictcrlpolicy=no).
  EXPECT_TRUE(validate({end.get()}));
  write(dir_ / "crls/root.crl",
        pem(make_crl(root_.get(), root_key_.get(), {0x20}, 7 * kDay).get()));
  std::string r = refusal({end.get()});
  EXPECT_NE(r.find("certificate O=Example, CN=east: certificate revoked (at "), std::string::npos)
      << r;
  EXPECT_NE(r.find(", by crls/root.crl)"), std::string::npos) << r;
  EXPECT_TRUE(validate({fine.get()}));
  // Intermediates without a CRL of their own stay fine while the root has one.
  X509Ptr deep = leaf(spec(0x22), inter2_.get(), inter2_key_.get());
  EXPECT_TRUE(validate({deep.get(), inter2_.get(), inter1_.get()}));
}

TEST_F(PeerValidation, UsagesAreLibreswans) {
  struct Case {
    std::string eku, key_usage;
    bool ok;
  };
  long serial = 0x30;
  for (const Case& c : std::vector<Case>{{"serverAuth", "", true},
                                         {"clientAuth", "", true},
                                         {"ipsecIKE", "", true},
                                         {"anyExtendedKeyUsage", "", true},
                                         {"emailProtection", "", false},
                                         {"", "digitalSignature", true},
                                         {"", "keyEncipherment", false}}) {
    X509Ptr end = leaf(spec(serial++), root_.get(), root_key_.get(), {c.eku, c.key_usage});
    model::Result<PeerCertificate> r = validate({end.get()});
    EXPECT_EQ(static_cast<bool>(r), c.ok) << c.eku << c.key_usage << (r ? "" : ": " + r.error());
  }
  X509Ptr end = leaf(spec(serial++), root_.get(), root_key_.get(), {"emailProtection", ""});
  EXPECT_EQ(refusal({end.get()}),
            "certificate O=Example, CN=east: its extended key usage allows "
            "none of serverAuth, clientAuth, ipsecIKE");
}

TEST_F(PeerValidation, WhatThePeerSentMustBeDerCertificates) {
  X509Ptr end = leaf(spec(0x40), root_.get(), root_key_.get());
  model::Result<std::unique_ptr<CertStore>> store = CertStore::open(dir_.string());
  ASSERT_TRUE(store);
  const WallTime now = std::chrono::system_clock::now();
  EXPECT_EQ(store.value()->validate_peer({}, now).error(), "the peer sent no certificate");
  std::string trailing = der(end.get()) + "x";
  EXPECT_EQ(store.value()->validate_peer({trailing}, now).error(),
            "certificate 1 of the peer's is not DER X.509: 1 octets after it");
  std::string cut = der(end.get()).substr(0, 40);
  EXPECT_NE(store.value()
                ->validate_peer({der(end.get()), cut}, now)
                .error()
                .find("certificate 2 of the peer's is not DER X.509: "),
            std::string::npos);
  std::vector<std::string> many(kMaxPeerCertificates + 1, der(end.get()));
  EXPECT_EQ(store.value()->validate_peer(many, now).error(),
            "the peer sent 9 certificates; at most 8 are read");
}

// ---- IDs against a certificate (match_identity)

model::Identity id(const std::string& text) {
  model::Result<model::Identity> parsed = model::Identity::parse(text);
  EXPECT_TRUE(parsed) << text << ": " << parsed.error();
  return parsed ? *parsed : model::Identity{};
}

PeerCertificate east_certificate() {
  PeerCertificate c;
  c.subject = "C=CA, O=Example\\, Inc., CN=east, emailAddress=east@example.org";
  c.subject_alt_names = {"DNS:east.example", "email:east@example.org", "IP:192.0.2.2",
                         "IP:2001:db8::2", "DirName:O=Other, CN=alt"};
  return c;
}

TEST(MatchIdentity, DnsAsLibreswanComparesThem) {
  const PeerCertificate c = east_certificate();
  for (const char* same :
       {"C=CA, O=Example\\, Inc., CN=east, emailAddress=east@example.org",
        "CN=east, O=Example\\, Inc., C=CA, E=east@example.org",
        "c=ca, o=EXAMPLE\\, INC., cn=East, email=EAST@example.org", "C=CA, O=*, CN=east, E=*"}) {
    model::Result<std::string> m = match_identity(c, id(same), IdOrigin::kConfigured);
    ASSERT_TRUE(m) << same << ": " << m.error();
    EXPECT_EQ(*m, "subject") << same;
  }
  for (const char* other : {"C=CA, O=Example\\, Inc., CN=west, E=east@example.org",
                            "C=CA, O=Example\\, Inc., CN=east",  // an RDN short
                            "C=CA, O=Example\\, Inc., CN=east, E=east@example.org, OU=x"}) {
    model::Result<std::string> m = match_identity(c, id(other), IdOrigin::kConfigured);
    ASSERT_FALSE(m) << other;
    EXPECT_NE(m.error().find("is not the certificate's subject (C=CA, O=Example\\, Inc., "
                             "CN=east, emailAddress=east@example.org)"),
              std::string::npos)
        << m.error();
  }
  model::Result<std::string> dirname =
      match_identity(c, id("CN=alt, O=Other"), IdOrigin::kConfigured);
  ASSERT_TRUE(dirname) << dirname.error();
  EXPECT_EQ(*dirname, "DirName:O=Other, CN=alt");
}

TEST(MatchIdentity, NamesAndAddressesAgainstSubjectAltNames) {
  const PeerCertificate c = east_certificate();
  struct Case {
    std::string id, matched;
  };
  for (const Case& k : std::vector<Case>{{"@east.example", "DNS:east.example"},
                                         {"@EAST.Example", "DNS:east.example"},
                                         {"east@example.org", "email:east@example.org"},
                                         {"192.0.2.2", "IP:192.0.2.2"},
                                         {"2001:db8:0::2", "IP:2001:db8::2"},
                                         {"%any", "subject"},
                                         {"%fromcert", "subject"}}) {
    model::Result<std::string> m = match_identity(c, id(k.id), IdOrigin::kConfigured);
    ASSERT_TRUE(m) << k.id << ": " << m.error();
    EXPECT_EQ(*m, k.matched) << k.id;
  }
  model::Result<std::string> ip = match_identity(c, id("192.0.2.9"), IdOrigin::kConfigured);
  ASSERT_FALSE(ip);
  EXPECT_EQ(ip.error(),
            "ID 192.0.2.9 is in no subjectAltName of the certificate (DNS:east.example, "
            "email:east@example.org, IP:192.0.2.2, IP:2001:db8::2, DirName:O=Other, CN=alt)");
  EXPECT_FALSE(match_identity(c, id("@west.example"), IdOrigin::kConfigured));
  PeerCertificate bare;
  bare.subject = "CN=bare";
  EXPECT_EQ(match_identity(bare, id("@bare.example"), IdOrigin::kConfigured).error(),
            "ID @bare.example is in no subjectAltName of the certificate (it has none)");
  model::Result<std::string> keyid = match_identity(c, id("@#0a0b0c"), IdOrigin::kConfigured);
  ASSERT_FALSE(keyid);
  EXPECT_NE(keyid.error().find("cannot be proven by a certificate"), std::string::npos);
}

TEST_F(PeerValidation, AValidatedCertificateProvesItsSubjectAndNames) {
  X509Ptr end = make_cert({"east", 0x50, -kDay, 365 * kDay, false, "DNS:east.example,IP:192.0.2.2"},
                          leaf_key_.get(), root_.get(), root_key_.get());
  model::Result<PeerCertificate> r = validate({end.get()});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(match_identity(*r, id("CN=east, O=Example"), IdOrigin::kConfigured).value(), "subject");
  EXPECT_EQ(match_identity(*r, id("@east.example"), IdOrigin::kConfigured).value(),
            "DNS:east.example");
  EXPECT_EQ(match_identity(*r, id("192.0.2.2"), IdOrigin::kConfigured).value(), "IP:192.0.2.2");
  EXPECT_FALSE(match_identity(*r, id("CN=west, O=Example"), IdOrigin::kConfigured));
}

TEST(MatchIdentity, ThePeersIdHasNoWildcardsAndEscapesNeverCollide) {
  const PeerCertificate c = east_certificate();
  EXPECT_TRUE(match_identity(c, id("C=CA, O=*, CN=east, E=*"), IdOrigin::kConfigured));
  EXPECT_FALSE(match_identity(c, id("C=*, O=*, CN=*, E=*"), IdOrigin::kPeer));
  // OpenSSL prints a control character, a trailing blank and quotes escaped: none of
  // them is the plain name.
  for (const char* subject : {"CN=west\\01", "CN=west\\ ", "CN=\\ west", "CN=\\\"west\\\""}) {
    PeerCertificate look_alike;
    look_alike.subject = subject;
    for (const char* wanted : {"CN=west", "CN=west01", "CN=\"west\""}) {
      for (IdOrigin origin : {IdOrigin::kConfigured, IdOrigin::kPeer}) {
        EXPECT_FALSE(match_identity(look_alike, id(wanted), origin))
            << subject << " matched " << wanted;
      }
    }
  }
  PeerCertificate quoted;
  quoted.subject = "CN=west\\, east";
  EXPECT_TRUE(match_identity(quoted, id("CN=\"west, east\""), IdOrigin::kConfigured));
  // libreswan's aliases, in a configured ID only: S is surname (OpenSSL's SN), SN serialNumber.
  PeerCertificate named;
  named.subject = "CN=east, serialNumber=1234";
  EXPECT_TRUE(match_identity(named, id("CN=east, SN=1234"), IdOrigin::kConfigured));
  EXPECT_FALSE(match_identity(named, id("CN=east, S=1234"), IdOrigin::kConfigured));
  EXPECT_FALSE(match_identity(named, id("CN=east, SN=1234"), IdOrigin::kPeer));
  // A wildcard never takes the RDN an exact value needs.
  PeerCertificate two_ous;
  two_ous.subject = "OU=a, OU=b";
  EXPECT_TRUE(match_identity(two_ous, id("OU=*, OU=a"), IdOrigin::kConfigured));
}

TEST_F(PeerValidation, OwnCredentialSignsWhatThePeersValidationAccepts) {
  X509Ptr end = leaf(spec(0x60), inter2_.get(), inter2_key_.get());
  write(dir_ / "certs/east.pem", pem(end.get()));
  write(dir_ / "cacerts/inter1.pem", pem(inter1_.get()));
  write(dir_ / "cacerts/inter2.pem", pem(inter2_.get()));
  model::Result<std::unique_ptr<CertStore>> store = CertStore::open(dir_.string());
  ASSERT_TRUE(store);
  model::Result<OwnCredential> none = store.value()->own_credential("east");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("leftcert=east: " + (dir_ / "certs").string() +
                              "/east.pem has no private key in " + (dir_ / "private").string()),
            std::string::npos)
      << none.error();
  EXPECT_NE(store.value()->own_credential("west").error().find("no certificate of that name"),
            std::string::npos);

  write(dir_ / "private/other.key", private_pem(root_key_.get(), "secret"), fs::perms(0600));
  store.value()->reload(CertKind::kCerts);
  EXPECT_NE(store.value()->own_credential("east").error().find(
                "other.key is encrypted, and ipsecd reads no passphrases"),
            std::string::npos);

  write(dir_ / "private/east.key", private_pem(leaf_key_.get()), fs::perms(0600));
  store.value()->reload(CertKind::kCerts);
  model::Result<OwnCredential> cred = store.value()->own_credential("east.pem");
  ASSERT_TRUE(cred) << cred.error();
  EXPECT_EQ(cred->subject, "O=Example, CN=east");
  EXPECT_EQ(cred->certificate, der(end.get()));
  EXPECT_EQ(cred->intermediates,
            (std::vector<std::string>{der(inter2_.get()), der(inter1_.get())}));

  // What it sends, validated and verified as the peer does.
  std::vector<std::string> sent = {cred->certificate};
  sent.insert(sent.end(), cred->intermediates.begin(), cred->intermediates.end());
  model::Result<PeerCertificate> peer =
      store.value()->validate_peer(sent, std::chrono::system_clock::now());
  ASSERT_TRUE(peer) << peer.error();
  const std::vector<uint8_t> octets = {1, 2, 3, 4};
  crypto::SignPolicy policy;
  policy.peer_hashes = {crypto::SignatureHash::kSha384};
  model::Result<crypto::AuthSignature> sig = crypto::sign_auth(cred->key, octets, policy);
  ASSERT_TRUE(sig) << sig.error();
  model::Result<std::string> v = crypto::verify_auth(peer->key, 14, sig->data, octets, {});
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(*v, "ECDSA with SHA2-384");
}

TEST(CertStoreOpen, MissingDirectoryIsEmptyAFileIsRefused) {
  TempDir dir("ipsecd-certs-open");
  const std::string root = dir / "ipsec.d";
  model::Result<std::unique_ptr<CertStore>> missing = CertStore::open(root);
  ASSERT_TRUE(missing) << missing.error();
  EXPECT_TRUE(missing.value()->listing(CertKind::kCerts).certs.empty());
  EXPECT_TRUE(missing.value()->listing(CertKind::kCerts).errors.empty());
  EXPECT_EQ(missing.value()->groups().size(), 5u);
  std::ofstream(root) << "not a directory";
  model::Result<std::unique_ptr<CertStore>> file = CertStore::open(root);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().find("is not a directory"), std::string::npos);
  EXPECT_FALSE(CertStore::open(""));
}

TEST(CertKinds, NamesRoundTrip) {
  for (CertKind kind : kAllCertKinds) {
    EXPECT_EQ(parse_cert_kind(cert_kind_name(kind)), kind);
  }
  EXPECT_FALSE(parse_cert_kind("CERTS"));
  EXPECT_FALSE(parse_cert_kind(""));
}

}  // namespace
}  // namespace ipsecd::engine::x509
