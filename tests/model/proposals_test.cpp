#include "model/proposals.h"

#include <gtest/gtest.h>

#include <string>

namespace ipsecd::model {
namespace {

std::string fmt(ProposalKind kind, std::string_view text) {
  auto r = parse_proposals(kind, text);
  if (!r.ok()) {
    return "ERROR: " + r.error();
  }
  return format_proposals(kind, *r);
}

std::string ike(std::string_view t) {
  return fmt(ProposalKind::kIke, t);
}
std::string esp(std::string_view t) {
  return fmt(ProposalKind::kEsp, t);
}
std::string ah(std::string_view t) {
  return fmt(ProposalKind::kAh, t);
}

void expect_error(ProposalKind kind, std::string_view text,
                  std::initializer_list<std::string_view> fragments) {
  auto r = parse_proposals(kind, text);
  ASSERT_FALSE(r.ok()) << text << " parsed as " << format_proposals(kind, *r);
  for (std::string_view f : fragments) {
    EXPECT_NE(r.error().find(f), std::string::npos)
        << "input: " << text << "\nmessage: " << r.error() << "\nmissing: " << f;
  }
}

constexpr const char* kDefaultDh = "DH19+DH20+DH21+DH31+MODP4096+MODP3072+MODP2048+MODP8192";

TEST(IkeProposalTest, FullySpecified) {
  auto r = parse_proposals(ProposalKind::kIke, "aes256-sha2_256;modp2048");
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->size(), 1u);
  const Proposal& p = (*r)[0];
  ASSERT_EQ(p.encr.size(), 1u);
  EXPECT_EQ(p.encr[0].id, EncrId::kAesCbc);
  EXPECT_EQ(p.encr[0].key_bits, 256);
  EXPECT_EQ(p.prf, std::vector<PrfId>{PrfId::kHmacSha2_256});
  EXPECT_EQ(p.integ, std::vector<IntegId>{IntegId::kHmacSha2_256_128});
  EXPECT_EQ(p.dh, std::vector<DhId>{DhId::kModp2048});
  EXPECT_EQ(format_proposals(ProposalKind::kIke, *r), "AES_CBC_256-HMAC_SHA2_256-MODP2048");
}

TEST(IkeProposalTest, DefaultsFillMissingParts) {
  // libreswan 4.10: PRFs sha2_512+sha2_256, integrity derived from them, its DH list.
  EXPECT_EQ(ike("aes256"), std::string("AES_CBC_256-HMAC_SHA2_512+HMAC_SHA2_256-") + kDefaultDh);
  auto r = parse_proposals(ProposalKind::kIke, "aes256");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].integ,
            (std::vector<IntegId>{IntegId::kHmacSha2_512_256, IntegId::kHmacSha2_256_128}));
  EXPECT_EQ(ike("aes-sha1"), std::string("AES_CBC_256+AES_CBC_128-HMAC_SHA1-") + kDefaultDh);
}

