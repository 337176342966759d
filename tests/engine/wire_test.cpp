// IKEv2 codec: round trips of every payload, real and hand-built messages, and one
// test per length or structure rule the decoder enforces.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/wire/message.h"

namespace ipsecd::engine::wire {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes seq(std::size_t n, uint8_t start = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<uint8_t>(start + i);
  }
  return b;
}

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}

// A generic payload header followed by its body.
Bytes payload(uint8_t next, const Bytes& body, bool critical = false) {
  Bytes b{next, static_cast<uint8_t>(critical ? 0x80 : 0)};
  put16(b, static_cast<uint16_t>(body.size() + 4));
  b.insert(b.end(), body.begin(), body.end());
  return b;
}

// An IKE_SA_INIT request header around `payloads`, length computed.
Bytes message(uint8_t first, const Bytes& payloads, uint8_t version = 0x20) {
  Bytes b = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 0};
  b.push_back(first);
  b.push_back(version);
  b.push_back(34);
  b.push_back(0x08);
  put32(b, 0);
  put32(b, static_cast<uint32_t>(28 + payloads.size()));
  b.insert(b.end(), payloads.begin(), payloads.end());
  return b;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Bytes from_hex(std::string_view hex) {
  Bytes out;
  int hi = -1;
  for (char c : hex) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

Error decode_error(const Bytes& b) {
  auto r = decode(b);
  EXPECT_FALSE(r.ok()) << "expected a decode error";
  return r.ok() ? Error{} : r.error();
}

Message every_payload_message() {
  Message m;
  m.header.spi_i = 0x0102030405060708ULL;
  m.header.spi_r = 0x1112131415161718ULL;
  m.header.exchange = ExchangeType::kIkeAuth;
  m.header.initiator = true;
  m.header.message_id = 1;

  SaPayload sa;
  Proposal ike;
  ike.number = 1;
  ike.protocol = ProtocolId::kIke;
  ike.spi = seq(8, 0xa0);
  ike.transforms.push_back(
      {TransformType::kEncryption, static_cast<uint16_t>(EncryptionId::kAesGcm16), 256, {}});
  ike.transforms.push_back(
      {TransformType::kPrf, static_cast<uint16_t>(PrfId::kHmacSha2_256), std::nullopt, {}});
  ike.transforms.push_back({TransformType::kKeyExchange,
                            static_cast<uint16_t>(KeGroup::kCurve25519),
                            std::nullopt,
                            {{17, true, {0x12, 0x34}}, {18, false, {1, 2, 3}}}});
  Proposal esp;
  esp.number = 2;
  esp.protocol = ProtocolId::kEsp;
  esp.spi = {0xc0, 0x01, 0x02, 0x03};
  esp.transforms.push_back(
      {TransformType::kEncryption, static_cast<uint16_t>(EncryptionId::kAesCbc), 128, {}});
  esp.transforms.push_back({TransformType::kEsn, 0, std::nullopt, {}});
  sa.proposals = {ike, esp};
  m.payloads.push_back(sa);

  m.payloads.push_back(KePayload{static_cast<uint16_t>(KeGroup::kCurve25519), seq(32)});
  m.payloads.push_back(IdPayload{false, IdType::kFqdn, Bytes{'a', '.', 'e', 'x'}});
  m.payloads.push_back(IdPayload{true, IdType::kIpv4Addr, Bytes{192, 0, 2, 1}});
  m.payloads.push_back(CertPayload{CertEncoding::kX509Signature, seq(40)});
  m.payloads.push_back(CertReqPayload{CertEncoding::kX509Signature, seq(40)});
  m.payloads.push_back(AuthPayload{AuthMethod::kSharedKeyMic, seq(32)});
  m.payloads.push_back(NoncePayload{seq(32)});
  m.payloads.push_back(NotifyPayload{ProtocolId::kNone, {}, NotifyType::kInitialContact, {}});
  m.payloads.push_back(NotifyPayload{ProtocolId::kEsp, {1, 2, 3, 4}, NotifyType::kRekeySa, {}});
  m.payloads.push_back(
      NotifyPayload{ProtocolId::kNone, {}, NotifyType::kNatDetectionSourceIp, seq(20)});
  m.payloads.push_back(
      NotifyPayload{ProtocolId::kNone, {}, NotifyType::kSignatureHashAlgorithms, {0, 2, 0, 4}});
  m.payloads.push_back(NotifyPayload{ProtocolId::kNone, {}, static_cast<NotifyType>(40000), {9}});
  m.payloads.push_back(DeletePayload{ProtocolId::kEsp, {0xc0010203, 0xdeadbeef}});
  m.payloads.push_back(DeletePayload{ProtocolId::kIke, {}});
  m.payloads.push_back(VendorIdPayload{Bytes{'i', 'p', 's', 'e', 'c', 'd'}});

  TrafficSelector v4;
  v4.type = TsType::kIpv4AddrRange;
  v4.ip_protocol = 17;
  v4.start_port = 500;
  v4.end_port = 4500;
  v4.start_address = {198, 51, 100, 0};
  v4.end_address = {198, 51, 100, 255};
  TrafficSelector v6;
  v6.type = TsType::kIpv6AddrRange;
  v6.start_address = {0x20, 0x01, 0x0d, 0xb8};
  v6.end_address = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0xff, 0xff,
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  TrafficSelector label;
  label.type = TsType::kSecLabel;
  label.opaque = Bytes{'s', 'y', 's', 't', 'e', 'm', '_', 'u', 0};
  m.payloads.push_back(TsPayload{false, {v4, v6, label}});
  m.payloads.push_back(TsPayload{true, {v4}});
  m.payloads.push_back(
      CpPayload{CfgType::kReply,
                {{static_cast<uint16_t>(CfgAttribute::kInternalIp4Address), {10, 0, 0, 1}},
                 {static_cast<uint16_t>(CfgAttribute::kInternalIp6Address), {}},
                 {static_cast<uint16_t>(CfgAttribute::kApplicationVersion), Bytes{'x'}}}});
  m.payloads.push_back(EapPayload{Bytes{3, 7, 0, 4}});  // EAP-Success
  m.payloads.push_back(UnknownPayload{200, false, seq(5)});
  m.payloads.push_back(EncryptedPayload{PayloadType::kIdi, seq(48)});
  return m;
}

TEST(WireRoundTrip, EveryPayloadTypeSurvivesEncodeThenDecode) {
  Message m = every_payload_message();
  auto bytes = encode(m);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  auto back = decode(*bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  // encode() fills in the header's computed fields; everything else must be equal.
  EXPECT_EQ(back->header.length, bytes->size());
  EXPECT_EQ(back->header.next_payload, PayloadType::kSa);
  m.header.length = back->header.length;
  m.header.next_payload = back->header.next_payload;
  EXPECT_EQ(back->header, m.header);
  ASSERT_EQ(back->payloads.size(), m.payloads.size());
  for (std::size_t i = 0; i < m.payloads.size(); ++i) {
    EXPECT_EQ(back->payloads[i], m.payloads[i]) << "payload " << i + 1;
  }
  auto again = encode(*back);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *bytes);
}

TEST(WireRoundTrip, SkfFragmentRoundTripsAndExposesItsAssociatedData) {
  Message m;
  m.header.exchange = ExchangeType::kIkeAuth;
  m.payloads.push_back(EncryptedFragmentPayload{PayloadType::kIdi, 1, 3, seq(40)});
  auto layout = encode_layout(m);
  ASSERT_TRUE(layout.ok());
  // RFC 7383 2.5: the AAD runs to the end of Total Fragments.
  EXPECT_EQ(layout->encrypted_offset, 28u + 4 + 4);
  auto back = decode(layout->bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(std::get<EncryptedFragmentPayload>(back->payloads[0]),
            (EncryptedFragmentPayload{PayloadType::kIdi, 1, 3, seq(40)}));
}

TEST(WireEncode, SkLayoutGivesTheAeadAssociatedData) {
  Message m;
  m.header.exchange = ExchangeType::kInformational;
  m.payloads.push_back(EncryptedPayload{PayloadType::kNone, Bytes(24, 0)});
  auto layout = encode_layout(m);
  ASSERT_TRUE(layout.ok());
  // RFC 5282 5.1: IKE header and SK generic header, up to the IV.
  EXPECT_EQ(layout->encrypted_offset, 32u);
  EXPECT_EQ(layout->bytes.size(), 56u);
  EXPECT_EQ(layout->bytes[16], 46);  // header Next Payload = SK
  EXPECT_EQ(layout->bytes[28], 0);   // SK Next Payload = first inner payload (none)
  EXPECT_EQ(layout->bytes[31], 28);  // SK length = 4 + 24
}

TEST(WireEncode, ComputesLengthsAndChainingByteForByte) {
  Message m;
  m.header.spi_i = 0x1122334455667788ULL;
  m.header.initiator = true;
  m.payloads.push_back(NoncePayload{seq(16)});
  m.payloads.push_back(
      NotifyPayload{ProtocolId::kIke, {}, NotifyType::kIkev2FragmentationSupported, {}});
  auto bytes = encode(m);
  ASSERT_TRUE(bytes.ok());
  Bytes want = message(40, cat({payload(41, seq(16)), payload(0, {0, 0, 0x40, 0x2e})}));
  EXPECT_EQ(*bytes, want);
}

TEST(WireEncode, EncryptedPayloadMustBeLast) {
  Message m;
  m.payloads.push_back(EncryptedPayload{PayloadType::kNone, seq(16)});
  m.payloads.push_back(NoncePayload{seq(16)});
  auto r = encode(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kMisplacedEncrypted);
}

TEST(WireEncode, RefusesValuesThatDoNotFitTheirFields) {
  Message m;
  m.payloads.push_back(NotifyPayload{ProtocolId::kEsp, Bytes(256, 1), NotifyType::kRekeySa, {}});
  auto r = encode(m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnencodable);
  EXPECT_NE(r.error().message.find("exceeds 255"), std::string::npos) << r.error().message;

  Message big;
  big.payloads.push_back(VendorIdPayload{Bytes(70000, 0)});
  auto r2 = encode(big);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("exceeds 65535"), std::string::npos) << r2.error().message;
}

TEST(WireInner, DecodesThePlaintextChainOfAnSkPayload) {
  std::vector<Payload> inner = {
      IdPayload{false, IdType::kFqdn, Bytes{'l', 'e', 'f', 't'}},
      AuthPayload{AuthMethod::kSharedKeyMic, seq(32)},
      NotifyPayload{ProtocolId::kNone, {}, NotifyType::kUseTransportMode, {}},
  };
  auto enc = encode_payloads(inner);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->first, PayloadType::kIdi);
  auto back = decode_payloads(enc->first, enc->bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, inner);
}

