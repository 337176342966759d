#include "engine/crypto/key_exchange.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <array>
#include <cstring>
#include <vector>

#include "engine/crypto/detail/openssl.h"

namespace ipsecd::engine::crypto {

namespace {

using model::DhId;
using R = model::Result<std::unique_ptr<KeyExchange>>;

enum class Kind : uint8_t { kModp, kEcp, kEcx };

struct GroupInfo {
  DhId id;
  Kind kind;
  const char* ossl_name;  // the named group (MODP, ECP) or key type (X25519, X448)
  std::size_t public_size;
  std::size_t secret_size;
  int curve_nid;  // ECP only
};

constexpr std::array<GroupInfo, 10> kGroups = {{
    {DhId::kModp2048, Kind::kModp, "modp_2048", 256, 256, 0},
    {DhId::kModp3072, Kind::kModp, "modp_3072", 384, 384, 0},
    {DhId::kModp4096, Kind::kModp, "modp_4096", 512, 512, 0},
    {DhId::kModp6144, Kind::kModp, "modp_6144", 768, 768, 0},
    {DhId::kModp8192, Kind::kModp, "modp_8192", 1024, 1024, 0},
    {DhId::kEcp256, Kind::kEcp, "P-256", 64, 32, NID_X9_62_prime256v1},
    {DhId::kEcp384, Kind::kEcp, "P-384", 96, 48, NID_secp384r1},
    {DhId::kEcp521, Kind::kEcp, "P-521", 132, 66, NID_secp521r1},
    {DhId::kCurve25519, Kind::kEcx, "X25519", 32, 32, 0},
    {DhId::kCurve448, Kind::kEcx, "X448", 56, 56, 0},
}};

constexpr std::size_t kMaxPublic = 1024;  // MODP-8192

// Domain parameters made once per group; key generation starts from them so it
// needs no name look-up.
struct GroupState {
  const GroupInfo* info = nullptr;
  detail::Pkey params;             // MODP and ECP
  std::vector<uint8_t> p_minus_1;  // MODP: p-1, big-endian, prime length
};

detail::Pkey make_params(const GroupInfo& info) {
  detail::PkeyCtx ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, info.kind == Kind::kModp ? "DH" : "EC", nullptr));
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                          const_cast<char*>(info.ossl_name), 0),
                         OSSL_PARAM_construct_end()};
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEY_PARAMETERS, params) != 1) {
    detail::fatal(info.ossl_name);
  }
  return detail::Pkey(pkey);
}

std::vector<uint8_t> modp_p_minus_1(const GroupInfo& info, EVP_PKEY* params) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(params, OSSL_PKEY_PARAM_FFC_P, &raw) != 1) {
    detail::fatal("EVP_PKEY_get_bn_param(p)");
  }
  detail::Bignum p(raw);
  std::vector<uint8_t> out(info.public_size);
  if (static_cast<std::size_t>(BN_num_bytes(p.get())) != info.public_size ||
      BN_sub_word(p.get(), 1) != 1 ||
      BN_bn2binpad(p.get(), out.data(), static_cast<int>(out.size())) < 0) {
    detail::fatal("MODP prime size");
  }
  return out;
}

const GroupState* find_state(DhId id) {
  static const std::array<GroupState, kGroups.size()> states = [] {
    std::array<GroupState, kGroups.size()> s;
    for (std::size_t i = 0; i < kGroups.size(); ++i) {
      s[i].info = &kGroups[i];
      if (kGroups[i].kind != Kind::kEcx) {
        s[i].params = make_params(kGroups[i]);
      }
      if (kGroups[i].kind == Kind::kModp) {
        s[i].p_minus_1 = modp_p_minus_1(kGroups[i], s[i].params.get());
      }
    }
    return s;
  }();
  for (const auto& s : states) {
    if (s.info->id == id) {
      return &s;
    }
  }
  return nullptr;
}

const GroupInfo* find_info(DhId id) {
  for (const auto& g : kGroups) {
    if (g.id == id) {
      return &g;
    }
  }
  return nullptr;
}

std::string unsupported(DhId id) {
  return "DH group " + group_name(id) +
         " is not supported; use 14, 15, 16, 17, 18 (MODP), 19, 20, 21 (ECP), 31 (Curve25519) "
         "or 32 (Curve448)";
}

