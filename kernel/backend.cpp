#include "kernel/backend.h"

#include <arpa/inet.h>

#include <sys/stat.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ipsecd::kernel {

// ---- addresses and selectors ----

std::optional<Address> Address::parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, text.data(), text.size());
  Address a;
  if (inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::kIpv4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = Family::kIpv6;
    return a;
  }
  return std::nullopt;
}

Address Address::from_bytes(Family family, const uint8_t* bytes) {
  Address a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, a.size());
  return a;
}

Address Address::literal(std::string_view text) {
  auto a = parse(text);
  if (!a) {
    std::fprintf(stderr, "bad address literal '%.*s'\n", static_cast<int>(text.size()),
                 text.data());
    std::abort();
  }
  return *a;
}

bool Address::is_any() const {
  for (size_t i = 0; i < size(); ++i) {
    if (bytes_[i] != 0) {
      return false;
    }
  }
  return true;
}

Address Address::masked(unsigned prefix_len) const {
  Address a = *this;
  for (size_t i = 0; i < 16; ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix_len) {
      a.bytes_[i] = 0;
    } else if (prefix_len - bit < 8) {
      a.bytes_[i] &= static_cast<uint8_t>(0xff00u >> (prefix_len - bit));
    }
  }
  return a;
}

std::string Address::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_ == Family::kIpv4 ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

namespace {
// splitmix64's finalizer: every input bit reaches every output bit, low bits included.
uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
}  // namespace

size_t Address::hash() const {
  // Word-wise: hash tables of 100k flows sit on every simulated packet's path.
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::memcpy(&lo, bytes_.data(), 8);
  std::memcpy(&hi, bytes_.data() + 8, 8);
  return static_cast<size_t>(mix64(lo ^ mix64(hi ^ static_cast<uint64_t>(family_))));
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = Address::parse(text.substr(0, slash));
  if (!addr) {
    return std::nullopt;
  }
  if (slash == std::string_view::npos) {
    return Prefix::host(*addr);
  }
  auto len_text = text.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3) {
    return std::nullopt;
  }
  unsigned len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    len = len * 10 + static_cast<unsigned>(c - '0');
  }
  if (len > addr->max_prefix()) {
    return std::nullopt;
  }
  return Prefix{addr->masked(len), static_cast<uint8_t>(len)};
}

Prefix Prefix::literal(std::string_view text) {
  auto p = parse(text);
  if (!p) {
    std::fprintf(stderr, "bad prefix literal '%.*s'\n", static_cast<int>(text.size()), text.data());
    std::abort();
  }
  return *p;
}

bool Prefix::contains(const Address& a) const {
  return a.family() == addr.family() && a.masked(len) == addr;
}

std::string Prefix::str() const {
  return addr.str() + "/" + std::to_string(len);
}

std::string Selector::str() const {
  std::string s = src.str();
  if (sport != 0) {
    s += ":" + std::to_string(sport);
  }
  s += " -> " + dst.str();
  if (dport != 0) {
    s += ":" + std::to_string(dport);
  }
  if (proto != 0) {
    s += " proto " + std::to_string(proto);
  }
  return s;
}

size_t Selector::hash() const {
  size_t h = src.addr.hash() * 1000003u ^ dst.addr.hash();
  h ^= (static_cast<size_t>(src.len) << 8 | dst.len) * 0x9e3779b97f4a7c15ull;
  h ^= (static_cast<size_t>(proto) << 32) | (static_cast<size_t>(sport) << 16) | dport;
  return h;
}

std::string SaId::str() const {
  char spi_hex[16];
  std::snprintf(spi_hex, sizeof spi_hex, "0x%08x", spi);
  std::string p = proto == kProtoEsp ? "esp" : "proto " + std::to_string(proto);
  return p + " spi " + spi_hex + " to " + dst.str();
}