TEST(IkeProposalTest, KeyLengthSpellings) {
  EXPECT_EQ(ike("aes128-sha1;modp2048"), "AES_CBC_128-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("aes_128-sha1;modp2048"), "AES_CBC_128-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("aes-128-sha1;modp2048"), "AES_CBC_128-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("aes_cbc_192-sha1;modp2048"), "AES_CBC_192-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("aes_ctr128-sha1;modp2048"), "AES_CTR_128-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("aes_gcm_16_256;modp2048"), "AES_GCM_16_256-HMAC_SHA2_512+HMAC_SHA2_256-MODP2048");
  EXPECT_EQ(ike("aes_gcm256-sha2;dh19"), "AES_GCM_16_256-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("aes_gcm16_256-sha2;dh19"), "AES_GCM_16_256-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("aes_gcm_c-256-sha2;dh19"), "AES_GCM_16_256-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("aes_gcm_a-128-sha2;dh19"), "AES_GCM_8_128-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("aes_gcm_b-192-sha2;dh19"), "AES_GCM_12_192-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("camellia256-sha2;dh19"), "CAMELLIA_CBC_256-HMAC_SHA2_256-DH19");
}

TEST(IkeProposalTest, AeadHasNoIntegrity) {
  auto r = parse_proposals(ProposalKind::kIke, "aes_gcm-sha2;dh19");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE((*r)[0].integ.empty());
  EXPECT_EQ((*r)[0].encr,
            (std::vector<EncrAlg>{{EncrId::kAesGcm16, 256}, {EncrId::kAesGcm16, 128}}));
  // The four-part form ENCR-INTEG-PRF-DH with integrity "none".
  EXPECT_EQ(ike("aes_gcm_16_128-none-sha1-modp2048"), "AES_GCM_16_128-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("chacha20_poly1305-sha2_512;modp2048"), "CHACHA20_POLY1305-HMAC_SHA2_512-MODP2048");
  EXPECT_EQ(ike("chacha20poly1305-sha2-dh19"), "CHACHA20_POLY1305-HMAC_SHA2_256-DH19");
  expect_error(ProposalKind::kIke, "aes_gcm-sha1_96-sha1-dh19",
               {"AEAD encryption algorithm AES_GCM_16 must have 'none'"});
}

TEST(IkeProposalTest, IntegrityDifferentFromPrfIsPrinted) {
  EXPECT_EQ(ike("aes128-sha1_96-sha2_256-dh19"), "AES_CBC_128-HMAC_SHA1_96-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("aes128-sha2_256_128;dh19"),
            "AES_CBC_128-HMAC_SHA2_256_128-HMAC_SHA2_512+HMAC_SHA2_256-DH19");
  expect_error(ProposalKind::kIke, "aes-none-sha1-dh19",
               {"non-AEAD encryption algorithm AES_CBC cannot have 'none'"});
}

TEST(IkeProposalTest, DhSpellings) {
  EXPECT_EQ(ike("aes128-sha2-dh14"), "AES_CBC_128-HMAC_SHA2_256-MODP2048");
  EXPECT_EQ(ike("aes128-sha2-dh2"), "AES_CBC_128-HMAC_SHA2_256-MODP1024");
  EXPECT_EQ(ike("aes128-sha2-dh5"), "AES_CBC_128-HMAC_SHA2_256-MODP1536");
  EXPECT_EQ(ike("aes128-sha2-modp6144"), "AES_CBC_128-HMAC_SHA2_256-MODP6144");
  EXPECT_EQ(ike("aes128-sha2;ecp256+ecp_384+ecp521"), "AES_CBC_128-HMAC_SHA2_256-DH19+DH20+DH21");
  EXPECT_EQ(ike("aes128-sha2;curve25519"), "AES_CBC_128-HMAC_SHA2_256-DH31");
  EXPECT_EQ(ike("aes128-sha2;x25519"), "AES_CBC_128-HMAC_SHA2_256-DH31");
  EXPECT_EQ(ike("aes128-sha2;dh32"), "AES_CBC_128-HMAC_SHA2_256-DH32");
  EXPECT_EQ(ike("aes_gcm256-sha2;dh19+dh20"), "AES_GCM_16_256-HMAC_SHA2_256-DH19+DH20");
  EXPECT_EQ(ike("aes;dh20"), "AES_CBC_256+AES_CBC_128-HMAC_SHA2_512+HMAC_SHA2_256-DH20");
}

TEST(IkeProposalTest, PrfSpellings) {
  EXPECT_EQ(ike("aes128-sha256;dh19"), "AES_CBC_128-HMAC_SHA2_256-DH19");
  EXPECT_EQ(ike("aes128-sha384;dh19"), "AES_CBC_128-HMAC_SHA2_384-DH19");
  EXPECT_EQ(ike("aes128-sha2_512;dh19"), "AES_CBC_128-HMAC_SHA2_512-DH19");
  EXPECT_EQ(ike("aes128-md5;dh19"), "AES_CBC_128-HMAC_MD5-DH19");
  EXPECT_EQ(ike("aes128-aes_xcbc-modp2048"), "AES_CBC_128-AES_XCBC-MODP2048");
  EXPECT_EQ(ike("aes128-aes_cmac-modp2048"), "AES_CBC_128-AES_CMAC-MODP2048");
  EXPECT_EQ(ike("aes128-sha2_512+sha2_256;dh19"), "AES_CBC_128-HMAC_SHA2_512+HMAC_SHA2_256-DH19");
}

TEST(IkeProposalTest, LegacyIkev1AlgorithmsStillParse) {
  EXPECT_EQ(ike("3des-md5;modp1024"), "3DES_CBC-HMAC_MD5-MODP1024");
  EXPECT_EQ(ike("3des-sha1-modp1536"), "3DES_CBC-HMAC_SHA1-MODP1536");
}

TEST(IkeProposalTest, SeveralProposals) {
  auto r = parse_proposals(ProposalKind::kIke, "aes256-sha2_256;modp2048,aes128-sha1-modp1024");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ(format_proposals(ProposalKind::kIke, *r),
            "AES_CBC_256-HMAC_SHA2_256-MODP2048, AES_CBC_128-HMAC_SHA1-MODP1024");
  // A repeated proposal is dropped; duplicate algorithms inside one are too.
  EXPECT_EQ(ike("aes128-sha1;modp2048,aes128-sha1;modp2048"), "AES_CBC_128-HMAC_SHA1-MODP2048");
  EXPECT_EQ(ike("aes+aes128-sha1+sha1;dh19+dh19"), "AES_CBC_256+AES_CBC_128-HMAC_SHA1-DH19");
  EXPECT_EQ(ike("aes128-sha1;modp2048, 3des-sha1;modp2048"),
            "AES_CBC_128-HMAC_SHA1-MODP2048, 3DES_CBC-HMAC_SHA1-MODP2048");
}

TEST(IkeProposalTest, CaseInsensitiveNames) {
  EXPECT_EQ(ike("AES256-SHA2_256;MODP2048"), "AES_CBC_256-HMAC_SHA2_256-MODP2048");
}

TEST(IkeProposalTest, Errors) {
  expect_error(ProposalKind::kIke, "aes_xyz-sha1",
               {"unknown encryption algorithm \"aes_xyz\" in ike=", "known: aes, aes_ctr, aes_gcm",
                "chacha20_poly1305", "3des"});
  expect_error(ProposalKind::kIke, "aes-sha3",
               {"unknown PRF algorithm \"sha3\"", "known: sha2, sha2_384, sha2_512, sha1"});
  expect_error(ProposalKind::kIke, "aes-sha1_96-sha2-dh25",
               {"unknown DH group \"dh25\"", "known: modp2048"});
  expect_error(ProposalKind::kIke, "aes-sha1;none", {"IKE needs a DH group"});
  expect_error(ProposalKind::kIke, "null-sha1", {"NULL", "ESP only", "known for IKE"});
  expect_error(ProposalKind::kIke, "aes_ccm-sha1", {"AES_CCM_16", "ESP only"});
  expect_error(ProposalKind::kIke, "aes512-sha1", {"invalid key length 512", "128, 192, 256"});
  expect_error(ProposalKind::kIke, "aes-0-sha1", {"key length is zero"});
  expect_error(ProposalKind::kIke, "aes-12x-sha1", {"key length \"12x\" is not a number"});
  expect_error(ProposalKind::kIke, "aes-99999999999999-sha1", {"is not a number"});
  expect_error(ProposalKind::kIke, "3des333-sha1", {"fixed key size"});
  expect_error(ProposalKind::kIke, "aes_gcm+aes-sha1", {"AEAD and non-AEAD"});
  expect_error(ProposalKind::kIke, "", {"ike= is empty"});
  expect_error(ProposalKind::kIke, "aes,,3des", {"empty proposal"});
  expect_error(ProposalKind::kIke, "aes,", {"empty proposal"});
  expect_error(ProposalKind::kIke, "aes--sha1", {"empty algorithm name before '-'"});
  expect_error(ProposalKind::kIke, "aes-sha1-", {"empty algorithm name at the end"});
  expect_error(ProposalKind::kIke, "-aes", {"empty algorithm name"});
  expect_error(ProposalKind::kIke, "aes-sha1-modp2048-dh19", {"unexpected \"dh19\""});
  expect_error(ProposalKind::kIke, "aes-sha2-dh31;addke1=ml_kem_2048",
               {"unknown DH group \"ml_kem_2048\""});
  expect_error(ProposalKind::kIke, std::string(10000, 'a'), {"too long"});
}

TEST(EspProposalTest, DefaultsAndAead) {
  EXPECT_EQ(esp("aes"), "AES_CBC_256+AES_CBC_128-HMAC_SHA2_512_256+HMAC_SHA2_256_128");
  EXPECT_EQ(esp("aes_gcm128,chacha20_poly1305"), "AES_GCM_16_128-NONE, CHACHA20_POLY1305-NONE");
  auto r = parse_proposals(ProposalKind::kEsp, "aes_gcm128");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[0].integ.empty());
  EXPECT_TRUE((*r)[0].prf.empty());
  EXPECT_TRUE((*r)[0].dh.empty());
  EXPECT_EQ(esp("aes_gcm-null"), "AES_GCM_16_256+AES_GCM_16_128-NONE");
  EXPECT_EQ(esp("aes_gcm_16_128-none-none"), "AES_GCM_16_128-NONE-NONE");
  EXPECT_EQ(esp("null_auth_aes_gmac"), "NULL_AUTH_AES_GMAC_256+NULL_AUTH_AES_GMAC_128-NONE");
  EXPECT_EQ(esp("aes_ccm_a-128-null"), "AES_CCM_8_128-NONE");
  EXPECT_EQ(esp("aes_ccm_c-128-null"), "AES_CCM_16_128-NONE");
  EXPECT_EQ(esp("aes_gcm_c-256-null"), "AES_GCM_16_256-NONE");
}

TEST(EspProposalTest, IntegrityAndPfs) {
  EXPECT_EQ(esp("aes256-sha2_512;dh14"), "AES_CBC_256-HMAC_SHA2_512_256-MODP2048");
  EXPECT_EQ(esp("aes-sha1-modp4096"), "AES_CBC_256+AES_CBC_128-HMAC_SHA1_96-MODP4096");
  EXPECT_EQ(esp("aes128-sha2"), "AES_CBC_128-HMAC_SHA2_256_128");
  EXPECT_EQ(esp("aes128-sha2_384"), "AES_CBC_128-HMAC_SHA2_384_192");
  EXPECT_EQ(esp("aes128-aes_xcbc"), "AES_CBC_128-AES_XCBC_96");
  EXPECT_EQ(esp("aes128-aes_cmac"), "AES_CBC_128-AES_CMAC_96");
  EXPECT_EQ(esp("null-md5,null-sha1"), "NULL-HMAC_MD5_96, NULL-HMAC_SHA1_96");
  EXPECT_EQ(esp("3des-md5"), "3DES_CBC-HMAC_MD5_96");
  EXPECT_EQ(esp("camellia-sha1"), "CAMELLIA_CBC_256+CAMELLIA_CBC_128-HMAC_SHA1_96");
  EXPECT_EQ(esp("aes_ctr256-sha1"), "AES_CTR_256-HMAC_SHA1_96");
  EXPECT_EQ(esp("aes;none"), "AES_CBC_256+AES_CBC_128-HMAC_SHA2_512_256+HMAC_SHA2_256_128-NONE");
  auto r = parse_proposals(ProposalKind::kEsp, "aes;ECP_256,aes;none");
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ((*r)[0].dh, std::vector<DhId>{DhId::kEcp256});
  EXPECT_EQ((*r)[1].dh, std::vector<DhId>{DhId::kNone});
}

TEST(EspProposalTest, Errors) {
  expect_error(ProposalKind::kEsp, "null-none",
               {"non-AEAD encryption algorithm NULL cannot have 'none'"});
  expect_error(ProposalKind::kEsp, "aes_gcm-sha1", {"must have 'none'"});
  expect_error(ProposalKind::kEsp, "aes_ccm_a-152-null", {"invalid key length 152", "AES_CCM_8"});
  expect_error(ProposalKind::kEsp, "aes-sha1;modp2048,aes-sha1",
               {"either all or no esp= proposals should specify a DH group"});
  expect_error(ProposalKind::kEsp, "aes-sha1;dh19+none", {"'none' cannot be combined"});
  expect_error(ProposalKind::kEsp, "aes-sha1+none", {"'none' cannot be combined"});
  expect_error(ProposalKind::kEsp, "aes-foo",
               {"unknown integrity algorithm \"foo\" in esp=", "known: sha2"});
  expect_error(ProposalKind::kEsp, "aes256-sha2_256-4096", {"unknown DH group \"4096\""});
  expect_error(ProposalKind::kEsp, "aes-sha1-modp2048-x", {"unexpected \"x\""});
  expect_error(ProposalKind::kEsp, "", {"esp= is empty"});
}

TEST(AhProposalTest, IntegrityOnly) {
  EXPECT_EQ(ah("sha1"), "HMAC_SHA1_96");
  EXPECT_EQ(ah("sha2_256"), "HMAC_SHA2_256_128");
  EXPECT_EQ(ah("md5,sha2_512;dh19"),
            "ERROR: either all or no ah= proposals should specify a "
            "DH group (PFS); add ';GROUP' (or ';none') to every proposal");
  EXPECT_EQ(ah("sha2_512;dh19"), "HMAC_SHA2_512_256-DH19");
  auto r = parse_proposals(ProposalKind::kAh, "sha2");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)[0].encr.empty());
  expect_error(ProposalKind::kAh, "none", {"AH needs an integrity algorithm"});
  expect_error(ProposalKind::kAh, "des", {"unknown integrity algorithm \"des\" in ah="});
}