TEST(WireInner, RejectsAnEncryptedPayloadInsideAnother) {
  Bytes inner = payload(0, seq(16));
  auto r = decode_payloads(PayloadType::kEncrypted, inner);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kMisplacedEncrypted);
  EXPECT_NE(r.error().message.find("inner payload 1 (SK)"), std::string::npos);
  std::vector<Payload> nested = {EncryptedPayload{PayloadType::kNone, seq(8)}};
  EXPECT_FALSE(encode_payloads(nested).ok());
}

TEST(WireInner, EmptyPlaintextIsAnEmptyChain) {
  auto r = decode_payloads(PayloadType::kNone, Bytes{});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

// IKE_SA_INIT request as RFC 7296 lays it out (built by hand, not captured):
// HDR, SA{IKE: ENCR_AES_CBC/128, PRF_HMAC_SHA2_256, AUTH_HMAC_SHA2_256_128, MODP_2048},
// KE(14, 256 bytes), Ni(32), N(NAT_DETECTION_SOURCE_IP), N(NAT_DETECTION_DESTINATION_IP).
TEST(WireDecode, HandBuiltIkeSaInitFromTheRfcLayout) {
  Bytes transforms = from_hex(
      "03 00 000c 01 00 000c 800e 0080"  // ENCR AES-CBC, key length 128
      "03 00 0008 02 00 0005"            // PRF HMAC-SHA2-256
      "03 00 0008 03 00 000c"            // INTEG HMAC-SHA2-256-128
      "00 00 0008 04 00 000e");          // KE MODP-2048
  Bytes proposal = from_hex("00 00 0000 01 01 00 04");
  proposal[3] = static_cast<uint8_t>(8 + transforms.size());
  proposal.insert(proposal.end(), transforms.begin(), transforms.end());
  Bytes ke = {0, 14, 0, 0};
  Bytes pub = seq(256, 7);
  ke.insert(ke.end(), pub.begin(), pub.end());
  Bytes natd = {0, 0, 0x40, 0x04};
  Bytes hash = seq(20, 0x30);
  natd.insert(natd.end(), hash.begin(), hash.end());
  Bytes natd_dst = natd;
  natd_dst[3] = 0x05;
  Bytes msg = message(33, cat({payload(34, proposal), payload(40, ke), payload(41, seq(32)),
                               payload(41, natd), payload(0, natd_dst)}));

  auto r = decode(msg);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Message& m = *r;
  EXPECT_EQ(m.header.spi_i, 0x1122334455667788ULL);
  EXPECT_EQ(m.header.spi_r, 0u);
  EXPECT_EQ(m.header.exchange, ExchangeType::kIkeSaInit);
  EXPECT_TRUE(m.header.initiator);
  EXPECT_FALSE(m.header.response);
  EXPECT_EQ(summary(m), "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) ]");
  const auto& sa = std::get<SaPayload>(m.payloads[0]);
  ASSERT_EQ(sa.proposals.size(), 1u);
  ASSERT_EQ(sa.proposals[0].transforms.size(), 4u);
  EXPECT_EQ(sa.proposals[0].transforms[0].key_length, 128);
  EXPECT_EQ(sa.proposals[0].transforms[3].id, static_cast<uint16_t>(KeGroup::kModp2048));
  EXPECT_EQ(std::get<KePayload>(m.payloads[1]).data.size(), 256u);
  EXPECT_EQ(std::get<NotifyPayload>(m.payloads[4]).type, NotifyType::kNatDetectionDestinationIp);

  auto again = encode(m);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, msg);
}

