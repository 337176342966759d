// Writes the seed corpus of ike_message_fuzz: valid messages of every exchange and
// payload type, plus plaintext SK chains prefixed with their first-payload selector byte.
// The committed seeds in corpus/ike_message/ came from this:
//   ninja -C build ike_message_seeds
//   build/tests/fuzz/ike_message_seeds tests/fuzz/corpus/ike_message

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/wire/message.h"

using namespace ipsecd::engine::wire;  // NOLINT(google-build-using-namespace)

namespace {

using Bytes = std::vector<uint8_t>;

Bytes fill(std::size_t n, uint8_t start) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) {
    b[i] = static_cast<uint8_t>(start + i * 7);
  }
  return b;
}

Transform tf(TransformType type, uint16_t id, std::optional<uint16_t> key_length = {}) {
  return Transform{type, id, key_length, {}};
}

Header header(ExchangeType exchange, uint32_t id, bool response) {
  Header h;
  h.spi_i = 0x5395239c0d0f2616ULL;
  h.spi_r = exchange == ExchangeType::kIkeSaInit && !response ? 0 : 0x36a97c475dd6b6cfULL;
  h.exchange = exchange;
  h.initiator = !response;
  h.response = response;
  h.message_id = id;
  return h;
}

SaPayload ike_sa() {
  Proposal p;
  p.protocol = ProtocolId::kIke;
  p.transforms = {
      tf(TransformType::kEncryption, static_cast<uint16_t>(EncryptionId::kAesGcm16), 256),
      tf(TransformType::kPrf, static_cast<uint16_t>(PrfId::kHmacSha2_384)),
      tf(TransformType::kKeyExchange, static_cast<uint16_t>(KeGroup::kEcp384))};
  Proposal q = p;
  q.number = 2;
  q.transforms = {
      tf(TransformType::kEncryption, static_cast<uint16_t>(EncryptionId::kAesCbc), 128),
      tf(TransformType::kIntegrity, static_cast<uint16_t>(IntegrityId::kHmacSha2_256_128)),
      tf(TransformType::kPrf, static_cast<uint16_t>(PrfId::kHmacSha2_256)),
      tf(TransformType::kKeyExchange, static_cast<uint16_t>(KeGroup::kModp2048))};
  return SaPayload{{p, q}};
}

SaPayload esp_sa() {
  Proposal p;
  p.protocol = ProtocolId::kEsp;
  p.spi = {0xc7, 0x4d, 0xc7, 0xce};
  p.transforms = {
      tf(TransformType::kEncryption, static_cast<uint16_t>(EncryptionId::kAesCbc), 128),
      tf(TransformType::kIntegrity, static_cast<uint16_t>(IntegrityId::kHmacSha2_256_128)),
      tf(TransformType::kEsn, static_cast<uint16_t>(EsnId::kNoEsn))};
  return SaPayload{{p}};
}

TsPayload ts(bool responder) {
  TrafficSelector v4;
  v4.start_address = {198, 51, 100, 1};
  v4.end_address = {198, 51, 100, 1};
  TrafficSelector v6;
  v6.type = TsType::kIpv6AddrRange;
  v6.ip_protocol = 6;
  v6.start_port = 443;
  v6.end_port = 443;
  v6.start_address = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
  v6.end_address = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return TsPayload{responder, {v4, v6}};
}

NotifyPayload notify(NotifyType type, Bytes data = {}) {
  return NotifyPayload{ProtocolId::kNone, {}, type, std::move(data)};
}

std::vector<Payload> auth_chain() {
  return {IdPayload{false, IdType::kFqdn, Bytes{'l', 'e', 'f', 't', '.', 'e', 'x'}},
          notify(NotifyType::kInitialContact),
          IdPayload{true, IdType::kIpv4Addr, Bytes{192, 0, 2, 2}},
          CertPayload{CertEncoding::kX509Signature, fill(64, 3)},
          CertReqPayload{CertEncoding::kX509Signature, fill(20, 9)},
          AuthPayload{AuthMethod::kDigitalSignature, fill(48, 1)},
          CpPayload{CfgType::kRequest,
                    {{static_cast<uint16_t>(CfgAttribute::kInternalIp4Address), {}},
                     {static_cast<uint16_t>(CfgAttribute::kInternalIp4Dns), {}},
                     {static_cast<uint16_t>(CfgAttribute::kInternalIp6Address), {}}}},
          esp_sa(),
          ts(false),
          ts(true),
          notify(NotifyType::kUseTransportMode),
          notify(NotifyType::kEspTfcPaddingNotSupported),
          notify(NotifyType::kNonFirstFragmentsAlso),
          EapPayload{Bytes{2, 1, 0, 9, 1, 'u', 's', 'e', 'r'}}};
}