namespace {
std::string_view dir_name(Direction d) {
  switch (d) {
    case Direction::kOut:
      return "out";
    case Direction::kIn:
      return "in";
    case Direction::kFwd:
      return "fwd";
  }
  return "?";
}
}  // namespace

std::string PolicyId::str() const {
  std::string s = "policy " + selector.str() + " dir " + std::string(dir_name(dir));
  if (mark.mask != 0) {
    char m[32];
    std::snprintf(m, sizeof m, " mark 0x%x/0x%x", mark.value, mark.mask);
    s += m;
  }
  return s;
}

// ---- algorithms ----

bool is_aead(Cipher c) {
  return c == Cipher::kAesGcm16_128 || c == Cipher::kAesGcm16_256 || c == Cipher::kChaCha20Poly1305;
}

size_t key_length(Cipher c) {
  switch (c) {
    case Cipher::kAesGcm16_128:
      return 16 + 4;
    case Cipher::kAesGcm16_256:
      return 32 + 4;
    case Cipher::kChaCha20Poly1305:
      return 32 + 4;
    case Cipher::kAesCbc128:
      return 16;
    case Cipher::kAesCbc256:
      return 32;
  }
  return 0;
}

size_t key_length(Integrity i) {
  switch (i) {
    case Integrity::kNone:
      return 0;
    case Integrity::kHmacSha256_128:
      return 32;
    case Integrity::kHmacSha384_192:
      return 48;
    case Integrity::kHmacSha512_256:
      return 64;
  }
  return 0;
}

std::string_view name(Cipher c) {
  switch (c) {
    case Cipher::kAesGcm16_128:
      return "aes128gcm16";
    case Cipher::kAesGcm16_256:
      return "aes256gcm16";
    case Cipher::kChaCha20Poly1305:
      return "chacha20poly1305";
    case Cipher::kAesCbc128:
      return "aes128";
    case Cipher::kAesCbc256:
      return "aes256";
  }
  return "?";
}

std::string_view name(Integrity i) {
  switch (i) {
    case Integrity::kNone:
      return "none";
    case Integrity::kHmacSha256_128:
      return "sha256";
    case Integrity::kHmacSha384_192:
      return "sha384";
    case Integrity::kHmacSha512_256:
      return "sha512";
  }
  return "?";
}

std::string_view name(PolicyKind k) {
  switch (k) {
    case PolicyKind::kProtect:
      return "protect";
    case PolicyKind::kTrap:
      return "trap";
    case PolicyKind::kHold:
      return "hold";
    case PolicyKind::kPass:
      return "pass";
    case PolicyKind::kDrop:
      return "drop";
    case PolicyKind::kReject:
      return "reject";
  }
  return "?";
}

std::string_view name(ErrorCode c) {
  switch (c) {
    case ErrorCode::kExists:
      return "exists";
    case ErrorCode::kNotFound:
      return "not-found";
    case ErrorCode::kInvalid:
      return "invalid";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kPermission:
      return "permission";
    case ErrorCode::kResources:
      return "resources";
    case ErrorCode::kForeign:
      return "foreign";
    case ErrorCode::kSystem:
      return "system";
  }
  return "?";
}

// ---- secrets ----

namespace {

// explicit_bzero's pointer must not be null, which an empty vector's may be.
void wipe(std::vector<uint8_t>& bytes) {
  if (!bytes.empty()) {
    explicit_bzero(bytes.data(), bytes.size());
  }
}

}  // namespace

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    wipe(bytes_);
    bytes_ = other.bytes_;
  }
  return *this;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    wipe(bytes_);
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

SecretBytes::~SecretBytes() {
  wipe(bytes_);
}

// ---- events ----

