#include "model/proposals.h"

#include "model/text.h"

#include <algorithm>
#include <array>
#include <optional>

namespace ipsecd::model {

using text::iequals;

namespace {

constexpr size_t kMaxProposalText = 8192;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string quoted(std::string_view s) {
  constexpr size_t kShown = 60;
  std::string out = "\"";
  for (char c : s.substr(0, kShown)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (s.size() > kShown) {
    out += "...";
  }
  return out + "\"";
}

// ------------------------------------------------------------- algorithm tables

struct EncrInfo {
  EncrId id;
  std::string_view fqn;
  std::array<std::string_view, 5> names;    // first is the one listed in errors
  bool ike;                                 // usable in ike= (else esp= only)
  std::array<uint16_t, 3> key_lengths;      // valid lengths; all zero for a fixed key size
  std::array<uint16_t, 2> default_lengths;  // proposed, in order, when none is given
};

constexpr std::array<uint16_t, 3> kAesKeys{128, 192, 256};
constexpr std::array<uint16_t, 3> kFixed{0, 0, 0};
constexpr std::array<uint16_t, 2> kAesDefaults{256, 128};
constexpr std::array<uint16_t, 2> kNoDefaults{0, 0};

constexpr EncrInfo kEncrs[] = {
    {EncrId::kAesCbc, "AES_CBC", {"aes", "aes_cbc"}, true, kAesKeys, kAesDefaults},
    {EncrId::kAesCtr, "AES_CTR", {"aes_ctr", "aesctr"}, true, kAesKeys, kAesDefaults},
    {EncrId::kAesGcm16,
     "AES_GCM_16",
     {"aes_gcm", "aes_gcm_16", "aes_gcm_c", "aes_gcm16"},
     true,
     kAesKeys,
     kAesDefaults},
    {EncrId::kAesGcm12,
     "AES_GCM_12",
     {"aes_gcm_12", "aes_gcm_b", "aes_gcm12"},
     true,
     kAesKeys,
     kAesDefaults},
    {EncrId::kAesGcm8,
     "AES_GCM_8",
     {"aes_gcm_8", "aes_gcm_a", "aes_gcm8"},
     true,
     kAesKeys,
     kAesDefaults},
    {EncrId::kAesCcm16,
     "AES_CCM_16",
     {"aes_ccm", "aes_ccm_16", "aes_ccm_c", "aes_ccm16"},
     false,
     kAesKeys,
     kAesDefaults},
    {EncrId::kAesCcm12,
     "AES_CCM_12",
     {"aes_ccm_12", "aes_ccm_b", "aes_ccm12"},
     false,
     kAesKeys,
     kAesDefaults},
    {EncrId::kAesCcm8,
     "AES_CCM_8",
     {"aes_ccm_8", "aes_ccm_a", "aes_ccm8"},
     false,
     kAesKeys,
     kAesDefaults},
    {EncrId::kChaCha20Poly1305,
     "CHACHA20_POLY1305",
     {"chacha20_poly1305", "chacha20poly1305"},
     true,
     kFixed,
     kNoDefaults},
    {EncrId::kCamelliaCbc,
     "CAMELLIA_CBC",
     {"camellia", "camellia_cbc"},
     true,
     kAesKeys,
     kAesDefaults},
    {EncrId::kCamelliaCtr, "CAMELLIA_CTR", {"camellia_ctr"}, false, kAesKeys, kAesDefaults},
    {EncrId::k3Des, "3DES_CBC", {"3des", "3des_cbc"}, true, kFixed, kNoDefaults},
    {EncrId::kNullAuthAesGmac,
     "NULL_AUTH_AES_GMAC",
     {"null_auth_aes_gmac", "aes_gmac"},
     false,
     kAesKeys,
     kAesDefaults},
    {EncrId::kNull, "NULL", {"null"}, false, kFixed, kNoDefaults},
};

struct PrfInfo {
  PrfId id;
  std::string_view fqn;
  std::array<std::string_view, 4> names;
};

constexpr PrfInfo kPrfs[] = {
    {PrfId::kHmacSha2_256, "HMAC_SHA2_256", {"sha2", "sha2_256", "sha256"}},
    {PrfId::kHmacSha2_384, "HMAC_SHA2_384", {"sha2_384", "sha384"}},
    {PrfId::kHmacSha2_512, "HMAC_SHA2_512", {"sha2_512", "sha512"}},
    {PrfId::kHmacSha1, "HMAC_SHA1", {"sha1", "sha"}},
    {PrfId::kHmacMd5, "HMAC_MD5", {"md5"}},
    {PrfId::kAes128Xcbc, "AES_XCBC", {"aes_xcbc", "aes128_xcbc"}},
    {PrfId::kAes128Cmac, "AES_CMAC", {"aes_cmac", "aes128_cmac"}},
};

struct IntegInfo {
  IntegId id;
  std::string_view fqn;
  std::array<std::string_view, 5> names;
  std::optional<PrfId> prf;  // the PRF built on the same hash, for IKE's derived integrity
};

constexpr IntegInfo kIntegs[] = {
    {IntegId::kHmacSha2_256_128,
     "HMAC_SHA2_256_128",
     {"sha2", "sha2_256", "sha256", "sha2_256_128", "hmac_sha2_256"},
     PrfId::kHmacSha2_256},
    {IntegId::kHmacSha2_384_192,
     "HMAC_SHA2_384_192",
     {"sha2_384", "sha384", "sha2_384_192", "hmac_sha2_384"},
     PrfId::kHmacSha2_384},
    {IntegId::kHmacSha2_512_256,
     "HMAC_SHA2_512_256",
     {"sha2_512", "sha512", "sha2_512_256", "hmac_sha2_512"},
     PrfId::kHmacSha2_512},
    {IntegId::kHmacSha1_96,
     "HMAC_SHA1_96",
     {"sha1", "sha", "sha1_96", "hmac_sha1"},
     PrfId::kHmacSha1},
    {IntegId::kHmacMd5_96, "HMAC_MD5_96", {"md5", "md5_96", "hmac_md5"}, PrfId::kHmacMd5},
    {IntegId::kAesXcbc96, "AES_XCBC_96", {"aes_xcbc", "aes_xcbc_96"}, PrfId::kAes128Xcbc},
    {IntegId::kAesCmac96, "AES_CMAC_96", {"aes_cmac", "aes_cmac_96"}, PrfId::kAes128Cmac},
    {IntegId::kNone, "NONE", {"none", "null"}, std::nullopt},
};

struct DhInfo {
  DhId id;
  std::string_view fqn;
  std::array<std::string_view, 4> names;
};

constexpr DhInfo kDhs[] = {
    {DhId::kModp2048, "MODP2048", {"modp2048", "dh14"}},
    {DhId::kModp3072, "MODP3072", {"modp3072", "dh15"}},
    {DhId::kModp4096, "MODP4096", {"modp4096", "dh16"}},
    {DhId::kModp6144, "MODP6144", {"modp6144", "dh17"}},
    {DhId::kModp8192, "MODP8192", {"modp8192", "dh18"}},
    {DhId::kEcp256, "DH19", {"dh19", "ecp256", "ecp_256", "secp256r1"}},
    {DhId::kEcp384, "DH20", {"dh20", "ecp384", "ecp_384", "secp384r1"}},
    {DhId::kEcp521, "DH21", {"dh21", "ecp521", "ecp_521", "secp521r1"}},
    {DhId::kCurve25519, "DH31", {"dh31", "curve25519", "x25519"}},
    {DhId::kCurve448, "DH32", {"dh32", "curve448", "x448"}},
    {DhId::kModp1536, "MODP1536", {"modp1536", "dh5"}},
    {DhId::kModp1024, "MODP1024", {"modp1024", "dh2"}},
    {DhId::kModp1024s160, "DH22", {"dh22", "modp1024s160"}},
    {DhId::kModp2048s224, "DH23", {"dh23", "modp2048s224"}},
    {DhId::kModp2048s256, "DH24", {"dh24", "modp2048s256"}},
    {DhId::kMlKem512, "ML_KEM_512", {"ml_kem_512", "mlkem512"}},
    {DhId::kMlKem768, "ML_KEM_768", {"ml_kem_768", "mlkem768"}},
    {DhId::kMlKem1024, "ML_KEM_1024", {"ml_kem_1024", "mlkem1024"}},
    {DhId::kNone, "NONE", {"none", "null"}},
};

// libreswan 4.10's IKEv2 defaults for the parts an ike= proposal leaves out.
constexpr PrfId kDefaultIkePrfs[] = {PrfId::kHmacSha2_512, PrfId::kHmacSha2_256};
constexpr DhId kDefaultIkeDhs[] = {DhId::kEcp256,     DhId::kEcp384,   DhId::kEcp521,
                                   DhId::kCurve25519, DhId::kModp4096, DhId::kModp3072,
                                   DhId::kModp2048,   DhId::kModp8192};
constexpr IntegId kDefaultEspIntegs[] = {IntegId::kHmacSha2_512_256, IntegId::kHmacSha2_256_128};

template <class Table>
bool name_matches(const Table& entry, std::string_view name) {
  if (iequals(name, entry.fqn)) {
    return true;
  }
  for (std::string_view n : entry.names) {
    if (!n.empty() && iequals(name, n)) {
      return true;
    }
  }
  return false;
}

const EncrInfo* find_encr(std::string_view name) {
  for (const auto& e : kEncrs) {
    if (name_matches(e, name)) {
      return &e;
    }
  }
  return nullptr;
}

const EncrInfo* encr_info(EncrId id) {
  for (const auto& e : kEncrs) {
    if (e.id == id) {
      return &e;
    }
  }
  return nullptr;
}

const IntegInfo* integ_info(IntegId id) {
  for (const auto& i : kIntegs) {
    if (i.id == id) {
      return &i;
    }
  }
  return nullptr;
}

std::string_view kind_keyword(ProposalKind kind) {
  switch (kind) {
    case ProposalKind::kIke:
      return "ike=";
    case ProposalKind::kEsp:
      return "esp=";
    case ProposalKind::kAh:
      return "ah=";
  }
  return "?=";
}

std::string known_encr(ProposalKind kind) {
  std::string out;
  for (const auto& e : kEncrs) {
    if (kind == ProposalKind::kIke && !e.ike) {
      continue;
    }
    out += out.empty() ? "" : ", ";
    out += e.names[0];
  }
  return out;
}

template <class Table>
std::string known_names(const Table& table, bool skip_none) {
  std::string out;
  for (const auto& e : table) {
    if (skip_none && e.fqn == "NONE") {
      continue;
    }
    out += out.empty() ? "" : ", ";
    out += e.names[0];
  }
  return out;
}

// ------------------------------------------------------------- tokenizer

struct Token {
  std::string_view text;
  char delim_before;  // '\0' for the first token, else '-', '+' or ';'
};

class Parser {
 public:
  Parser(ProposalKind kind, std::string_view proposal) : kind_(kind), proposal_(proposal) {}

  Result<Proposal> run();

 private:
  using R = Result<Proposal>;
  std::string where() const {
    return std::string(" in ") + std::string(kind_keyword(kind_)) + " proposal " +
           quoted(proposal_);
  }
  bool at_end() const { return pos_ >= tokens_.size(); }
  const Token& cur() const { return tokens_[pos_]; }

  std::optional<std::string> tokenize();
  std::optional<std::string> parse_encr(Proposal& p);
  std::optional<std::string> parse_one_encr(Proposal& p);
  bool try_prfs(Proposal& p);
  std::optional<std::string> parse_integs(Proposal& p);
  std::optional<std::string> parse_prfs(Proposal& p);
  std::optional<std::string> parse_dhs(Proposal& p);
  std::optional<std::string> finish(Proposal& p, bool integ_given);

  ProposalKind kind_;
  std::string_view proposal_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

std::optional<std::string> Parser::tokenize() {
  char delim = '\0';
  size_t start = 0;
  for (size_t i = 0; i <= proposal_.size(); ++i) {
    if (i < proposal_.size() && proposal_[i] != '-' && proposal_[i] != '+' && proposal_[i] != ';') {
      continue;
    }
    std::string_view t = proposal_.substr(start, i - start);
    if (t.empty()) {
      return std::string("empty algorithm name") +
             (i < proposal_.size() ? std::string(" before '") + proposal_[i] + "'"
                                   : " at the end") +
             where();
    }
    tokens_.push_back({t, delim});
    if (i < proposal_.size()) {
      delim = proposal_[i];
    }
    start = i + 1;
  }
  return std::nullopt;
}

std::optional<std::string> Parser::parse_one_encr(Proposal& p) {
  const Token& t = cur();
  const EncrInfo* info = nullptr;
  uint32_t key_bits = 0;
  std::string_view shown = t.text;
  bool have_length = false;
  auto parse_length = [&](std::string_view digits) -> std::optional<std::string> {
    if (digits.size() > 5 || !std::all_of(digits.begin(), digits.end(), is_digit)) {
      return "encryption key length " + quoted(digits) + " is not a number" + where();
    }
    key_bits = 0;
    for (char c : digits) {
      key_bits = key_bits * 10 + static_cast<uint32_t>(c - '0');
    }
    if (key_bits == 0) {
      return "encryption key length is zero" + where();
    }
    have_length = true;
    return std::nullopt;
  };
  // <ealg>-<eklen>, as in aes_gcm_c-256.
  if (pos_ + 1 < tokens_.size() && tokens_[pos_ + 1].delim_before == '-' &&
      is_digit(tokens_[pos_ + 1].text[0])) {
    info = find_encr(t.text);
    if (info == nullptr) {
      return "unknown encryption algorithm " + quoted(t.text) + where() +
             "; known: " + known_encr(kind_);
    }
    if (auto err = parse_length(tokens_[pos_ + 1].text)) {
      return err;
    }
    shown = proposal_.substr(static_cast<size_t>(t.text.data() - proposal_.data()),
                             t.text.size() + 1 + tokens_[pos_ + 1].text.size());
    pos_ += 2;
  } else {
    info = find_encr(t.text);
    if (info == nullptr) {
      // <ealg><eklen> or <ealg>_<eklen>, as in aes256 or aes_gcm_16_128.
      size_t end = t.text.size();
      while (end > 0 && is_digit(t.text[end - 1])) {
        --end;
      }
      if (end > 0 && end < t.text.size()) {
        std::string_view base = t.text.substr(0, end);
        if (base.back() == '_') {
          base.remove_suffix(1);
        }
        info = find_encr(base);
        if (info != nullptr) {
          if (auto err = parse_length(t.text.substr(end))) {
            return err;
          }
        }
      }
      if (info == nullptr) {
        return "unknown encryption algorithm " + quoted(t.text) + where() +
               "; known: " + known_encr(kind_);
      }
    }
    ++pos_;
  }
  if (kind_ == ProposalKind::kIke && !info->ike) {
    return "encryption algorithm " + std::string(info->fqn) + " (" + quoted(shown) +
           ") is for ESP only" + where() + "; known for IKE: " + known_encr(kind_);
  }
  if (have_length) {
    bool fixed = info->key_lengths[0] == 0;
    bool valid = std::find(info->key_lengths.begin(), info->key_lengths.end(), key_bits) !=
                 info->key_lengths.end();
    // A fixed-size cipher may still be written with its only size (chacha20_poly1305-256).
    bool fixed_ok = fixed && ((info->id == EncrId::kChaCha20Poly1305 && key_bits == 256) ||
                              (info->id == EncrId::k3Des && key_bits == 192));
    if (fixed_ok) {
      p.encr.push_back({info->id, 0});
      return std::nullopt;
    }
    if (fixed || !valid) {
      std::string valid_list;
      for (uint16_t k : info->key_lengths) {
        if (k != 0) {
          valid_list += valid_list.empty() ? "" : ", ";
          valid_list += std::to_string(k);
        }
      }
      return "encryption algorithm " + std::string(info->fqn) + " " + quoted(shown) +
             " has an invalid key length " + std::to_string(key_bits) + where() +
             (fixed ? "; it has a fixed key size, give no length"
                    : "; valid lengths: " + valid_list);
    }
    p.encr.push_back({info->id, static_cast<uint16_t>(key_bits)});
    return std::nullopt;
  }
  if (info->default_lengths[0] == 0) {
    p.encr.push_back({info->id, 0});
  } else {
    for (uint16_t k : info->default_lengths) {
      p.encr.push_back({info->id, k});
    }
  }
  return std::nullopt;
}

std::optional<std::string> Parser::parse_encr(Proposal& p) {
  if (auto err = parse_one_encr(p)) {
    return err;
  }
  while (!at_end() && cur().delim_before == '+') {
    if (auto err = parse_one_encr(p)) {
      return err;
    }
  }
  return std::nullopt;
}

// Reads <prf>[+<prf>...] when every name is a PRF; leaves the position alone otherwise.
bool Parser::try_prfs(Proposal& p) {
  size_t i = pos_;
  std::vector<PrfId> found;
  do {
    const PrfInfo* hit = nullptr;
    for (const auto& e : kPrfs) {
      if (name_matches(e, tokens_[i].text)) {
        hit = &e;
        break;
      }
    }
    if (hit == nullptr) {
      return false;
    }
    found.push_back(hit->id);
    ++i;
  } while (i < tokens_.size() && tokens_[i].delim_before == '+');
  p.prf.insert(p.prf.end(), found.begin(), found.end());
  pos_ = i;
  return true;
}

std::optional<std::string> Parser::parse_prfs(Proposal& p) {
  if (!try_prfs(p)) {
    return "unknown PRF algorithm " + quoted(cur().text) + where() +
           "; known: " + known_names(kPrfs, false);
  }
  return std::nullopt;
}

std::optional<std::string> Parser::parse_integs(Proposal& p) {
  do {
    const IntegInfo* hit = nullptr;
    for (const auto& e : kIntegs) {
      if (name_matches(e, cur().text)) {
        hit = &e;
        break;
      }
    }
    if (hit == nullptr) {
      return "unknown integrity algorithm " + quoted(cur().text) + where() +
             "; known: " + known_names(kIntegs, false);
    }
    p.integ.push_back(hit->id);
    ++pos_;
  } while (!at_end() && cur().delim_before == '+');
  return std::nullopt;
}

std::optional<std::string> Parser::parse_dhs(Proposal& p) {
  std::vector<DhId>* target = &p.dh;
  bool first = true;
  do {
    std::string_view name = cur().text;
    if (first && name.size() > 7 && iequals(name.substr(0, 5), "addke") && name[6] == '=') {
      // "addkeN=GROUP": RFC 9370 transform type 5+N.
      if (name[5] < '1' || name[5] > '7') {
        return "additional key exchange " + quoted(name) + where() +
               " must be addke1 to addke7 (RFC 9370)";
      }
      size_t slot = static_cast<size_t>(name[5] - '1');
      if (p.addke.size() <= slot) {
        p.addke.resize(slot + 1);
      }
      if (!p.addke[slot].empty()) {
        return quoted(name.substr(0, 6)) + " is given twice" + where();
      }
      target = &p.addke[slot];
      name.remove_prefix(7);
    }
    first = false;
    const DhInfo* hit = nullptr;
    for (const auto& e : kDhs) {
      if (name_matches(e, name)) {
        hit = &e;
        break;
      }
    }
    if (hit == nullptr) {
      return "unknown DH group " + quoted(name) + where() + "; known: " + known_names(kDhs, false);
    }
    target->push_back(hit->id);
    ++pos_;
  } while (!at_end() && cur().delim_before == '+');
  return std::nullopt;
}

template <class T>
void remove_duplicates(std::vector<T>& v) {
  std::vector<T> out;
  for (const T& x : v) {
    if (std::find(out.begin(), out.end(), x) == out.end()) {
      out.push_back(x);
    }
  }
  v = std::move(out);
}

std::optional<std::string> Parser::finish(Proposal& p, bool integ_given) {
  remove_duplicates(p.encr);
  remove_duplicates(p.prf);
  remove_duplicates(p.integ);
  remove_duplicates(p.dh);

  bool any_aead = false;
  bool any_plain = false;
  for (const auto& e : p.encr) {
    (is_aead(e.id) ? any_aead : any_plain) = true;
  }
  if (any_aead && any_plain) {
    return "AEAD and non-AEAD encryption algorithms cannot be combined in one proposal" + where() +
           "; put them in separate proposals joined by ','";
  }
  bool integ_none =
      std::all_of(p.integ.begin(), p.integ.end(), [](IntegId i) { return i == IntegId::kNone; });
  if (integ_given && !p.integ.empty() && !integ_none &&
      std::find(p.integ.begin(), p.integ.end(), IntegId::kNone) != p.integ.end()) {
    return std::string("integrity 'none' cannot be combined with other integrity algorithms") +
           where();
  }
  if (kind_ == ProposalKind::kAh) {
    if (p.integ.empty() || integ_none) {
      return "AH needs an integrity algorithm; 'none' is not allowed" + where();
    }
  } else if (any_aead) {
    if (integ_given && !integ_none) {
      return "AEAD encryption algorithm " + std::string(encr_name(p.encr.front().id)) +
             " must have 'none' as the integrity algorithm" + where();
    }
    p.integ.clear();  // AEAD: no integrity transform at all
  } else {
    if (integ_given && integ_none) {
      return "non-AEAD encryption algorithm " + std::string(encr_name(p.encr.front().id)) +
             " cannot have 'none' as the integrity algorithm" + where();
    }
  }

  if (kind_ == ProposalKind::kIke) {
    if (p.prf.empty()) {
      p.prf.assign(std::begin(kDefaultIkePrfs), std::end(kDefaultIkePrfs));
    }
    if (!any_aead && p.integ.empty()) {
      // IKE integrity is derived from the PRFs, one per PRF, as libreswan does.
      for (PrfId prf : p.prf) {
        for (const auto& i : kIntegs) {
          if (i.prf == prf) {
            p.integ.push_back(i.id);
            break;
          }
        }
      }
    }
    if (p.dh.empty()) {
      p.dh.assign(std::begin(kDefaultIkeDhs), std::end(kDefaultIkeDhs));
    }
    if (std::find(p.dh.begin(), p.dh.end(), DhId::kNone) != p.dh.end()) {
      return std::string("IKE needs a DH group; 'none' is not allowed") + where();
    }
  } else if (kind_ == ProposalKind::kEsp) {
    if (!any_aead && p.integ.empty()) {
      p.integ.assign(std::begin(kDefaultEspIntegs), std::end(kDefaultEspIntegs));
    }
  }
  if (p.dh.size() > 1 && std::find(p.dh.begin(), p.dh.end(), DhId::kNone) != p.dh.end()) {
    return std::string("DH group 'none' cannot be combined with other DH groups") + where();
  }
  return std::nullopt;
}

Result<Proposal> Parser::run() {
  if (proposal_.empty()) {
    return R::failure("empty proposal in " + std::string(kind_keyword(kind_)) +
                      " (two ',' in a row, or a ',' at either end)");
  }
  if (auto err = tokenize()) {
    return R::failure(*err);
  }
  Proposal p;
  bool integ_given = false;
  if (kind_ != ProposalKind::kAh) {
    if (cur().delim_before != '\0') {
      return R::failure("proposal must start with an encryption algorithm" + where());
    }
    if (auto err = parse_encr(p)) {
      return R::failure(*err);
    }
    if (!at_end() && cur().delim_before == '-') {
      if (kind_ == ProposalKind::kIke) {
        // <encr>-<prf>... first; if that fails <encr>-<integ>[-<prf>]...
        if (!try_prfs(p)) {
          size_t saved = pos_;
          if (auto err = parse_integs(p)) {
            pos_ = saved;
            return R::failure(*parse_prfs(p));
          }
          integ_given = true;
          if (!at_end() && cur().delim_before == '-') {
            if (auto err = parse_prfs(p)) {
              return R::failure(*err);
            }
          }
        }
      } else {
        if (auto err = parse_integs(p)) {
          return R::failure(*err);
        }
        integ_given = true;
      }
    }
  } else {
    if (auto err = parse_integs(p)) {
      return R::failure(*err);
    }
    integ_given = true;
  }
  if (!at_end() && (cur().delim_before == '-' || cur().delim_before == ';')) {
    if (auto err = parse_dhs(p)) {
      return R::failure(*err);
    }
  }
  // RFC 9370 additional key exchanges follow the DH group: ";addke1=ml_kem_768".
  while (!at_end() && (cur().delim_before == '-' || cur().delim_before == ';') &&
         cur().text.size() > 7 && iequals(cur().text.substr(0, 5), "addke")) {
    if (auto err = parse_dhs(p)) {
      return R::failure(*err);
    }
  }
  if (!at_end()) {
    return R::failure("unexpected " + quoted(cur().text) + where() + "; the order is " +
                      (kind_ == ProposalKind::kIke
                           ? "ENCR[-PRF][;DH] or ENCR-INTEG-PRF-DH"
                           : (kind_ == ProposalKind::kEsp ? "ENCR[-INTEG][;DH]" : "INTEG[;DH]")));
  }
  if (auto err = finish(p, integ_given)) {
    return R::failure(*err);
  }
  return p;
}

std::string join_encr(const std::vector<EncrAlg>& encr) {
  std::string out;
  for (const auto& e : encr) {
    out += out.empty() ? "" : "+";
    out += encr_name(e.id);
    if (e.key_bits != 0) {
      out += "_" + std::to_string(e.key_bits);
    }
  }
  return out;
}

template <class Id, class NameFn>
std::string join_ids(const std::vector<Id>& ids, NameFn name) {
  std::string out;
  for (Id id : ids) {
    out += out.empty() ? "" : "+";
    out += name(id);
  }
  return out;
}

}  // namespace

Result<std::vector<Proposal>> parse_proposals(ProposalKind kind, std::string_view text) {
  using R = Result<std::vector<Proposal>>;
  std::string keyword(kind_keyword(kind));
  if (text.size() > kMaxProposalText) {
    return R::failure(keyword + " value is too long (more than " +
                      std::to_string(kMaxProposalText) + " characters)");
  }
  if (text.find_first_not_of(" \t") == std::string_view::npos) {
    return R::failure(keyword + " is empty; expected e.g. " +
                      (kind == ProposalKind::kIke   ? "aes256-sha2_256;dh19"
                       : kind == ProposalKind::kEsp ? "aes_gcm256"
                                                    : "sha2_256"));
  }
  std::vector<Proposal> out;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view one =
        text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    // Spaces around ',' are tolerated (libreswan's own logs print ", ").
    while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) {
      one.remove_prefix(1);
    }
    while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) {
      one.remove_suffix(1);
    }
    auto p = Parser(kind, one).run();
    if (!p) {
      return R::failure(p.error());
    }
    // A repeated proposal adds nothing; libreswan drops it too.
    if (std::find(out.begin(), out.end(), *p) == out.end()) {
      out.push_back(std::move(p).value());
    }
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  if (kind != ProposalKind::kIke) {
    size_t with_dh = static_cast<size_t>(
        std::count_if(out.begin(), out.end(), [](const Proposal& p) { return !p.dh.empty(); }));
    if (with_dh != 0 && with_dh != out.size()) {
      return R::failure("either all or no " + keyword +
                        " proposals should specify a DH group (PFS); add ';GROUP' (or ';none') "
                        "to every proposal");
    }
  }
  return out;
}

std::string format_proposals(ProposalKind kind, const std::vector<Proposal>& proposals) {
  std::string out;
  for (const Proposal& p : proposals) {
    std::vector<std::string> parts;
    bool aead = !p.encr.empty() && is_aead(p.encr.front().id);
    if (kind != ProposalKind::kAh) {
      parts.push_back(join_encr(p.encr));
    }
    if (kind == ProposalKind::kIke) {
      // Integrity is printed only when it is not the one derived from the PRFs.
      bool derived = p.integ.size() == p.prf.size();
      for (size_t i = 0; derived && i < p.integ.size(); ++i) {
        const IntegInfo* info = integ_info(p.integ[i]);
        derived = info != nullptr && info->prf == p.prf[i];
      }
      if (!p.integ.empty() && !derived) {
        parts.push_back(join_ids(p.integ, integ_name));
      }
      parts.push_back(join_ids(p.prf, prf_name));
    } else if (aead && p.integ.empty()) {
      parts.push_back("NONE");
    } else {
      parts.push_back(join_ids(p.integ, integ_name));
    }
    if (!p.dh.empty()) {
      parts.push_back(join_ids(p.dh, dh_name));
    }
    for (size_t i = 0; i < p.addke.size(); ++i) {
      if (!p.addke[i].empty()) {
        parts.push_back("ADDKE" + std::to_string(i + 1) + "=" + join_ids(p.addke[i], dh_name));
      }
    }
    std::string one;
    for (const auto& part : parts) {
      if (part.empty()) {
        continue;
      }
      one += one.empty() ? "" : "-";
      one += part;
    }
    out += out.empty() ? "" : ", ";
    out += one;
  }
  return out;
}

std::string_view encr_name(EncrId id) {
  const EncrInfo* e = encr_info(id);
  return e != nullptr ? e->fqn : std::string_view("UNKNOWN_ENCR");
}

std::string_view prf_name(PrfId id) {
  for (const auto& e : kPrfs) {
    if (e.id == id) {
      return e.fqn;
    }
  }
  return "UNKNOWN_PRF";
}

std::string_view integ_name(IntegId id) {
  const IntegInfo* i = integ_info(id);
  return i != nullptr ? i->fqn : std::string_view("UNKNOWN_INTEG");
}

std::string_view dh_name(DhId id) {
  for (const auto& e : kDhs) {
    if (e.id == id) {
      return e.fqn;
    }
  }
  return "UNKNOWN_DH";
}

}  // namespace ipsecd::model
