// Rates of the IKEv2 crypto suite, single thread: DH key generation and
// generation + derivation per group, SK seal and open of a 200-byte payload
// chain per cipher, and the key schedule and PSK AUTH of one handshake.
// Usage: crypto_bench [SECONDS_PER_CASE]   (default 1)

#include "bench/bench.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/opensslv.h>

#include "engine/crypto/auth.h"
#include "engine/crypto/key_exchange.h"
#include "engine/crypto/keys.h"
#include "engine/crypto/prf.h"
#include "engine/crypto/random.h"
#include "engine/crypto/sk_cipher.h"

namespace crypto = ipsecd::engine::crypto;
using ipsecd::model::DhId;
using ipsecd::model::EncrId;
using ipsecd::model::IntegId;
using ipsecd::model::PrfId;

namespace {

using ipsecd::bench::rate;

void die(const std::string& what) {
  std::fprintf(stderr, "crypto_bench: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  ipsecd::bench::print_machine(std::string(OPENSSL_VERSION_TEXT) + "; single thread");
  std::size_t sink = 0;

  std::printf("\nkey exchange (ops/s): keygen, keygen+derive (one side of a handshake)\n");
  for (DhId g :
       {DhId::kCurve25519, DhId::kCurve448, DhId::kEcp256, DhId::kEcp384, DhId::kEcp521,
        DhId::kModp2048, DhId::kModp3072, DhId::kModp4096, DhId::kModp6144, DhId::kModp8192}) {
    auto peer = crypto::KeyExchange::create(g);
    if (!peer) {
      die(peer.error());
    }
    const std::vector<uint8_t> peer_public((*peer)->public_value().begin(),
                                           (*peer)->public_value().end());
    double gen = rate(seconds, [&] { sink += crypto::KeyExchange::create(g).ok(); });
    double both = rate(seconds, [&] {
      auto kx = crypto::KeyExchange::create(g);
      sink += (*kx)->derive(peer_public)->size();
    });
    std::printf("  %-20s %10.0f %10.0f\n", crypto::group_name(g).c_str(), gen, both);
  }

  std::printf("\nSK payload, 200-byte payload chain (ops/s): seal, open\n");
  crypto::SystemRandom random;
  const std::vector<uint8_t> plaintext(200, 0x5a);
  const std::vector<uint8_t> header(32, 0x11);  // IKE header + SK generic header
  struct Case {
    const char* name;
    crypto::SkAlgorithm algorithm;
  };
  const Case cases[] = {
      {"aes128gcm16", {EncrId::kAesGcm16, 128, IntegId::kNone}},
      {"aes256gcm16", {EncrId::kAesGcm16, 256, IntegId::kNone}},
      {"chacha20poly1305", {EncrId::kChaCha20Poly1305, 0, IntegId::kNone}},
      {"aes128-sha256", {EncrId::kAesCbc, 128, IntegId::kHmacSha2_256_128}},
      {"aes256-sha512", {EncrId::kAesCbc, 256, IntegId::kHmacSha2_512_256}},
      {"aes128-sha1", {EncrId::kAesCbc, 128, IntegId::kHmacSha1_96}},
  };
  for (const auto& c : cases) {
    auto lengths = crypto::key_lengths(c.algorithm.encr, c.algorithm.key_bits, c.algorithm.integ);
    if (!lengths) {
      die(lengths.error());
    }
    std::vector<uint8_t> ek(lengths->encr, 1);
    std::vector<uint8_t> ik(lengths->integ, 2);
    auto sealer = crypto::SkCipher::create(c.algorithm, ek, ik);
    auto opener = crypto::SkCipher::create(c.algorithm, ek, ik);
    if (!sealer || !opener) {
      die(sealer ? opener.error() : sealer.error());
    }
    std::vector<uint8_t> message = header;
    std::vector<uint8_t> content = (*sealer)->frame(plaintext);
    message.insert(message.end(), content.begin(), content.end());
    double seal = rate(seconds, [&] {
      (*sealer)->seal_in_place(message, header.size(), random);
      sink += message.back();
    });
    std::vector<uint8_t> scratch;
    double open = rate(seconds, [&] {
      scratch = message;
      sink += (*opener)->open_in_place(scratch, header.size())->size();
    });
    std::printf("  %-20s %10.0f %10.0f\n", c.name, seal, open);
  }

  std::printf("\nkey schedule and AUTH (ops/s), HMAC-SHA2-256, AES-GCM-256 keys\n");
  auto prf = crypto::Prf::create(PrfId::kHmacSha2_256);
  if (!prf) {
    die(prf.error());
  }
  crypto::Prf p = std::move(prf).value();
  const std::vector<uint8_t> ni(32, 3), nr(32, 4), gir(32, 5), message1(400, 6), id(16, 7);
  const crypto::KeyLengths sk{36, 0};
  const crypto::KeyLengths esp{36, 0};
  double ike = rate(
      seconds, [&] { sink += crypto::derive_ike_keys(p, sk, ni, nr, gir, 1, 2).sk_pr.size(); });
  crypto::IkeKeys keys = crypto::derive_ike_keys(p, sk, ni, nr, gir, 1, 2);
  double child = rate(seconds, [&] {
    sink += crypto::derive_child_keys(p, keys.sk_d, esp, {}, ni, nr).integ_r.size();
  });
  const std::vector<uint8_t> psk(32, 8);
  double auth = rate(seconds, [&] {
    auto octets = crypto::signed_octets(p, message1, nr, keys.sk_pi, 2, id);
    sink += crypto::psk_auth(p, psk, octets).size();
  });
  std::printf("  IKE SA keys %10.0f   CHILD SA keys %10.0f   PSK AUTH (octets + MAC) %10.0f\n", ike,
              child, auth);
  return sink == 0 ? 1 : 0;
}
