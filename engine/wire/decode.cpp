// Decoder: every read is preceded by a length check that names the field on failure.

#include <cstring>
#include <string>

#include "engine/wire/message.h"

namespace ipsecd::engine::wire {
namespace {

using Bytes = std::span<const uint8_t>;

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t be64(const uint8_t* p) {
  return (uint64_t{be32(p)} << 32) | be32(p + 4);
}

std::vector<uint8_t> copy(Bytes b) {
  return {b.begin(), b.end()};
}

Error malformed(std::string message) {
  return Error{ErrorCode::kMalformedPayload, std::move(message), 0, std::nullopt};
}

std::string num(std::size_t n) {
  return std::to_string(n);
}

// Payload minimum lengths, generic header included (RFC 7296 section 3).
std::size_t min_length(PayloadType type) {
  switch (type) {
    case PayloadType::kSa:
      return 12;  // one 8-octet proposal header
    case PayloadType::kKe:
    case PayloadType::kIdi:
    case PayloadType::kIdr:
    case PayloadType::kAuth:
    case PayloadType::kNotify:
    case PayloadType::kDelete:
    case PayloadType::kTsi:
    case PayloadType::kTsr:
    case PayloadType::kConfiguration:
    case PayloadType::kEap:
    case PayloadType::kEncryptedFragment:
      return 8;
    case PayloadType::kCert:
    case PayloadType::kCertReq:
      return 5;
    case PayloadType::kNonce:
      return 4 + 16;
    default:
      return 4;
  }
}

std::string min_length_reason(PayloadType type) {
  switch (type) {
    case PayloadType::kSa:
      return "4-byte generic header + 8-byte proposal header";
    case PayloadType::kNonce:
      return "4-byte generic header + 16-byte minimum nonce";
    case PayloadType::kCert:
    case PayloadType::kCertReq:
      return "4-byte generic header + 1-byte encoding";
    case PayloadType::kEap:
      return "4-byte generic header + 4-byte EAP header";
    case PayloadType::kEncryptedFragment:
      return "4-byte generic header + fragment number and total";
    default:
      return "4-byte generic header + 4-byte fixed fields";
  }
}

// ---- SA (RFC 7296 3.3).

std::string transform_where(std::size_t proposal, std::size_t transform) {
  return "SA proposal " + num(proposal) + " transform " + num(transform);
}

Result<TransformAttribute> decode_attribute(Bytes b, std::size_t& pos, std::size_t proposal,
                                            std::size_t transform) {
  auto where = [&] { return transform_where(proposal, transform); };
  if (b.size() - pos < 4) {
    return malformed(where() + " attribute header needs 4 bytes, " + num(b.size() - pos) + " left");
  }
  uint16_t word = be16(&b[pos]);
  TransformAttribute a;
  a.type = word & 0x7fff;
  a.tv = (word & 0x8000) != 0;
  if (a.tv) {
    a.value = copy(b.subspan(pos + 2, 2));
    pos += 4;
    return a;
  }
  std::size_t len = be16(&b[pos + 2]);
  if (len > b.size() - pos - 4) {
    return malformed(where() + " attribute " + num(a.type) + " value length " + num(len) +
                     " exceeds remaining " + num(b.size() - pos - 4) + " bytes");
  }
  a.value = copy(b.subspan(pos + 4, len));
  pos += 4 + len;
  return a;
}

Result<Transform> decode_transform(Bytes b, std::size_t proposal, std::size_t transform) {
  auto where = [&] { return transform_where(proposal, transform); };
  Transform t;
  t.type = static_cast<TransformType>(b[4]);
  t.id = be16(&b[6]);
  std::size_t pos = 8;
  while (pos < b.size()) {
    auto attr = decode_attribute(b, pos, proposal, transform);
    if (!attr) {
      return attr.error();
    }
    if (attr->type == kAttributeKeyLength) {
      if (!attr->tv) {
        return malformed(where() + " Key Length attribute must use the 2-byte TV format");
      }
      if (t.key_length) {
        return malformed(where() + " has two Key Length attributes");
      }
      t.key_length = be16(attr->value.data());
    } else {
      t.attributes.push_back(std::move(attr).value());
    }
  }
  return t;
}

Result<Proposal> decode_proposal(Bytes b, std::size_t index) {
  auto where = [&] { return "SA proposal " + num(index); };
  Proposal p;
  p.number = b[4];
  p.protocol = static_cast<ProtocolId>(b[5]);
  std::size_t spi_size = b[6];
  std::size_t count = b[7];
  if (spi_size > b.size() - 8) {
    return malformed(where() + " SPI size " + num(spi_size) + " exceeds remaining " +
                     num(b.size() - 8) + " bytes");
  }
  if (p.protocol == ProtocolId::kIke && spi_size != 0 && spi_size != 8) {
    return malformed(where() + " IKE SPI size " + num(spi_size) + ", must be 0 or 8");
  }
  if ((p.protocol == ProtocolId::kAh || p.protocol == ProtocolId::kEsp) && spi_size != 4) {
    return malformed(where() + " AH/ESP SPI size " + num(spi_size) + ", must be 4");
  }
  p.spi = copy(b.subspan(8, spi_size));
  std::size_t pos = 8 + spi_size;
  p.transforms.reserve(count);
  for (std::size_t i = 1; i <= count; ++i) {
    auto twhere = [&] { return transform_where(index, i); };
    std::size_t left = b.size() - pos;
    if (left < 8) {
      return malformed(twhere() + " needs an 8-byte header, " + num(left) + " bytes left (" +
                       num(count) + " transforms announced)");
    }
    uint8_t last = b[pos];
    std::size_t len = be16(&b[pos + 2]);
    if (len < 8) {
      return malformed(twhere() + " length " + num(len) + " < 8-byte transform header");
    }
    if (len > left) {
      return malformed(twhere() + " length " + num(len) + " exceeds remaining " + num(left) +
                       " bytes");
    }
    uint8_t expected = i == count ? 0 : 3;
    if (last != expected) {
      return malformed(twhere() + " Last Substruc is " + num(last) + ", must be " + num(expected) +
                       (i == count ? " (last of " : " (more follow of ") + num(count) +
                       " transforms)");
    }
    auto t = decode_transform(b.subspan(pos, len), index, i);
    if (!t) {
      return t.error();
    }
    p.transforms.push_back(std::move(t).value());
    pos += len;
  }
  if (pos != b.size()) {
    return malformed(where() + " has " + num(b.size() - pos) + " bytes after its " + num(count) +
                     " transforms");
  }
  return p;
}

Result<SaPayload> decode_sa(Bytes b) {
  SaPayload sa;
  std::size_t pos = 0;
  for (std::size_t index = 1;; ++index) {
    std::size_t left = b.size() - pos;
    if (left < 8) {
      return malformed("SA proposal " + num(index) + " needs an 8-byte header, " + num(left) +
                       " bytes left");
    }
    uint8_t last = b[pos];
    std::size_t len = be16(&b[pos + 2]);
    if (last != 0 && last != 2) {
      return malformed("SA proposal " + num(index) + " Last Substruc is " + num(last) +
                       ", must be 0 (last) or 2 (more)");
    }
    if (len < 8) {
      return malformed("SA proposal " + num(index) + " length " + num(len) +
                       " < 8-byte proposal header");
    }
    if (len > left) {
      return malformed("SA proposal " + num(index) + " length " + num(len) + " exceeds remaining " +
                       num(left) + " bytes");
    }
    auto p = decode_proposal(b.subspan(pos, len), index);
    if (!p) {
      return p.error();
    }
    sa.proposals.push_back(std::move(p).value());
    pos += len;
    if (last == 0) {
      if (pos != b.size()) {
        return malformed("SA proposal " + num(index) + " is marked last but " +
                         num(b.size() - pos) + " bytes follow it");
      }
      return sa;
    }
    if (pos == b.size()) {
      return malformed("SA proposal " + num(index) +
                       " announces another proposal (Last Substruc 2) but the payload ends");
    }
  }
}

// ---- Other payloads.

Result<IdPayload> decode_id(Bytes b, bool responder) {
  IdPayload id;
  id.responder = responder;
  id.type = static_cast<IdType>(b[0]);
  id.data = copy(b.subspan(4));
  if (id.type == IdType::kIpv4Addr && id.data.size() != 4) {
    return malformed("ID_IPV4_ADDR identity has " + num(id.data.size()) + " bytes, must be 4");
  }
  if (id.type == IdType::kIpv6Addr && id.data.size() != 16) {
    return malformed("ID_IPV6_ADDR identity has " + num(id.data.size()) + " bytes, must be 16");
  }
  return id;
}

Result<CertReqPayload> decode_certreq(Bytes b) {
  CertReqPayload c;
  c.encoding = static_cast<CertEncoding>(b[0]);
  c.authorities = copy(b.subspan(1));
  if (c.encoding == CertEncoding::kX509Signature && c.authorities.size() % 20 != 0) {
    return malformed("X.509 CERTREQ authority field of " + num(c.authorities.size()) +
                     " bytes is not a list of 20-byte SHA-1 hashes");
  }
  return c;
}

Result<NoncePayload> decode_nonce(Bytes b) {
  if (b.size() > 256) {
    return malformed("nonce of " + num(b.size()) + " bytes, must be 16 to 256");
  }
  return NoncePayload{copy(b)};
}

std::optional<std::string> check_notify_data(const NotifyPayload& n) {
  std::size_t size = n.data.size();
  auto fixed = [&](std::size_t want) -> std::optional<std::string> {
    if (size == want) {
      return std::nullopt;
    }
    return notify_name(n.type) + " data has " + num(size) + " bytes, must be " + num(want);
  };
  switch (n.type) {
    case NotifyType::kNatDetectionSourceIp:
    case NotifyType::kNatDetectionDestinationIp:
      return fixed(20);  // SHA-1 digest
    case NotifyType::kInvalidKePayload:
      return fixed(2);  // the accepted group
    case NotifyType::kUnsupportedCriticalPayload:
      return fixed(1);  // the payload type
    case NotifyType::kSetWindowSize:
      return fixed(4);
    case NotifyType::kCookie:
      if (size < 1 || size > 64) {
        return "COOKIE data has " + num(size) + " bytes, must be 1 to 64";
      }
      return std::nullopt;
    case NotifyType::kSignatureHashAlgorithms:
      if (size % 2 != 0) {
        return "SIGNATURE_HASH_ALGORITHMS data has " + num(size) +
               " bytes, must be a list of 2-byte hash identifiers";
      }
      return std::nullopt;
    case NotifyType::kRekeySa:
      if (n.spi.size() != 4) {
        return "REKEY_SA has an SPI of " + num(n.spi.size()) +
               " bytes, must be the 4-byte SPI of the Child SA";
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

Result<NotifyPayload> decode_notify(Bytes b) {
  NotifyPayload n;
  n.protocol = static_cast<ProtocolId>(b[0]);
  std::size_t spi_size = b[1];
  n.type = static_cast<NotifyType>(be16(&b[2]));
  if (spi_size > b.size() - 4) {
    return malformed(notify_name(n.type) + " SPI size " + num(spi_size) + " exceeds remaining " +
                     num(b.size() - 4) + " bytes");
  }
  if (spi_size == 0) {
    n.protocol = ProtocolId::kNone;  // "MUST be ignored on receipt"
  }
  n.spi = copy(b.subspan(4, spi_size));
  n.data = copy(b.subspan(4 + spi_size));
  if (auto why = check_notify_data(n)) {
    return malformed(*why);
  }
  return n;
}

Result<DeletePayload> decode_delete(Bytes b) {
  DeletePayload d;
  d.protocol = static_cast<ProtocolId>(b[0]);
  std::size_t spi_size = b[1];
  std::size_t count = be16(&b[2]);
  std::size_t left = b.size() - 4;
  if (d.protocol == ProtocolId::kIke && (spi_size != 0 || count != 0)) {
    return malformed("Delete of the IKE SA has SPI size " + num(spi_size) + " and " + num(count) +
                     " SPIs, must be 0 and 0");
  }
  if ((d.protocol == ProtocolId::kAh || d.protocol == ProtocolId::kEsp) && spi_size != 4) {
    return malformed("Delete of AH/ESP SAs has SPI size " + num(spi_size) + ", must be 4");
  }
  if (spi_size != 0 && spi_size != 4) {
    return malformed("Delete SPI size " + num(spi_size) + ", must be 0 or 4");
  }
  if (spi_size == 0 && count != 0) {
    return malformed("Delete announces " + num(count) + " SPIs of size 0");
  }
  if (count * spi_size != left) {
    return malformed("Delete announces " + num(count) + " SPIs of " + num(spi_size) +
                     " bytes but carries " + num(left) + " bytes");
  }
  d.spis.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    d.spis.push_back(be32(&b[4 + 4 * i]));
  }
  return d;
}

Result<TsPayload> decode_ts(Bytes b, bool responder) {
  TsPayload ts;
  ts.responder = responder;
  std::size_t count = b[0];
  std::size_t pos = 4;
  ts.selectors.reserve(count);
  for (std::size_t i = 1; i <= count; ++i) {
    auto where = [&] { return "traffic selector " + num(i); };
    std::size_t left = b.size() - pos;
    if (left < 4) {
      return malformed(where() + " needs a 4-byte header, " + num(left) + " bytes left (" +
                       num(count) + " selectors announced)");
    }
    TrafficSelector s;
    s.type = static_cast<TsType>(b[pos]);
    s.ip_protocol = b[pos + 1];
    std::size_t len = be16(&b[pos + 2]);
    if (len > left) {
      return malformed(where() + " length " + num(len) + " exceeds remaining " + num(left) +
                       " bytes");
    }
    std::size_t addr = 0;
    if (s.type == TsType::kIpv4AddrRange) {
      addr = 4;
    } else if (s.type == TsType::kIpv6AddrRange) {
      addr = 16;
    }
    if (addr != 0) {
      if (len != 8 + 2 * addr) {
        return malformed(where() + (addr == 4 ? " (IPv4)" : " (IPv6)") + " length " + num(len) +
                         ", must be " + num(8 + 2 * addr));
      }
      const uint8_t* p = &b[pos];
      s.start_port = be16(p + 4);
      s.end_port = be16(p + 6);
      std::memcpy(s.start_address.data(), p + 8, addr);
      std::memcpy(s.end_address.data(), p + 8 + addr, addr);
    } else {
      if (len < 4) {
        return malformed(where() + " length " + num(len) + " < 4-byte selector header");
      }
      s.opaque = copy(b.subspan(pos + 4, len - 4));
    }
    ts.selectors.push_back(std::move(s));
    pos += len;
  }
  if (pos != b.size()) {
    return malformed(num(b.size() - pos) + " bytes after the " + num(count) +
                     " announced traffic selectors");
  }
  return ts;
}

std::optional<std::string> check_cp_attribute(const CpAttribute& a) {
  std::size_t size = a.value.size();
  auto one_of = [&](std::size_t x, std::size_t y) -> std::optional<std::string> {
    if (size == x || size == y) {
      return std::nullopt;
    }
    return "configuration attribute " + num(a.type) + " has " + num(size) + " bytes, must be " +
           num(x) + " or " + num(y);
  };
  switch (static_cast<CfgAttribute>(a.type)) {
    case CfgAttribute::kInternalIp4Address:
    case CfgAttribute::kInternalIp4Netmask:
    case CfgAttribute::kInternalIp4Dns:
    case CfgAttribute::kInternalIp4Nbns:
    case CfgAttribute::kInternalIp4Dhcp:
      return one_of(0, 4);
    case CfgAttribute::kInternalIp6Address:
    case CfgAttribute::kInternalIp6Subnet:
      return one_of(0, 17);
    case CfgAttribute::kInternalIp6Dns:
    case CfgAttribute::kInternalIp6Dhcp:
      return one_of(0, 16);
    case CfgAttribute::kInternalIp4Subnet:
      return one_of(0, 8);
    case CfgAttribute::kSupportedAttributes:
      if (size % 2 != 0) {
        return "SUPPORTED_ATTRIBUTES has " + num(size) + " bytes, must be a list of 2-byte types";
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

Result<CpPayload> decode_cp(Bytes b) {
  CpPayload cp;
  cp.type = static_cast<CfgType>(b[0]);
  std::size_t pos = 4;
  for (std::size_t i = 1; pos < b.size(); ++i) {
    std::size_t left = b.size() - pos;
    if (left < 4) {
      return malformed("configuration attribute " + num(i) + " needs a 4-byte header, " +
                       num(left) + " bytes left");
    }
    CpAttribute a;
    a.type = be16(&b[pos]) & 0x7fff;
    std::size_t len = be16(&b[pos + 2]);
    if (len > left - 4) {
      return malformed("configuration attribute " + num(i) + " value length " + num(len) +
                       " exceeds remaining " + num(left - 4) + " bytes");
    }
    a.value = copy(b.subspan(pos + 4, len));
    if (auto why = check_cp_attribute(a)) {
      return malformed(*why);
    }
    cp.attributes.push_back(std::move(a));
    pos += 4 + len;
  }
  return cp;
}

Result<EapPayload> decode_eap(Bytes b) {
  std::size_t len = be16(&b[2]);
  if (len != b.size()) {
    return malformed("EAP length field " + num(len) + " differs from the " + num(b.size()) +
                     " bytes carried");
  }
  return EapPayload{copy(b)};
}

Result<EncryptedFragmentPayload> decode_skf(Bytes b, PayloadType next) {
  EncryptedFragmentPayload f;
  f.first_inner = next;
  f.number = be16(&b[0]);
  f.total = be16(&b[2]);
  if (f.number == 0 || f.total == 0 || f.number > f.total) {
    return malformed("fragment " + num(f.number) + " of " + num(f.total) +
                     ", must be numbered 1 to a nonzero total");
  }
  f.data = copy(b.subspan(4));
  return f;
}

template <class T>
Result<Payload> lift(Result<T> r) {
  if (!r) {
    return r.error();
  }
  return Payload{std::move(r).value()};
}

// Body of one known payload type (length already checked against min_length()).
std::optional<Result<Payload>> decode_known(PayloadType type, PayloadType next, Bytes body) {
  switch (type) {
    case PayloadType::kSa:
      return lift(decode_sa(body));
    case PayloadType::kKe:
      return Result<Payload>(KePayload{be16(&body[0]), copy(body.subspan(4))});
    case PayloadType::kIdi:
    case PayloadType::kIdr:
      return lift(decode_id(body, type == PayloadType::kIdr));
    case PayloadType::kCert:
      return Result<Payload>(
          CertPayload{static_cast<CertEncoding>(body[0]), copy(body.subspan(1))});
    case PayloadType::kCertReq:
      return lift(decode_certreq(body));
    case PayloadType::kAuth:
      return Result<Payload>(AuthPayload{static_cast<AuthMethod>(body[0]), copy(body.subspan(4))});
    case PayloadType::kNonce:
      return lift(decode_nonce(body));
    case PayloadType::kNotify:
      return lift(decode_notify(body));
    case PayloadType::kDelete:
      return lift(decode_delete(body));
    case PayloadType::kVendorId:
      return Result<Payload>(VendorIdPayload{copy(body)});
    case PayloadType::kTsi:
    case PayloadType::kTsr:
      return lift(decode_ts(body, type == PayloadType::kTsr));
    case PayloadType::kEncrypted:
      return Result<Payload>(EncryptedPayload{next, copy(body)});
    case PayloadType::kEncryptedFragment:
      return lift(decode_skf(body, next));
    case PayloadType::kConfiguration:
      return lift(decode_cp(body));
    case PayloadType::kEap:
      return lift(decode_eap(body));
    default:
      return std::nullopt;
  }
}

bool is_encrypted(PayloadType t) {
  return t == PayloadType::kEncrypted || t == PayloadType::kEncryptedFragment;
}

// Walks a payload chain; `base` is the offset of `bytes` in the datagram (for messages),
// `outer` says whether SK/SKF may end the chain.
Result<std::vector<Payload>> decode_chain(PayloadType first, Bytes bytes, std::size_t base,
                                          bool outer) {
  std::vector<Payload> out;
  out.reserve(8);
  const char* prefix = outer ? "payload " : "inner payload ";
  std::size_t pos = 0;
  PayloadType type = first;
  for (std::size_t index = 1; type != PayloadType::kNone; ++index) {
    auto name = [&] {
      return prefix + num(index) + " (" + payload_name(static_cast<uint8_t>(type)) + ")";
    };
    std::size_t left = bytes.size() - pos;
    if (left < kGenericHeaderSize) {
      return Error{ErrorCode::kTruncatedPayload,
                   name() + " at offset " + num(base + pos) + " has " + num(left) +
                       " bytes left, the generic payload header needs 4",
                   0, std::nullopt};
    }
    const uint8_t* p = &bytes[pos];
    auto next = static_cast<PayloadType>(p[0]);
    bool critical = (p[1] & 0x80) != 0;
    std::size_t len = be16(p + 2);
    if (len < kGenericHeaderSize) {
      return Error{ErrorCode::kPayloadTooShort,
                   name() + " length " + num(len) + " < 4-byte generic header", 0, std::nullopt};
    }
    if (len > left) {
      return Error{ErrorCode::kPayloadOverrun,
                   name() + " length " + num(len) + " exceeds remaining " + num(left) + " bytes", 0,
                   std::nullopt};
    }
    std::size_t min = min_length(type);
    if (len < min) {
      return Error{
          ErrorCode::kPayloadTooShort,
          name() + " length " + num(len) + " < " + num(min) + " (" + min_length_reason(type) + ")",
          0, std::nullopt};
    }
    if (is_encrypted(type)) {
      if (!outer) {
        return Error{ErrorCode::kMisplacedEncrypted,
                     name() + " inside an Encrypted payload (RFC 7296 3.14 forbids nesting)", 0,
                     std::nullopt};
      }
      if (len != left) {
        return Error{
            ErrorCode::kMisplacedEncrypted,
            name() + " must be the last payload but " + num(left - len) + " bytes follow it", 0,
            std::nullopt};
      }
    }
    Bytes body = bytes.subspan(pos + kGenericHeaderSize, len - kGenericHeaderSize);
    if (auto known = decode_known(type, next, body)) {
      if (!*known) {
        Error e = known->error();
        e.message = name() + ": " + e.message;
        return e;
      }
      out.push_back(std::move(*known).value());
    } else if (critical) {
      // RFC 7296 3.2: reject the message and answer UNSUPPORTED_CRITICAL_PAYLOAD.
      return Error{ErrorCode::kUnsupportedCriticalPayload,
                   name() + " is not supported and has the critical bit set",
                   static_cast<uint8_t>(type), std::nullopt};
    } else {
      out.push_back(UnknownPayload{static_cast<uint8_t>(type), false, copy(body)});
    }
    pos += len;
    if (is_encrypted(type)) {
      break;  // its Next Payload names the first inner payload, not a following one
    }
    type = next;
  }
  if (pos != bytes.size()) {
    return Error{
        ErrorCode::kTrailingBytes,
        num(bytes.size() - pos) + " bytes after the last payload at offset " + num(base + pos), 0,
        std::nullopt};
  }
  return out;
}

}  // namespace

Result<Header> decode_header(std::span<const uint8_t> d) {
  if (d.size() < kHeaderSize) {
    return Error{ErrorCode::kTruncatedHeader,
                 "message of " + num(d.size()) + " bytes is shorter than the 28-byte IKE header", 0,
                 std::nullopt};
  }
  Header h;
  h.spi_i = be64(&d[0]);
  h.spi_r = be64(&d[8]);
  h.next_payload = static_cast<PayloadType>(d[16]);
  h.major_version = d[17] >> 4;
  h.minor_version = d[17] & 0x0f;
  h.exchange = static_cast<ExchangeType>(d[18]);
  h.initiator = (d[19] & 0x08) != 0;
  h.version = (d[19] & 0x10) != 0;
  h.response = (d[19] & 0x20) != 0;
  h.message_id = be32(&d[20]);
  h.length = be32(&d[24]);
  if (h.major_version != 2) {
    std::string what = h.major_version == 1 ? " (IKEv1)" : "";
    return Error{
        ErrorCode::kInvalidMajorVersion,
        "IKE major version " + num(h.major_version) + what + ", this implementation speaks 2", 0,
        h};
  }
  return h;
}

Result<Message> decode(std::span<const uint8_t> d) {
  auto header = decode_header(d);
  if (!header) {
    return header.error();
  }
  Message m;
  m.header = header.value();
  if (m.header.length != d.size()) {
    return Error{ErrorCode::kLengthMismatch,
                 "header length " + num(m.header.length) + " differs from the datagram size " +
                     num(d.size()),
                 0, m.header};
  }
  auto payloads = decode_chain(m.header.next_payload, d.subspan(kHeaderSize), kHeaderSize, true);
  if (!payloads) {
    Error e = payloads.error();
    e.header = m.header;
    return e;
  }
  m.payloads = std::move(payloads).value();
  return m;
}

Result<std::vector<Payload>> decode_payloads(PayloadType first, std::span<const uint8_t> bytes) {
  return decode_chain(first, bytes, 0, false);
}

NotifyType Error::answer() const {
  switch (code) {
    case ErrorCode::kInvalidMajorVersion:
      return NotifyType::kInvalidMajorVersion;
    case ErrorCode::kUnsupportedCriticalPayload:
      return NotifyType::kUnsupportedCriticalPayload;
    default:
      return NotifyType::kInvalidSyntax;
  }
}

}  // namespace ipsecd::engine::wire