Bytes capture(const std::string& name) {
  // ctest sets IPSECD_SOURCE_DIR; a direct run falls back to this file's directory.
  const char* root = std::getenv("IPSECD_SOURCE_DIR");
  std::string dir = root != nullptr ? std::string(root) + "/tests/engine"
                                    : std::filesystem::path(__FILE__).parent_path().string();
  std::string path = dir + "/data/strongswan-5.9.8/" + name;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot read " << path;
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(WireStrongswan, IkeSaInitRequestCapturedFromCharon) {
  Bytes b = capture("ike_sa_init_request.bin");
  ASSERT_EQ(b.size(), 972u);
  auto r = decode(b);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(summary(*r),
            "IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) "
            "N(REDIRECT_SUPPORTED) ]");
  EXPECT_TRUE(r->header.initiator);
  EXPECT_EQ(r->header.spi_r, 0u);
  const auto& sa = std::get<SaPayload>(r->payloads[0]);
  ASSERT_EQ(sa.proposals.size(), 4u);
  // aes128-sha256-x25519, in strongSwan's order ENCR, INTEG, PRF, KE.
  const auto& first = sa.proposals[0].transforms;
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(
      first[0],
      (Transform{
          TransformType::kEncryption, static_cast<uint16_t>(EncryptionId::kAesCbc), 128, {}}));
  EXPECT_EQ(first[1].id, static_cast<uint16_t>(IntegrityId::kHmacSha2_256_128));
  EXPECT_EQ(first[2].id, static_cast<uint16_t>(PrfId::kHmacSha2_256));
  EXPECT_EQ(first[3].id, static_cast<uint16_t>(KeGroup::kCurve25519));
  EXPECT_EQ(sa.proposals[1].transforms.size(), 34u);
  EXPECT_EQ(sa.proposals[2].transforms.size(), 36u);
  for (std::size_t i = 0; i < sa.proposals.size(); ++i) {
    EXPECT_EQ(sa.proposals[i].number, i + 1);
    EXPECT_TRUE(sa.proposals[i].spi.empty());
  }
  const auto& ke = std::get<KePayload>(r->payloads[1]);
  EXPECT_EQ(ke.group, static_cast<uint16_t>(KeGroup::kCurve25519));
  EXPECT_EQ(ke.data.size(), 32u);
  EXPECT_EQ(std::get<NoncePayload>(r->payloads[2]).data.size(), 32u);
  EXPECT_EQ(std::get<NotifyPayload>(r->payloads[6]).data.size(), 8u);  // four hash algorithms
  auto again = encode(*r);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, b);
}