TEST(ProposalNamesTest, IanaNames) {
  EXPECT_EQ(encr_name(EncrId::kAesGcm16), "AES_GCM_16");
  EXPECT_EQ(encr_name(EncrId::k3Des), "3DES_CBC");
  EXPECT_EQ(prf_name(PrfId::kHmacSha2_384), "HMAC_SHA2_384");
  EXPECT_EQ(integ_name(IntegId::kHmacSha2_512_256), "HMAC_SHA2_512_256");
  EXPECT_EQ(integ_name(IntegId::kNone), "NONE");
  EXPECT_EQ(dh_name(DhId::kEcp384), "DH20");
  EXPECT_EQ(dh_name(DhId::kModp8192), "MODP8192");
  EXPECT_EQ(encr_name(static_cast<EncrId>(999)), "UNKNOWN_ENCR");
}

TEST(ProposalRoundTripTest, FormatParsesBackToTheSameProposals) {
  struct Case {
    ProposalKind kind;
    const char* text;
  } cases[] = {
      {ProposalKind::kIke, "aes256"},
      {ProposalKind::kIke, "aes_gcm-sha2;dh19+dh20,chacha20_poly1305"},
      {ProposalKind::kIke, "aes128-sha1_96-sha2_256-dh19"},
      {ProposalKind::kIke, "aes128-sha2_256_128;dh19"},
      {ProposalKind::kIke, "3des-md5;modp1024,aes_ctr-aes_xcbc;dh31"},
      {ProposalKind::kEsp, "aes"},
      {ProposalKind::kEsp, "aes_gcm128,chacha20_poly1305"},
      {ProposalKind::kEsp, "aes;ECP_256,aes;none"},
      {ProposalKind::kEsp, "null_auth_aes_gmac-none,aes_ccm_b-192"},
      {ProposalKind::kEsp, "null-sha1,camellia_ctr-aes_cmac"},
      {ProposalKind::kAh, "sha1+sha2_512;dh21"},
  };
  for (const auto& c : cases) {
    auto first = parse_proposals(c.kind, c.text);
    ASSERT_TRUE(first.ok()) << c.text << ": " << first.error();
    std::string printed = format_proposals(c.kind, *first);
    auto second = parse_proposals(c.kind, printed);
    ASSERT_TRUE(second.ok()) << printed << ": " << second.error();
    EXPECT_EQ(*second, *first) << c.text << " -> " << printed;
    EXPECT_EQ(format_proposals(c.kind, *second), printed);
  }
}

