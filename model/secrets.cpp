#include "model/secrets.h"

#include "model/text.h"
#include "model/values.h"

#include <glob.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unordered_map>
#include <utility>

namespace ipsecd::model {

using text::iequals;
using text::lower;

namespace {

constexpr int kMaxIncludeDepth = 10;                // libreswan's limit
constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;  // far above any real secrets file
constexpr int kMaxFilesPerParse = 1000;             // bounds a runaway glob such as "/*/*"
constexpr size_t kMaxEchoedChars = 80;              // selectors and names quoted in messages

// A fixed-capacity byte buffer wiped on destruction; it never reallocates, so no
// unwiped copy of file text or decoded secrets is left behind in freed memory.
class WipedBuffer {
 public:
  explicit WipedBuffer(size_t capacity)
      : data_(std::make_unique<char[]>(capacity == 0 ? 1 : capacity)),
        capacity_(capacity == 0 ? 1 : capacity) {}
  ~WipedBuffer() { OPENSSL_cleanse(data_.get(), capacity_); }
  WipedBuffer(const WipedBuffer&) = delete;
  WipedBuffer& operator=(const WipedBuffer&) = delete;

  void push_back(char c) {
    if (size_ < capacity_) {
      data_[size_++] = c;
    }
  }
  char* data() { return data_.get(); }
  size_t capacity() const { return capacity_; }
  void set_size(size_t n) { size_ = std::min(n, capacity_); }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------
// Lexer: libreswan's secrets lexer. A record is a run of tokens whose first token
// starts in column 0; lines that start with blanks continue the record. Blank
// lines and comment lines never end a record. Tokens are separated by blanks;
// "..." '...' `...` are quoted tokens (no escapes); an ordinary token ending in
// ':' yields a separate ':' token; an ordinary token starting "0t" runs to the end
// of the line; '#' where a token could start begins a comment.

struct Token {
  std::string_view text;  // quotes removed
  char quote = 0;         // '"', '\'', '`' or 0
  bool unterminated = false;
  int line = 0;

  bool is(std::string_view word) const { return quote == 0 && text == word; }
};

struct Record {
  int line = 0;
  bool orphan = false;  // continuation lines at the start of the file
  std::vector<Token> tokens;
};

bool is_trailing_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<Record> split_records(std::string_view text) {
  std::vector<Record> records;
  int lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) {
      eol = text.size();
    }
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++lineno;
    while (!line.empty() && is_trailing_space(line.back())) {
      line.remove_suffix(1);
    }
    size_t p = 0;
    while (p < line.size()) {
      const char c = line[p];
      if (c == ' ' || c == '\t') {
        ++p;
        continue;
      }
      if (c == '#') {
        break;
      }
      if (p == 0) {
        records.push_back(Record{lineno, false, {}});
      } else if (records.empty()) {
        records.push_back(Record{lineno, true, {}});
      }
      Token t;
      t.line = lineno;
      if (c == '"' || c == '\'' || c == '`') {
        t.quote = c;
        const size_t close = line.find(c, p + 1);
        if (close == std::string_view::npos) {
          t.text = line.substr(p + 1);
          t.unterminated = true;
          p = line.size();
        } else {
          t.text = line.substr(p + 1, close - p - 1);
          p = close + 1;
        }
      } else if (c == '0' && p + 1 < line.size() && line[p + 1] == 't') {
        t.text = line.substr(p);
        p = line.size();
      } else {
        size_t end = p + 1;
        while (end < line.size() && line[end] != ' ' && line[end] != '\t') {
          ++end;
        }
        if (end - p > 1 && line[end - 1] == ':') {
          --end;
        }
        t.text = line.substr(p, end - p);
        p = end;
      }
      records.back().tokens.push_back(t);
    }
  }
  return records;
}

// ---------------------------------------------------------------------------
// Data decoding (ttodata(3) forms). Messages name positions, never characters.

// Decodes "0x..." (a single '_' may separate whole bytes), "0s..." (base64) or
// "0t..." (text) into out (decode_ttodata); returns an error message, empty on success.
std::string decode_data(std::string_view text, WipedBuffer& out) {
  if (text.size() < 2 || text[0] != '0' ||
      std::string_view("xXsStT").find(text[1]) == std::string_view::npos) {
    return "expected a quoted string, 0x followed by hex digits, or 0s followed by base64";
  }
  Result<size_t> n = decode_ttodata(text, {out.data() + out.size(), out.capacity() - out.size()});
  if (!n) {
    return n.error();
  }
  out.set_size(out.size() + n.value());
  return {};
}

// A secret token: "quoted" or 'quoted' literally, otherwise ttodata forms.
std::string decode_secret(const Token& t, WipedBuffer& out) {
  if (t.quote == '"' || t.quote == '\'') {
    for (char c : t.text) {
      out.push_back(c);
    }
    return {};
  }
  if (t.quote == '`') {
    return "back-quoted (`...`) secrets are not supported; quote the secret with \"...\"";
  }
  return decode_data(t.text, out);
}

// Quotes text that is known not to be secret (selectors, file and key names).
std::string echo(std::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, kMaxEchoedChars)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (text.size() > kMaxEchoedChars) {
    out += "...";
  }
  return out + "\"";
}

