#include "engine/crypto/signature.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <optional>

#include "engine/crypto/detail/openssl.h"
#include "engine/crypto/openssl_ptr.h"

namespace ipsecd::engine::crypto {
namespace {

using R = model::Result<AuthSignature>;
constexpr int kMinSecurityBits = 112;  // RFC 8247 2.4: RSA 2048, EC P-256
using V = model::Result<std::string>;
using AlgorPtr = OpenSslPtr<X509_ALGOR, X509_ALGOR_free>;
using PssParamsPtr = OpenSslPtr<RSA_PSS_PARAMS, RSA_PSS_PARAMS_free>;
using EcdsaSigPtr = OpenSslPtr<ECDSA_SIG, ECDSA_SIG_free>;
using MdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using BnPtr = OpenSslPtr<BIGNUM, BN_free>;

enum class KeyType : uint8_t { kRsa, kEc, kEd25519, kEd448, kOther };

KeyType key_type(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return KeyType::kRsa;
    case EVP_PKEY_EC:
      return KeyType::kEc;
    case EVP_PKEY_ED25519:
      return KeyType::kEd25519;
    case EVP_PKEY_ED448:
      return KeyType::kEd448;
    default:
      return KeyType::kOther;
  }
}

// "P-256", "P-384", "P-521", or "" for another curve or key.
std::string curve_of(EVP_PKEY* key) {
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1) {
    detail::clear_errors();
    return {};
  }
  std::string n(name, len);
  if (n == "prime256v1" || n == "P-256") {
    return "P-256";
  }
  if (n == "secp384r1" || n == "P-384") {
    return "P-384";
  }
  if (n == "secp521r1" || n == "P-521") {
    return "P-521";
  }
  return n;
}

// Each hash with its OpenSSL names: the digest, and the signature algorithms that use
// it in an AlgorithmIdentifier.
struct HashInfo {
  SignatureHash hash;
  const char* digest_name;  // OpenSSL's fetch name
  int digest_nid;
  int rsa_pkcs1_nid;  // sha*WithRSAEncryption
  int ecdsa_nid;      // ecdsa-with-SHA*
};
constexpr std::array<HashInfo, 4> kHashes = {{
    {SignatureHash::kSha1, "SHA1", NID_sha1, NID_sha1WithRSAEncryption, NID_ecdsa_with_SHA1},
    {SignatureHash::kSha256, "SHA2-256", NID_sha256, NID_sha256WithRSAEncryption,
     NID_ecdsa_with_SHA256},
    {SignatureHash::kSha384, "SHA2-384", NID_sha384, NID_sha384WithRSAEncryption,
     NID_ecdsa_with_SHA384},
    {SignatureHash::kSha512, "SHA2-512", NID_sha512, NID_sha512WithRSAEncryption,
     NID_ecdsa_with_SHA512},
}};

// The hash's names; null for Identity, which has none.
const HashInfo* info_of(SignatureHash hash) {
  for (const HashInfo& h : kHashes) {
    if (h.hash == hash) {
      return &h;
    }
  }
  return nullptr;
}

const EVP_MD* md_of(SignatureHash hash) {
  const HashInfo* h = info_of(hash);
  return h == nullptr ? nullptr : detail::digest(h->digest_name);
}

bool has(std::span<const SignatureHash> list, SignatureHash hash) {
  return std::find(list.begin(), list.end(), hash) != list.end();
}

// ---- DER for the AlgorithmIdentifiers we send (RFC 7427 appendix A's shapes)

void der_tlv(std::vector<uint8_t>& out, uint8_t tag, std::span<const uint8_t> value) {
  out.push_back(tag);
  if (value.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(value.size()));
  } else {
    out.push_back(0x81);  // every structure here is shorter than 256 octets
    out.push_back(static_cast<uint8_t>(value.size()));
  }
  out.insert(out.end(), value.begin(), value.end());
}