TEST(ProposalRobustness, ArbitraryInputNeverCrashes) {
  uint32_t seed = 777;
  const char* pieces[] = {"aes", "128",      "_",    "-",           "+",
                          ";",   ",",        "sha2", "none",        "dh19",
                          "gcm", "x",        "0",    "99999999999", "chacha20_poly1305",
                          " ",   "modp2048", "null", "\xff"};
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    seed = seed * 1103515245 + 12345;
    size_t len = (seed >> 16) % 12;
    for (size_t j = 0; j < len; ++j) {
      seed = seed * 1103515245 + 12345;
      s += pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])];
    }
    for (ProposalKind kind : {ProposalKind::kIke, ProposalKind::kEsp, ProposalKind::kAh}) {
      auto r = parse_proposals(kind, s);
      if (r.ok()) {
        auto again = parse_proposals(kind, format_proposals(kind, *r));
        ASSERT_TRUE(again.ok()) << s << " -> " << format_proposals(kind, *r);
        EXPECT_EQ(*again, *r) << s;
      } else {
        EXPECT_FALSE(r.error().empty());
      }
    }
  }
}

}  // namespace
}  // namespace ipsecd::model

namespace ipsecd::model {
namespace {

TEST(ProposalsAddke, Rfc9370AdditionalKeyExchanges) {
  auto p = parse_proposals(ProposalKind::kIke, "aes_gcm;dh19;addke1=ml_kem_768+ecp521;addke2=dh31");
  ASSERT_TRUE(p) << p.error();
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].dh, std::vector<DhId>{DhId::kEcp256});
  ASSERT_EQ((*p)[0].addke.size(), 2u);
  EXPECT_EQ((*p)[0].addke[0], (std::vector<DhId>{DhId::kMlKem768, DhId::kEcp521}));
  EXPECT_EQ((*p)[0].addke[1], std::vector<DhId>{DhId::kCurve25519});
  EXPECT_NE(format_proposals(ProposalKind::kIke, *p).find("ADDKE1=ML_KEM_768+DH21-ADDKE2=DH31"),
            std::string::npos)
      << format_proposals(ProposalKind::kIke, *p);