TEST(WireStrongswan, EveryCapturedMessageReencodesByteForByte) {
  for (const char* name :
       {"ike_sa_init_request.bin", "ike_sa_init_response.bin", "ike_auth_request.bin",
        "ike_auth_response.bin", "informational_delete_request.bin"}) {
    Bytes b = capture(name);
    auto r = decode(b);
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
    auto again = encode(*r);
    ASSERT_TRUE(again.ok()) << name;
    EXPECT_EQ(*again, b) << name;
  }
}

TEST(WireStrongswan, SkMessagesExposeAssociatedDataAndFirstInnerPayload) {
  Bytes b = capture("ike_auth_request.bin");
  auto r = decode(b);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->payloads.size(), 1u);
  const auto& sk = std::get<EncryptedPayload>(r->payloads[0]);
  EXPECT_EQ(sk.first_inner, PayloadType::kIdi);
  EXPECT_EQ(sk.data.size(), b.size() - 32);
  auto layout = encode_layout(*r);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->encrypted_offset, 32u);
  EXPECT_EQ(
      std::get<EncryptedPayload>(decode(capture("informational_delete_request.bin"))->payloads[0])
          .first_inner,
      PayloadType::kDelete);
}

// ---- Header errors.

TEST(WireErrors, TruncatedHeader) {
  Error e = decode_error(Bytes(27, 0));
  EXPECT_EQ(e.code, ErrorCode::kTruncatedHeader);
  EXPECT_EQ(e.message, "message of 27 bytes is shorter than the 28-byte IKE header");
  EXPECT_FALSE(e.header.has_value());
}

TEST(WireErrors, MajorVersionOtherThanTwoAnswersInvalidMajorVersion) {
  Error e = decode_error(message(0, {}, 0x30));
  EXPECT_EQ(e.code, ErrorCode::kInvalidMajorVersion);
  EXPECT_EQ(e.answer(), NotifyType::kInvalidMajorVersion);
  ASSERT_TRUE(e.header.has_value());  // the answer needs the SPIs and message ID
  EXPECT_EQ(e.header->spi_i, 0x1122334455667788ULL);
  EXPECT_EQ(e.message, "IKE major version 3, this implementation speaks 2");
}

TEST(WireErrors, IkeV1HeaderIsNamed) {
  Error e = decode_error(message(0, {}, 0x10));
  EXPECT_EQ(e.code, ErrorCode::kInvalidMajorVersion);
  EXPECT_EQ(e.message, "IKE major version 1 (IKEv1), this implementation speaks 2");
}

TEST(WireErrors, MinorVersionIsIgnored) {
  auto r = decode(message(0, {}, 0x21));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->header.minor_version, 1);
}