class EvpKeyExchange final : public KeyExchange {
 public:
  EvpKeyExchange(const GroupState& group, detail::Pkey key)
      : group_(group), key_(std::move(key)), public_(group.info->public_size) {
    extract_public();
  }

  DhId group() const override { return group_.info->id; }
  std::span<const uint8_t> public_value() const override { return public_; }
  model::Result<Secret> derive(std::span<const uint8_t> peer_public) const override;

 private:
  void extract_public();
  model::Result<detail::Pkey> peer_key(std::span<const uint8_t> peer_public) const;

  const GroupState& group_;
  detail::Pkey key_;
  std::vector<uint8_t> public_;
};

void EvpKeyExchange::extract_public() {
  const GroupInfo& info = *group_.info;
  switch (info.kind) {
    case Kind::kModp: {
      BIGNUM* raw = nullptr;
      if (EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, &raw) != 1) {
        detail::fatal("EVP_PKEY_get_bn_param(pub)");
      }
      detail::Bignum pub(raw);
      if (BN_bn2binpad(pub.get(), public_.data(), static_cast<int>(public_.size())) < 0) {
        detail::fatal("BN_bn2binpad(pub)");
      }
      break;
    }
    case Kind::kEcp: {
      std::array<uint8_t, 1 + kMaxPublic> point{};
      std::size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                          point.data(), point.size(), &len) != 1 ||
          len != 1 + info.public_size || point[0] != POINT_CONVERSION_UNCOMPRESSED) {
        detail::fatal("EC public point");
      }
      std::memcpy(public_.data(), point.data() + 1, info.public_size);
      break;
    }
    case Kind::kEcx: {
      std::size_t len = public_.size();
      if (EVP_PKEY_get_raw_public_key(key_.get(), public_.data(), &len) != 1 ||
          len != public_.size()) {
        detail::fatal("EVP_PKEY_get_raw_public_key");
      }
      break;
    }
  }
}

model::Result<detail::Pkey> EvpKeyExchange::peer_key(std::span<const uint8_t> peer) const {
  using PR = model::Result<detail::Pkey>;
  const GroupInfo& info = *group_.info;
  const std::string name = group_name(info.id);
  if (peer.size() != info.public_size) {
    return PR::failure("KE data for DH group " + name + " must be " +
                       std::to_string(info.public_size) + " octets, got " +
                       std::to_string(peer.size()));
  }
  if (info.kind == Kind::kEcx) {
    detail::Pkey key(
        EVP_PKEY_new_raw_public_key_ex(nullptr, info.ossl_name, nullptr, peer.data(), peer.size()));
    if (!key) {
      detail::fatal("EVP_PKEY_new_raw_public_key_ex");
    }
    return key;
  }
  std::array<uint8_t, 1 + kMaxPublic> encoded{};
  std::span<const uint8_t> value = peer;
  if (info.kind == Kind::kModp) {
    // 1 < y < p-1 (RFC 7296 5, RFC 6989): excludes 0, 1 and p-1, the order-2 subgroup.
    bool above_one = false;
    for (std::size_t i = 0; i + 1 < peer.size(); ++i) {
      above_one |= peer[i] != 0;
    }
    above_one |= peer.back() > 1;
    if (!above_one || std::memcmp(peer.data(), group_.p_minus_1.data(), peer.size()) >= 0) {
      return PR::failure("KE data for DH group " + name +
                         " is not a valid public value (it must lie between 1 and p-1)");
    }
  } else {
    encoded[0] = POINT_CONVERSION_UNCOMPRESSED;
    std::memcpy(encoded.data() + 1, peer.data(), peer.size());
    value = std::span<const uint8_t>(encoded.data(), peer.size() + 1);
  }
  detail::Pkey key(EVP_PKEY_new());
  if (!key || EVP_PKEY_copy_parameters(key.get(), group_.params.get()) != 1) {
    detail::fatal("EVP_PKEY_copy_parameters");
  }
  // For ECP this decodes the point and refuses one that is not on the curve.
  if (EVP_PKEY_set1_encoded_public_key(key.get(), value.data(), value.size()) != 1) {
    detail::clear_errors();
    return PR::failure("KE data for DH group " + name +
                       (info.kind == Kind::kEcp ? " is not a point on the curve"
                                                : " is not a valid public value"));
  }
  return key;
}

