// libFuzzer target: the text parsers of the certificate store never crash,
// and what they accept is well-formed. The first byte picks the parser: 0xff for a
// DN ID matched against a certificate, else even for a leftrsasigkey=/leftpubkey=
// value, odd for a policy group file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/x509/cert_store.h"
#include "model/values.h"

namespace {

bool base64_text(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 0xff) {
    // A DN ID against a certificate's subject and names: the text up to the first NUL is
    // the ID, the rest the subject. A DN matches itself.
    const size_t nul = text.find('\0');
    ipsecd::engine::x509::PeerCertificate cert;
    cert.subject = std::string(text.substr(nul == std::string_view::npos ? 0 : nul + 1));
    cert.subject_alt_names = {"DirName:" + cert.subject, "DNS:" + cert.subject};
    const ipsecd::model::Identity id{ipsecd::model::IdKind::kDn, std::string(text.substr(0, nul))};
    auto matched = ipsecd::engine::x509::match_identity(
        cert, id,
        size % 2 == 0 ? ipsecd::engine::x509::IdOrigin::kPeer
                      : ipsecd::engine::x509::IdOrigin::kConfigured);
    if (!matched && matched.error().empty()) {
      std::abort();
    }
    const ipsecd::model::Identity self{ipsecd::model::IdKind::kDn, cert.subject};
    auto itself =
        ipsecd::engine::x509::match_identity(cert, self, ipsecd::engine::x509::IdOrigin::kPeer);
    if (itself && *itself != "subject") {
      std::abort();
    }
    return 0;
  }
  if (data[0] % 2 == 0) {
    auto key = ipsecd::engine::x509::parse_pubkey_value(text);
    if (key) {
      if (key->bits <= 0 || key->bits > 16384 || key->key_id.size() > 9 ||
          !base64_text(key->key_id) || key->key_type.empty()) {
        std::abort();
      }
      if (key->key_type == "RSA" && key->bits < 512) {
        std::abort();
      }
    } else if (key.error().empty()) {
      std::abort();
    }
    return 0;
  }
  auto group = ipsecd::engine::x509::parse_policy_group("private", "fuzz", text);
  for (const std::string& entry : group.entries) {
    // Every entry is canonical: it parses again to itself.
    auto again = ipsecd::model::Subnet::parse(entry);
    if (!again || again->str() != entry) {
      std::abort();
    }
  }
  for (const std::string& error : group.errors) {
    if (error.rfind("fuzz:", 0) != 0) {
      std::abort();
    }
  }
  return 0;
}