std::vector<uint8_t> der_oid(int nid) {
  const ASN1_OBJECT* obj = OBJ_nid2obj(nid);
  const unsigned char* data = OBJ_get0_data(obj);
  std::vector<uint8_t> out;
  der_tlv(out, 0x06, {data, OBJ_length(obj)});
  return out;
}

// SEQUENCE { oid, [NULL] }
std::vector<uint8_t> algorithm_identifier(int nid, bool null_params) {
  std::vector<uint8_t> inner = der_oid(nid);
  if (null_params) {
    inner.push_back(0x05);
    inner.push_back(0x00);
  }
  std::vector<uint8_t> out;
  der_tlv(out, 0x30, inner);
  return out;
}

int hash_length(SignatureHash hash) {
  return EVP_MD_get_size(md_of(hash));
}

// RSASSA-PSS-params with the hash, MGF1 with the same hash, a salt as long as the hash
// and the default trailer (RFC 4055 3.1), as strongSwan and libreswan send them.
std::vector<uint8_t> pss_identifier(SignatureHash hash) {
  std::vector<uint8_t> hash_alg = algorithm_identifier(info_of(hash)->digest_nid, true);
  std::vector<uint8_t> mgf_inner = der_oid(NID_mgf1);
  mgf_inner.insert(mgf_inner.end(), hash_alg.begin(), hash_alg.end());
  std::vector<uint8_t> mgf;
  der_tlv(mgf, 0x30, mgf_inner);
  std::vector<uint8_t> salt_int;
  const uint8_t salt[] = {static_cast<uint8_t>(hash_length(hash))};
  der_tlv(salt_int, 0x02, salt);
  std::vector<uint8_t> params_inner;
  der_tlv(params_inner, 0xa0, hash_alg);
  der_tlv(params_inner, 0xa1, mgf);
  der_tlv(params_inner, 0xa2, salt_int);
  std::vector<uint8_t> params;
  der_tlv(params, 0x30, params_inner);
  std::vector<uint8_t> inner = der_oid(NID_rsassaPss);
  inner.insert(inner.end(), params.begin(), params.end());
  std::vector<uint8_t> out;
  der_tlv(out, 0x30, inner);
  return out;
}

// ---- one signature scheme, both ways

struct Scheme {
  KeyType key = KeyType::kOther;
  SignatureHash hash = SignatureHash::kSha256;
  bool pss = false;
  int pss_salt = 0;
};

std::string scheme_name(const Scheme& s) {
  switch (s.key) {
    case KeyType::kRsa:
      return std::string(s.pss ? "RSASSA-PSS" : "RSASSA-PKCS1-v1_5") + " with " +
             std::string(signature_hash_name(s.hash));
    case KeyType::kEc:
      return "ECDSA with " + std::string(signature_hash_name(s.hash));
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kEd448:
      return "Ed448";
    case KeyType::kOther:
      break;
  }
  return "unknown";
}

// Sets up `ctx` to sign or verify with the scheme; false when OpenSSL refuses it.
bool init(EVP_MD_CTX* ctx, EVP_PKEY* key, const Scheme& s, bool sign) {
  EVP_PKEY_CTX* pctx = nullptr;
  const EVP_MD* md = s.hash == SignatureHash::kIdentity ? nullptr : md_of(s.hash);
  int rc = sign ? EVP_DigestSignInit(ctx, &pctx, md, nullptr, key)
                : EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key);
  if (rc != 1) {
    return false;
  }
  if (s.key == KeyType::kRsa) {
    if (s.pss) {
      return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, s.pss_salt) == 1;
    }
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  }
  return true;
}