model::Result<Secret> EvpKeyExchange::derive(std::span<const uint8_t> peer_public) const {
  using SR = model::Result<Secret>;
  const GroupInfo& info = *group_.info;
  auto peer = peer_key(peer_public);
  if (!peer) {
    return SR::failure(peer.error());
  }
  detail::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) {
    detail::fatal("EVP_PKEY_derive_init");
  }
  // g^ir keeps its leading zeros: IKEv2 uses it at the full prime length (RFC 7296 2.14).
  if (info.kind == Kind::kModp && EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) != 1) {
    detail::fatal("EVP_PKEY_CTX_set_dh_pad");
  }
  // Checked above and by decoding; OpenSSL's full check would cost another exponentiation.
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), std::move(peer).value().get(), 0) != 1) {
    detail::clear_errors();
    return SR::failure("KE data for DH group " + group_name(info.id) +
                       " was refused by the key exchange");
  }
  Secret shared(info.secret_size);
  std::size_t len = shared.size();
  const bool derived = EVP_PKEY_derive(ctx.get(), shared.data(), &len) == 1;
  if (!derived) {
    detail::clear_errors();
  }
  static const std::array<uint8_t, kMaxPublic> kZeros{};
  if (!derived || len != shared.size() ||
      CRYPTO_memcmp(shared.data(), kZeros.data(), shared.size()) == 0) {
    return SR::failure("KE data for DH group " + group_name(info.id) +
                       " gives no usable shared secret (a low-order or invalid public value)");
  }
  return shared;
}

detail::Pkey generate(const GroupState& group) {
  detail::PkeyCtx ctx(group.params
                          ? EVP_PKEY_CTX_new_from_pkey(nullptr, group.params.get(), nullptr)
                          : EVP_PKEY_CTX_new_from_name(nullptr, group.info->ossl_name, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_generate(ctx.get(), &key) != 1) {
    detail::fatal("EVP_PKEY_generate");
  }
  return detail::Pkey(key);
}

// Private and public key into an EVP_PKEY of the group's named parameters.
detail::Pkey import_pair(const GroupInfo& info, const BIGNUM* priv, const BIGNUM* pub_bn,
                         std::span<const uint8_t> pub_octets) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      &OSSL_PARAM_BLD_free);
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.ossl_name, 0) !=
          1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1) {
    detail::fatal("OSSL_PARAM_BLD");
  }
  if (pub_bn != nullptr) {
    if (OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub_bn) != 1) {
      detail::fatal("OSSL_PARAM_BLD");
    }
  } else if (OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub_octets.data(),
                                              pub_octets.size()) != 1) {
    detail::fatal("OSSL_PARAM_BLD");
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 &OSSL_PARAM_free);
  detail::PkeyCtx ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, info.kind == Kind::kModp ? "DH" : "EC", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    detail::fatal("EVP_PKEY_fromdata(keypair)");
  }
  return detail::Pkey(key);
}

}  // namespace

std::string group_name(DhId group) {
  const char* label = nullptr;
  switch (group) {
    case DhId::kNone:
      label = "none";
      break;
    case DhId::kModp1024:
      label = "MODP-1024";
      break;
    case DhId::kModp1536:
      label = "MODP-1536";
      break;
    case DhId::kModp2048:
      label = "MODP-2048";
      break;
    case DhId::kModp3072:
      label = "MODP-3072";
      break;
    case DhId::kModp4096:
      label = "MODP-4096";
      break;
    case DhId::kModp6144:
      label = "MODP-6144";
      break;
    case DhId::kModp8192:
      label = "MODP-8192";
      break;
    case DhId::kEcp256:
      label = "ECP-256";
      break;
    case DhId::kEcp384:
      label = "ECP-384";
      break;
    case DhId::kEcp521:
      label = "ECP-521";
      break;
    case DhId::kModp1024s160:
      label = "MODP-1024-S160";
      break;
    case DhId::kModp2048s224:
      label = "MODP-2048-S224";
      break;
    case DhId::kModp2048s256:
      label = "MODP-2048-S256";
      break;
    case DhId::kCurve25519:
      label = "Curve25519";
      break;
    case DhId::kCurve448:
      label = "Curve448";
      break;
    case DhId::kMlKem512:
      label = "ML-KEM-512";
      break;
    case DhId::kMlKem768:
      label = "ML-KEM-768";
      break;
    case DhId::kMlKem1024:
      label = "ML-KEM-1024";
      break;
  }
  std::string number = std::to_string(static_cast<unsigned>(group));
  return label == nullptr ? number : number + " (" + label + ")";
}