bool is_word(std::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
  });
}

std::string hex_string(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 0xf];
  }
  return out;
}

// NSS's CKA_ID for an RSA key: SHA-1 of the modulus without leading zero bytes.
std::optional<std::string> rsa_ckaid(std::string_view modulus) {
  while (!modulus.empty() && modulus.front() == '\0') {
    modulus.remove_prefix(1);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(modulus.data(), modulus.size(), md.data(), &md_len, EVP_sha1(), nullptr) != 1) {
    return std::nullopt;
  }
  return hex_string(md.data(), md_len);
}

struct RsaField {
  const char* name;
  bool is_public;
};
constexpr std::array<RsaField, 9> kRsaFields = {{
    {"Modulus", true},
    {"PublicExponent", true},
    {"PrivateExponent", false},
    {"Prime1", false},
    {"Prime2", false},
    {"Exponent1", false},
    {"Exponent2", false},
    {"Coefficient", false},
    {"CKAIDNSS", false},
}};

// ---------------------------------------------------------------------------
// Reader: files, includes and entries.

class SecretsReader {
 public:
  explicit SecretsReader(SecretsParseResult& out) : out_(out) {}

  void read_top_file(const std::string& path) {
    const std::filesystem::path p(path);
    read_file(path, p.has_parent_path() ? p.parent_path().string() : ".", 0, path, 0);
  }

  void read_top_text(std::string_view text, const std::string& name, const std::string& dir) {
    stack_.push_back({canonical(name), name});
    read_records(text, name, dir, 0);
    stack_.pop_back();
  }

 private:
  struct OpenFile {
    std::string canonical;
    std::string name;
  };

  static std::string canonical(const std::string& path) {
    std::error_code ec;
    auto c = std::filesystem::weakly_canonical(path, ec);
    return ec ? path : c.string();
  }

  Diagnostics& diag() { return out_.diagnostics; }

