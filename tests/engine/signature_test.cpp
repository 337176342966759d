// IKE AUTH signatures (engine/crypto/signature.h): every scheme each way, the legacy
// methods, and the refusals: tampered octets, a hash we did not announce, a key of
// another type, BER where DER is due, and PKCS#1 v1.5 blocks that a lenient parser
// would take (the DigestInfo forgeries of the anchors' CVEs).
#include "engine/crypto/signature.h"

#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <string>
#include <vector>

#include "tests/support/pki.h"

namespace ipsecd::engine::crypto {
namespace {

using ipsecd::testing::ec_key;
using ipsecd::testing::ed25519_key;
using ipsecd::testing::PkeyPtr;
using ipsecd::testing::rsa_key;

const std::vector<SignatureHash> kAll = {SignatureHash::kSha256, SignatureHash::kSha384,
                                         SignatureHash::kSha512, SignatureHash::kIdentity};

std::vector<uint8_t> octets() {
  std::string text = "RealMessage1 | NonceRData | prf(SK_pi, IDi')";
  return {text.begin(), text.end()};
}

struct Keys {
  PkeyPtr rsa = rsa_key();
  PkeyPtr p256 = ec_key("P-256");
  PkeyPtr p384 = ec_key("P-384");
  PkeyPtr p521 = ec_key("P-521");
  PkeyPtr ed25519 = ed25519_key();
  PkeyPtr ed448 = PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
};

const Keys& keys() {
  static const Keys* k = new Keys();  // RSA key generation is slow: once per binary
  return *k;
}

SignatureKey key(const PkeyPtr& p) {
  return SignatureKey::share(p.get());
}

AuthSignature sign_ok(const PkeyPtr& p, const SignPolicy& policy) {
  model::Result<AuthSignature> sig = sign_auth(key(p), octets(), policy);
  EXPECT_TRUE(sig) << sig.error();
  return sig ? std::move(sig).value() : AuthSignature{};
}

TEST(Signature, EverySchemeVerifiesInMethod14) {
  struct Case {
    const PkeyPtr* key;
    bool pss;
    std::string scheme;
  };
  const Keys& k = keys();
  for (const Case& c : std::vector<Case>{
           {&k.rsa, true, "RSASSA-PSS with SHA2-256"},
           {&k.rsa, false, "RSASSA-PKCS1-v1_5 with SHA2-256"},
           {&k.p256, true, "ECDSA with SHA2-256"},
           {&k.p384, true, "ECDSA with SHA2-384"},
           {&k.p521, true, "ECDSA with SHA2-512"},
           {&k.ed25519, true, "Ed25519"},
           {&k.ed448, true, "Ed448"},
       }) {
    SignPolicy policy{kAll, c.pss, true};
    AuthSignature sig = sign_ok(*c.key, policy);
    EXPECT_EQ(sig.method, SignatureMethod::kDigital) << c.scheme;
    EXPECT_EQ(sig.scheme, c.scheme);
    model::Result<std::string> v = verify_auth(key(*c.key), 14, sig.data, octets(), {});
    ASSERT_TRUE(v) << c.scheme << ": " << v.error();
    EXPECT_EQ(*v, c.scheme);
  }
}

TEST(Signature, RsaPssIsTheIdentifierPeersSendAndPlainOpenSslVerifiesIt) {
  const Keys& k = keys();
  AuthSignature sig = sign_ok(k.rsa, {{SignatureHash::kSha256}, true, true});
  // RSASSA-PSS, SHA2-256, MGF1 with SHA2-256, salt 32: the 67 octets libreswan and
  // strongSwan put in method-14 AUTH.
  const std::vector<uint8_t> pss_sha256 = {
      0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
      0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
      0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
      0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
      0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20};
  ASSERT_EQ(sig.data[0], pss_sha256.size());
  EXPECT_EQ(std::vector<uint8_t>(sig.data.begin() + 1, sig.data.begin() + 68), pss_sha256);
  // The signature after it, checked without signature.cpp.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nullptr, k.rsa.get()), 1);
  EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
  EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
  EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
  const std::vector<uint8_t> o = octets();
  EXPECT_EQ(EVP_DigestVerify(ctx, sig.data.data() + 68, sig.data.size() - 68, o.data(), o.size()),
            1);
  EVP_MD_CTX_free(ctx);
}

TEST(Signature, RsaPssParametersMustBeDerToo) {
  const Keys& k = keys();
  AuthSignature sig = sign_ok(k.rsa, {{SignatureHash::kSha256}, true, true});
  const std::vector<uint8_t> ident(sig.data.begin() + 1, sig.data.begin() + 68);
  const std::vector<uint8_t> signature(sig.data.begin() + 68, sig.data.end());
  auto with = [&](std::vector<uint8_t> id) {
    std::vector<uint8_t> data = {static_cast<uint8_t>(id.size())};
    data.insert(data.end(), id.begin(), id.end());
    data.insert(data.end(), signature.begin(), signature.end());
    return verify_auth(key(k.rsa), 14, data, octets(), {});
  };
  ASSERT_TRUE(with(ident));
  // The parameters' SEQUENCE (30 34 at offset 13) with a long-form length: 30 81 34.
  std::vector<uint8_t> ber(ident.begin(), ident.begin() + 14);
  ber[1] += 1;
  ber.push_back(0x81);
  ber.insert(ber.end(), ident.begin() + 14, ident.end());
  model::Result<std::string> r = with(ber);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("RSASSA-PSS parameters are not in DER"), std::string::npos) << r.error();
  // The default trailer field written out: [3] { INTEGER 1 }.
  std::vector<uint8_t> trailer = ident;
  trailer[1] += 5;
  trailer[14] += 5;
  for (uint8_t b : {0xa3, 0x03, 0x02, 0x01, 0x01}) {
    trailer.push_back(b);
  }
  model::Result<std::string> t = with(trailer);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("RSASSA-PSS parameters are not in DER"), std::string::npos) << t.error();
}