bool KeyExchange::supported(DhId group) {
  return find_info(group) != nullptr;
}

std::size_t KeyExchange::public_size(DhId group) {
  const GroupInfo* info = find_info(group);
  return info == nullptr ? 0 : info->public_size;
}

R KeyExchange::create(DhId group) {
  const GroupState* state = find_state(group);
  if (state == nullptr) {
    return R::failure(unsupported(group));
  }
  return std::unique_ptr<KeyExchange>(std::make_unique<EvpKeyExchange>(*state, generate(*state)));
}

R KeyExchange::create_from_private(DhId group, std::span<const uint8_t> private_value) {
  const GroupState* state = find_state(group);
  if (state == nullptr) {
    return R::failure(unsupported(group));
  }
  const GroupInfo& info = *state->info;
  if (info.kind == Kind::kEcx) {
    if (private_value.size() != info.secret_size) {
      return R::failure("a " + group_name(group) + " private value is " +
                        std::to_string(info.secret_size) + " octets, got " +
                        std::to_string(private_value.size()));
    }
    detail::Pkey key(EVP_PKEY_new_raw_private_key_ex(nullptr, info.ossl_name, nullptr,
                                                     private_value.data(), private_value.size()));
    if (!key) {
      detail::fatal("EVP_PKEY_new_raw_private_key_ex");
    }
    return std::unique_ptr<KeyExchange>(std::make_unique<EvpKeyExchange>(*state, std::move(key)));
  }

  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> bn_ctx(BN_CTX_new(), &BN_CTX_free);
  detail::Bignum x(
      BN_bin2bn(private_value.data(), static_cast<int>(private_value.size()), nullptr));
  if (!bn_ctx || !x) {
    detail::fatal("BN_bin2bn");
  }
  const std::string range_error =
      "a " + group_name(group) + " private value must lie between 1 and the group order";
  if (info.kind == Kind::kModp) {
    BIGNUM* p_raw = nullptr;
    BIGNUM* g_raw = nullptr;
    if (EVP_PKEY_get_bn_param(state->params.get(), OSSL_PKEY_PARAM_FFC_P, &p_raw) != 1 ||
        EVP_PKEY_get_bn_param(state->params.get(), OSSL_PKEY_PARAM_FFC_G, &g_raw) != 1) {
      detail::fatal("EVP_PKEY_get_bn_param(p, g)");
    }
    detail::Bignum p(p_raw);
    detail::Bignum g(g_raw);
    if (BN_is_zero(x.get()) || BN_cmp(x.get(), p.get()) >= 0) {
      return R::failure(range_error);
    }
    detail::Bignum y(BN_new());
    if (!y || BN_mod_exp(y.get(), g.get(), x.get(), p.get(), bn_ctx.get()) != 1) {
      detail::fatal("BN_mod_exp");
    }
    return std::unique_ptr<KeyExchange>(
        std::make_unique<EvpKeyExchange>(*state, import_pair(info, x.get(), y.get(), {})));
  }

  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> curve(
      EC_GROUP_new_by_curve_name(info.curve_nid), &EC_GROUP_free);
  if (!curve) {
    detail::fatal("EC_GROUP_new_by_curve_name");
  }
  if (BN_is_zero(x.get()) || BN_cmp(x.get(), EC_GROUP_get0_order(curve.get())) >= 0) {
    return R::failure(range_error);
  }
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_clear_free)> point(EC_POINT_new(curve.get()),
                                                                  &EC_POINT_clear_free);
  std::array<uint8_t, 1 + kMaxPublic> encoded{};
  if (!point ||
      EC_POINT_mul(curve.get(), point.get(), x.get(), nullptr, nullptr, bn_ctx.get()) != 1 ||
      EC_POINT_point2oct(curve.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, encoded.data(),
                         encoded.size(), bn_ctx.get()) != 1 + info.public_size) {
    detail::fatal("EC_POINT_mul");
  }
  return std::unique_ptr<KeyExchange>(std::make_unique<EvpKeyExchange>(
      *state, import_pair(info, x.get(), nullptr, {encoded.data(), 1 + info.public_size})));
}

}  // namespace ipsecd::engine::crypto
