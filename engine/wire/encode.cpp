// Encoder: writes each payload once, back-patching lengths; refuses values that do not
// fit their wire fields rather than truncating them.

#include <string>

#include "engine/wire/message.h"

namespace ipsecd::engine::wire {
namespace {

Error unencodable(std::string message) {
  return Error{ErrorCode::kUnencodable, std::move(message), 0, std::nullopt};
}

std::string num(std::size_t n) {
  return std::to_string(n);
}

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v >> 8));
    out_.push_back(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void zeros(std::size_t n) { out_.insert(out_.end(), n, 0); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  std::size_t pos() const { return out_.size(); }
  void patch16(std::size_t at, uint16_t v) {
    out_[at] = static_cast<uint8_t>(v >> 8);
    out_[at + 1] = static_cast<uint8_t>(v);
  }
  void patch32(std::size_t at, uint32_t v) {
    patch16(at, static_cast<uint16_t>(v >> 16));
    patch16(at + 2, static_cast<uint16_t>(v));
  }

 private:
  std::vector<uint8_t>& out_;
};

std::optional<Error> write_sa(Writer& w, const SaPayload& sa) {
  if (sa.proposals.empty()) {
    return unencodable("SA payload without proposals");
  }
  for (std::size_t pi = 0; pi < sa.proposals.size(); ++pi) {
    const Proposal& p = sa.proposals[pi];
    std::size_t start = w.pos();
    if (p.spi.size() > 255) {
      return unencodable("SA proposal " + num(pi + 1) + " SPI of " + num(p.spi.size()) +
                         " bytes exceeds 255");
    }
    if (p.transforms.size() > 255) {
      return unencodable("SA proposal " + num(pi + 1) + " has " + num(p.transforms.size()) +
                         " transforms, at most 255 fit");
    }
    w.u8(pi + 1 == sa.proposals.size() ? 0 : 2);
    w.u8(0);
    w.u16(0);  // length, patched below
    w.u8(p.number);
    w.u8(static_cast<uint8_t>(p.protocol));
    w.u8(static_cast<uint8_t>(p.spi.size()));
    w.u8(static_cast<uint8_t>(p.transforms.size()));
    w.bytes(p.spi);
    for (std::size_t ti = 0; ti < p.transforms.size(); ++ti) {
      const Transform& t = p.transforms[ti];
      std::size_t tstart = w.pos();
      w.u8(ti + 1 == p.transforms.size() ? 0 : 3);
      w.u8(0);
      w.u16(0);
      w.u8(static_cast<uint8_t>(t.type));
      w.u8(0);
      w.u16(t.id);
      if (t.key_length) {
        w.u16(0x8000 | kAttributeKeyLength);
        w.u16(*t.key_length);
      }
      for (const TransformAttribute& a : t.attributes) {
        if (a.type > 0x7fff || a.type == kAttributeKeyLength) {
          return unencodable("transform attribute type " + num(a.type) +
                             " is out of range or is Key Length (use key_length)");
        }
        if (a.tv) {
          if (a.value.size() != 2) {
            return unencodable("TV transform attribute " + num(a.type) + " needs 2 bytes, has " +
                               num(a.value.size()));
          }
          w.u16(static_cast<uint16_t>(0x8000 | a.type));
          w.bytes(a.value);
        } else {
          if (a.value.size() > 0xffff) {
            return unencodable("transform attribute " + num(a.type) + " value too long");
          }
          w.u16(a.type);
          w.u16(static_cast<uint16_t>(a.value.size()));
          w.bytes(a.value);
        }
      }
      std::size_t tlen = w.pos() - tstart;
      if (tlen > 0xffff) {
        return unencodable("SA transform of " + num(tlen) + " bytes exceeds 65535");
      }
      w.patch16(tstart + 2, static_cast<uint16_t>(tlen));
    }
    std::size_t len = w.pos() - start;
    if (len > 0xffff) {
      return unencodable("SA proposal " + num(pi + 1) + " of " + num(len) + " bytes exceeds 65535");
    }
    w.patch16(start + 2, static_cast<uint16_t>(len));
  }
  return std::nullopt;
}

std::optional<Error> write_delete(Writer& w, const DeletePayload& d) {
  if (d.protocol == ProtocolId::kIke && !d.spis.empty()) {
    return unencodable("Delete of the IKE SA carries no SPIs");
  }
  if (d.spis.size() > 0xffff) {
    return unencodable("Delete of " + num(d.spis.size()) + " SPIs exceeds 65535");
  }
  bool sized = !d.spis.empty() || d.protocol == ProtocolId::kAh || d.protocol == ProtocolId::kEsp;
  w.u8(static_cast<uint8_t>(d.protocol));
  w.u8(sized ? 4 : 0);
  w.u16(static_cast<uint16_t>(d.spis.size()));
  for (uint32_t spi : d.spis) {
    w.u32(spi);
  }
  return std::nullopt;
}

std::optional<Error> write_ts(Writer& w, const TsPayload& ts) {
  if (ts.selectors.size() > 255) {
    return unencodable(num(ts.selectors.size()) + " traffic selectors, at most 255 fit");
  }
  w.u8(static_cast<uint8_t>(ts.selectors.size()));
  w.zeros(3);
  for (const TrafficSelector& s : ts.selectors) {
    std::size_t addr = s.type == TsType::kIpv4AddrRange   ? 4
                       : s.type == TsType::kIpv6AddrRange ? 16
                                                          : 0;
    w.u8(static_cast<uint8_t>(s.type));
    w.u8(s.ip_protocol);
    if (addr != 0) {
      w.u16(static_cast<uint16_t>(8 + 2 * addr));
      w.u16(s.start_port);
      w.u16(s.end_port);
      w.bytes(std::span(s.start_address).first(addr));
      w.bytes(std::span(s.end_address).first(addr));
    } else {
      if (s.opaque.size() > 0xffff - 4) {
        return unencodable("traffic selector of type " + num(static_cast<uint8_t>(s.type)) +
                           " too long");
      }
      w.u16(static_cast<uint16_t>(4 + s.opaque.size()));
      w.bytes(s.opaque);
    }
  }
  return std::nullopt;
}

std::optional<Error> write_cp(Writer& w, const CpPayload& cp) {
  w.u8(static_cast<uint8_t>(cp.type));
  w.zeros(3);
  for (const CpAttribute& a : cp.attributes) {
    if (a.type > 0x7fff || a.value.size() > 0xffff) {
      return unencodable("configuration attribute " + num(a.type) + " out of range");
    }
    w.u16(a.type);
    w.u16(static_cast<uint16_t>(a.value.size()));
    w.bytes(a.value);
  }
  return std::nullopt;
}

// Writes one payload body (after the generic header).
std::optional<Error> write_body(Writer& w, const Payload& payload) {
  struct Visitor {
    Writer& w;
    std::optional<Error> operator()(const SaPayload& p) { return write_sa(w, p); }
    std::optional<Error> operator()(const KePayload& p) {
      w.u16(p.group);
      w.u16(0);
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const IdPayload& p) {
      w.u8(static_cast<uint8_t>(p.type));
      w.zeros(3);
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const CertPayload& p) {
      w.u8(static_cast<uint8_t>(p.encoding));
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const CertReqPayload& p) {
      w.u8(static_cast<uint8_t>(p.encoding));
      w.bytes(p.authorities);
      return std::nullopt;
    }
    std::optional<Error> operator()(const AuthPayload& p) {
      w.u8(static_cast<uint8_t>(p.method));
      w.zeros(3);
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const NoncePayload& p) {
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const NotifyPayload& p) {
      if (p.spi.size() > 255) {
        return unencodable(notify_name(p.type) + " SPI of " + num(p.spi.size()) +
                           " bytes exceeds 255");
      }
      w.u8(p.spi.empty() ? 0 : static_cast<uint8_t>(p.protocol));
      w.u8(static_cast<uint8_t>(p.spi.size()));
      w.u16(static_cast<uint16_t>(p.type));
      w.bytes(p.spi);
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const DeletePayload& p) { return write_delete(w, p); }
    std::optional<Error> operator()(const VendorIdPayload& p) {
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const TsPayload& p) { return write_ts(w, p); }
    std::optional<Error> operator()(const EncryptedPayload& p) {
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const EncryptedFragmentPayload& p) {
      w.u16(p.number);
      w.u16(p.total);
      w.bytes(p.data);
      return std::nullopt;
    }
    std::optional<Error> operator()(const CpPayload& p) { return write_cp(w, p); }
    std::optional<Error> operator()(const EapPayload& p) {
      w.bytes(p.message);
      return std::nullopt;
    }
    std::optional<Error> operator()(const UnknownPayload& p) {
      w.bytes(p.body);
      return std::nullopt;
    }
  };
  return std::visit(Visitor{w}, payload);
}

bool is_encrypted(const Payload& p) {
  return std::holds_alternative<EncryptedPayload>(p) ||
         std::holds_alternative<EncryptedFragmentPayload>(p);
}

PayloadType next_field(const Payload& p, const Payload* following) {
  if (const auto* sk = std::get_if<EncryptedPayload>(&p)) {
    return sk->first_inner;
  }
  if (const auto* skf = std::get_if<EncryptedFragmentPayload>(&p)) {
    return skf->first_inner;
  }
  return following != nullptr ? payload_type(*following) : PayloadType::kNone;
}

// Writes the payload chain; returns the offset of the SK/SKF content, or 0.
Result<std::size_t> write_chain(Writer& w, std::span<const Payload> payloads, bool outer) {
  std::size_t encrypted_offset = 0;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    const Payload& p = payloads[i];
    if (is_encrypted(p) && (!outer || i + 1 != payloads.size())) {
      return Error{ErrorCode::kMisplacedEncrypted,
                   outer ? "an Encrypted payload must be the last payload"
                         : "an Encrypted payload cannot be inside another",
                   0, std::nullopt};
    }
    const Payload* following = i + 1 < payloads.size() ? &payloads[i + 1] : nullptr;
    const auto* unknown = std::get_if<UnknownPayload>(&p);
    std::size_t start = w.pos();
    w.u8(static_cast<uint8_t>(next_field(p, following)));
    w.u8(unknown != nullptr && unknown->critical ? 0x80 : 0);
    w.u16(0);  // length, patched below
    if (std::holds_alternative<EncryptedFragmentPayload>(p)) {
      encrypted_offset = w.pos() + 4;  // after Fragment Number and Total Fragments
    } else if (std::holds_alternative<EncryptedPayload>(p)) {
      encrypted_offset = w.pos();
    }
    if (auto e = write_body(w, p)) {
      e->message = "payload " + num(i + 1) + " (" +
                   payload_name(static_cast<uint8_t>(payload_type(p))) + "): " + e->message;
      return *e;
    }
    std::size_t len = w.pos() - start;
    if (len > 0xffff) {
      return unencodable("payload " + num(i + 1) + " (" +
                         payload_name(static_cast<uint8_t>(payload_type(p))) + ") of " + num(len) +
                         " bytes exceeds 65535");
    }
    w.patch16(start + 2, static_cast<uint16_t>(len));
  }
  return encrypted_offset;
}