TEST(WireErrors, HeaderLengthMustEqualTheDatagram) {
  Bytes b = message(0, {});
  b.push_back(0);
  Error e = decode_error(b);
  EXPECT_EQ(e.code, ErrorCode::kLengthMismatch);
  EXPECT_EQ(e.message, "header length 28 differs from the datagram size 29");
  EXPECT_EQ(e.answer(), NotifyType::kInvalidSyntax);
}

// ---- Generic payload header errors.

TEST(WireErrors, ChainPointsPastTheEnd) {
  Error e = decode_error(message(40, {0, 0}));
  EXPECT_EQ(e.code, ErrorCode::kTruncatedPayload);
  EXPECT_EQ(e.message,
            "payload 1 (Nonce) at offset 28 has 2 bytes left, the generic payload header needs 4");
}

TEST(WireErrors, PayloadLengthBelowGenericHeader) {
  Bytes p = {0, 0, 0, 2};
  Error e = decode_error(message(41, cat({payload(40, {0, 0, 0x40, 0}), p})));
  EXPECT_EQ(e.code, ErrorCode::kPayloadTooShort);
  EXPECT_EQ(e.message, "payload 2 (Nonce) length 2 < 4-byte generic header");
}

TEST(WireErrors, PayloadLengthBeyondTheMessage) {
  Bytes p = payload(0, seq(16));
  p[3] += 4;
  Error e = decode_error(message(40, p));
  EXPECT_EQ(e.code, ErrorCode::kPayloadOverrun);
  EXPECT_EQ(e.message, "payload 1 (Nonce) length 24 exceeds remaining 20 bytes");
}

TEST(WireErrors, MinimumLengthPerPayloadType) {
  struct Case {
    uint8_t type;
    std::size_t body;
    std::string want;
  };
  const Case cases[] = {
      {33, 4, "payload 1 (SA) length 8 < 12 (4-byte generic header + 8-byte proposal header)"},
      {34, 3, "payload 1 (KE) length 7 < 8"},
      {35, 0, "payload 1 (IDi) length 4 < 8"},
      {36, 2, "payload 1 (IDr) length 6 < 8"},
      {37, 0, "payload 1 (CERT) length 4 < 5"},
      {38, 0, "payload 1 (CERTREQ) length 4 < 5"},
      {39, 3, "payload 1 (AUTH) length 7 < 8"},
      {40, 15, "payload 1 (Nonce) length 19 < 20 (4-byte generic header + 16-byte minimum nonce)"},
      {41, 3, "payload 1 (Notify) length 7 < 8"},
      {42, 2, "payload 1 (Delete) length 6 < 8"},
      {44, 3, "payload 1 (TSi) length 7 < 8"},
      {45, 0, "payload 1 (TSr) length 4 < 8"},
      {47, 1, "payload 1 (CP) length 5 < 8"},
      {48, 3, "payload 1 (EAP) length 7 < 8"},
      {53, 3, "payload 1 (SKF) length 7 < 8"},
  };
  for (const Case& c : cases) {
    Error e = decode_error(message(c.type, payload(0, Bytes(c.body, 0))));
    EXPECT_EQ(e.code, ErrorCode::kPayloadTooShort) << c.want;
    EXPECT_EQ(e.message.rfind(c.want, 0), 0u) << e.message;
  }
}

TEST(WireErrors, BytesAfterTheLastPayload) {
  Bytes body = cat({payload(0, seq(16)), Bytes{1, 2, 3}});
  Error e = decode_error(message(40, body));
  EXPECT_EQ(e.code, ErrorCode::kTrailingBytes);
  EXPECT_EQ(e.message, "3 bytes after the last payload at offset 48");
}

TEST(WireErrors, EncryptedPayloadMustBeLast) {
  Bytes body = cat({payload(0, seq(16)), payload(0, seq(16))});
  Error e = decode_error(message(46, body));
  EXPECT_EQ(e.code, ErrorCode::kMisplacedEncrypted);
  EXPECT_EQ(e.message, "payload 1 (SK) must be the last payload but 20 bytes follow it");
}

// ---- Critical bit (RFC 7296 3.2).

TEST(WireCritical, UnknownCriticalPayloadAnswersUnsupportedCriticalPayload) {
  Bytes body = cat({payload(99, seq(16)), payload(0, seq(3), true)});
  Error e = decode_error(message(40, body));
  EXPECT_EQ(e.code, ErrorCode::kUnsupportedCriticalPayload);
  EXPECT_EQ(e.payload_type, 99);  // the one-octet notification data
  EXPECT_EQ(e.answer(), NotifyType::kUnsupportedCriticalPayload);
  EXPECT_EQ(e.message, "payload 2 (type 99) is not supported and has the critical bit set");
  ASSERT_TRUE(e.header.has_value());
}