  // Reads one file; problems opening it are reported at (where_file, where_line).
  void read_file(const std::string& path, const std::string& dir, int depth,
                 const std::string& where_file, int where_line) {
    if (++files_read_ > kMaxFilesPerParse) {
      if (files_read_ == kMaxFilesPerParse + 1) {
        diag().error(where_file, where_line,
                     "more than " + std::to_string(kMaxFilesPerParse) +
                         " secrets files included; stopping (check the include patterns)");
      }
      return;
    }
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found) {
      diag().error(where_file, where_line,
                   "cannot read secrets file " + echo(path) + ": no such file");
      return;
    }
    if (ec) {
      diag().error(where_file, where_line,
                   "cannot read secrets file " + echo(path) + ": " + ec.message());
      return;
    }
    if (!std::filesystem::is_regular_file(status)) {
      diag().error(where_file, where_line,
                   "cannot read secrets file " + echo(path) + ": not a regular file");
      return;
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxFileBytes) {
      diag().error(
          where_file, where_line,
          "cannot read secrets file " + echo(path) + ": " +
              (ec ? ec.message() : "larger than " + std::to_string(kMaxFileBytes) + " bytes"));
      return;
    }
    // One spare byte shows whether the file grew after its size was taken.
    WipedBuffer buffer(static_cast<size_t>(size) + 1);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      diag().error(where_file, where_line,
                   "cannot read secrets file " + echo(path) + ": " + std::strerror(errno));
      return;
    }
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.capacity()));
    buffer.set_size(static_cast<size_t>(in.gcount()));
    if (in.bad() || buffer.size() > size) {
      diag().error(where_file, where_line,
                   "cannot read secrets file " + echo(path) + ": it changed while being read");
      return;
    }
    stack_.push_back({canonical(path), path});
    read_records(buffer.view(), path, dir, depth);
    stack_.pop_back();
  }

  void read_records(std::string_view text, const std::string& file, const std::string& dir,
                    int depth) {
    for (const Record& r : split_records(text)) {
      if (r.orphan) {
        diag().error(file, r.line,
                     "the file starts with an indented line; indentation continues the entry "
                     "above, so the first entry must start in column 1");
        continue;
      }
      const auto bad = std::find_if(r.tokens.begin(), r.tokens.end(),
                                    [](const Token& t) { return t.unterminated; });
      if (bad != r.tokens.end()) {
        diag().error(file, bad->line,
                     std::string("unterminated quoted string: missing closing ") + bad->quote +
                         " on this line (quotes cannot span lines)");
        continue;
      }
      const Token& first = r.tokens.front();
      if (first.quote == 0 && iequals(first.text, "include")) {
        include(r, file, dir, depth);
      } else if (first.is("}")) {
        diag().error(file, r.line,
                     "'}' in column 1 starts a new entry; indent the '}' that closes an RSA key");
      } else {
        entry(r, file);
      }
    }
  }

  void include(const Record& r, const std::string& file, const std::string& dir, int depth) {
    if (r.tokens.size() < 2) {
      diag().error(file, r.line, "include needs a file name or pattern: include FILE");
      return;
    }
    if (r.tokens.size() > 2) {
      diag().error(file, r.tokens[2].line,
                   "unexpected text after the include file name (names cannot contain blanks)");
      return;
    }
    const std::string_view name = r.tokens[1].text;
    if (name.empty()) {
      diag().error(file, r.line, "include needs a file name or pattern: include FILE");
      return;
    }
    if (depth + 1 > kMaxIncludeDepth) {
      diag().error(file, r.line,
                   "include of " + echo(name) + " nested too deeply (more than " +
                       std::to_string(kMaxIncludeDepth) + " levels)");
      return;
    }
    std::string pattern(name);
    if (pattern.front() != '/') {
      pattern = dir + "/" + pattern;
    }
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    // Owns g until the end of this scope.
    const std::unique_ptr<glob_t, void (*)(glob_t*)> guard(&g, ::globfree);
    if (rc == GLOB_NOMATCH) {
      // libreswan logs and continues; an include that matches nothing is not fatal.
      diag().warning(file, r.line, "include " + echo(name) + ": no file matches " + echo(pattern));
      return;
    }
    if (rc != 0) {
      diag().error(file, r.line,
                   "include " + echo(name) + ": cannot expand " + echo(pattern) +
                       (rc == GLOB_NOSPACE ? " (out of memory)" : " (directory read error)"));
      return;
    }
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      const std::string path = g.gl_pathv[i];
      const std::string canon = canonical(path);
      const auto open = std::find_if(stack_.begin(), stack_.end(),
                                     [&](const OpenFile& f) { return f.canonical == canon; });
      if (open != stack_.end()) {
        std::string chain;
        for (auto it = open; it != stack_.end(); ++it) {
          chain += it->name + " -> ";
        }
        diag().error(
            file, r.line,
            "include cycle: " + chain + path + " (" + echo(path) + " is already being read)");
        continue;
      }
      const std::filesystem::path p(path);
      read_file(path, p.has_parent_path() ? p.parent_path().string() : ".", depth + 1, file,
                r.line);
    }
  }

  void entry(const Record& r, const std::string& file) {
    const auto& toks = r.tokens;
    const auto colon =
        std::find_if(toks.begin(), toks.end(), [](const Token& t) { return t.is(":"); });
    if (colon == toks.end()) {
      // Without ':' nothing tells selectors from the secret, so no token is quoted back.
      const bool glued = std::any_of(toks.begin(), toks.end(), [](const Token& t) {
        return t.quote == 0 && t.text.size() > 1 && t.text.front() == ':';
      });
      diag().error(file, r.line,
                   glued ? "':' must be followed by a blank: write \"SELECTORS : PSK \\\"...\\\"\""
                         : "missing ':' between the selectors and the secret (expected "
                           "\"[SELECTORS] : PSK \\\"SECRET\\\"\")");
      return;
    }

    SecretEntry e;
    e.file = file;
    e.line = r.line;
    bool ok = true;
    for (auto it = toks.begin(); it != colon; ++it) {
      if (it->text == "%any" || it->text == "%any6") {
        e.selectors.push_back(Identity{IdKind::kAny, {}});
        continue;
      }
      if (it->text.empty()) {
        diag().error(file, it->line, "empty selector \"\"; write %any to match any identity");
        ok = false;
        continue;
      }
      auto id = Identity::parse(it->text);
      if (!id.ok()) {
        diag().error(file, it->line,
                     "selector " + echo(it->text) + " is not a valid identity: " + id.error());
        ok = false;
        continue;
      }
      e.selectors.push_back(id.value());
    }

    const auto type_it = colon + 1;
    if (type_it == toks.end()) {
      diag().error(file, colon->line,
                   "missing secret type after ':' (expected PSK, RSA, ECDSA, XAUTH or PPKS)");
      return;
    }
    const Token& type = *type_it;
    const std::vector<Token> rest(type_it + 1, toks.end());
    const std::string_view word = type.quote == 0 ? type.text : std::string_view();
    if (iequals(word, "PSK") || iequals(word, "XAUTH")) {
      e.kind = iequals(word, "PSK") ? SecretKind::kPsk : SecretKind::kXauth;
      ok = shared_secret(e, rest, type, file) && ok;
    } else if (iequals(word, "PPKS")) {
      e.kind = SecretKind::kPpks;
      ok = ppk_secret(e, rest, type, file) && ok;
    } else if (iequals(word, "RSA") || iequals(word, "ECDSA")) {
      e.kind = iequals(word, "RSA") ? SecretKind::kRsa : SecretKind::kEcdsa;
      ok = key_secret(e, rest, type, file) && ok;
    } else if (iequals(word, "PIN")) {
      diag().error(file, type.line,
                   "PIN entries are obsolete: smartcard keys are found through NSS");
      return;
    } else {
      // The word after ':' may be a secret typed without its type, so it is not echoed.
      diag().error(file, type.line,
                   "unknown secret type after ':' (expected PSK, RSA, ECDSA, XAUTH or PPKS)");
      return;
    }
    if (ok) {
      out_.secrets.entries.push_back(std::move(e));
    }
  }

  bool no_more(const std::vector<Token>& rest, size_t used, const char* what,
               const std::string& file) {
    if (rest.size() > used) {
      diag().error(file, rest[used].line,
                   std::string("unexpected text after the ") + what +
                       "; an entry holds one secret (is a ':' or a quote missing?)");
      return false;
    }
    return true;
  }

  bool shared_secret(SecretEntry& e, const std::vector<Token>& rest, const Token& type,
                     const std::string& file) {
    const char* what = e.kind == SecretKind::kPsk ? "PSK" : "XAUTH password";
    if (rest.empty()) {
      diag().error(file, type.line,
                   std::string(what) + " needs a secret after it: \"SECRET\", 0xHEX or 0sBASE64");
      return false;
    }
    WipedBuffer bytes(rest[0].text.size());
    const std::string err = decode_secret(rest[0], bytes);
    if (!err.empty()) {
      diag().error(file, rest[0].line, std::string(what) + ": " + err);
      return false;
    }
    if (!no_more(rest, 1, what, file)) {
      return false;
    }
    if (e.kind == SecretKind::kPsk) {
      if (bytes.size() == 0) {
        diag().error(file, rest[0].line, "PSK is empty; a pre-shared key needs secret bytes");
        return false;
      }
      if (bytes.size() < 8) {
        diag().warning(file, rest[0].line,
                       "weak PSK: shorter than 8 bytes; use a long random secret");
      }
    }
    e.secret = SecretBytes(bytes.view());
    return true;
  }

  bool ppk_secret(SecretEntry& e, const std::vector<Token>& rest, const Token& type,
                  const std::string& file) {
    if (rest.empty() || (rest[0].quote != '"' && rest[0].quote != '\'')) {
      diag().error(file, rest.empty() ? type.line : rest[0].line,
                   "PPKS needs a quoted PPK ID and then the PPK: PPKS \"ID\" \"SECRET\"");
      return false;
    }
    if (rest[0].text.empty()) {
      diag().error(file, rest[0].line, "PPK ID is empty: PPKS \"ID\" \"SECRET\"");
      return false;
    }
    if (rest.size() < 2) {
      diag().error(file, rest[0].line,
                   "PPKS needs the PPK after the PPK ID: PPKS \"ID\" \"SECRET\"");
      return false;
    }
    WipedBuffer bytes(rest[1].text.size());
    const std::string err = decode_secret(rest[1], bytes);
    if (!err.empty()) {
      diag().error(file, rest[1].line, "PPK: " + err);
      return false;
    }
    if (bytes.size() == 0) {
      diag().error(file, rest[1].line, "PPK is empty; a post-quantum key needs secret bytes");
      return false;
    }
    if (!no_more(rest, 2, "PPK", file)) {
      return false;
    }
    e.key_ref = std::string(rest[0].text);  // the PPK ID is sent in clear; not secret
    e.secret = SecretBytes(bytes.view());
    return true;
  }

  bool key_secret(SecretEntry& e, const std::vector<Token>& rest, const Token& type,
                  const std::string& file) {
    const char* kind = e.kind == SecretKind::kRsa ? "RSA" : "ECDSA";
    if (rest.empty() || rest[0].text.empty()) {
      diag().error(file, type.line,
                   std::string(kind) +
                       " needs a key: a key file name, a CKAID, or (RSA only) a { ... } block");
      return false;
    }
    if (rest[0].is("{")) {
      if (e.kind != SecretKind::kRsa) {
        diag().error(file, rest[0].line,
                     "ECDSA keys have no { ... } form; name the key (file name or CKAID)");
        return false;
      }
      return rsa_block(e, rest, file);
    }
    e.key_ref = std::string(rest[0].text);
    if (rest.size() >= 2) {
      if (rest[1].is("%prompt")) {
        diag().warning(file, rest[1].line,
                       "%prompt passphrases are not supported; the key must be usable without "
                       "one");
      } else {
        WipedBuffer bytes(rest[1].text.size());
        const std::string err = decode_secret(rest[1], bytes);
        if (!err.empty()) {
          diag().error(file, rest[1].line, std::string(kind) + " key passphrase: " + err);
          return false;
        }
        e.secret = SecretBytes(bytes.view());
      }
    }
    return no_more(rest, 2, "key passphrase", file);
  }

  // ": RSA { Modulus: 0x... PublicExponent: 0x... ... }" as written by old newhostkey.
  bool rsa_block(SecretEntry& e, const std::vector<Token>& rest, const std::string& file) {
    std::string modulus;
    bool have_exponent = false;
    size_t i = 1;
    for (;;) {
      if (i >= rest.size()) {
        diag().error(file, rest.back().line,
                     "RSA key is not closed: expected an indented '}' after the key fields");
        return false;
      }
      const Token& name = rest[i];
      if (name.is("}")) {
        ++i;
        break;
      }
      const auto field = std::find_if(kRsaFields.begin(), kRsaFields.end(), [&](const RsaField& f) {
        return name.quote == 0 && iequals(name.text, f.name);
      });
      if (field == kRsaFields.end()) {
        diag().error(file, name.line,
                     "unknown RSA key field" +
                         (is_word(name.text) ? " " + echo(name.text) : std::string()) +
                         " (expected Modulus, PublicExponent, PrivateExponent, Prime1, Prime2, "
                         "Exponent1, Exponent2, Coefficient or CKAIDNSS, each followed by ': "
                         "0x...')");
        return false;
      }
      ++i;
      if (i < rest.size() && rest[i].is(":")) {
        ++i;
      }
      if (i >= rest.size() || rest[i].is("}")) {
        diag().error(file, name.line,
                     std::string("RSA key field ") + field->name + " has no value");
        return false;
      }
      WipedBuffer bytes(rest[i].text.size());
      const std::string err = decode_data(rest[i].text, bytes);
      if (!err.empty()) {
        diag().error(file, rest[i].line, std::string("RSA key field ") + field->name + ": " + err);
        return false;
      }
      if (field == kRsaFields.begin()) {
        modulus.assign(bytes.view());
      } else if (field == kRsaFields.begin() + 1) {
        have_exponent = bytes.size() > 0;
      }
      ++i;
    }
    if (i < rest.size()) {
      diag().error(file, rest[i].line, "unexpected text after the '}' that closes the RSA key");
      return false;
    }
    if (modulus.empty() || !have_exponent) {
      diag().error(file, e.line,
                   std::string("RSA key lacks its ") +
                       (modulus.empty() ? "Modulus" : "PublicExponent") + " field");
      return false;
    }
    auto ckaid = rsa_ckaid(modulus);
    if (!ckaid) {
      diag().error(file, e.line, "cannot compute the CKAID of the RSA key (SHA-1 unavailable)");
      return false;
    }
    e.key_ref = std::move(*ckaid);  // libreswan finds the private key in NSS by this CKAID
    return true;
  }

  SecretsParseResult& out_;
  std::vector<OpenFile> stack_;
  int files_read_ = 0;
};

