#pragma once
// RAII owners for OpenSSL handles and the algorithm objects fetched once per
// process (fetching by name takes a lock and a lookup, too slow per message).

#include <openssl/bn.h>
#include <openssl/evp.h>

#include <memory>

#include "engine/crypto/openssl_ptr.h"

namespace ipsecd::engine::crypto::detail {

using Pkey = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtx = OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using CipherCtx = OpenSslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using MacCtx = OpenSslPtr<EVP_MAC_CTX, EVP_MAC_CTX_free>;
using Bignum = OpenSslPtr<BIGNUM, BN_clear_free>;  // private values: wiped

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