std::string describe(const Event& e) {
  if (const auto* a = std::get_if<AcquireEvent>(&e)) {
    return "ACQUIRE for " + a->flow.str() + " by " + a->policy.str() + " reqid " +
           std::to_string(a->tmpl.reqid);
  }
  if (const auto* x = std::get_if<ExpireEvent>(&e)) {
    return std::string(x->hard ? "hard" : "soft") + " EXPIRE of SA " + x->sa.str() + " reqid " +
           std::to_string(x->reqid);
  }
  const auto& p = std::get<PolicyExpireEvent>(e);
  return std::string(p.hard ? "hard" : "soft") + " expire of " + p.policy.str();
}

// ---- ownership and priorities ----

namespace {
constexpr uint32_t kKindBits = 3;
// prefix sum 0..256 (IPv4 scaled by 4), times 8, plus protocol 4 and up to two ports.
constexpr uint32_t kMaxSpecificity = 256 * 8 + 4 + 2;

uint32_t specificity(const Selector& sel) {
  uint32_t scale = sel.family() == Family::kIpv4 ? 4 : 1;
  uint32_t s = (sel.src.len + sel.dst.len) * scale * 8;
  if (sel.proto != 0) {
    s += 4;
  }
  s += (sel.sport != 0 ? 1 : 0) + (sel.dport != 0 ? 1 : 0);
  return s;
}
}  // namespace

uint32_t derived_priority(const Selector& sel, PolicyKind kind, const Ownership& own) {
  return own.priority_base + ((kMaxSpecificity - specificity(sel)) << kKindBits) +
         static_cast<uint32_t>(kind);
}

std::optional<PolicyKind> kind_from_priority(uint32_t priority, const Ownership& own) {
  if (!own.in_band(priority)) {
    return std::nullopt;
  }
  uint32_t k = (priority - own.priority_base) & ((1u << kKindBits) - 1);
  if (k > static_cast<uint32_t>(PolicyKind::kReject)) {
    return std::nullopt;
  }
  return static_cast<PolicyKind>(k);
}

Result<Ownership> Ownership::parse(std::string_view text, std::string_view origin) {
  Ownership o;
  bool seen[3] = {false, false, false};
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    auto where = std::string(origin) + ":" + std::to_string(line_no) + ": ";
    if (line.empty() || line.front() == '#') {
      continue;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Error{ErrorCode::kInvalid, 0,
                   where + "expected KEY=VALUE, got '" + std::string(line) + "'"};
    }
    auto key = line.substr(0, eq);
    auto value = std::string(line.substr(eq + 1));
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(value.c_str(), &end, 0);
    if (value.empty() || *end != '\0' || errno != 0 || v > 0xffffffffull) {
      return Error{ErrorCode::kInvalid, 0,
                   where + "value '" + value + "' of " + std::string(key) +
                       " is not a 32-bit number (decimal or 0x hex)"};
    }
    auto v32 = static_cast<uint32_t>(v);
    if (key == "reqid_min") {
      o.reqid_min = v32;
      seen[0] = true;
    } else if (key == "reqid_max") {
      o.reqid_max = v32;
      seen[1] = true;
    } else if (key == "priority_base") {
      o.priority_base = v32;
      seen[2] = true;
    } else {
      return Error{ErrorCode::kInvalid, 0,
                   where + "unknown key '" + std::string(key) +
                       "' (expected reqid_min, reqid_max or priority_base)"};
    }
  }
  if (!seen[0] || !seen[1] || !seen[2]) {
    return Error{ErrorCode::kInvalid, 0,
                 std::string(origin) + ": needs all of reqid_min, reqid_max and priority_base"};
  }
  if (o.reqid_min == 0 || o.reqid_min > o.reqid_max) {
    return Error{ErrorCode::kInvalid, 0,
                 std::string(origin) + ": reqid range must be non-empty and exclude 0"};
  }
  if (o.priority_base > 0xffffffffu - kPriorityBandSize) {
    return Error{ErrorCode::kInvalid, 0,
                 std::string(origin) + ": priority_base leaves no room for the band of " +
                     std::to_string(kPriorityBandSize) + " priorities"};
  }
  return o;
}

