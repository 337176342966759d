// libFuzzer target: ipsec.secrets text must never crash the parser, every entry
// it accepts is well-formed, and no diagnostic quotes a parsed secret.
//
// A message can hold a secret's bytes by chance: a quoted selector followed by
// template text may spell it. So a leak is proven by a second parse: the bytes
// >= 0x80 of the secret's only occurrence in the input are changed (the parser
// gives them no meaning), and the secret leaked only if the same message then
// holds the changed secret too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/secrets.h"

namespace {

bool is_high(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}

bool contains(const std::string& message, std::string_view s) {
  return message.find(s) != std::string::npos;
}

size_t occurrences(std::string_view text, std::string_view s) {
  size_t n = 0;
  for (size_t pos = text.find(s); pos != std::string_view::npos; pos = text.find(s, pos + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

ipsecd::model::SecretsParseResult parse(std::string_view text) {
  // A base directory that does not exist keeps relative includes off the disk.
  return ipsecd::model::parse_secrets_text(text, "fuzz.secrets", "/nonexistent-ipsecd-fuzz");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = parse(text);
  const auto& entries = result.secrets.entries;
  for (size_t k = 0; k < entries.size(); ++k) {
    const auto& e = entries[k];
    if (e.line < 1 ||
        e.secret.str() != "<redacted " + std::to_string(e.secret.size()) + " bytes>") {
      std::abort();
    }
    const auto secret = e.secret.view();
    if (secret.size() < 4 || std::none_of(secret.begin(), secret.end(), is_high) ||
        occurrences(text, secret) != 1 ||
        std::none_of(result.diagnostics.all().begin(), result.diagnostics.all().end(),
                     [&](const auto& d) { return contains(d.message, secret); })) {
      continue;
    }
    std::string changed_text(text);
    const size_t at = text.find(secret);
    for (size_t i = at; i < at + secret.size(); ++i) {
      if (is_high(changed_text[i])) {
        changed_text[i] = static_cast<char>(changed_text[i] ^ 0x01);
      }
    }
    const std::string_view changed = std::string_view(changed_text).substr(at, secret.size());
    const auto again = parse(changed_text);
    // Only if the changed bytes are where the secret came from (not a decoded
    // form that happens to appear elsewhere) do both parses line up.
    const auto& d1 = result.diagnostics.all();
    const auto& d2 = again.diagnostics.all();
    if (again.secrets.entries.size() != entries.size() ||
        again.secrets.entries[k].secret.view() != changed || d1.size() != d2.size()) {
      continue;
    }
    for (size_t i = 0; i < d1.size(); ++i) {
      if (contains(d1[i].message, secret) && contains(d2[i].message, changed)) {
        std::abort();
      }
    }
  }
  return 0;
}
