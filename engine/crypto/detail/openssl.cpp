#include "engine/crypto/detail/openssl.h"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>
#include <map>
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

// A handful of names, each fetched on first use; later look-ups hit the map.
template <class T, class Fetch>
const T* fetch_cached(const char* name, Fetch fetch) {
  static std::mutex mutex;
  static std::map<std::string, const T*> cache;
  std::lock_guard lock(mutex);
  auto [it, inserted] = cache.try_emplace(name, nullptr);
  if (inserted) {
    it->second = fetch(name);
    if (it->second == nullptr) {
      cache.erase(it);
      fatal(name);
    }
  }
  return it->second;
}

}  // namespace

const EVP_MD* digest(const char* name) {
  return fetch_cached<EVP_MD>(name,
                              [](const char* n) { return EVP_MD_fetch(nullptr, n, nullptr); });
}

const EVP_CIPHER* cipher(const char* name) {
  return fetch_cached<EVP_CIPHER>(
      name, [](const char* n) { return EVP_CIPHER_fetch(nullptr, n, nullptr); });
}

}  // namespace ipsecd::engine::crypto::detail