TEST(Signature, TheHashFollowsWhatThePeerAnnounced) {
  const Keys& k = keys();
  AuthSignature rsa = sign_ok(k.rsa, {{SignatureHash::kSha512}, true, true});
  EXPECT_EQ(rsa.scheme, "RSASSA-PSS with SHA2-512");
  // P-256's own hash is SHA2-256; a peer with only SHA2-384 gets that.
  AuthSignature ec = sign_ok(k.p256, {{SignatureHash::kSha384}, true, true});
  EXPECT_EQ(ec.scheme, "ECDSA with SHA2-384");
  EXPECT_TRUE(verify_auth(key(k.p256), 14, ec.data, octets(), {}));
}

TEST(Signature, LegacyMethodsWhenThePeerAnnouncesNoHash) {
  const Keys& k = keys();
  struct Case {
    const PkeyPtr* key;
    SignatureMethod method;
    size_t size;  // 0: any
  };
  for (const Case& c : std::vector<Case>{{&k.rsa, SignatureMethod::kRsa, 256},
                                         {&k.p256, SignatureMethod::kEcdsaP256, 64},
                                         {&k.p384, SignatureMethod::kEcdsaP384, 96},
                                         {&k.p521, SignatureMethod::kEcdsaP521, 132}}) {
    AuthSignature sig = sign_ok(*c.key, {{}, true, true});
    EXPECT_EQ(sig.method, c.method);
    EXPECT_EQ(sig.data.size(), c.size);
    model::Result<std::string> v =
        verify_auth(key(*c.key), static_cast<uint8_t>(c.method), sig.data, octets(), {});
    EXPECT_TRUE(v) << v.error();
  }
  model::Result<AuthSignature> ed = sign_auth(key(k.ed25519), octets(), {{}, true, true});
  ASSERT_FALSE(ed);
  EXPECT_NE(ed.error().find("Identity hash (RFC 8420)"), std::string::npos) << ed.error();
  model::Result<AuthSignature> strict = sign_auth(key(k.rsa), octets(), {{}, true, false});
  ASSERT_FALSE(strict);
  EXPECT_NE(strict.error().find("announces no SHA2 hash"), std::string::npos);

  AuthSignature rsa1 = sign_ok(k.rsa, {{}, true, true});
  VerifyPolicy no_legacy;
  no_legacy.legacy = false;
  model::Result<std::string> refused = verify_auth(key(k.rsa), 1, rsa1.data, octets(), no_legacy);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("method 1 (RSA with SHA-1), which is not accepted"),
            std::string::npos);
}

