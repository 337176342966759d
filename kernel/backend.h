// kernel::Backend: what ipsecd asks of the kernel's IPsec tables (SAs, policies, events).
// Implementations: xfrm/ (Linux netlink) and memory/ (an in-process kernel for tests).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ipsecd::kernel {

enum class Family : uint8_t { kIpv4 = 4, kIpv6 = 6 };

// An IPv4 or IPv6 address, stored in network byte order.
class Address {
 public:
  Address() = default;
  static std::optional<Address> parse(std::string_view text);
  static Address from_bytes(Family family, const uint8_t* bytes);
  // Parses a literal known to be valid (tests, constants); aborts on a bad literal.
  static Address literal(std::string_view text);

  Family family() const { return family_; }
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return family_ == Family::kIpv4 ? 4 : 16; }
  unsigned max_prefix() const { return family_ == Family::kIpv4 ? 32 : 128; }
  bool is_any() const;
  Address masked(unsigned prefix_len) const;
  std::string str() const;
  size_t hash() const;

  friend bool operator==(const Address&, const Address&) = default;
  friend auto operator<=>(const Address&, const Address&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
  Family family_ = Family::kIpv4;
};

struct Prefix {
  Address addr;
  uint8_t len = 0;

  static std::optional<Prefix> parse(std::string_view text);  // "192.0.2.0/24" or a host
  static Prefix host(const Address& a) { return {a, static_cast<uint8_t>(a.max_prefix())}; }
  static Prefix literal(std::string_view text);
  bool contains(const Address& a) const;
  std::string str() const;
  friend bool operator==(const Prefix&, const Prefix&) = default;
};

// Traffic selector: what packets a policy covers. Zero proto/port means "any".
struct Selector {
  Prefix src;
  Prefix dst;
  uint8_t proto = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;

  Family family() const { return src.addr.family(); }
  std::string str() const;
  size_t hash() const;
  friend bool operator==(const Selector&, const Selector&) = default;
};

enum class Direction : uint8_t { kOut = 0, kIn = 1, kFwd = 2 };
enum class Mode : uint8_t { kTransport = 0, kTunnel = 1 };
inline constexpr uint8_t kProtoEsp = 50;

// A netfilter mark that an SA or policy applies to; mask 0 means "no mark".
struct Mark {
  uint32_t value = 0;
  uint32_t mask = 0;
  friend bool operator==(const Mark&, const Mark&) = default;
};

// Zero means unlimited for every field.
struct Lifetime {
  uint64_t soft_bytes = 0;
  uint64_t hard_bytes = 0;
  uint64_t soft_packets = 0;
  uint64_t hard_packets = 0;
  uint64_t soft_seconds = 0;
  uint64_t hard_seconds = 0;
  friend bool operator==(const Lifetime&, const Lifetime&) = default;
};

enum class Cipher : uint8_t {
  kAesGcm16_128,
  kAesGcm16_256,
  kChaCha20Poly1305,
  kAesCbc128,
  kAesCbc256,
};
enum class Integrity : uint8_t { kNone, kHmacSha256_128, kHmacSha384_192, kHmacSha512_256 };
bool is_aead(Cipher c);
// Key bytes the kernel expects, salt included for AEAD (RFC 4106 / RFC 7634).
size_t key_length(Cipher c);
size_t key_length(Integrity i);
std::string_view name(Cipher c);
std::string_view name(Integrity i);

// Key material; wiped when freed, never printed. Not model::SecretBytes: kernel/ depends
// on nothing of ours; and copyable, as the SaSpec that holds it is.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<uint8_t> bytes_;
};

// UDP encapsulation of ESP for NAT traversal (RFC 3948), ports in host order.
struct UdpEncap {
  uint16_t sport = 4500;
  uint16_t dport = 4500;
  friend bool operator==(const UdpEncap&, const UdpEncap&) = default;
};

