#pragma once
// ipsec.secrets (libreswan ipsec.secrets(5)): which secret authenticates which
// pair of identities. PSK bytes live in SecretBytes (model/secret_bytes.h), which
// wipes its memory when freed and never prints its contents.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/diagnostic.h"
#include "model/secret_bytes.h"
#include "model/values.h"

namespace ipsecd::model {

enum class SecretKind : uint8_t {
  kPsk,    // ": PSK "..."" or 0x.. / 0s.. (base64)
  kRsa,    // ": RSA {...}" or ": RSA file" / ckaid reference
  kEcdsa,  // ": ECDSA ..."
  kXauth,  // ": XAUTH" (parsed so files load; IKEv1 only, never used)
  kPpks,   // ": PPKS id "..."" (RFC 8784 post-quantum preshared keys)
};

struct SecretEntry {
  std::vector<Identity> selectors;  // empty or %any entries match any id
  SecretKind kind = SecretKind::kPsk;
  SecretBytes secret;   // PSK bytes (empty for key references)
  std::string key_ref;  // RSA/ECDSA: file name, "%prompt", or CKAID; never secret
  std::string file;     // where it came from, for diagnostics
  int line = 0;
};

struct Secrets {
  std::vector<SecretEntry> entries;

  // libreswan's rule: the entry whose selectors match both ids best (exact id
  // beats %any; more matching selectors win); nullptr when none matches.
  const SecretEntry* find_psk(const Identity& local, const Identity& remote) const;
  // Indexes the PSK entries by id, so find_psk() looks at the entries naming
  // one of its ids (and the wildcard ones) instead of all. The parsers call
  // it; entries changed afterwards make find_psk() scan them all again.
  void index_psks();

 private:
  struct PskIndex;
  std::shared_ptr<const PskIndex> index_;
};

struct SecretsParseResult {
  Secrets secrets;
  Diagnostics diagnostics;  // messages never contain secret bytes
};

// Parses a secrets file and the files it includes (globs, relative to the
// including file; nesting limited to 10 levels; cycles reported).
SecretsParseResult parse_secrets_file(const std::string& path);
// Parses text as if it were the file `name` (includes resolve relative to base_dir).
SecretsParseResult parse_secrets_text(std::string_view text, const std::string& name,
                                      const std::string& base_dir = ".");

}  // namespace ipsecd::model
