#include "engine/identities.h"

#include <algorithm>

#include "model/text.h"

namespace ipsecd::engine {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

std::vector<uint8_t> bytes_of(std::string_view s) {
  return {s.begin(), s.end()};
}

}  // namespace

kernel::Address to_kernel(const model::IpAddress& a) {
  return kernel::Address::from_bytes(
      a.family == model::AddressFamily::kIpv4 ? kernel::Family::kIpv4 : kernel::Family::kIpv6,
      a.bytes.data());
}

model::IpAddress to_model(const kernel::Address& a) {
  model::IpAddress out;
  out.family = a.family() == kernel::Family::kIpv4 ? model::AddressFamily::kIpv4
                                                   : model::AddressFamily::kIpv6;
  std::copy(a.data(), a.data() + a.size(), out.bytes.begin());
  return out;
}

model::Identity address_identity(const kernel::Address& address) {
  return model::Identity{
      address.family() == kernel::Family::kIpv4 ? model::IdKind::kIpv4 : model::IdKind::kIpv6,
      address.str()};
}

model::Result<wire::IdPayload> id_payload(const model::Identity& id, bool responder) {
  using R = model::Result<wire::IdPayload>;
  wire::IdPayload p;
  p.responder = responder;
  switch (id.kind) {
    case model::IdKind::kIpv4:
    case model::IdKind::kIpv6: {
      auto a = model::IpAddress::parse(id.value);
      if (!a.ok()) {
        return R::failure("identity " + id.str() + " is not an address: " + a.error());
      }
      p.type = a->family == model::AddressFamily::kIpv4 ? wire::IdType::kIpv4Addr
                                                        : wire::IdType::kIpv6Addr;
      p.data.assign(a->bytes.begin(), a->bytes.begin() + static_cast<long>(a->size()));
      return p;
    }
    case model::IdKind::kFqdn:
      p.type = wire::IdType::kFqdn;
      p.data = bytes_of(id.value);
      return p;
    case model::IdKind::kUserFqdn:
      p.type = wire::IdType::kRfc822Addr;
      p.data = bytes_of(id.value);
      return p;
    case model::IdKind::kKeyId:
      p.type = wire::IdType::kKeyId;
      for (std::size_t i = 0; i + 1 < id.value.size(); i += 2) {
        int hi = model::text::hex_value(id.value[i]);
        int lo = model::text::hex_value(id.value[i + 1]);
        if (hi < 0 || lo < 0) {
          return R::failure("key id " + id.str() + " is not hex");
        }
        p.data.push_back(static_cast<uint8_t>(hi * 16 + lo));
      }
      return p;
    case model::IdKind::kNull:
      p.type = wire::IdType::kNull;
      return p;
    default:
      return R::failure("identity " + id.str() +
                        " cannot be sent with PSK authentication; use an address, @fqdn, "
                        "user@fqdn, @#keyid or %null (DN ids need certificates)");
  }
}

model::Result<model::Identity> identity_of(const wire::IdPayload& id) {
  using R = model::Result<model::Identity>;
  std::string text(id.data.begin(), id.data.end());
  switch (id.type) {
    case wire::IdType::kIpv4Addr:
    case wire::IdType::kIpv6Addr: {
      const bool v4 = id.type == wire::IdType::kIpv4Addr;
      if (id.data.size() != (v4 ? 4u : 16u)) {
        return R::failure(std::string("ID_IPV") + (v4 ? "4" : "6") + "_ADDR has " +
                          std::to_string(id.data.size()) + " octets; it needs " +
                          (v4 ? "4" : "16"));
      }
      auto a = kernel::Address::from_bytes(v4 ? kernel::Family::kIpv4 : kernel::Family::kIpv6,
                                           id.data.data());
      return address_identity(a);
    }
    case wire::IdType::kFqdn:
      return model::Identity{model::IdKind::kFqdn, text};
    case wire::IdType::kRfc822Addr:
      return model::Identity{model::IdKind::kUserFqdn, text};
    case wire::IdType::kKeyId: {
      static const char* kHex = "0123456789abcdef";
      std::string hex;
      for (uint8_t b : id.data) {
        hex += kHex[b >> 4];
        hex += kHex[b & 15];
      }
      return model::Identity{model::IdKind::kKeyId, hex};
    }
    case wire::IdType::kNull:
      return model::Identity{model::IdKind::kNull, ""};
    default:
      return R::failure("ID type " + std::to_string(static_cast<unsigned>(id.type)) +
                        " is not supported with PSK authentication");
  }
}

std::string id_match_key(const model::Identity& id) {
  switch (id.kind) {
    case model::IdKind::kAny:
    case model::IdKind::kIpv4:
    case model::IdKind::kIpv6:
      return {};
    case model::IdKind::kFqdn:
    case model::IdKind::kUserFqdn: {
      std::string key(1, static_cast<char>('0' + static_cast<int>(id.kind)));
      for (char c : id.value) {
        key += c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
      }
      return key;
    }
    default:
      return std::string(1, static_cast<char>('0' + static_cast<int>(id.kind))) + id.value;
  }
}

bool id_matches(const model::Identity& configured, const model::Identity& received) {
  if (configured.kind == model::IdKind::kAny) {
    return true;
  }
  if (configured.kind != received.kind) {
    return false;
  }
  switch (configured.kind) {
    case model::IdKind::kIpv4:
    case model::IdKind::kIpv6: {
      auto a = model::IpAddress::parse(configured.value);
      auto b = model::IpAddress::parse(received.value);
      return a.ok() && b.ok() && *a == *b;
    }
    case model::IdKind::kFqdn:
    case model::IdKind::kUserFqdn:
      return iequal(configured.value, received.value);
    default:
      return configured.value == received.value;
  }
}

}  // namespace ipsecd::engine