std::size_t estimate(std::span<const Payload> payloads) {
  std::size_t n = kHeaderSize;
  for (const Payload& p : payloads) {
    n += 64;
    if (const auto* ke = std::get_if<KePayload>(&p)) {
      n += ke->data.size();
    } else if (const auto* sk = std::get_if<EncryptedPayload>(&p)) {
      n += sk->data.size();
    } else if (const auto* sa = std::get_if<SaPayload>(&p)) {
      n += sa->proposals.size() * 128;
    }
  }
  return n;
}

}  // namespace

PayloadType payload_type(const Payload& payload) {
  struct Visitor {
    PayloadType operator()(const SaPayload&) { return PayloadType::kSa; }
    PayloadType operator()(const KePayload&) { return PayloadType::kKe; }
    PayloadType operator()(const IdPayload& p) {
      return p.responder ? PayloadType::kIdr : PayloadType::kIdi;
    }
    PayloadType operator()(const CertPayload&) { return PayloadType::kCert; }
    PayloadType operator()(const CertReqPayload&) { return PayloadType::kCertReq; }
    PayloadType operator()(const AuthPayload&) { return PayloadType::kAuth; }
    PayloadType operator()(const NoncePayload&) { return PayloadType::kNonce; }
    PayloadType operator()(const NotifyPayload&) { return PayloadType::kNotify; }
    PayloadType operator()(const DeletePayload&) { return PayloadType::kDelete; }
    PayloadType operator()(const VendorIdPayload&) { return PayloadType::kVendorId; }
    PayloadType operator()(const TsPayload& p) {
      return p.responder ? PayloadType::kTsr : PayloadType::kTsi;
    }
    PayloadType operator()(const EncryptedPayload&) { return PayloadType::kEncrypted; }
    PayloadType operator()(const EncryptedFragmentPayload&) {
      return PayloadType::kEncryptedFragment;
    }
    PayloadType operator()(const CpPayload&) { return PayloadType::kConfiguration; }
    PayloadType operator()(const EapPayload&) { return PayloadType::kEap; }
    PayloadType operator()(const UnknownPayload& p) { return static_cast<PayloadType>(p.type); }
  };
  return std::visit(Visitor{}, payload);
}