TEST(Signature, RefusalsSayWhy) {
  const Keys& k = keys();
  AuthSignature ec = sign_ok(k.p256, {kAll, true, true});

  std::vector<uint8_t> other = octets();
  other.back() ^= 1;
  model::Result<std::string> tampered = verify_auth(key(k.p256), 14, ec.data, other, {});
  ASSERT_FALSE(tampered);
  EXPECT_EQ(tampered.error(),
            "the ECDSA with SHA2-256 signature does not verify with the peer's EC P-256 key");

  model::Result<std::string> wrong_key = verify_auth(key(k.rsa), 14, ec.data, octets(), {});
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error(), "the AUTH is ECDSA with SHA2-256 but the peer's key is RSA 2048");

  model::Result<std::string> wrong_curve = verify_auth(key(k.p384), 14, ec.data, octets(), {});
  EXPECT_FALSE(wrong_curve);

  VerifyPolicy only_512;
  only_512.hashes = {SignatureHash::kSha512};
  model::Result<std::string> hash = verify_auth(key(k.p256), 14, ec.data, octets(), only_512);
  ASSERT_FALSE(hash);
  EXPECT_NE(hash.error().find("whose hash SHA2-256 we did not announce"), std::string::npos);

  for (size_t n : {size_t{0}, size_t{1}, size_t{12}}) {
    std::vector<uint8_t> cut(ec.data.begin(), ec.data.begin() + static_cast<long>(n));
    model::Result<std::string> r = verify_auth(key(k.p256), 14, cut, octets(), {});
    ASSERT_FALSE(r) << n;
    EXPECT_NE(r.error().find("too few for its AlgorithmIdentifier"), std::string::npos)
        << r.error();
  }
  // The AlgorithmIdentifier alone, no signature after it.
  std::vector<uint8_t> bare(ec.data.begin(), ec.data.begin() + 1 + ec.data[0]);
  model::Result<std::string> none = verify_auth(key(k.p256), 14, bare, octets(), {});
  ASSERT_FALSE(none);

  AuthSignature legacy = sign_ok(k.p256, {{}, true, true});
  legacy.data.pop_back();
  model::Result<std::string> short_rs = verify_auth(key(k.p256), 9, legacy.data, octets(), {});
  ASSERT_FALSE(short_rs);
  EXPECT_NE(short_rs.error().find("has 63 octets, must be 64 (r || s)"), std::string::npos);

  model::Result<std::string> psk = verify_auth(key(k.p256), 2, ec.data, octets(), {});
  ASSERT_FALSE(psk);
  EXPECT_EQ(psk.error(), "AUTH method 2 is not a signature method");
}