std::string Ownership::serialize() const {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "# kernel objects ipsecd created carry these markers\n"
                "reqid_min=0x%08x\nreqid_max=0x%08x\npriority_base=0x%08x\n",
                reqid_min, reqid_max, priority_base);
  return buf;
}

Result<Ownership> Ownership::load_or_create(const std::string& state_dir) {
  std::string path = state_dir + "/kernel-ownership";
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
  }
  Ownership o;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << o.serialize();
    if (!out.flush()) {
      return Error{ErrorCode::kSystem, errno,
                   "cannot write " + tmp + ": " + std::strerror(errno) +
                       " (is the state directory writable?)"};
    }
  }
  // Rename so that a crash never leaves a half-written ownership file.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error{ErrorCode::kSystem, errno, "cannot rename " + tmp + ": " + std::strerror(errno)};
  }
  return o;
}

// ---- start-up sweep ----

SweepReport Backend::sweep(const std::function<bool(const PolicyState&)>& keep_policy,
                           const std::function<bool(const SaState&)>& keep_sa) {
  SweepReport report;
  Batch batch;
  auto policies = list_policies();
  if (!policies.ok()) {
    report.failures.push_back(policies.error());
  } else {
    for (const auto& p : policies.value()) {
      if (!p.own) {
        ++report.foreign;
      } else if (keep_policy(p)) {
        ++report.adopted_policies;
      } else {
        batch.delete_policy(p.id);
      }
    }
  }
  auto sas = list_sas();
  if (!sas.ok()) {
    report.failures.push_back(sas.error());
  } else {
    for (const auto& s : sas.value()) {
      if (!s.own) {
        ++report.foreign;
      } else if (keep_sa(s)) {
        ++report.adopted_sas;
      } else {
        batch.delete_sa(s.id);
      }
    }
  }
  auto results = apply(batch);
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) {
      report.failures.push_back(results[i].error());
    } else if (std::holds_alternative<Batch::DeletePolicy>(batch.ops[i])) {
      ++report.removed_policies;
    } else {
      ++report.removed_sas;
    }
  }
  return report;
}

// ---- errors ----

Error kernel_error(Subject subject, std::string_view what, int err, std::string_view ext_ack) {
  std::string prefix = std::string(what) + ": ";
  std::string detail = ext_ack.empty() ? std::string{} : " (kernel: " + std::string(ext_ack) + ")";
  switch (err) {
    case EEXIST:
      return {ErrorCode::kExists, err, prefix + "already exists in the kernel"};
    case ENOENT:
    case ESRCH:
      if (subject == Subject::kSpi) {
        return {ErrorCode::kResources, err, prefix + "no free SPI left in the requested range"};
      }
      return {ErrorCode::kNotFound, err, prefix + "no such object in the kernel"};
    case EPROTONOSUPPORT:
      if (subject == Subject::kSa || subject == Subject::kSpi) {
        return {ErrorCode::kUnsupported, err,
                prefix + "kernel has no ESP support (CONFIG_INET_ESP)"};
      }
      return {ErrorCode::kUnsupported, err,
              prefix + "protocol not supported by the kernel" + detail};
    case ENOSYS:
      return {ErrorCode::kUnsupported, err,
              prefix + "kernel lacks the requested algorithm" + detail +
                  "; load its crypto module or choose another proposal"};
    case EAFNOSUPPORT:
      return {ErrorCode::kUnsupported, err,
              prefix + "address family not supported by the kernel's IPsec (IPv6 disabled?)"};
    case EPERM:
    case EACCES:
      return {ErrorCode::kPermission, err,
              prefix + "permission denied: managing IPsec needs CAP_NET_ADMIN (run as root)"};
    case ENOMEM:
    case ENOBUFS:
      return {ErrorCode::kResources, err, prefix + "kernel is out of memory or buffer space"};
    case ENOSPC:
      return {ErrorCode::kResources, err, prefix + "no free SPI left in the requested range"};
    case EINVAL:
      return {ErrorCode::kInvalid, err,
              prefix + "kernel rejected the request as invalid" +
                  (detail.empty() ? std::string(" (no further detail from the kernel)") : detail)};
    case EBUSY:
      return {ErrorCode::kSystem, err, prefix + "kernel object is busy; retry"};
    default:
      break;
  }
  return {ErrorCode::kSystem, err, prefix + std::strerror(err) + detail};
}

}  // namespace ipsecd::kernel