TEST(WireCritical, UnknownNonCriticalPayloadIsKeptAndSkipped) {
  Bytes body = cat({payload(40, seq(3)), payload(0, seq(16))});
  auto r = decode(message(99, body));
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->payloads.size(), 2u);
  EXPECT_EQ(std::get<UnknownPayload>(r->payloads[0]), (UnknownPayload{99, false, seq(3)}));
  EXPECT_TRUE(std::holds_alternative<NoncePayload>(r->payloads[1]));
}

TEST(WireCritical, CriticalBitOnAKnownPayloadIsIgnored) {
  auto r = decode(message(40, payload(0, seq(16), true)));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::get<NoncePayload>(r->payloads[0]).data, seq(16));
}

TEST(WireCritical, UnknownCriticalInsideSkIsReportedToo) {
  auto r = decode_payloads(static_cast<PayloadType>(120), payload(0, {}, true));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnsupportedCriticalPayload);
  EXPECT_EQ(r.error().payload_type, 120);
}

// ---- SA substructures.

Bytes transform(uint8_t last, uint8_t type, uint16_t id, const Bytes& attrs = {}) {
  Bytes t = {last, 0};
  put16(t, static_cast<uint16_t>(8 + attrs.size()));
  t.push_back(type);
  t.push_back(0);
  put16(t, id);
  t.insert(t.end(), attrs.begin(), attrs.end());
  return t;
}

Bytes proposal(uint8_t last, uint8_t number, uint8_t protocol, const Bytes& spi, uint8_t count,
               const Bytes& transforms) {
  Bytes p = {last, 0};
  put16(p, static_cast<uint16_t>(8 + spi.size() + transforms.size()));
  p.push_back(number);
  p.push_back(protocol);
  p.push_back(static_cast<uint8_t>(spi.size()));
  p.push_back(count);
  p.insert(p.end(), spi.begin(), spi.end());
  p.insert(p.end(), transforms.begin(), transforms.end());
  return p;
}

std::string sa_error(const Bytes& sa_body) {
  Error e = decode_error(message(33, payload(0, sa_body)));
  EXPECT_EQ(e.code, ErrorCode::kMalformedPayload);
  return e.message;
}

TEST(WireSa, TransformLengthBeyondProposal) {
  Bytes t = transform(0, 1, 12, {0x80, 0x0e, 0, 128});
  Bytes p = proposal(0, 1, 1, {}, 2, cat({transform(3, 2, 5), t}));
  p[3] -= 4;  // proposal claims 4 bytes less than its second transform needs
  Bytes body = p;
  body.resize(body.size() - 4);
  EXPECT_EQ(sa_error(body),
            "payload 1 (SA): SA proposal 1 transform 2 length 12 exceeds remaining 8 bytes");
}

TEST(WireSa, TransformCountDisagreesWithContent) {
  Bytes p = proposal(0, 1, 1, {}, 3, cat({transform(3, 2, 5), transform(0, 3, 12)}));
  EXPECT_EQ(sa_error(p),
            "payload 1 (SA): SA proposal 1 transform 2 Last Substruc is 0, must be 3 (more "
            "follow of 3 transforms)");
  Bytes q = proposal(0, 1, 1, {}, 1, cat({transform(0, 2, 5), transform(0, 3, 12)}));
  EXPECT_EQ(sa_error(q), "payload 1 (SA): SA proposal 1 has 8 bytes after its 1 transforms");
}

TEST(WireSa, TransformShorterThanItsHeader) {
  Bytes t = transform(0, 2, 5);
  t[3] = 6;
  EXPECT_EQ(sa_error(proposal(0, 1, 1, {}, 1, t)),
            "payload 1 (SA): SA proposal 1 transform 1 length 6 < 8-byte transform header");
}

TEST(WireSa, ProposalLastSubstrucMustMatch) {
  Bytes one = proposal(2, 1, 1, {}, 1, transform(0, 2, 5));
  EXPECT_EQ(sa_error(one),
            "payload 1 (SA): SA proposal 1 announces another proposal (Last Substruc 2) but the "
            "payload ends");
  Bytes two = cat(
      {proposal(0, 1, 1, {}, 1, transform(0, 2, 5)), proposal(0, 2, 1, {}, 1, transform(0, 2, 5))});
  EXPECT_EQ(sa_error(two), "payload 1 (SA): SA proposal 1 is marked last but 16 bytes follow it");
  Bytes bad = proposal(1, 1, 1, {}, 1, transform(0, 2, 5));
  EXPECT_EQ(sa_error(bad),
            "payload 1 (SA): SA proposal 1 Last Substruc is 1, must be 0 (last) or 2 (more)");
}

TEST(WireSa, ProposalLengthErrors) {
  Bytes p = proposal(0, 1, 1, {}, 1, transform(0, 2, 5));
  p[3] = 40;
  EXPECT_EQ(sa_error(p), "payload 1 (SA): SA proposal 1 length 40 exceeds remaining 16 bytes");
  p[3] = 7;
  EXPECT_EQ(sa_error(p), "payload 1 (SA): SA proposal 1 length 7 < 8-byte proposal header");
  Bytes two = cat({proposal(2, 1, 1, {}, 1, transform(0, 2, 5)), Bytes{0, 0, 0, 8}});
  EXPECT_EQ(sa_error(two), "payload 1 (SA): SA proposal 2 needs an 8-byte header, 4 bytes left");
}