// ---------------------------------------------------------------------------
// Matching

std::string_view strip_dot(std::string_view s) {
  if (!s.empty() && s.back() == '.') {
    s.remove_suffix(1);
  }
  return s;
}

// DNs compare without the blanks around ',' and '=' and without case, close to
// libreswan's same_dn() for the printable strings used in practice.
std::string normalise_dn(std::string_view dn) {
  std::string out;
  for (size_t i = 0; i < dn.size(); ++i) {
    const char c = dn[i];
    if (c == ' ') {
      const char prev = out.empty() ? ',' : out.back();
      size_t j = i;
      while (j < dn.size() && dn[j] == ' ') {
        ++j;
      }
      const char next = j < dn.size() ? dn[j] : ',';
      if (prev == ',' || prev == '=' || next == ',' || next == '=') {
        i = j - 1;
        continue;
      }
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool is_ip(IdKind k) {
  return k == IdKind::kIpv4 || k == IdKind::kIpv6;
}

// libreswan's any_id(): %any, %none and the unspecified addresses match everyone.
bool is_any(const Identity& sel) {
  if (sel.kind == IdKind::kAny || sel.kind == IdKind::kNone) {
    return true;
  }
  if (is_ip(sel.kind)) {
    auto a = IpAddress::parse(sel.value);
    return a.ok() && a->is_unspecified();
  }
  return false;
}

// libreswan's same_id(); an id that is itself unknown (%any/%none) is a wildcard.
bool same_id(const Identity& sel, const Identity& id) {
  if (id.kind == IdKind::kAny || id.kind == IdKind::kNone) {
    return true;
  }
  if (sel.kind != id.kind) {
    return false;
  }
  switch (sel.kind) {
    case IdKind::kIpv4:
    case IdKind::kIpv6: {
      auto a = IpAddress::parse(sel.value);
      auto b = IpAddress::parse(id.value);
      if (a.ok() && b.ok()) {
        return a.value() == b.value();
      }
      return sel.value == id.value;
    }
    case IdKind::kFqdn:
    case IdKind::kUserFqdn:
      return iequals(strip_dot(sel.value), strip_dot(id.value));
    case IdKind::kDn:
      return normalise_dn(sel.value) == normalise_dn(id.value);
    case IdKind::kNull:
      return true;
    default:
      return sel.value == id.value;
  }
}

// Two ids are the same_id() exactly when their keys are equal (neither a wildcard).
std::string id_key(const Identity& id) {
  std::string key(1, static_cast<char>('A' + static_cast<int>(id.kind)));
  switch (id.kind) {
    case IdKind::kIpv4:
    case IdKind::kIpv6: {
      auto a = IpAddress::parse(id.value);
      key += a.ok() ? a->str() : id.value;
      break;
    }
    case IdKind::kFqdn:
    case IdKind::kUserFqdn:
      key += lower(strip_dot(id.value));
      break;
    case IdKind::kDn:
      key += normalise_dn(id.value);
      break;
    case IdKind::kNull:
      break;
    default:
      key += id.value;
  }
  return key;
}

}  // namespace

// libreswan's lsw_find_secret_by_id() for a symmetric secret. Per entry: a
// selector that is %any (or 0.0.0.0 / ::) counts as "any", one equal to the
// local id as "local", one equal to the remote id as "remote"; an entry without
// selectors counts as "any". Acceptable outcomes, best first:
//   local+remote > local+any > local as the only selector > remote+any > any.
// Two deliberate differences from libreswan: it rejects local+remote+any
// ("@a @b %any") and we rank it as local+remote; it lets "@a %any" act as a
// bare wildcard for pairs that involve neither @a, and we only let entries whose
// selectors are all wildcards match any pair. Equally good entries: libreswan
// keeps the one it read first, so the earliest entry in file order wins.
struct Secrets::PskIndex {
  size_t entries = 0;  // entries.size() when built: a changed vector is not indexed
  std::unordered_map<std::string, std::vector<uint32_t>> by_id;
  std::vector<uint32_t> wildcard_only;  // PSK entries without a specific selector
};

void Secrets::index_psks() {
  auto index = std::make_shared<PskIndex>();
  index->entries = entries.size();
  for (uint32_t i = 0; i < entries.size(); ++i) {
    const SecretEntry& e = entries[i];
    if (e.kind != SecretKind::kPsk) {
      continue;
    }
    bool specific = false;
    for (const Identity& sel : e.selectors) {
      if (!is_any(sel)) {
        specific = true;
        auto& list = index->by_id[id_key(sel)];
        if (list.empty() || list.back() != i) {
          list.push_back(i);
        }
      }
    }
    if (!specific) {
      index->wildcard_only.push_back(i);
    }
  }
  index_ = std::move(index);
}

const SecretEntry* Secrets::find_psk(const Identity& local, const Identity& remote) const {
  const bool wildcard_query = local.kind == IdKind::kAny || local.kind == IdKind::kNone ||
                              remote.kind == IdKind::kAny || remote.kind == IdKind::kNone;
  std::vector<uint32_t> candidates;
  const bool indexed = index_ && index_->entries == entries.size() && !wildcard_query;
  if (indexed) {
    // Only entries naming one of the ids, or naming none, can rank at all.
    for (const Identity* id : {&local, &remote}) {
      if (auto it = index_->by_id.find(id_key(*id)); it != index_->by_id.end()) {
        candidates.insert(candidates.end(), it->second.begin(), it->second.end());
      }
    }
    candidates.insert(candidates.end(), index_->wildcard_only.begin(), index_->wildcard_only.end());
    // File order decides between equally good entries, as in the full scan.
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  }
  const SecretEntry* best = nullptr;
  int best_rank = 0;
  const size_t n = indexed ? candidates.size() : entries.size();
  for (size_t k = 0; k < n; ++k) {
    const SecretEntry& e = entries[indexed ? candidates[k] : k];
    if (e.kind != SecretKind::kPsk) {
      continue;
    }
    bool any = e.selectors.empty();
    bool is_local = false;
    bool is_remote = false;
    int specific = 0;
    for (const Identity& sel : e.selectors) {
      if (is_any(sel)) {
        any = true;
        continue;
      }
      ++specific;
      is_local = is_local || same_id(sel, local);
      is_remote = is_remote || same_id(sel, remote);
    }
    int rank = 0;
    if (is_local && is_remote) {
      rank = 5;
    } else if (is_local && any) {
      rank = 4;
    } else if (is_local && e.selectors.size() == 1) {
      rank = 3;
    } else if (is_remote && any) {
      rank = 2;
    } else if (any && specific == 0) {
      rank = 1;
    }
    if (rank > best_rank) {
      best_rank = rank;
      best = &e;
    }
  }
  return best;
}

SecretsParseResult parse_secrets_file(const std::string& path) {
  SecretsParseResult result;
  SecretsReader(result).read_top_file(path);
  result.secrets.index_psks();
  return result;
}

SecretsParseResult parse_secrets_text(std::string_view text, const std::string& name,
                                      const std::string& base_dir) {
  SecretsParseResult result;
  SecretsReader(result).read_top_text(text, name, base_dir);
  result.secrets.index_psks();
  return result;
}

}  // namespace ipsecd::model