namespace ipsecd::kernel {

namespace {
Error invalid(std::string msg) {
  return {ErrorCode::kInvalid, 0, std::move(msg)};
}

std::string range_text(const Ownership& own) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%u, %u]", own.reqid_min, own.reqid_max);
  return buf;
}

bool ports_allowed(uint8_t proto) {
  return proto == 6 || proto == 17 || proto == 132;
}
}  // namespace

Status validate(const SaSpec& spec, const Ownership& own) {
  // Built only on failure: validation runs on every hot-path call.
  auto what = [&spec] { return "SA " + spec.id.str() + ": "; };
  if (spec.id.proto != kProtoEsp) {
    return Error{ErrorCode::kUnsupported, 0, what() + "only ESP (protocol 50) is supported"};
  }
  if (spec.src.family() != spec.id.dst.family()) {
    return invalid(what() + "source " + spec.src.str() + " and destination " + spec.id.dst.str() +
                   " must be the same address family");
  }
  if (spec.id.spi < 0x100) {
    return invalid(what() + "SPI values 0-255 are reserved (RFC 4303); use 0x100 or above");
  }
  if (!own.owns_reqid(spec.reqid)) {
    return invalid(what() + "reqid " + std::to_string(spec.reqid) + " is outside ipsecd's range " +
                   range_text(own) + " (kernel-ownership in the state dir)");
  }
  if (spec.enc_key.size() != key_length(spec.cipher)) {
    return invalid(what() + std::string(name(spec.cipher)) + " needs " +
                   std::to_string(key_length(spec.cipher)) + " key bytes" +
                   (is_aead(spec.cipher) ? " (key plus 4-byte salt)" : "") + ", got " +
                   std::to_string(spec.enc_key.size()));
  }
  if (is_aead(spec.cipher) && spec.integrity != Integrity::kNone) {
    return invalid(what() + std::string(name(spec.cipher)) +
                   " is AEAD and takes no separate integrity algorithm");
  }
  if (!is_aead(spec.cipher) && spec.integrity == Integrity::kNone) {
    return invalid(what() + std::string(name(spec.cipher)) +
                   " needs an integrity algorithm (sha256, sha384 or sha512)");
  }
  if (spec.integ_key.size() != key_length(spec.integrity)) {
    return invalid(what() + "integrity " + std::string(name(spec.integrity)) + " needs " +
                   std::to_string(key_length(spec.integrity)) + " key bytes, got " +
                   std::to_string(spec.integ_key.size()));
  }
  if (spec.esn && spec.replay_window == 0) {
    return invalid(what() + "ESN needs a replay window above 0");
  }
  const Lifetime& l = spec.lifetime;
  auto bad = [](uint64_t soft, uint64_t hard) { return soft != 0 && hard != 0 && soft > hard; };
  if (bad(l.soft_bytes, l.hard_bytes) || bad(l.soft_packets, l.hard_packets) ||
      bad(l.soft_seconds, l.hard_seconds)) {
    return invalid(what() + "a soft lifetime exceeds its hard lifetime; soft must come first");
  }
  if (spec.selector && spec.mode == Mode::kTransport &&
      spec.selector->family() != spec.src.family()) {
    return invalid(what() + "transport mode selector " + spec.selector->str() +
                   " must have the SA's address family");
  }
  return {};
}