void write(const std::string& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s %zu bytes\n", name.c_str(), bytes.size());
}

void message(const std::string& dir, const std::string& name, const Message& m) {
  write(dir, name, encode(m).value());
}

// Selector byte = index of the first payload type in the fuzzer's kFirst table.
void chain(const std::string& dir, const std::string& name, uint8_t selector,
           const std::vector<Payload>& payloads) {
  Bytes b{selector};
  Bytes body = encode_payloads(payloads).value().bytes;
  b.insert(b.end(), body.begin(), body.end());
  write(dir, name, b);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];

  Message init{header(ExchangeType::kIkeSaInit, 0, false), {}};
  init.payloads = {ike_sa(),
                   KePayload{static_cast<uint16_t>(KeGroup::kEcp384), fill(96, 5)},
                   NoncePayload{fill(32, 11)},
                   notify(NotifyType::kNatDetectionSourceIp, fill(20, 1)),
                   notify(NotifyType::kNatDetectionDestinationIp, fill(20, 2)),
                   notify(NotifyType::kIkev2FragmentationSupported),
                   notify(NotifyType::kSignatureHashAlgorithms, Bytes{0, 2, 0, 3, 0, 4, 0, 5}),
                   VendorIdPayload{Bytes{'i', 'p', 's', 'e', 'c', 'd'}}};
  message(dir, "ike_sa_init_request", init);

  Message cookie{header(ExchangeType::kIkeSaInit, 0, true),
                 {notify(NotifyType::kCookie, fill(32, 4))}};
  message(dir, "ike_sa_init_cookie", cookie);

  Message invalid_ke{header(ExchangeType::kIkeSaInit, 0, true),
                     {notify(NotifyType::kInvalidKePayload, Bytes{0, 31})}};
  message(dir, "ike_sa_init_invalid_ke", invalid_ke);

  Message auth{header(ExchangeType::kIkeAuth, 1, false), auth_chain()};
  message(dir, "ike_auth_plaintext", auth);

  Message rekey{header(ExchangeType::kCreateChildSa, 2, false), {}};
  rekey.payloads = {notify(NotifyType::kRekeySa),
                    esp_sa(),
                    NoncePayload{fill(32, 17)},
                    KePayload{static_cast<uint16_t>(KeGroup::kCurve25519), fill(32, 6)},
                    ts(false),
                    ts(true)};
  auto& rekey_sa = std::get<NotifyPayload>(rekey.payloads[0]);
  rekey_sa.protocol = ProtocolId::kEsp;
  rekey_sa.spi = {0xc7, 0x4d, 0xc7, 0xce};
  message(dir, "create_child_sa_rekey", rekey);

  Message del{header(ExchangeType::kInformational, 3, false),
              {DeletePayload{ProtocolId::kEsp, {0xc74dc7ce, 0xba7dacdc}},
               DeletePayload{ProtocolId::kIke, {}}}};
  message(dir, "informational_delete", del);

  Message sk{header(ExchangeType::kIkeAuth, 1, false),
             {EncryptedPayload{PayloadType::kIdi, fill(80, 8)}}};
  message(dir, "ike_auth_sk", sk);

  Message skf{header(ExchangeType::kIkeAuth, 1, false),
              {EncryptedFragmentPayload{PayloadType::kIdi, 1, 2, fill(60, 2)}}};
  message(dir, "ike_auth_skf", skf);

  Message unknown{header(ExchangeType::kInformational, 4, true),
                  {UnknownPayload{200, false, fill(6, 1)}, UnknownPayload{201, true, {}}}};
  message(dir, "informational_unknown_critical", unknown);

  chain(dir, "chain_ike_auth", 2, auth_chain());  // kFirst[2] = IDi
  chain(dir, "chain_delete", 9, {DeletePayload{ProtocolId::kAh, {1, 2, 3}}});
  chain(dir, "chain_cp_reply", 14,
        {CpPayload{CfgType::kReply,
                   {{static_cast<uint16_t>(CfgAttribute::kInternalIp4Address), {10, 1, 0, 2}},
                    {static_cast<uint16_t>(CfgAttribute::kInternalIp4Subnet),
                     {10, 1, 0, 0, 255, 255, 0, 0}},
                    {static_cast<uint16_t>(CfgAttribute::kSupportedAttributes), {0, 1, 0, 3}}}},
         notify(NotifyType::kAdditionalTsPossible)});
  return 0;
}