TEST(WireSa, SpiSizePerProtocol) {
  Bytes t = transform(0, 1, 12);
  Bytes p = proposal(0, 1, 3, {1, 2}, 1, t);
  EXPECT_EQ(sa_error(p), "payload 1 (SA): SA proposal 1 AH/ESP SPI size 2, must be 4");
  Bytes q = proposal(0, 1, 1, {1, 2, 3, 4}, 1, t);
  EXPECT_EQ(sa_error(q), "payload 1 (SA): SA proposal 1 IKE SPI size 4, must be 0 or 8");
  Bytes r = proposal(0, 1, 3, {1, 2, 3, 4}, 1, t);
  r[6] = 40;
  EXPECT_EQ(sa_error(r), "payload 1 (SA): SA proposal 1 SPI size 40 exceeds remaining 12 bytes");
}

TEST(WireSa, AttributeErrors) {
  Bytes tlv = transform(0, 1, 12, {0x00, 0x11, 0x00, 0x09, 1});
  EXPECT_EQ(sa_error(proposal(0, 1, 1, {}, 1, tlv)),
            "payload 1 (SA): SA proposal 1 transform 1 attribute 17 value length 9 exceeds "
            "remaining 1 bytes");
  Bytes half = transform(0, 1, 12, {0x80, 0x0e});
  EXPECT_EQ(sa_error(proposal(0, 1, 1, {}, 1, half)),
            "payload 1 (SA): SA proposal 1 transform 1 attribute header needs 4 bytes, 2 left");
  Bytes kl_tlv = transform(0, 1, 12, {0x00, 0x0e, 0x00, 0x02, 0, 128});
  EXPECT_EQ(sa_error(proposal(0, 1, 1, {}, 1, kl_tlv)),
            "payload 1 (SA): SA proposal 1 transform 1 Key Length attribute must use the 2-byte "
            "TV format");
  Bytes kl_twice = transform(0, 1, 12, {0x80, 0x0e, 0, 128, 0x80, 0x0e, 1, 0});
  EXPECT_EQ(sa_error(proposal(0, 1, 1, {}, 1, kl_twice)),
            "payload 1 (SA): SA proposal 1 transform 1 has two Key Length attributes");
}

// ---- Per-payload field rules.

std::string body_error(uint8_t type, const Bytes& body) {
  Error e = decode_error(message(type, payload(0, body)));
  EXPECT_EQ(e.code, ErrorCode::kMalformedPayload);
  return e.message;
}

TEST(WireFields, NonceAtMost256Bytes) {
  EXPECT_EQ(body_error(40, seq(257)), "payload 1 (Nonce): nonce of 257 bytes, must be 16 to 256");
  EXPECT_TRUE(decode(message(40, payload(0, Bytes(256, 1)))).ok());
}

TEST(WireFields, IdAddressLengths) {
  EXPECT_EQ(body_error(35, {1, 0, 0, 0, 192, 0, 2}),
            "payload 1 (IDi): ID_IPV4_ADDR identity has 3 bytes, must be 4");
  EXPECT_EQ(body_error(36, cat({Bytes{5, 0, 0, 0}, seq(15)})),
            "payload 1 (IDr): ID_IPV6_ADDR identity has 15 bytes, must be 16");
}

TEST(WireFields, CertReqHashesAreTwentyBytes) {
  EXPECT_EQ(body_error(38, cat({Bytes{4}, seq(21)})),
            "payload 1 (CERTREQ): X.509 CERTREQ authority field of 21 bytes is not a list of "
            "20-byte SHA-1 hashes");
}

TEST(WireFields, NotifySpiAndDataLengths) {
  EXPECT_EQ(body_error(41, {3, 8, 0x40, 0x09, 1, 2, 3, 4}),
            "payload 1 (Notify): REKEY_SA SPI size 8 exceeds remaining 4 bytes");
  EXPECT_EQ(body_error(41, cat({Bytes{0, 0, 0x40, 0x04}, seq(19)})),
            "payload 1 (Notify): NAT_DETECTION_SOURCE_IP data has 19 bytes, must be 20");
  EXPECT_EQ(body_error(41, {0, 0, 0x40, 0x06}),
            "payload 1 (Notify): COOKIE data has 0 bytes, must be 1 to 64");
  EXPECT_EQ(body_error(41, cat({Bytes{0, 0, 0x40, 0x06}, seq(65)})),
            "payload 1 (Notify): COOKIE data has 65 bytes, must be 1 to 64");
  EXPECT_EQ(body_error(41, {0, 0, 0x00, 0x11, 0}),
            "payload 1 (Notify): INVALID_KE_PAYLOAD data has 1 bytes, must be 2");
  EXPECT_EQ(body_error(41, {0, 0, 0x40, 0x2f, 0, 2, 0}),
            "payload 1 (Notify): SIGNATURE_HASH_ALGORITHMS data has 3 bytes, must be a list of "
            "2-byte hash identifiers");
  EXPECT_EQ(body_error(41, {0, 0, 0x40, 0x09}),
            "payload 1 (Notify): REKEY_SA has an SPI of 0 bytes, must be the 4-byte SPI of the "
            "Child SA");
}

