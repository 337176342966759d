// libFuzzer target for the IKEv2 codec. Each input is used twice:
//  1. as a whole datagram: decode(), and if it decodes, encode() must succeed and
//     decode back to an equal message that encodes to the same bytes;
//  2. as a payload chain: the first byte picks the first payload type (so every payload
//     decoder is reached without a valid header) and the rest goes to decode_payloads(),
//     with the same round-trip check through encode_payloads().
// Built by tests/fuzz/CMakeLists.txt (libFuzzer with -DIPSECD_FUZZ=ON and clang,
// otherwise as a seed-corpus replay test).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "engine/wire/message.h"

namespace wire = ipsecd::engine::wire;

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "ike_message_fuzz: %s\n", what);
    std::abort();
  }
}

void check_error(const wire::Error& e) {
  require(!e.message.empty(), "an error without a message");
  if (e.code == wire::ErrorCode::kUnsupportedCriticalPayload) {
    require(e.payload_type != 0, "UNSUPPORTED_CRITICAL_PAYLOAD without the payload type");
  }
}

// The payload types the chain mode starts with, one per decoder plus unknown and none.
constexpr wire::PayloadType kFirst[] = {
    wire::PayloadType::kSa,
    wire::PayloadType::kKe,
    wire::PayloadType::kIdi,
    wire::PayloadType::kIdr,
    wire::PayloadType::kCert,
    wire::PayloadType::kCertReq,
    wire::PayloadType::kAuth,
    wire::PayloadType::kNonce,
    wire::PayloadType::kNotify,
    wire::PayloadType::kDelete,
    wire::PayloadType::kVendorId,
    wire::PayloadType::kTsi,
    wire::PayloadType::kTsr,
    wire::PayloadType::kEncrypted,
    wire::PayloadType::kConfiguration,
    wire::PayloadType::kEap,
    wire::PayloadType::kEncryptedFragment,
    static_cast<wire::PayloadType>(99),
    wire::PayloadType::kNone,
    wire::PayloadType::kGspm,
};

void whole_message(std::span<const uint8_t> in) {
  auto m = wire::decode(in);
  if (!m) {
    check_error(m.error());
    return;
  }
  auto layout = wire::encode_layout(*m);
  require(layout.ok(), "a decoded message does not encode");
  require(layout->bytes.size() == in.size(), "re-encoding changed the message size");
  auto again = wire::decode(layout->bytes);
  require(again.ok(), "a re-encoded message does not decode");
  require(*again == *m, "decode(encode(m)) != m");
  auto twice = wire::encode(*again);
  require(twice.ok() && *twice == layout->bytes, "encode is not a fixed point");
  if (!m->payloads.empty()) {
    const auto* sk = std::get_if<wire::EncryptedPayload>(&m->payloads.back());
    if (sk != nullptr) {
      require(layout->encrypted_offset + sk->data.size() == layout->bytes.size(),
              "SK content offset does not end the message");
    }
  }
}

void payload_chain(std::span<const uint8_t> in) {
  wire::PayloadType first = kFirst[in[0] % std::size(kFirst)];
  auto chain = wire::decode_payloads(first, in.subspan(1));
  if (!chain) {
    check_error(chain.error());
    return;
  }
  auto enc = wire::encode_payloads(*chain);
  require(enc.ok(), "a decoded chain does not encode");
  require(enc->bytes.size() == in.size() - 1, "re-encoding changed the chain size");
  auto again = wire::decode_payloads(enc->first, enc->bytes);
  require(again.ok(), "a re-encoded chain does not decode");
  require(*again == *chain, "decode_payloads(encode_payloads(c)) != c");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  whole_message(in);
  if (!in.empty()) {
    payload_chain(in);
  }
  return 0;
}
