// IKEv2 crypto suite against published vectors (RFC 2202, RFC 4231, RFC 3602,
// McGrew-Viega GCM, RFC 8439, RFC 5903, RFC 7748, NIST CAVS IKEv2 KDF) and by
// behaviour: both sides agree, tampering is caught, bad peer values are refused.

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/crypto/auth.h"
#include "engine/crypto/key_exchange.h"
#include "engine/crypto/keys.h"
#include "engine/crypto/prf.h"
#include "engine/crypto/random.h"
#include "engine/crypto/secret.h"
#include "engine/crypto/sk_cipher.h"
#include "engine/wire/message.h"

namespace ipsecd::engine::crypto {
namespace {

using Bytes = std::vector<uint8_t>;
using model::DhId;
using model::EncrId;
using model::IntegId;
using model::PrfId;

Bytes hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (char c : text) {
    int v = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (v < 0) {
      continue;  // spaces and line breaks as printed in the RFCs
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

Bytes bytes_of(std::span<const uint8_t> s) {
  return {s.begin(), s.end()};
}

Bytes text(std::string_view s) {
  return {s.begin(), s.end()};
}

Prf make_prf(PrfId id) {
  auto prf = Prf::create(id);
  EXPECT_TRUE(prf.ok()) << prf.error();
  return std::move(prf).value();
}

// ---- Secret

TEST(Secret, CopiesExplicitlyMovesEmptyAndNeverPrintsItsBytes) {
  Secret a(Bytes{1, 2, 3});
  Secret b = a.copy();
  EXPECT_TRUE(a == b);
  Secret c = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is wiped and empty
  EXPECT_TRUE(c == b);
  EXPECT_EQ(c.str(), "<redacted 3 bytes>");
  EXPECT_EQ(bytes_of(c.slice(1, 2).span()), (Bytes{2, 3}));
  EXPECT_FALSE(c == Secret(Bytes{1, 2, 4}));
}

// ---- PRF

struct HmacVector {
  PrfId prf;
  Bytes key;
  Bytes data;
  Bytes mac;
};

TEST(Prf, MatchesRfc2202AndRfc4231) {
  const Bytes k20(20, 0x0b);
  const Bytes k131(131, 0xaa);
  const Bytes hi = text("Hi There");
  const Bytes jefe = text("Jefe");
  const Bytes what = text("what do ya want for nothing?");
  const Bytes big = text("Test Using Larger Than Block-Size Key - Hash Key First");
  const HmacVector vectors[] = {
      // RFC 2202 test cases 1 and 2.
      {PrfId::kHmacSha1, k20, hi, hex("b617318655057264e28bc0b6fb378c8ef146be00")},
      {PrfId::kHmacSha1, jefe, what, hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")},
      // RFC 4231 test cases 1, 2 and 6.
      {PrfId::kHmacSha2_256, k20, hi,
       hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")},
      {PrfId::kHmacSha2_384, k20, hi,
       hex("afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
           "faea9ea9076ede7f4af152e8b2fa9cb6")},
      {PrfId::kHmacSha2_512, k20, hi,
       hex("87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
           "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854")},
      {PrfId::kHmacSha2_256, jefe, what,
       hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")},
      {PrfId::kHmacSha2_384, jefe, what,
       hex("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
           "8e2240ca5e69e2c78b3239ecfab21649")},
      {PrfId::kHmacSha2_512, jefe, what,
       hex("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
           "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")},
      {PrfId::kHmacSha2_256, k131, big,
       hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")},
  };
  for (const auto& v : vectors) {
    Prf prf = make_prf(v.prf);
    EXPECT_EQ(prf.size(), v.mac.size());
    EXPECT_EQ(bytes_of(prf.compute(v.key, {v.data}).span()), v.mac)
        << "PRF " << static_cast<int>(v.prf);
    // Pieces are the same as their concatenation.
    std::span<const uint8_t> d(v.data);
    EXPECT_EQ(bytes_of(prf.compute(v.key, {d.first(3), d.subspan(3)}).span()), v.mac);
  }
}

TEST(Prf, RefusesAlgorithmsItDoesNotImplement) {
  auto prf = Prf::create(PrfId::kAes128Xcbc);
  ASSERT_FALSE(prf.ok());
  EXPECT_NE(prf.error().find("PRF transform 4 is not supported"), std::string::npos);
  EXPECT_FALSE(Prf::create(PrfId::kHmacMd5).ok());
}

TEST(Prf, PlusChainsBlocksAsRfc7296Section2_13Says) {
  Prf prf = make_prf(PrfId::kHmacSha2_256);
  const Bytes key = hex("000102030405060708090a0b0c0d0e0f");
  const Bytes seed = text("seed");
  // T1 = prf(K, S | 0x01), T2 = prf(K, T1 | S | 0x02), T3 = prf(K, T2 | S | 0x03)
  const Bytes one{1}, two{2}, three{3};
  Secret t1 = prf.compute(key, {seed, one});
  Secret t2 = prf.compute(key, {t1, seed, two});
  Secret t3 = prf.compute(key, {t2, seed, three});
  Bytes expected = bytes_of(t1.span());
  expected.insert(expected.end(), t2.span().begin(), t2.span().end());
  expected.insert(expected.end(), t3.span().begin(), t3.span().begin() + 5);
  EXPECT_EQ(bytes_of(prf.plus(key, {seed}, 69).span()), expected);
  EXPECT_EQ(prf.plus(key, {seed}, 0).size(), 0u);
}

// ---- Key derivation

// NIST CAVS SP 800-135 IKEv2 KDF, HMAC-SHA1 (as run in libreswan's CAVP tool).
TEST(Keys, MatchCavsIkev2KdfVectorForSha1) {
  const Bytes g_ir = hex("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52");
  const Bytes g_ir_new = hex("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330");
  const Bytes ni = hex("32b50d5f4a3763f3");
  const Bytes nr = hex("9206a04b26564cb1");
  const uint64_t spi_i = 0x34c9e7c188868785ull;
  const uint64_t spi_r = 0x3ff77d760d2b2199ull;
  const Bytes dkm = hex(
      "a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062768b7660"
      "6f9fa5e992204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702c979fa280870d2ed"
      "41efa9c549fd11198af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435a7a56cc4");
  const Bytes dkm_child = hex(
      "8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd9560b2d5e0"
      "92d1f24e2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20"
      "754a2d883ba0c2cf285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e664994d234cb4");
  const Bytes dkm_child_dh = hex(
      "bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232eab4b3ab14"
      "c400a5197dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8b"
      "bb5ffb7857240f9a05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054d56fd74c");
  ASSERT_EQ(dkm.size(), 132u);

  Prf prf = make_prf(PrfId::kHmacSha1);
  Secret skeyseed = ike_skeyseed(prf, ni, nr, g_ir);
  EXPECT_EQ(bytes_of(skeyseed.span()), hex("a9a7b222b59f8f48645f28a1db5b5f5d7479cba7"));

  // DKM split as the seven keys: 3 * 20 (SK_d, SK_pi, SK_pr) + 2 * 20 + 2 * 16 = 132.
  const KeyLengths lengths{16, 20};
  IkeKeys keys = expand_ike_keys(prf, skeyseed, lengths, ni, nr, spi_i, spi_r);
  Bytes joined;
  for (const Secret* k :
       {&keys.sk_d, &keys.sk_ai, &keys.sk_ar, &keys.sk_ei, &keys.sk_er, &keys.sk_pi, &keys.sk_pr}) {
    joined.insert(joined.end(), k->span().begin(), k->span().end());
  }
  EXPECT_EQ(joined, dkm);
  IkeKeys direct = derive_ike_keys(prf, lengths, ni, nr, g_ir, spi_i, spi_r);
  EXPECT_TRUE(direct.sk_pr == keys.sk_pr);

  // CHILD SA KEYMAT of 132 octets = 2 * (46 + 20).
  const KeyLengths esp{46, 20};
  auto child_bytes = [](const ChildKeys& c) {
    Bytes b;
    for (const Secret* k : {&c.encr_i, &c.integ_i, &c.encr_r, &c.integ_r}) {
      b.insert(b.end(), k->span().begin(), k->span().end());
    }
    return b;
  };
  EXPECT_EQ(child_bytes(derive_child_keys(prf, keys.sk_d, esp, {}, ni, nr)), dkm_child);
  EXPECT_EQ(child_bytes(derive_child_keys(prf, keys.sk_d, esp, g_ir_new, ni, nr)), dkm_child_dh);

  EXPECT_EQ(bytes_of(rekey_skeyseed(prf, keys.sk_d, g_ir_new, ni, nr).span()),
            hex("63e81194946ebd05df7df5ebf5d8750056bf1f1d"));
}

TEST(Keys, LengthsIncludeSaltsAndRefuseBadCombinations) {
  EXPECT_EQ(*key_lengths(EncrId::kAesGcm16, 256, IntegId::kNone), (KeyLengths{36, 0}));
  EXPECT_EQ(*key_lengths(EncrId::kAesGcm16, 128, IntegId::kNone), (KeyLengths{20, 0}));
  EXPECT_EQ(*key_lengths(EncrId::kChaCha20Poly1305, 0, IntegId::kNone), (KeyLengths{36, 0}));
  EXPECT_EQ(*key_lengths(EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128), (KeyLengths{16, 32}));
  EXPECT_EQ(*key_lengths(EncrId::kAesCbc, 256, IntegId::kHmacSha1_96), (KeyLengths{32, 20}));
  EXPECT_EQ(*key_lengths(EncrId::kAesCtr, 128, IntegId::kHmacSha2_512_256), (KeyLengths{20, 64}));
  EXPECT_EQ(*key_lengths(EncrId::kAesCcm16, 192, IntegId::kNone), (KeyLengths{27, 0}));

  auto no_len = key_lengths(EncrId::kAesCbc, 0, IntegId::kHmacSha2_256_128);
  ASSERT_FALSE(no_len.ok());
  EXPECT_NE(no_len.error().find("Key Length of 128, 192 or 256"), std::string::npos);
  auto aead_integ = key_lengths(EncrId::kAesGcm16, 128, IntegId::kHmacSha2_256_128);
  ASSERT_FALSE(aead_integ.ok());
  EXPECT_NE(aead_integ.error().find("takes no integrity"), std::string::npos);
  EXPECT_FALSE(key_lengths(EncrId::kAesCbc, 128, IntegId::kNone).ok());
  EXPECT_FALSE(key_lengths(EncrId::kChaCha20Poly1305, 128, IntegId::kNone).ok());
}

// ---- Key exchange

struct KnownAnswer {
  DhId group;
  Bytes i, gi, r, gr, gir;
};

TEST(KeyExchange, MatchesRfc5903AndRfc7748Vectors) {
  const KnownAnswer vectors[] = {
      {DhId::kEcp256, hex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433"),
       hex("DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
           "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3"),
       hex("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53"),
       hex("D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
           "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB"),
       hex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")},
      {DhId::kEcp384,
       hex("099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655"
           "E35B538041E649EE3FAEF896783AB194"),
       hex("667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6"
           "DE3AC808ACB4BDB4C88732AEE95F41AA9482ED1FC0EEB9CAFC4984625CCFC23F"
           "65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C"),
       hex("41CB0779B4BDB85D47846725FBEC3C9430FAB46CC8DC5060855CC9BDA0AA2942"
           "E0308312916B8ED2960E4BD55A7448FC"),
       hex("E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D"
           "0D1AC43A0336DEF96FDA41D0774A3571DCFBEC7AACF3196472169E838430367F"
           "66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C"),
       hex("11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4"
           "D603135569B9E9D09CF5D4A270F59746")},
      {DhId::kEcp521,
       hex("0037ADE9319A89F4DABDB3EF411AACCCA5123C61ACAB57B5393DCE47608172A0"
           "95AA85A30FE1C2952C6771D937BA9777F5957B2639BAB072462F68C27A57382D4A52"),
       hex("0015417E84DBF28C0AD3C278713349DC7DF153C897A1891BD98BAB4357C9ECBE"
           "E1E3BF42E00B8E380AEAE57C2D107564941885942AF5A7F4601723C4195D176CED3E"
           "017CAE20B6641D2EEB695786D8C946146239D099E18E1D5A514C739D7CB4A10A"
           "D8A788015AC405D7799DC75E7B7D5B6CF2261A6A7F1507438BF01BEB6CA3926F9582"),
       hex("0145BA99A847AF43793FDD0E872E7CDFA16BE30FDC780F97BCCC3F078380201E"
           "9C677D600B343757A3BDBF2A3163E4C2F869CCA7458AA4A4EFFC311F5CB151685EB9"),
       hex("00D0B3975AC4B799F5BEA16D5E13E9AF971D5E9B984C9F39728B5E5739735A21"
           "9B97C356436ADC6E95BB0352F6BE64A6C2912D4EF2D0433CED2B6171640012D9460F"
           "015C68226383956E3BD066E797B623C27CE0EAC2F551A10C2C724D9852077B87"
           "220B6536C5C408A1D2AEBB8E86D678AE49CB57091F4732296579AB44FCD17F0FC56A"),
       hex("01144C7D79AE6956BC8EDB8E7C787C4521CB086FA64407F97894E5E6B2D79B04"
           "D1427E73CA4BAA240A34786859810C06B3C715A3A8CC3151F2BEE417996D19F3DDEA")},
      // RFC 7748 6.1 and 6.2 (Alice as i, Bob as r).
      {DhId::kCurve25519, hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
       hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
       hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
       hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"),
       hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")},
      {DhId::kCurve448,
       hex("9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5"
           "74a9419744897391006382a6f127ab1d9ac2d8c0a598726b"),
       hex("9b08f7cc31b7e3e67d22d5aea121074a273bd2b83de09c63faa73d2c22c5d9bb"
           "c836647241d953d40c5b12da88120d53177f80e532c41fa0"),
       hex("1c306a7ac2a0e2e0990b294470cba339e6453772b075811d8fad0d1d6927c120"
           "bb5ee8972b0d3e21374c9c921b09d1b0366f10b65173992d"),
       hex("3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972"
           "fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609"),
       hex("07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56"
           "fd2464c335543936521c24403085d59a449a5037514a879d")},
  };
  for (const auto& v : vectors) {
    SCOPED_TRACE(group_name(v.group));
    auto i = KeyExchange::create_from_private(v.group, v.i);
    auto r = KeyExchange::create_from_private(v.group, v.r);
    ASSERT_TRUE(i.ok()) << i.error();
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(bytes_of((*i)->public_value()), v.gi);
    EXPECT_EQ(bytes_of((*r)->public_value()), v.gr);
    EXPECT_EQ(KeyExchange::public_size(v.group), v.gi.size());
    auto gir_i = (*i)->derive(v.gr);
    auto gir_r = (*r)->derive(v.gi);
    ASSERT_TRUE(gir_i.ok()) << gir_i.error();
    ASSERT_TRUE(gir_r.ok()) << gir_r.error();
    EXPECT_EQ(bytes_of(gir_i->span()), v.gir);
    EXPECT_EQ(bytes_of(gir_r->span()), v.gir);
  }
}

TEST(KeyExchange, EveryGroupAgreesWithAFreshPeer) {
  for (DhId g :
       {DhId::kModp2048, DhId::kModp3072, DhId::kModp4096, DhId::kModp6144, DhId::kModp8192,
        DhId::kEcp256, DhId::kEcp384, DhId::kEcp521, DhId::kCurve25519, DhId::kCurve448}) {
    SCOPED_TRACE(group_name(g));
    auto a = KeyExchange::create(g);
    auto b = KeyExchange::create(g);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ((*a)->group(), g);
    EXPECT_EQ((*a)->public_value().size(), KeyExchange::public_size(g));
    EXPECT_NE(bytes_of((*a)->public_value()), bytes_of((*b)->public_value()));
    auto s1 = (*a)->derive((*b)->public_value());
    auto s2 = (*b)->derive((*a)->public_value());
    ASSERT_TRUE(s1.ok()) << s1.error();
    ASSERT_TRUE(s2.ok()) << s2.error();
    EXPECT_TRUE(*s1 == *s2);
  }
}

TEST(KeyExchange, ModpSharedSecretKeepsLeadingZerosToThePrimeLength) {
  // With x = 1, g^x = 2 and peer^x = peer: the value comes back at full length.
  auto kx = KeyExchange::create_from_private(DhId::kModp2048, Bytes{1});
  ASSERT_TRUE(kx.ok()) << kx.error();
  Bytes two(256, 0);
  two[255] = 2;
  EXPECT_EQ(bytes_of((*kx)->public_value()), two);
  Bytes small(256, 0);
  small[254] = 0x01;
  small[255] = 0x23;
  auto gir = (*kx)->derive(small);
  ASSERT_TRUE(gir.ok()) << gir.error();
  EXPECT_EQ(bytes_of(gir->span()), small);
}

TEST(KeyExchange, RefusesBadPeerValues) {
  auto modp = KeyExchange::create(DhId::kModp2048);
  ASSERT_TRUE(modp.ok());
  auto expect_refused = [](const KeyExchange& kx, const Bytes& peer, std::string_view why) {
    auto r = kx.derive(peer);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_NE(r.error().find(why), std::string::npos) << r.error();
  };
  Bytes y(256, 0);
  expect_refused(**modp, y, "between 1 and p-1");  // 0
  y[255] = 1;
  expect_refused(**modp, y, "between 1 and p-1");  // 1
  Bytes p_minus_1(256, 0xff);                      // RFC 3526 primes end in 64 one bits
  p_minus_1[255] = 0xfe;
  expect_refused(**modp, p_minus_1, "between 1 and p-1");
  expect_refused(**modp, Bytes(256, 0xff), "between 1 and p-1");  // above p
  expect_refused(**modp, Bytes(255, 7), "must be 256 octets, got 255");

  auto ecp = KeyExchange::create(DhId::kEcp256);
  ASSERT_TRUE(ecp.ok());
  Bytes off_curve(64, 0);
  off_curve[31] = 1;
  off_curve[63] = 1;
  expect_refused(**ecp, off_curve, "not a point on the curve");
  expect_refused(**ecp, Bytes(65, 4), "must be 64 octets, got 65");

  // RFC 7748 / RFC 8031: u = 0 and u = 1 are of low order and give an all-zero secret.
  auto x25519 = KeyExchange::create(DhId::kCurve25519);
  ASSERT_TRUE(x25519.ok());
  expect_refused(**x25519, Bytes(32, 0), "no usable shared secret");
  Bytes one(32, 0);
  one[0] = 1;
  expect_refused(**x25519, one, "no usable shared secret");
  auto x448 = KeyExchange::create(DhId::kCurve448);
  ASSERT_TRUE(x448.ok());
  expect_refused(**x448, Bytes(56, 0), "no usable shared secret");
}

TEST(KeyExchange, RefusesUnsupportedGroupsByName) {
  auto r = KeyExchange::create(DhId::kModp1024);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("DH group 2 (MODP-1024) is not supported"), std::string::npos);
  EXPECT_FALSE(KeyExchange::supported(DhId::kModp2048s256));
  EXPECT_FALSE(KeyExchange::create(DhId::kMlKem768).ok());
  EXPECT_FALSE(KeyExchange::create_from_private(DhId::kCurve25519, Bytes(31, 1)).ok());
}

// ---- SK payload

// A message [header 28 | SK generic header 4 | content] with the AAD it implies.
Bytes message_with_content(const Bytes& aad_prefix, const Bytes& content) {
  Bytes m = aad_prefix;
  m.insert(m.end(), content.begin(), content.end());
  return m;
}

TEST(SkCipher, ChaCha20Poly1305OpensTheRfc8439Section2_8_2Vector) {
  // Key material = key | salt, nonce = salt | IV (RFC 7634 2).
  Bytes key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const Bytes salt = hex("07000000");
  key.insert(key.end(), salt.begin(), salt.end());
  auto cipher = SkCipher::create({EncrId::kChaCha20Poly1305, 0, IntegId::kNone}, key, {});
  ASSERT_TRUE(cipher.ok()) << cipher.error();
  const Bytes aad = hex("50515253c0c1c2c3c4c5c6c7");
  const Bytes plaintext = text(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
      "future, sunscreen would be it.");
  Bytes content = hex("4041424344454647");
  for (const Bytes& part :
       {hex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca96712"
            "82fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58"
            "fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"),
        hex("1ae10b594f09e26a7e902ecbd0600691")}) {
    content.insert(content.end(), part.begin(), part.end());
  }
  Bytes m = message_with_content(aad, content);
  auto opened = (*cipher)->open_in_place(m, aad.size());
  ASSERT_TRUE(opened.ok()) << opened.error();
  // Decrypted in place; the last octet ('.') is read as Pad Length 46.
  EXPECT_EQ(Bytes(m.begin() + 20, m.begin() + 20 + 114), plaintext);
  EXPECT_EQ(bytes_of(*opened), Bytes(plaintext.begin(), plaintext.end() - 47));
}

TEST(SkCipher, AesGcmOpensMcGrewViegaTestCases4And16) {
  const Bytes plaintext =
      hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
          "49a6b525b16aedf5aa0de657ba637b39");
  const Bytes aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  struct Case {
    uint16_t bits;
    Bytes key, ciphertext, tag;
  };
  const Case cases[] = {
      {128, hex("feffe9928665731c6d6a8f9467308308"),
       hex("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f"
           "6a5aac84aa051ba30b396a0aac973d58e091"),
       hex("5bc94fbc3221a5db94fae95ae7121a47")},
      {256, hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
       hex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b0"
           "8b1056828838c5f61e6393ba7a0abcc9f662"),
       hex("76fc6ece0f4e1768cddf8853bb2d551b")},
  };
  for (const auto& c : cases) {
    Bytes key = c.key;
    const Bytes salt = hex("cafebabe");  // IV = salt | facedbaddecaf888
    key.insert(key.end(), salt.begin(), salt.end());
    auto cipher = SkCipher::create({EncrId::kAesGcm16, c.bits, IntegId::kNone}, key, {});
    ASSERT_TRUE(cipher.ok()) << cipher.error();
    Bytes content = hex("facedbaddecaf888");
    content.insert(content.end(), c.ciphertext.begin(), c.ciphertext.end());
    content.insert(content.end(), c.tag.begin(), c.tag.end());
    Bytes m = message_with_content(aad, content);
    auto opened = (*cipher)->open_in_place(m, aad.size());
    ASSERT_TRUE(opened.ok()) << opened.error();
    EXPECT_EQ(Bytes(m.begin() + 28, m.begin() + 28 + 60), plaintext);
    EXPECT_EQ(opened->size(), 60u - 0x39 - 1);  // last octet 0x39 read as Pad Length
  }
}

TEST(SkCipher, AesCbcDecryptsRfc3602Cases1And2) {
  struct Case {
    Bytes key, iv, ciphertext, plaintext;
  };
  const Case cases[] = {
      {hex("06a9214036b8a15b512e03d534120006"), hex("3dafba429d9eb430b422da802c9fac41"),
       hex("e353779c1079aeb82708942dbe77181a"), text("Single block msg")},
      {hex("c286696d887c9aa0611bbb3e2025a45a"), hex("562e17996d093d28ddb3ba695a2e6f58"),
       hex("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1"),
       hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")},
  };
  const Bytes integ_key(32, 0x5a);
  const Bytes header(32, 0x11);
  for (const auto& c : cases) {
    auto cipher =
        SkCipher::create({EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128}, c.key, integ_key);
    ASSERT_TRUE(cipher.ok()) << cipher.error();
    Bytes m = header;
    m.insert(m.end(), c.iv.begin(), c.iv.end());
    m.insert(m.end(), c.ciphertext.begin(), c.ciphertext.end());
    // ICV = HMAC-SHA2-256 over everything before it, truncated to 128 bits.
    Prf hmac = make_prf(PrfId::kHmacSha2_256);
    Secret icv = hmac.compute(integ_key, {m});
    m.insert(m.end(), icv.span().begin(), icv.span().begin() + 16);
    auto opened = (*cipher)->open_in_place(m, header.size());
    EXPECT_EQ(Bytes(m.begin() + 48, m.begin() + 48 + static_cast<long>(c.plaintext.size())),
              c.plaintext);
    if (c.plaintext.back() + 1u <= c.plaintext.size()) {
      ASSERT_TRUE(opened.ok()) << opened.error();
      EXPECT_EQ(opened->size(), c.plaintext.size() - c.plaintext.back() - 1);
    } else {
      // "Single block msg": 'g' read as Pad Length 103, more than the 15 octets before it.
      ASSERT_FALSE(opened.ok());
      EXPECT_NE(opened.error().find("Pad Length 103 exceeds the 15"), std::string::npos);
    }
  }
}

struct SkCase {
  const char* name;
  SkAlgorithm algorithm;
};

const SkCase kSkCases[] = {
    {"aes128-sha256", {EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128}},
    {"aes192-sha384", {EncrId::kAesCbc, 192, IntegId::kHmacSha2_384_192}},
    {"aes256-sha512", {EncrId::kAesCbc, 256, IntegId::kHmacSha2_512_256}},
    {"aes128-sha1", {EncrId::kAesCbc, 128, IntegId::kHmacSha1_96}},
    {"aes128gcm16", {EncrId::kAesGcm16, 128, IntegId::kNone}},
    {"aes256gcm16", {EncrId::kAesGcm16, 256, IntegId::kNone}},
    {"aes256gcm8", {EncrId::kAesGcm8, 256, IntegId::kNone}},
    {"aes128gcm12", {EncrId::kAesGcm12, 128, IntegId::kNone}},
    {"chacha20poly1305", {EncrId::kChaCha20Poly1305, 0, IntegId::kNone}},
};

// One direction's cipher pair (sealer, opener) from shared key bytes.
struct Pair {
  std::unique_ptr<SkCipher> seal, open;
};

Pair make_pair(const SkAlgorithm& a, uint8_t fill) {
  auto lengths = key_lengths(a.encr, a.key_bits, a.integ);
  EXPECT_TRUE(lengths.ok()) << lengths.error();
  Bytes ek(lengths->encr, fill);
  Bytes ik(lengths->integ, static_cast<uint8_t>(fill + 1));
  auto s = SkCipher::create(a, ek, ik);
  auto o = SkCipher::create(a, ek, ik);
  EXPECT_TRUE(s.ok() && o.ok());
  return {std::move(s).value(), std::move(o).value()};
}

// An IKE_AUTH-like request, SK { IDi, AUTH }, laid out by the wire codec and sealed.
struct Sealed {
  Bytes bytes;
  std::size_t offset = 0;
  Bytes inner;  // the plaintext payload chain
};

Sealed seal_message(SkCipher& cipher, Random& random) {
  std::vector<wire::Payload> inner = {
      wire::IdPayload{false, wire::IdType::kFqdn, text("left.example")},
      wire::AuthPayload{wire::AuthMethod::kSharedKeyMic, Bytes(32, 0xab)}};
  auto chain = wire::encode_payloads(inner);
  EXPECT_TRUE(chain.ok());
  wire::Message m;
  m.header.spi_i = 0x1122334455667788ull;
  m.header.spi_r = 0x99aabbccddeeff00ull;
  m.header.exchange = wire::ExchangeType::kIkeAuth;
  m.header.initiator = true;
  m.header.message_id = 1;
  m.payloads.push_back(wire::EncryptedPayload{chain->first, cipher.frame(chain->bytes)});
  auto layout = wire::encode_layout(m);
  EXPECT_TRUE(layout.ok());
  wire::Encoded& encoded = layout.value();
  cipher.seal_in_place(encoded.bytes, encoded.encrypted_offset, random);
  return {std::move(encoded.bytes), encoded.encrypted_offset, chain->bytes};
}

TEST(SkCipher, SealedMessagesDecodeOpenAndDecodeAgain) {
  SeededRandom random(7);
  for (const auto& c : kSkCases) {
    SCOPED_TRACE(c.name);
    Pair p = make_pair(c.algorithm, 0x21);
    Sealed s = seal_message(*p.seal, random);
    EXPECT_EQ(s.bytes.size() - s.offset, p.seal->content_size(s.inner.size()));
    // The padded plaintext aligns to the block; AEAD ciphers pad nothing.
    EXPECT_EQ(
        (s.bytes.size() - s.offset - p.seal->iv_size() - p.seal->icv_size()) % p.seal->block_size(),
        0u);
    // The receiver finds the SK content where the codec says it is.
    auto decoded = wire::decode(s.bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    const auto& sk = std::get<wire::EncryptedPayload>(decoded->payloads.back());
    const std::size_t offset = s.bytes.size() - sk.data.size();
    EXPECT_EQ(offset, s.offset);
    // Not the plaintext on the wire.
    EXPECT_EQ(std::search(s.bytes.begin(), s.bytes.end(), s.inner.begin(), s.inner.end()),
              s.bytes.end());
    auto opened = p.open->open_in_place(s.bytes, offset);
    ASSERT_TRUE(opened.ok()) << opened.error();
    EXPECT_EQ(bytes_of(*opened), s.inner);
    auto payloads = wire::decode_payloads(sk.first_inner, *opened);
    ASSERT_TRUE(payloads.ok());
    EXPECT_EQ(std::get<wire::IdPayload>((*payloads)[0]).data, text("left.example"));
  }
}

// An established IKE SA frees its cipher contexts; the next message keys new
// ones from the kept key, so both directions keep working across releases.
TEST(SkCipher, KeepsWorkingAfterItsContextsAreReleased) {
  SeededRandom random(9);
  for (const auto& c : kSkCases) {
    SCOPED_TRACE(c.name);
    Pair p = make_pair(c.algorithm, 0x31);
    for (int round = 0; round < 3; ++round) {
      Sealed s = seal_message(*p.seal, random);
      auto opened = p.open->open_in_place(s.bytes, s.offset);
      ASSERT_TRUE(opened.ok()) << "round " << round << ": " << opened.error();
      EXPECT_EQ(bytes_of(*opened), s.inner);
      p.seal->release_contexts();
      p.open->release_contexts();
    }
  }
}

TEST(SkCipher, AnyFlippedBitOrWrongKeyFailsTheIntegrityCheck) {
  SeededRandom random(8);
  for (const auto& c : kSkCases) {
    SCOPED_TRACE(c.name);
    Pair p = make_pair(c.algorithm, 0x42);
    const Sealed s = seal_message(*p.seal, random);
    // Header (message ID), SK header, IV, ciphertext, ICV.
    for (std::size_t at :
         {std::size_t{20}, s.offset - 1, s.offset, s.offset + 9, s.bytes.size() - 1}) {
      Bytes tampered = s.bytes;
      tampered[at] ^= 0x01;
      auto r = p.open->open_in_place(tampered, s.offset);
      ASSERT_FALSE(r.ok()) << "flipped octet " << at;
      EXPECT_EQ(r.error(), "SK integrity check failed (ICV mismatch)");
    }
    Pair other = make_pair(c.algorithm, 0x43);
    Bytes copy = s.bytes;
    EXPECT_FALSE(other.open->open_in_place(copy, s.offset).ok());
    // Truncated contents are refused by length, before any cryptography.
    Bytes tiny(s.bytes.begin(), s.bytes.begin() + static_cast<long>(s.offset) + 8);
    auto r = p.open->open_in_place(tiny, s.offset);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("is shorter than IV"), std::string::npos) << r.error();
  }
}

TEST(SkCipher, AeadIvsNeverRepeatAndCbcIvsComeFromTheRandomSource) {
  SeededRandom random(9);
  Pair gcm = make_pair({EncrId::kAesGcm16, 256, IntegId::kNone}, 1);
  Sealed a = seal_message(*gcm.seal, random);
  Sealed b = seal_message(*gcm.seal, random);
  EXPECT_NE(Bytes(a.bytes.begin() + static_cast<long>(a.offset),
                  a.bytes.begin() + static_cast<long>(a.offset) + 8),
            Bytes(b.bytes.begin() + static_cast<long>(b.offset),
                  b.bytes.begin() + static_cast<long>(b.offset) + 8));
  EXPECT_NE(a.bytes, b.bytes);

  Pair cbc = make_pair({EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128}, 1);
  SeededRandom r1(5);
  SeededRandom r2(5);
  Bytes iv(16);
  r2.fill(iv);
  Sealed c = seal_message(*cbc.seal, r1);
  EXPECT_EQ(Bytes(c.bytes.begin() + static_cast<long>(c.offset),
                  c.bytes.begin() + static_cast<long>(c.offset) + 16),
            iv);
}

TEST(SkCipher, RefusesUnsupportedAlgorithmsAndWrongKeySizes) {
  auto ctr =
      SkCipher::create({EncrId::kAesCtr, 128, IntegId::kHmacSha2_256_128}, Bytes(20), Bytes(32));
  ASSERT_FALSE(ctr.ok());
  EXPECT_NE(ctr.error().find("is not supported"), std::string::npos);
  auto short_key = SkCipher::create({EncrId::kAesGcm16, 256, IntegId::kNone}, Bytes(32, 1), {});
  ASSERT_FALSE(short_key.ok());
  EXPECT_NE(short_key.error().find("needs a 36-octet key (with salt)"), std::string::npos);
  EXPECT_FALSE(
      SkCipher::create({EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128}, Bytes(16), Bytes(20))
          .ok());
}

// ---- Whole handshake key schedule

TEST(Handshake, BothSidesDeriveTheSameKeysAndAuthenticateWithAPsk) {
  SeededRandom random(11);
  Bytes ni(32), nr(32);
  random.fill(ni);
  random.fill(nr);
  const uint64_t spi_i = random.next_u64();
  const uint64_t spi_r = random.next_u64();
  auto kx_i = KeyExchange::create(DhId::kCurve25519);
  auto kx_r = KeyExchange::create(DhId::kCurve25519);
  ASSERT_TRUE(kx_i.ok() && kx_r.ok());
  auto gir_i = (*kx_i)->derive((*kx_r)->public_value());
  auto gir_r = (*kx_r)->derive((*kx_i)->public_value());
  ASSERT_TRUE(gir_i.ok() && gir_r.ok());

  const SkAlgorithm sk{EncrId::kAesGcm16, 256, IntegId::kNone};
  auto lengths = key_lengths(sk.encr, sk.key_bits, sk.integ);
  ASSERT_TRUE(lengths.ok());
  Prf prf_i = make_prf(PrfId::kHmacSha2_256);
  Prf prf_r = make_prf(PrfId::kHmacSha2_256);
  IkeKeys ki = derive_ike_keys(prf_i, *lengths, ni, nr, *gir_i, spi_i, spi_r);
  IkeKeys kr = derive_ike_keys(prf_r, *lengths, ni, nr, *gir_r, spi_i, spi_r);
  EXPECT_TRUE(ki.sk_d == kr.sk_d);
  EXPECT_TRUE(ki.sk_ei == kr.sk_ei);
  EXPECT_TRUE(ki.sk_pr == kr.sk_pr);
  EXPECT_EQ(ki.sk_ei.size(), 36u);
  EXPECT_TRUE(ki.sk_ai.empty());
  EXPECT_FALSE(ki.sk_ei == ki.sk_er);

  // The initiator seals with SK_ei; the responder opens with the same key.
  auto seal = SkCipher::create(sk, ki.sk_ei, ki.sk_ai);
  auto open = SkCipher::create(sk, kr.sk_ei, kr.sk_ai);
  ASSERT_TRUE(seal.ok() && open.ok());
  Sealed s = seal_message(**seal, random);
  EXPECT_TRUE((*open)->open_in_place(s.bytes, s.offset).ok());

  // PSK AUTH for the initiator (RFC 7296 2.15), checked by the responder.
  const Bytes message1 = text("IKE_SA_INIT request bytes");
  const Bytes id = text("left.example");
  const Bytes psk = text("correct horse battery staple");
  Bytes octets_i = signed_octets(prf_i, message1, nr, ki.sk_pi, 2, id);
  Bytes auth = psk_auth(prf_i, psk, octets_i);
  EXPECT_EQ(auth.size(), 32u);
  Bytes octets_r = signed_octets(prf_r, message1, nr, kr.sk_pi, 2, id);
  EXPECT_EQ(octets_r, octets_i);
  EXPECT_TRUE(psk_auth_matches(prf_r, psk, octets_r, auth));
  EXPECT_FALSE(psk_auth_matches(prf_r, text("wrong"), octets_r, auth));
  EXPECT_FALSE(
      psk_auth_matches(prf_r, psk, signed_octets(prf_r, message1, nr, kr.sk_pr, 2, id), auth));
  // The octets are message | nonce | prf(SK_pi, IDType | 0 0 0 | ID data).
  Bytes id_body = {2, 0, 0, 0};
  id_body.insert(id_body.end(), id.begin(), id.end());
  Bytes expected = message1;
  expected.insert(expected.end(), nr.begin(), nr.end());
  Secret mac = prf_r.compute(kr.sk_pi, {id_body});
  expected.insert(expected.end(), mac.span().begin(), mac.span().end());
  EXPECT_EQ(octets_i, expected);
  // AUTH = prf(prf(PSK, "Key Pad for IKEv2"), octets).
  Secret pad_key = prf_r.compute(psk, {text("Key Pad for IKEv2")});
  EXPECT_EQ(bytes_of(prf_r.compute(pad_key, {octets_i}).span()), auth);

  // CHILD SA and IKE rekey keys agree too and differ from each other.
  auto esp = key_lengths(EncrId::kAesCbc, 256, IntegId::kHmacSha2_256_128);
  ASSERT_TRUE(esp.ok());
  ChildKeys ci = derive_child_keys(prf_i, ki.sk_d, *esp, {}, ni, nr);
  ChildKeys cr = derive_child_keys(prf_r, kr.sk_d, *esp, {}, ni, nr);
  EXPECT_TRUE(ci.encr_r == cr.encr_r);
  EXPECT_EQ(ci.encr_i.size(), 32u);
  EXPECT_EQ(ci.integ_r.size(), 32u);
  Prf prf_new = make_prf(PrfId::kHmacSha2_512);
  IkeKeys rekeyed =
      derive_rekeyed_ike_keys(prf_i, ki.sk_d, prf_new, *lengths, nr, ni, *gir_i, 5, 6);
  EXPECT_EQ(rekeyed.sk_d.size(), 64u);
  EXPECT_FALSE(rekeyed.sk_ei == ki.sk_ei);
}

}  // namespace
}  // namespace ipsecd::engine::crypto
