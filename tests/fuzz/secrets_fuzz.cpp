// libFuzzer target: ipsec.secrets text must never crash the parser, every entry
// it accepts is well-formed, and no diagnostic quotes a parsed secret.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/secrets.h"

namespace {

// Message templates and quoted names are printable ASCII, so a secret holding
// another byte can only reach a message by being copied there.
bool has_unprintable(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isprint(static_cast<unsigned char>(c)) == 0; });
}

size_t occurrences(std::string_view text, std::string_view s) {
  size_t n = 0;
  for (size_t pos = text.find(s); pos != std::string_view::npos; pos = text.find(s, pos + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // A base directory that does not exist keeps relative includes off the disk.
  const auto result =
      ipsecd::model::parse_secrets_text(text, "fuzz.secrets", "/nonexistent-ipsecd-fuzz");
  for (const auto& e : result.secrets.entries) {
    if (e.line < 1 ||
        e.secret.str() != "<redacted " + std::to_string(e.secret.size()) + " bytes>") {
      std::abort();
    }
    // A secret written twice could also be a selector, which messages may quote.
    const auto secret = e.secret.view();
    if (secret.size() < 4 || !has_unprintable(secret) || occurrences(text, secret) > 1) {
      continue;
    }
    for (const auto& d : result.diagnostics.all()) {
      if (d.message.find(secret) != std::string::npos) {
        std::abort();
      }
    }
  }
  return 0;
}