  auto bad = parse_proposals(ProposalKind::kIke, "aes;dh20;addke8=dh21");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("must be addke1 to addke7"), std::string::npos) << bad.error();
  auto twice = parse_proposals(ProposalKind::kIke, "aes;dh20;addke1=dh21;addke1=dh19");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().find("\"addke1\" is given twice"), std::string::npos) << twice.error();
}

TEST(ProposalsAddke, Rfc5114GroupsParse) {
  auto p = parse_proposals(ProposalKind::kIke, "3des-sha1;dh24");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ((*p)[0].dh, std::vector<DhId>{DhId::kModp2048s256});
}

// One list of AEAD ciphers serves the parser, proposal selection and the SK and
// ESP key layouts; the SK layer once asked only "not AES-CBC".
TEST(Proposals, IsAeadIsTheAeadCiphersOnly) {
  for (EncrId id :
       {EncrId::kAesGcm8, EncrId::kAesGcm12, EncrId::kAesGcm16, EncrId::kAesCcm8, EncrId::kAesCcm12,
        EncrId::kAesCcm16, EncrId::kChaCha20Poly1305, EncrId::kNullAuthAesGmac}) {
    EXPECT_TRUE(is_aead(id)) << encr_name(id);
  }
  for (EncrId id : {EncrId::k3Des, EncrId::kNull, EncrId::kAesCbc, EncrId::kAesCtr,
                    EncrId::kCamelliaCbc, EncrId::kCamelliaCtr}) {
    EXPECT_FALSE(is_aead(id)) << encr_name(id);
  }
  static_assert(is_aead(EncrId::kAesGcm16) && !is_aead(EncrId::kAesCbc));
}

}  // namespace
}  // namespace ipsecd::model