model::Result<std::vector<uint8_t>> raw_sign(EVP_PKEY* key, const Scheme& s,
                                             std::span<const uint8_t> octets) {
  using RS = model::Result<std::vector<uint8_t>>;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || !init(ctx.get(), key, s, true)) {
    detail::clear_errors();
    return RS::failure("OpenSSL cannot sign with " + scheme_name(s));
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, octets.data(), octets.size()) != 1) {
    detail::clear_errors();
    return RS::failure("signing with " + scheme_name(s) + " failed");
  }
  std::vector<uint8_t> sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, octets.data(), octets.size()) != 1) {
    detail::clear_errors();
    return RS::failure("signing with " + scheme_name(s) + " failed");
  }
  sig.resize(len);
  return sig;
}

bool raw_verify(EVP_PKEY* key, const Scheme& s, std::span<const uint8_t> signature,
                std::span<const uint8_t> octets) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx && init(ctx.get(), key, s, false) &&
            EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), octets.data(),
                             octets.size()) == 1;
  detail::clear_errors();
  return ok;
}

// ECDSA r || s (RFC 4754) <-> the DER ECDSA-Sig-Value OpenSSL speaks.
size_t ecdsa_field_size(const std::string& curve) {
  return curve == "P-256" ? 32 : curve == "P-384" ? 48 : curve == "P-521" ? 66 : 0;
}

std::optional<std::vector<uint8_t>> der_to_rs(std::span<const uint8_t> der, size_t n) {
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) {
    detail::clear_errors();
    return std::nullopt;
  }
  std::vector<uint8_t> out(2 * n);
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  if (BN_bn2binpad(r, out.data(), static_cast<int>(n)) < 0 ||
      BN_bn2binpad(s, out.data() + n, static_cast<int>(n)) < 0) {
    return std::nullopt;
  }
  return out;
}

