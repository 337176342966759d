#pragma once
// RAII owners for OpenSSL handles and the algorithm objects fetched once per
// process (fetching by name takes a lock and a lookup, too slow per message).

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <memory>

namespace ipsecd::engine::crypto::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};
struct BignumFree {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};

using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;
using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;
using Bignum = std::unique_ptr<BIGNUM, BignumFree>;

// OpenSSL failed where valid input cannot make it fail (allocation, a missing
// provider): an invariant break, so the process stops with OpenSSL's reason.
[[noreturn]] void fatal(const char* what);

// Drops OpenSSL's queued errors after an expected failure (bad peer input).
void clear_errors();

// Fetched once and kept until exit. The names are OpenSSL's; an unknown one is fatal.
EVP_MAC* hmac();
const EVP_MD* digest(const char* name);
const EVP_CIPHER* cipher(const char* name);

}  // namespace ipsecd::engine::crypto::detail
