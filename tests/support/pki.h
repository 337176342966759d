#pragma once
// A test PKI made with OpenSSL: keys, certificates (CA, intermediate, leaf) with
// validity windows, subjectAltNames and serials of the test's choosing, CRLs, and
// their PEM/DER and libreswan spellings. Shared by the certificate store's tests and
// those of the API and the engine that need real certificates.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/crypto/openssl_ptr.h"

namespace ipsecd::testing {

using engine::crypto::OpenSslPtr;
using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;
using CrlPtr = OpenSslPtr<X509_CRL, X509_CRL_free>;

inline constexpr long kDay = 24 * 3600;

PkeyPtr ec_key(const char* curve = "P-256");
PkeyPtr rsa_key(size_t bits = 2048);
PkeyPtr ed25519_key();

struct CertSpec {
  std::string cn;  // the subject is O=Example, CN=cn
  long serial = 1;
  long not_before = -kDay;  // seconds from now
  long not_after = 365 * kDay;
  bool ca = false;
  std::string sans;  // X509v3 config syntax: "DNS:a.example,IP:192.0.2.1"
};

// Key usage extensions, X509v3 config syntax; "": none.
struct CertUsage {
  std::string eku;        // extendedKeyUsage: "serverAuth,ipsecIKE"
  std::string key_usage;  // keyUsage: "digitalSignature"
};

// Signed by (issuer, issuer_key) with SHA-256, or self-signed when issuer is null.
// A failure to build one fails the current test.
X509Ptr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                  const CertUsage& usage = {});
// A CRL of `issuer` listing `serials`, signed by `signer` (the issuer's key, or
// another one for a forgery); nextUpdate `next_update` seconds from now.
CrlPtr make_crl(X509* issuer, EVP_PKEY* signer, const std::vector<long>& serials, long next_update);

std::string pem(X509* cert);
std::string der(X509* cert);
std::string pem(X509_CRL* crl);
std::string der(X509_CRL* crl);
// PKCS#8 PEM; encrypted (AES-256-CBC) with the passphrase when one is given.
std::string private_pem(EVP_PKEY* key, const char* passphrase = nullptr);
// Base64 without line breaks.
std::string base64(const std::string& bytes);
// The RSA key as libreswan's leftrsasigkey=0s... (RFC 3110).
std::string rsasigkey(EVP_PKEY* key);

}  // namespace ipsecd::testing