std::vector<uint8_t> rs_to_der(std::span<const uint8_t> rs) {
  const size_t n = rs.size() / 2;
  BnPtr r(BN_bin2bn(rs.data(), static_cast<int>(n), nullptr));
  BnPtr s(BN_bin2bn(rs.data() + n, static_cast<int>(n), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    detail::fatal("ECDSA_SIG_set0");
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) {
    detail::fatal("i2d_ECDSA_SIG");
  }
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// The legacy method of an EC key's curve, with its hash.
std::optional<std::pair<SignatureMethod, SignatureHash>> legacy_ecdsa(const std::string& curve) {
  if (curve == "P-256") {
    return std::pair{SignatureMethod::kEcdsaP256, SignatureHash::kSha256};
  }
  if (curve == "P-384") {
    return std::pair{SignatureMethod::kEcdsaP384, SignatureHash::kSha384};
  }
  if (curve == "P-521") {
    return std::pair{SignatureMethod::kEcdsaP521, SignatureHash::kSha512};
  }
  return std::nullopt;
}

// The hash for a method-14 signature: `preferred` if the peer has it, else the first of
// SHA2-256, -384, -512 it has.
std::optional<SignatureHash> pick_hash(std::span<const SignatureHash> peer,
                                       SignatureHash preferred) {
  if (has(peer, preferred)) {
    return preferred;
  }
  for (SignatureHash h : {SignatureHash::kSha256, SignatureHash::kSha384, SignatureHash::kSha512}) {
    if (has(peer, h)) {
      return h;
    }
  }
  return std::nullopt;
}

// ---- reading a method-14 AlgorithmIdentifier

// The scheme an AlgorithmIdentifier names, or why it is refused. Strict DER: the
// bytes must be the encoding OpenSSL writes back for what it read.
model::Result<Scheme> read_identifier(std::span<const uint8_t> der) {
  using RS = model::Result<Scheme>;
  const unsigned char* p = der.data();
  AlgorPtr alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der.size())));
  if (!alg || p != der.data() + der.size()) {
    detail::clear_errors();
    return RS::failure("its AlgorithmIdentifier does not parse as DER");
  }
  unsigned char* again = nullptr;
  int len = i2d_X509_ALGOR(alg.get(), &again);
  const bool same =
      len == static_cast<int>(der.size()) && std::equal(der.begin(), der.end(), again);
  OPENSSL_free(again);
  if (!same) {
    return RS::failure("its AlgorithmIdentifier is not in DER (a BER or padded encoding)");
  }
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg.get());
  const int nid = OBJ_obj2nid(oid);
  Scheme s;
  // RFC 4055 5: sha*WithRSAEncryption has NULL parameters, absent ones accepted too;
  // RFC 5758 3.2 and RFC 8410 3: ECDSA and EdDSA have none.
  auto plain = [&](KeyType key, SignatureHash hash) -> RS {
    if (ptype != V_ASN1_UNDEF && !(ptype == V_ASN1_NULL && key == KeyType::kRsa)) {
      return RS::failure("its AlgorithmIdentifier has parameters where " +
                         std::string(OBJ_nid2sn(nid)) + " has none");
    }
    s.key = key;
    s.hash = hash;
    return s;
  };
  for (const HashInfo& h : kHashes) {
    if (nid == h.rsa_pkcs1_nid) {
      return plain(KeyType::kRsa, h.hash);
    }
    if (nid == h.ecdsa_nid) {
      return plain(KeyType::kEc, h.hash);
    }
  }
  if (nid == NID_ED25519 || nid == NID_ED448) {
    return plain(nid == NID_ED25519 ? KeyType::kEd25519 : KeyType::kEd448,
                 SignatureHash::kIdentity);
  }
  if (nid != NID_rsassaPss) {
    char text[80] = {};
    OBJ_obj2txt(text, sizeof(text), oid, 1);
    return RS::failure("its signature algorithm " + std::string(text) + " is not supported");
  }
  if (ptype != V_ASN1_SEQUENCE) {
    return RS::failure("its RSASSA-PSS AlgorithmIdentifier has no parameters");
  }
  const auto* seq = static_cast<const ASN1_STRING*>(pval);
  const unsigned char* const q0 = ASN1_STRING_get0_data(seq);
  const int qlen = ASN1_STRING_length(seq);
  const unsigned char* q = q0;
  PssParamsPtr params(d2i_RSA_PSS_PARAMS(nullptr, &q, qlen));
  if (!params || q != q0 + qlen) {
    detail::clear_errors();
    return RS::failure("its RSASSA-PSS parameters do not parse");
  }
  // The parameters are kept as raw bytes by the outer parse: DER is checked here, and
  // DER leaves out a field at its default (the trailer field's only value is that).
  unsigned char* params_again = nullptr;
  const int params_len = i2d_RSA_PSS_PARAMS(params.get(), &params_again);
  const bool der_params = params_len == qlen && std::equal(q0, q0 + qlen, params_again);
  OPENSSL_free(params_again);
  if (!der_params || params->trailerField != nullptr) {
    return RS::failure("its RSASSA-PSS parameters are not in DER");
  }
  auto hash_from = [](const X509_ALGOR* a) -> std::optional<SignatureHash> {
    // RFC 4055 2.1: a hash's parameters are absent or NULL.
    if (a != nullptr && a->parameter != nullptr && a->parameter->type != V_ASN1_NULL) {
      return std::nullopt;
    }
    const int n = a == nullptr ? NID_sha1 : OBJ_obj2nid(a->algorithm);  // the default: SHA-1
    for (const HashInfo& h : kHashes) {
      if (h.digest_nid == n) {
        return h.hash;
      }
    }
    return std::nullopt;
  };
  std::optional<SignatureHash> hash = hash_from(params->hashAlgorithm);
  if (!hash) {
    return RS::failure("its RSASSA-PSS hash is not SHA-1 or SHA2 with absent or NULL parameters");
  }
  std::optional<SignatureHash> mgf_hash = SignatureHash::kSha1;  // the default: MGF1 with SHA-1
  if (const X509_ALGOR* mgf = params->maskGenAlgorithm; mgf != nullptr) {
    if (OBJ_obj2nid(mgf->algorithm) != NID_mgf1) {
      return RS::failure("its RSASSA-PSS mask generation is not MGF1");
    }
    if (mgf->parameter == nullptr || mgf->parameter->type != V_ASN1_SEQUENCE) {
      return RS::failure("its RSASSA-PSS MGF1 names no hash");
    }
    const ASN1_STRING* mgf_params = mgf->parameter->value.sequence;
    const unsigned char* const m0 = ASN1_STRING_get0_data(mgf_params);
    const unsigned char* m = m0;
    AlgorPtr mgf_alg(d2i_X509_ALGOR(nullptr, &m, ASN1_STRING_length(mgf_params)));
    if (!mgf_alg || m != m0 + ASN1_STRING_length(mgf_params)) {
      detail::clear_errors();
      return RS::failure("its RSASSA-PSS MGF1 hash does not parse");
    }
    mgf_hash = hash_from(mgf_alg.get());
  }
  if (mgf_hash != hash) {
    return RS::failure("its RSASSA-PSS MGF1 hash is not the signature's hash");
  }
  long salt = params->saltLength == nullptr ? 20 : ASN1_INTEGER_get(params->saltLength);
  if (salt < 0 || salt > 1024) {
    return RS::failure("its RSASSA-PSS salt length " + std::to_string(salt) + " is out of range");
  }
  if (params->trailerField != nullptr && ASN1_INTEGER_get(params->trailerField) != 1) {
    return RS::failure("its RSASSA-PSS trailer field is not 1");
  }
  s.key = KeyType::kRsa;
  s.hash = *hash;
  s.pss = true;
  s.pss_salt = static_cast<int>(salt);
  return s;
}

}  // namespace