TEST(Signature, AlgorithmIdentifiersMustBeDer) {
  const Keys& k = keys();
  AuthSignature sig = sign_ok(k.rsa, {kAll, false, true});
  // 30 0d ... as 30 81 0d ...: the same value in BER's long-form length.
  std::vector<uint8_t> ident(sig.data.begin() + 1, sig.data.begin() + 1 + sig.data[0]);
  ASSERT_EQ(ident[0], 0x30);
  ASSERT_LT(ident[1], 0x80);
  std::vector<uint8_t> ber = {static_cast<uint8_t>(ident.size() + 1), 0x30, 0x81};
  ber.insert(ber.end(), ident.begin() + 1, ident.end());
  ber.insert(ber.end(), sig.data.begin() + 1 + sig.data[0], sig.data.end());
  model::Result<std::string> r = verify_auth(key(k.rsa), 14, ber, octets(), {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("not in DER"), std::string::npos) << r.error();

  // Parameters where the algorithm has none (ecdsa-with-SHA256 with a NULL).
  AuthSignature ec = sign_ok(k.p256, {kAll, true, true});
  std::vector<uint8_t> ec_ident(ec.data.begin() + 1, ec.data.begin() + 1 + ec.data[0]);
  ec_ident[1] += 2;
  ec_ident.push_back(0x05);
  ec_ident.push_back(0x00);
  std::vector<uint8_t> with_null = {static_cast<uint8_t>(ec_ident.size())};
  with_null.insert(with_null.end(), ec_ident.begin(), ec_ident.end());
  with_null.insert(with_null.end(), ec.data.begin() + 1 + ec.data[0], ec.data.end());
  model::Result<std::string> params = verify_auth(key(k.p256), 14, with_null, octets(), {});
  ASSERT_FALSE(params);
  EXPECT_NE(params.error().find("has parameters where"), std::string::npos) << params.error();
}

// A PKCS#1 v1.5 signature over a block of our making: 00 01 FF.. 00 T, T chosen by the
// test, made with the raw RSA private operation.
std::vector<uint8_t> raw_rsa_signature(EVP_PKEY* key, const std::vector<uint8_t>& t) {
  const size_t k = static_cast<size_t>(EVP_PKEY_get_size(key));
  std::vector<uint8_t> em(k, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[k - t.size() - 1] = 0x00;
  std::copy(t.begin(), t.end(), em.end() - static_cast<long>(t.size()));
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  EXPECT_EQ(EVP_PKEY_sign_init(ctx), 1);
  EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
  std::vector<uint8_t> sig(k);
  size_t len = k;
  EXPECT_EQ(EVP_PKEY_sign(ctx, sig.data(), &len, em.data(), em.size()), 1);
  EVP_PKEY_CTX_free(ctx);
  return sig;
}

TEST(Signature, Pkcs1DigestInfoIsComparedExactly) {
  const Keys& k = keys();
  AuthSignature real = sign_ok(k.rsa, {kAll, false, true});
  const std::vector<uint8_t> ident(real.data.begin(), real.data.begin() + 1 + real.data[0]);
  std::vector<uint8_t> digest(32);
  const std::vector<uint8_t> o = octets();
  SHA256(o.data(), o.size(), digest.data());
  auto auth = [&](std::vector<uint8_t> t) {
    std::vector<uint8_t> data = ident;
    t.insert(t.end(), digest.begin(), digest.end());
    std::vector<uint8_t> sig = raw_rsa_signature(k.rsa.get(), t);
    data.insert(data.end(), sig.begin(), sig.end());
    return verify_auth(key(k.rsa), 14, data, o, {});
  };
  const std::vector<uint8_t> der = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                    0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  // The block made by hand verifies when it is the exact encoding: the forgeries below
  // fail for what they change, not for how they were made.
  EXPECT_TRUE(auth(der));
  // The NULL parameters left out.
  EXPECT_FALSE(auth({0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
                     0x02, 0x01, 0x04, 0x20}));
  // A long-form length (BER), room for garbage a lenient parser skips.
  EXPECT_FALSE(auth({0x30, 0x81, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
                     0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}));
  // Parameters that are not NULL (garbage hidden in them).
  EXPECT_FALSE(auth({0x30, 0x33, 0x30, 0x0f, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                     0x03, 0x04, 0x02, 0x01, 0x04, 0x02, 0xde, 0xad, 0x04, 0x20}));
  // Another hash's OID (SHA-1's DigestInfo prefix, SHA2-256 length).
  EXPECT_FALSE(auth(
      {0x30, 0x2d, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x20}));
}

TEST(Signature, HashListRoundTripsAndSkipsWhatItDoesNotKnow) {
  const std::vector<SignatureHash> sent = {SignatureHash::kSha256, SignatureHash::kIdentity};
  std::vector<uint8_t> data = encode_signature_hashes(sent);
  EXPECT_EQ(data, (std::vector<uint8_t>{0, 2, 0, 5}));
  EXPECT_EQ(decode_signature_hashes(data), sent);
  // An unknown hash (0x00ff), a duplicate, 0 and a lone last octet.
  EXPECT_EQ(decode_signature_hashes(std::vector<uint8_t>{0, 0xff, 0, 4, 0, 4, 0, 0, 0, 1, 7}),
            (std::vector<SignatureHash>{SignatureHash::kSha512, SignatureHash::kSha1}));
  EXPECT_TRUE(decode_signature_hashes({}).empty());
}

TEST(Signature, KeysBelow112BitSecurityAreRefused) {
  PkeyPtr weak = rsa_key(1024);
  AuthSignature sig = sign_ok(weak, {kAll, true, true});
  model::Result<std::string> v = verify_auth(key(weak), 14, sig.data, octets(), {});
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(),
            "the peer's RSA 1024 key is too weak (80-bit security; at least 112, as RSA 2048 or "
            "EC P-256)");
}

TEST(Signature, KeysDescribeThemselves) {
  const Keys& k = keys();
  EXPECT_EQ(key(k.rsa).describe(), "RSA 2048");
  EXPECT_EQ(key(k.p521).describe(), "EC P-521");
  EXPECT_EQ(key(k.ed25519).describe(), "Ed25519");
  EXPECT_EQ(SignatureKey().describe(), "no key");
  EXPECT_FALSE(sign_auth(SignatureKey(), octets(), {}));
}

}  // namespace
}  // namespace ipsecd::engine::crypto