// Identity of an SA in the kernel: (destination, SPI, protocol).
struct SaId {
  Address dst;
  uint32_t spi = 0;  // host order
  uint8_t proto = kProtoEsp;
  std::string str() const;
  friend bool operator==(const SaId&, const SaId&) = default;
};

struct SaSpec {
  SaId id;
  Address src;
  Mode mode = Mode::kTunnel;
  uint32_t reqid = 0;
  Cipher cipher = Cipher::kAesGcm16_256;
  SecretBytes enc_key;
  Integrity integrity = Integrity::kNone;  // must be kNone for AEAD ciphers
  SecretBytes integ_key;
  std::optional<UdpEncap> encap;
  uint32_t replay_window = 32;  // packets; 0 turns anti-replay off
  bool esn = false;
  Lifetime lifetime;
  Mark mark;
  std::optional<Selector> selector;  // transport mode: restrict to this flow
};

struct Counters {
  uint64_t bytes = 0;
  uint64_t packets = 0;
  uint64_t add_time = 0;  // seconds since the epoch of the backend's clock
  uint64_t use_time = 0;  // 0 until first use
  friend bool operator==(const Counters&, const Counters&) = default;
};

// An SA as listed: everything but the keys.
struct SaState {
  SaId id;
  Address src;
  Mode mode = Mode::kTunnel;
  uint32_t reqid = 0;
  std::optional<Cipher> cipher;  // nullopt for a larval SA (SPI allocated, no keys yet)
  Integrity integrity = Integrity::kNone;
  std::optional<UdpEncap> encap;
  uint32_t replay_window = 0;
  bool esn = false;
  Lifetime lifetime;
  Mark mark;
  Counters counters;
  bool own = false;  // created by ipsecd (reqid inside its range)
};

// How a policy's matching packets are handled. Trap and protect are the same kernel object
// (a template that needs an SA); trap says no SA is expected yet, so the first packet triggers
// an ACQUIRE. Hold, drop and reject are blocking shunts; pass lets packets through in clear.
enum class PolicyKind : uint8_t {
  kProtect = 0,
  kTrap = 1,
  kHold = 2,
  kPass = 3,
  kDrop = 4,
  kReject = 5
};
std::string_view name(PolicyKind k);

// One SA a protect/trap policy needs: the kernel looks for (or ACQUIREs) an SA like this.
struct Template {
  Address src;  // tunnel endpoints; any-address in transport mode
  Address dst;
  uint8_t proto = kProtoEsp;
  Mode mode = Mode::kTunnel;
  uint32_t reqid = 0;
  friend bool operator==(const Template&, const Template&) = default;
};

// Identity of a policy in the kernel: selector, direction and mark (not the priority).
struct PolicyId {
  Selector selector;
  Direction dir = Direction::kOut;
  Mark mark;
  std::string str() const;
  friend bool operator==(const PolicyId&, const PolicyId&) = default;
};

struct PolicySpec {
  PolicyId id;
  PolicyKind kind = PolicyKind::kTrap;
  std::vector<Template> templates;   // protect/trap: at least one; shunts: none
  std::optional<uint32_t> priority;  // default: derived from selector specificity
  Lifetime lifetime;                 // seconds only are meaningful for policies
};

struct PolicyState {
  PolicyId id;
  PolicyKind kind = PolicyKind::kPass;  // for foreign policies: pass, protect or drop
  std::vector<Template> templates;
  uint32_t priority = 0;
  uint32_t index = 0;  // kernel's handle, informational
  Lifetime lifetime;
  bool own = false;  // inside ipsecd's priority band (and reqid range, with templates)
};

// Errors carry a category a program can branch on and a sentence an operator understands.
enum class ErrorCode : uint8_t {
  kExists,       // the object is already there
  kNotFound,     // no such object
  kInvalid,      // the request is malformed or inconsistent
  kUnsupported,  // the kernel lacks a feature (module, algorithm)
  kPermission,   // missing CAP_NET_ADMIN or similar
  kResources,    // out of memory, SPI range exhausted, table full
  kForeign,      // the object belongs to someone else; ipsecd will not touch it
  kSystem,       // anything else the kernel said
};
std::string_view name(ErrorCode c);