std::string_view signature_hash_name(SignatureHash hash) {
  switch (hash) {
    case SignatureHash::kSha1:
      return "SHA1";
    case SignatureHash::kSha256:
      return "SHA2-256";
    case SignatureHash::kSha384:
      return "SHA2-384";
    case SignatureHash::kSha512:
      return "SHA2-512";
    case SignatureHash::kIdentity:
      return "Identity";
  }
  return "unknown";
}

SignatureKey SignatureKey::share(EVP_PKEY* key) {
  SignatureKey k;
  if (key != nullptr && EVP_PKEY_up_ref(key) == 1) {
    k.key_ = std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
  }
  return k;
}

std::string SignatureKey::describe() const {
  if (!key_) {
    return "no key";
  }
  switch (key_type(key_.get())) {
    case KeyType::kRsa:
      return "RSA " + std::to_string(EVP_PKEY_get_bits(key_.get()));
    case KeyType::kEc:
      return "EC " + curve_of(key_.get());
    case KeyType::kEd25519:
      return "Ed25519";
    case KeyType::kEd448:
      return "Ed448";
    case KeyType::kOther:
      break;
  }
  return std::string("a ") + OBJ_nid2sn(EVP_PKEY_get_base_id(key_.get())) + " key";
}

R sign_auth(const SignatureKey& key, std::span<const uint8_t> octets, const SignPolicy& policy) {
  if (!key) {
    return R::failure("no private key to sign with");
  }
  EVP_PKEY* pkey = key.get();
  const KeyType type = key_type(pkey);
  const std::span<const SignatureHash> peer = policy.peer_hashes;
  Scheme s;
  s.key = type;
  std::vector<uint8_t> identifier;
  AuthSignature out;
  switch (type) {
    case KeyType::kEd25519:
    case KeyType::kEd448:
      if (!has(peer, SignatureHash::kIdentity)) {
        return R::failure(
            "the peer does not announce the Identity hash (RFC 8420): it cannot "
            "verify " +
            key.describe() + " signatures");
      }
      s.hash = SignatureHash::kIdentity;
      identifier = algorithm_identifier(type == KeyType::kEd25519 ? NID_ED25519 : NID_ED448, false);
      break;
    case KeyType::kEc: {
      const std::string curve = curve_of(pkey);
      auto legacy = legacy_ecdsa(curve);
      if (!legacy) {
        return R::failure("ECDSA on " + curve + " is not supported (P-256, P-384, P-521)");
      }
      if (auto hash = pick_hash(peer, legacy->second)) {
        s.hash = *hash;
        identifier = algorithm_identifier(info_of(*hash)->ecdsa_nid, false);
        break;
      }
      if (!policy.legacy) {
        return R::failure("the peer announces no SHA2 hash for RFC 7427 signatures");
      }
      s.hash = legacy->second;
      auto der = raw_sign(pkey, s, octets);
      if (!der) {
        return R::failure(der.error());
      }
      auto rs = der_to_rs(*der, ecdsa_field_size(curve));
      if (!rs) {
        return R::failure("OpenSSL's ECDSA signature does not parse");
      }
      out.method = legacy->first;
      out.data = std::move(*rs);
      out.scheme = scheme_name(s);
      return out;
    }
    case KeyType::kRsa:
      if (auto hash = pick_hash(peer, SignatureHash::kSha256)) {
        s.hash = *hash;
        s.pss = policy.rsa_pss;
        s.pss_salt = hash_length(*hash);
        identifier = s.pss ? pss_identifier(*hash)
                           : algorithm_identifier(info_of(*hash)->rsa_pkcs1_nid, true);
        break;
      }
      if (!policy.legacy) {
        return R::failure("the peer announces no SHA2 hash for RFC 7427 signatures");
      }
      s.hash = SignatureHash::kSha1;
      out.method = SignatureMethod::kRsa;
      {
        auto sig = raw_sign(pkey, s, octets);
        if (!sig) {
          return R::failure(sig.error());
        }
        out.data = std::move(sig).value();
      }
      out.scheme = scheme_name(s);
      return out;
    case KeyType::kOther:
      return R::failure(key.describe() + " cannot sign IKE AUTH (RSA, ECDSA, Ed25519, Ed448)");
  }
  auto sig = raw_sign(pkey, s, octets);
  if (!sig) {
    return R::failure(sig.error());
  }
  out.method = SignatureMethod::kDigital;
  out.data.reserve(1 + identifier.size() + sig->size());
  out.data.push_back(static_cast<uint8_t>(identifier.size()));
  out.data.insert(out.data.end(), identifier.begin(), identifier.end());
  out.data.insert(out.data.end(), sig->begin(), sig->end());
  out.scheme = scheme_name(s);
  return out;
}

