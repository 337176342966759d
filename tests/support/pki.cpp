#include "tests/support/pki.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <ctime>

namespace ipsecd::testing {
namespace {

using BioPtr = OpenSslPtr<BIO, BIO_free>;
using ExtPtr = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using TimePtr = OpenSslPtr<ASN1_TIME, ASN1_TIME_free>;
using BnPtr = OpenSslPtr<BIGNUM, BN_free>;

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  ASSERT_TRUE(ext) << value;
  X509_add_ext(cert, ext.get(), -1);
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

template <class T, int (*I2d)(const T*, unsigned char**)>
std::string to_der(const T* object) {
  unsigned char* out = nullptr;
  int n = I2d(object, &out);
  std::string s(reinterpret_cast<char*>(out), static_cast<size_t>(n > 0 ? n : 0));
  OPENSSL_free(out);
  return s;
}

}  // namespace

PkeyPtr ec_key(const char* curve) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}
PkeyPtr rsa_key(size_t bits) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}
PkeyPtr ed25519_key() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                  const CertUsage& usage) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), spec.serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Example"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  add_ext(cert.get(), signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (!spec.sans.empty()) {
    add_ext(cert.get(), signer, NID_subject_alt_name, spec.sans.c_str());
  }
  if (!usage.eku.empty()) {
    add_ext(cert.get(), signer, NID_ext_key_usage, usage.eku.c_str());
  }
  if (!usage.key_usage.empty()) {
    add_ext(cert.get(), signer, NID_key_usage, usage.key_usage.c_str());
  }
  EXPECT_GT(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
  return cert;
}

CrlPtr make_crl(X509* issuer, EVP_PKEY* signer, const std::vector<long>& serials,
                long next_update) {
  CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer));
  std::time_t now = std::time(nullptr);
  TimePtr last(ASN1_TIME_adj(nullptr, now, 0, -3600));
  TimePtr next(ASN1_TIME_adj(nullptr, now, 0, next_update));
  X509_CRL_set1_lastUpdate(crl.get(), last.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (long serial : serials) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* s = ASN1_INTEGER_new();
    ASN1_INTEGER_set(s, serial);
    X509_REVOKED_set_serialNumber(r, s);
    ASN1_INTEGER_free(s);
    X509_REVOKED_set_revocationDate(r, last.get());
    X509_CRL_add0_revoked(crl.get(), r);
  }
  X509_CRL_sort(crl.get());
  EXPECT_GT(X509_CRL_sign(crl.get(), signer, EVP_sha256()), 0);
  return crl;
}

std::string pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return bio_text(bio.get());
}
std::string der(X509* cert) {
  return to_der<X509, i2d_X509>(cert);
}
std::string pem(X509_CRL* crl) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_CRL(bio.get(), crl);
  return bio_text(bio.get());
}
std::string der(X509_CRL* crl) {
  return to_der<X509_CRL, i2d_X509_CRL>(crl);
}

std::string private_pem(EVP_PKEY* key, const char* passphrase) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (passphrase != nullptr) {
    PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), passphrase,
                                  static_cast<int>(std::strlen(passphrase)), nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  }
  return bio_text(bio.get());
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string rsasigkey(EVP_PKEY* key) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
  BnPtr n_owned(n);
  BnPtr e_owned(e);
  std::string eb(static_cast<size_t>(BN_num_bytes(e)), '\0');
  BN_bn2bin(e, reinterpret_cast<unsigned char*>(eb.data()));
  std::string nb(static_cast<size_t>(BN_num_bytes(n)), '\0');
  BN_bn2bin(n, reinterpret_cast<unsigned char*>(nb.data()));
  return "0s" + base64(std::string(1, static_cast<char>(eb.size())) + eb + nb);
}

}  // namespace ipsecd::testing