TEST(WireFields, NotifyProtocolIgnoredWithoutSpi) {
  auto r = decode(message(41, payload(0, {1, 0, 0x40, 0x00})));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<NotifyPayload>(r->payloads[0]).protocol, ProtocolId::kNone);
  EXPECT_EQ(std::get<NotifyPayload>(r->payloads[0]).type, NotifyType::kInitialContact);
}

TEST(WireFields, DeleteCountsAndSizes) {
  EXPECT_EQ(body_error(42, {3, 4, 0, 2, 1, 2, 3, 4}),
            "payload 1 (Delete): Delete announces 2 SPIs of 4 bytes but carries 4 bytes");
  EXPECT_EQ(body_error(42, {3, 8, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8}),
            "payload 1 (Delete): Delete of AH/ESP SAs has SPI size 8, must be 4");
  EXPECT_EQ(body_error(42, {1, 0, 0, 1}),
            "payload 1 (Delete): Delete of the IKE SA has SPI size 0 and 1 SPIs, must be 0 and 0");
  EXPECT_EQ(body_error(42, {9, 0, 0, 3}), "payload 1 (Delete): Delete announces 3 SPIs of size 0");
  auto ok = decode(message(42, payload(0, {3, 4, 0, 1, 0xc0, 0, 0, 1})));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(std::get<DeletePayload>(ok->payloads[0]).spis, std::vector<uint32_t>{0xc0000001});
}

TEST(WireFields, TrafficSelectorLengths) {
  Bytes v4 = {7, 0, 0, 16, 0, 0, 0xff, 0xff, 10, 0, 0, 0, 10, 0, 0, 255};
  EXPECT_TRUE(decode(message(44, payload(0, cat({Bytes{1, 0, 0, 0}, v4})))).ok());
  EXPECT_EQ(body_error(44, cat({Bytes{2, 0, 0, 0}, v4})),
            "payload 1 (TSi): traffic selector 2 needs a 4-byte header, 0 bytes left (2 "
            "selectors announced)");
  Bytes short_v4 = v4;
  short_v4[3] = 12;
  EXPECT_EQ(body_error(45, cat({Bytes{1, 0, 0, 0}, short_v4})),
            "payload 1 (TSr): traffic selector 1 (IPv4) length 12, must be 16");
  Bytes long_v4 = v4;
  long_v4[3] = 20;
  EXPECT_EQ(body_error(44, cat({Bytes{1, 0, 0, 0}, long_v4})),
            "payload 1 (TSi): traffic selector 1 length 20 exceeds remaining 16 bytes");
  EXPECT_EQ(body_error(44, cat({Bytes{0, 0, 0, 0}, v4})),
            "payload 1 (TSi): 16 bytes after the 0 announced traffic selectors");
  EXPECT_EQ(body_error(44, {1, 0, 0, 0, 10, 0, 0, 2}),
            "payload 1 (TSi): traffic selector 1 length 2 < 4-byte selector header");
}

TEST(WireFields, ConfigurationAttributeLengths) {
  EXPECT_EQ(body_error(47, {1, 0, 0, 0, 0, 1, 0, 3, 10, 0, 0}),
            "payload 1 (CP): configuration attribute 1 has 3 bytes, must be 0 or 4");
  EXPECT_EQ(body_error(47, {2, 0, 0, 0, 0, 1, 0, 8, 10, 0, 0, 1}),
            "payload 1 (CP): configuration attribute 1 value length 8 exceeds remaining 4 bytes");
  EXPECT_EQ(body_error(47, {2, 0, 0, 0, 0, 1}),
            "payload 1 (CP): configuration attribute 1 needs a 4-byte header, 2 bytes left");
}

TEST(WireFields, EapLengthFieldMatches) {
  EXPECT_EQ(body_error(48, {1, 1, 0, 9, 1}),
            "payload 1 (EAP): EAP length field 9 differs from the 5 bytes carried");
}

TEST(WireFields, FragmentNumbering) {
  EXPECT_EQ(body_error(53, {0, 3, 0, 2}),
            "payload 1 (SKF): fragment 3 of 2, must be numbered 1 to a nonzero total");
  EXPECT_EQ(body_error(53, {0, 0, 0, 2}),
            "payload 1 (SKF): fragment 0 of 2, must be numbered 1 to a nonzero total");
}

}  // namespace
}  // namespace ipsecd::engine::wire