V verify_auth(const SignatureKey& key, uint8_t method, std::span<const uint8_t> auth_data,
              std::span<const uint8_t> octets, const VerifyPolicy& policy) {
  if (!key) {
    return V::failure("no public key to verify with");
  }
  EVP_PKEY* pkey = key.get();
  const KeyType type = key_type(pkey);
  const std::string curve = type == KeyType::kEc ? curve_of(pkey) : std::string();
  if (const int bits = EVP_PKEY_get_security_bits(pkey); bits < kMinSecurityBits) {
    return V::failure("the peer's " + key.describe() + " key is too weak (" + std::to_string(bits) +
                      "-bit security; at least " + std::to_string(kMinSecurityBits) +
                      ", as RSA 2048 or EC P-256)");
  }
  auto mismatch = [&](const Scheme& s) {
    return V::failure("the AUTH is " + scheme_name(s) + " but the peer's key is " + key.describe());
  };
  Scheme s;
  std::span<const uint8_t> signature = auth_data;
  std::vector<uint8_t> der;
  switch (static_cast<SignatureMethod>(method)) {
    case SignatureMethod::kDigital: {
      if (auth_data.empty() || auth_data[0] == 0 || auth_data[0] >= auth_data.size()) {
        return V::failure("the AUTH (RFC 7427) has " + std::to_string(auth_data.size()) +
                          " octets, too few for its AlgorithmIdentifier and a signature");
      }
      auto read = read_identifier(auth_data.subspan(1, auth_data[0]));
      if (!read) {
        return V::failure("the AUTH (RFC 7427): " + read.error());
      }
      s = *read;
      if (!has(policy.hashes, s.hash)) {
        return V::failure("the AUTH is " + scheme_name(s) + ", whose hash " +
                          std::string(signature_hash_name(s.hash)) + " we did not announce");
      }
      signature = auth_data.subspan(1 + auth_data[0]);
      if (s.key != type) {
        return mismatch(s);
      }
      if (s.key == KeyType::kRsa && s.pss) {
        // A salt longer than the key allows does not verify anyway; say why.
        const int room = (EVP_PKEY_get_bits(pkey) + 7) / 8 - hash_length(s.hash) - 2;
        if (s.pss_salt > room) {
          return V::failure("the AUTH's RSASSA-PSS salt of " + std::to_string(s.pss_salt) +
                            " octets does not fit a " + key.describe() + " key");
        }
      }
      break;
    }
    case SignatureMethod::kRsa:
      s = {KeyType::kRsa, SignatureHash::kSha1, false, 0};
      if (!policy.legacy) {
        return V::failure("the AUTH uses method 1 (RSA with SHA-1), which is not accepted");
      }
      if (type != KeyType::kRsa) {
        return mismatch(s);
      }
      break;
    case SignatureMethod::kEcdsaP256:
    case SignatureMethod::kEcdsaP384:
    case SignatureMethod::kEcdsaP521: {
      const std::string wanted = method == 9 ? "P-256" : method == 10 ? "P-384" : "P-521";
      s = {KeyType::kEc, legacy_ecdsa(wanted)->second, false, 0};
      if (!policy.legacy) {
        return V::failure("the AUTH uses method " + std::to_string(method) + " (ECDSA on " +
                          wanted + "), which is not accepted");
      }
      if (type != KeyType::kEc || curve != wanted) {
        return V::failure("the AUTH is ECDSA on " + wanted + " (method " + std::to_string(method) +
                          ") but the peer's key is " + key.describe());
      }
      if (auth_data.size() != 2 * ecdsa_field_size(wanted)) {
        return V::failure("the AUTH's ECDSA signature on " + wanted + " has " +
                          std::to_string(auth_data.size()) + " octets, must be " +
                          std::to_string(2 * ecdsa_field_size(wanted)) + " (r || s)");
      }
      der = rs_to_der(auth_data);
      signature = der;
      break;
    }
    default:
      return V::failure("AUTH method " + std::to_string(method) + " is not a signature method");
  }
  if (signature.empty()) {
    return V::failure("the AUTH holds no signature");
  }
  if (!raw_verify(pkey, s, signature, octets)) {
    return V::failure("the " + scheme_name(s) + " signature does not verify with the peer's " +
                      key.describe() + " key");
  }
  return scheme_name(s);
}

std::vector<uint8_t> encode_signature_hashes(std::span<const SignatureHash> hashes) {
  std::vector<uint8_t> out;
  out.reserve(2 * hashes.size());
  for (SignatureHash h : hashes) {
    out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(h) >> 8));
    out.push_back(static_cast<uint8_t>(static_cast<uint16_t>(h)));
  }
  return out;
}

std::vector<SignatureHash> decode_signature_hashes(std::span<const uint8_t> data) {
  std::vector<SignatureHash> out;
  for (size_t i = 0; i + 1 < data.size(); i += 2) {
    const uint16_t v = static_cast<uint16_t>(data[i] << 8 | data[i + 1]);
    if (v >= 1 && v <= 5 && !has(out, static_cast<SignatureHash>(v))) {
      out.push_back(static_cast<SignatureHash>(v));
    }
  }
  return out;
}

}  // namespace ipsecd::engine::crypto