struct Error {
  ErrorCode code = ErrorCode::kSystem;
  int sys_errno = 0;  // 0 when the error did not come from the kernel
  std::string message;
};

// A value or an Error. The same shape as engine::wire::Result and
// model::Result, each over its own folder's error: kernel/ depends on nothing
// of ours, so it cannot share theirs.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<0>(v_); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

// Events the kernel raises.
struct AcquireEvent {
  PolicyId policy;  // the trap policy that matched
  Template tmpl;    // the SA it needs
  Selector flow;    // the packet that triggered it (host prefixes)
};
struct ExpireEvent {
  SaId sa;
  uint32_t reqid = 0;
  bool hard = false;  // hard: the SA is gone; soft: time to rekey
};
struct PolicyExpireEvent {
  PolicyId policy;
  bool hard = false;
};
using Event = std::variant<AcquireEvent, ExpireEvent, PolicyExpireEvent>;
std::string describe(const Event& e);

// Many operations in one round trip. Not atomic: every operation gets its own Status.
struct Batch {
  struct AddSa {
    SaSpec spec;
  };
  struct UpdateSa {
    SaSpec spec;
  };
  struct DeleteSa {
    SaId id;
  };
  struct AddPolicy {
    PolicySpec spec;
  };
  struct UpdatePolicy {
    PolicySpec spec;
  };
  struct DeletePolicy {
    PolicyId id;
  };
  using Op = std::variant<AddSa, UpdateSa, DeleteSa, AddPolicy, UpdatePolicy, DeletePolicy>;
  std::vector<Op> ops;

  void add_sa(SaSpec s) { ops.emplace_back(AddSa{std::move(s)}); }
  void update_sa(SaSpec s) { ops.emplace_back(UpdateSa{std::move(s)}); }
  void delete_sa(SaId id) { ops.emplace_back(DeleteSa{std::move(id)}); }
  void add_policy(PolicySpec s) { ops.emplace_back(AddPolicy{std::move(s)}); }
  void update_policy(PolicySpec s) { ops.emplace_back(UpdatePolicy{std::move(s)}); }
  void delete_policy(PolicyId id) { ops.emplace_back(DeletePolicy{std::move(id)}); }
  size_t size() const { return ops.size(); }
};

// Which kernel objects are ipsecd's: a reqid range and a priority band, kept in the state dir
// so that a restarted daemon recognises what it made before.
struct Ownership {
  uint32_t reqid_min = 0x1a500000;
  uint32_t reqid_max = 0x1a5fffff;
  uint32_t priority_base = 0x1a500000;  // band: [base, base + kPriorityBandSize)

  static constexpr uint32_t kPriorityBandSize = 1u << 15;
  bool owns_reqid(uint32_t reqid) const { return reqid >= reqid_min && reqid <= reqid_max; }
  bool in_band(uint32_t priority) const {
    return priority >= priority_base && priority - priority_base < kPriorityBandSize;
  }
  // Reads STATE_DIR/kernel-ownership, creating it with these defaults when absent.
  static Result<Ownership> load_or_create(const std::string& state_dir);
  static Result<Ownership> parse(std::string_view text, std::string_view origin);
  std::string serialize() const;
  friend bool operator==(const Ownership&, const Ownership&) = default;
};

// Kernel priority for a policy (lower wins). More specific selectors get lower numbers:
// longer prefixes first, then a protocol, then ports, as libreswan orders them. The kind sits
// in the lowest bits so that a listing can tell a trap from a hold.
uint32_t derived_priority(const Selector& sel, PolicyKind kind, const Ownership& own);
std::optional<PolicyKind> kind_from_priority(uint32_t priority, const Ownership& own);