Status validate(const PolicySpec& spec, const Ownership& own) {
  const Selector& sel = spec.id.selector;
  auto what = [&spec] { return spec.id.str() + ": "; };
  if (sel.src.addr.family() != sel.dst.addr.family()) {
    return invalid(what() + "selector source and destination must be the same address family");
  }
  if ((sel.sport != 0 || sel.dport != 0) && !ports_allowed(sel.proto)) {
    return invalid(what() + "ports need protocol tcp (6), udp (17) or sctp (132)");
  }
  bool needs_templates = spec.kind == PolicyKind::kProtect || spec.kind == PolicyKind::kTrap;
  if (needs_templates && spec.templates.empty()) {
    return invalid(what() + std::string(name(spec.kind)) + " policy needs at least one template");
  }
  if (!needs_templates && !spec.templates.empty()) {
    return invalid(what() + std::string(name(spec.kind)) + " shunt takes no templates");
  }
  for (const auto& t : spec.templates) {
    if (!own.owns_reqid(t.reqid)) {
      return invalid(what() + "template reqid " + std::to_string(t.reqid) +
                     " is outside ipsecd's range " + range_text(own));
    }
    if (t.proto != kProtoEsp) {
      return Error{ErrorCode::kUnsupported, 0, what() + "only ESP templates are supported"};
    }
    if (t.mode == Mode::kTunnel && t.src.family() != t.dst.family()) {
      return invalid(what() + "tunnel endpoints " + t.src.str() + " and " + t.dst.str() +
                     " must be the same address family");
    }
    if (t.mode == Mode::kTransport && t.dst.family() != sel.family()) {
      return invalid(what() + "transport mode template must have the selector's family");
    }
  }
  if (spec.priority && !own.in_band(*spec.priority)) {
    return invalid(what() + "priority " + std::to_string(*spec.priority) +
                   " is outside ipsecd's band starting at " + std::to_string(own.priority_base));
  }
  return {};
}

Error sa_error(const SaSpec* spec, std::string_view what, int err, std::string_view ext_ack) {
  Error e = kernel_error(Subject::kSa, what, err, ext_ack);
  if (spec == nullptr) {
    return e;
  }
  if (err == EPROTONOSUPPORT && spec->id.dst.family() == Family::kIpv6) {
    e.message = std::string(what) + ": kernel has no ESP support for IPv6 (CONFIG_INET6_ESP)";
  }
  if (err == ENOSYS) {
    std::string alg;
    switch (spec->cipher) {
      case Cipher::kAesGcm16_128:
      case Cipher::kAesGcm16_256:
        alg = "AES-GCM-16 (rfc4106(gcm(aes)); CONFIG_CRYPTO_GCM)";
        break;
      case Cipher::kChaCha20Poly1305:
        alg = "ChaCha20-Poly1305 (rfc7539esp(chacha20,poly1305); CONFIG_CRYPTO_CHACHA20POLY1305)";
        break;
      case Cipher::kAesCbc128:
      case Cipher::kAesCbc256:
        alg = "AES-CBC with " + std::string(name(spec->integrity)) +
              " (CONFIG_CRYPTO_CBC, CONFIG_CRYPTO_SHA256/SHA512, CONFIG_CRYPTO_AUTHENC)";
        break;
    }
    e.message = std::string(what) + ": kernel has no " + alg +
                "; load the module or choose another proposal";
  }
  return e;
}

bool policy_is_own(uint32_t priority, const std::vector<Template>& templates,
                   const Ownership& own) {
  if (!own.in_band(priority)) {
    return false;
  }
  for (const auto& t : templates) {
    if (!own.owns_reqid(t.reqid)) {
      return false;
    }
  }
  return true;
}

PolicyKind listed_kind(uint32_t priority, bool block, bool has_templates, const Ownership& own) {
  if (auto k = kind_from_priority(priority, own)) {
    return *k;
  }
  if (block) {
    return PolicyKind::kDrop;
  }
  return has_templates ? PolicyKind::kProtect : PolicyKind::kPass;
}

}  // namespace ipsecd::kernel
