#pragma once
// Owners of OpenSSL objects: std::unique_ptr with the object's own free function,
// OpenSslPtr<X509, X509_free>. Header-only: the crypto suite, the X.509 store and the
// tests name their handles with it.

#include <memory>

namespace ipsecd::engine::crypto {

template <auto Free>
struct OpenSslFree {
  template <class T>
  void operator()(T* p) const {
    Free(p);
  }
};

template <class T, auto Free>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<Free>>;

}  // namespace ipsecd::engine::crypto