// What a start-up sweep did.
struct SweepReport {
  size_t adopted_policies = 0;
  size_t removed_policies = 0;
  size_t adopted_sas = 0;
  size_t removed_sas = 0;
  size_t foreign = 0;  // objects seen and left alone
  std::vector<Error> failures;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Reserves an unused SPI in [min, max] for an inbound SA to dst; install it with update_sa.
  virtual Result<uint32_t> allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                        uint32_t min = 0x100, uint32_t max = 0xffffffff) = 0;
  virtual Status add_sa(const SaSpec& spec) = 0;
  virtual Status update_sa(const SaSpec& spec) = 0;
  virtual Status delete_sa(const SaId& id) = 0;
  virtual Result<SaState> get_sa(const SaId& id) = 0;
  virtual Result<std::vector<SaState>> list_sas() = 0;

  virtual Status add_policy(const PolicySpec& spec) = 0;
  virtual Status update_policy(const PolicySpec& spec) = 0;  // add or replace
  virtual Status delete_policy(const PolicyId& id) = 0;
  virtual Result<PolicyState> get_policy(const PolicyId& id) = 0;
  virtual Result<std::vector<PolicyState>> list_policies() = 0;

  // Executes all operations, as few round trips as possible; one Status per op, in order.
  virtual std::vector<Status> apply(const Batch& batch) = 0;

  // A descriptor that turns readable when events are pending (for epoll), and the drain.
  virtual int event_fd() const = 0;
  // Returns pending events, waiting up to `timeout` for the first one.
  virtual std::vector<Event> read_events(std::chrono::milliseconds timeout) = 0;

  virtual const Ownership& ownership() const = 0;

  // Start-up: lists the kernel, keeps own objects for which `keep_*` says true, removes the
  // other own objects and never touches foreign ones.
  SweepReport sweep(const std::function<bool(const PolicyState&)>& keep_policy,
                    const std::function<bool(const SaState&)>& keep_sa);
};

// What an operation worked on, so that an errno can be explained in its context.
enum class Subject : uint8_t { kSa, kPolicy, kSpi, kListing, kEvents };

// Maps a kernel errno (and its extended-ack text, if any) for an operation to an Error whose
// message an operator understands. `what` names the object, e.g. "adding SA esp 0x100 to ...".
Error kernel_error(Subject subject, std::string_view what, int err, std::string_view ext_ack = {});

// Checks a spec before it reaches a kernel; both backends refuse the same things the same way.
Status validate(const SaSpec& spec, const Ownership& own);
Status validate(const PolicySpec& spec, const Ownership& own);
// kernel_error for an SA operation, naming the algorithm or family where the kernel is vague.
Error sa_error(const SaSpec* spec, std::string_view what, int err, std::string_view ext_ack = {});
// The kind a listing reports: from the priority's low bits for own policies, else from the
// kernel's action (block becomes drop, templates make protect, neither is pass).
PolicyKind listed_kind(uint32_t priority, bool block, bool has_templates, const Ownership& own);
bool policy_is_own(uint32_t priority, const std::vector<Template>& templates, const Ownership& own);

}  // namespace ipsecd::kernel

template <>
struct std::hash<ipsecd::kernel::Address> {
  size_t operator()(const ipsecd::kernel::Address& a) const { return a.hash(); }
};
template <>
struct std::hash<ipsecd::kernel::SaId> {
  size_t operator()(const ipsecd::kernel::SaId& id) const {
    return id.dst.hash() ^ (static_cast<size_t>(id.spi) * 0x9e3779b97f4a7c15ull) ^ id.proto;
  }
};
template <>
struct std::hash<ipsecd::kernel::PolicyId> {
  size_t operator()(const ipsecd::kernel::PolicyId& id) const {
    return id.selector.hash() * 31 + static_cast<size_t>(id.dir) * 7 + id.mark.value;
  }
};