Result<Encoded> encode_layout(const Message& message) {
  Encoded out;
  out.bytes.reserve(estimate(message.payloads));
  Writer w(out.bytes);
  const Header& h = message.header;
  w.u64(h.spi_i);
  w.u64(h.spi_r);
  w.u8(static_cast<uint8_t>(message.payloads.empty() ? PayloadType::kNone
                                                     : payload_type(message.payloads.front())));
  w.u8(static_cast<uint8_t>((h.major_version << 4) | (h.minor_version & 0x0f)));
  w.u8(static_cast<uint8_t>(h.exchange));
  w.u8(static_cast<uint8_t>((h.initiator ? 0x08 : 0) | (h.version ? 0x10 : 0) |
                            (h.response ? 0x20 : 0)));
  w.u32(h.message_id);
  w.u32(0);  // length, patched below
  auto offset = write_chain(w, message.payloads, true);
  if (!offset) {
    return offset.error();
  }
  out.encrypted_offset = offset.value();
  if (out.bytes.size() > UINT32_MAX) {
    return unencodable("message of " + num(out.bytes.size()) + " bytes");
  }
  w.patch32(24, static_cast<uint32_t>(out.bytes.size()));
  return out;
}

Result<std::vector<uint8_t>> encode(const Message& message) {
  auto layout = encode_layout(message);
  if (!layout) {
    return layout.error();
  }
  return std::move(layout.value().bytes);
}

Result<EncodedPayloads> encode_payloads(std::span<const Payload> payloads) {
  EncodedPayloads out;
  out.first = payloads.empty() ? PayloadType::kNone : payload_type(payloads.front());
  out.bytes.reserve(estimate(payloads));
  Writer w(out.bytes);
  auto offset = write_chain(w, payloads, false);
  if (!offset) {
    return offset.error();
  }
  return out;
}

}  // namespace ipsecd::engine::wire
