#include "engine/crypto/detail/openssl.h"

#include <openssl/crypto.h>
#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ipsecd::engine::crypto::detail {

void fatal(const char* what) {
  char reason[256] = "no OpenSSL error queued";
  if (unsigned long code = ERR_get_error(); code != 0) {
    ERR_error_string_n(code, reason, sizeof(reason));
  }
  std::fprintf(stderr, "ipsecd crypto: %s failed: %s\n", what, reason);
  std::abort();
}

void clear_errors() {
  ERR_clear_error();
}

EVP_MAC* hmac() {
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) {
      fatal("EVP_MAC_fetch(HMAC)");
    }
    return m;
  }();
  return mac;
}

namespace {

// A handful of names, each fetched on first use and freed at exit. OpenSSL is
// initialised first so that its own exit handler runs after this cache is gone.
template <class T, T* (*Fetch)(OSSL_LIB_CTX*, const char*, const char*), void (*Free)(T*)>
const T* fetch_cached(const char* name) {
  using Owned = OpenSslPtr<T, Free>;
  static std::mutex mutex;
  static std::map<std::string, Owned> cache = [] {
    OPENSSL_init_crypto(0, nullptr);
    return std::map<std::string, Owned>();
  }();
  std::lock_guard lock(mutex);
  auto it = cache.find(name);
  if (it == cache.end()) {
    Owned fetched(Fetch(nullptr, name, nullptr));
    if (!fetched) {
      fatal(name);
    }
    it = cache.emplace(name, std::move(fetched)).first;
  }
  return it->second.get();
}

}  // namespace

const EVP_MD* digest(const char* name) {
  return fetch_cached<EVP_MD, EVP_MD_fetch, EVP_MD_free>(name);
}

const EVP_CIPHER* cipher(const char* name) {
  return fetch_cached<EVP_CIPHER, EVP_CIPHER_fetch, EVP_CIPHER_free>(name);
}

}  // namespace ipsecd::engine::crypto::detail
