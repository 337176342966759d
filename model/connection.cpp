#include "model/connection.h"

#include <cctype>
#include <tuple>
#include <unordered_map>

#include "model/detail/conf_values.h"
#include "model/text.h"

namespace ipsecd::model {

using text::lower;
namespace {

// Keyword ids looked up once; the table is static.
struct Ids {
  KeywordId host, subnet, subnets, protoport, id, auth, nexthop, sourceip, ikeport;
  KeywordId auto_, type, authby, ike, esp, pfs, esn, rekey, reauth, mobike, narrowing,
      encapsulation, nat_keepalive, fragmentation, ikelifetime, ipsec_lifetime, rekeymargin,
      rekeyfuzz, max_bytes, max_packets, dpddelay, dpdtimeout, dpdaction, retransmit_interval,
      retransmit_timeout, replay_window, reqid, priority, mark, mark_in, mark_out;

  static KeywordId get(std::string_view name) { return *keyword_id(name, Section::kConn); }

  Ids()
      : host(get("")),
        subnet(get("subnet")),
        subnets(get("subnets")),
        protoport(get("protoport")),
        id(get("id")),
        auth(get("auth")),
        nexthop(get("nexthop")),
        sourceip(get("sourceip")),
        ikeport(get("ikeport")),
        auto_(get("auto")),
        type(get("type")),
        authby(get("authby")),
        ike(get("ike")),
        esp(get("esp")),
        pfs(get("pfs")),
        esn(get("esn")),
        rekey(get("rekey")),
        reauth(get("reauth")),
        mobike(get("mobike")),
        narrowing(get("narrowing")),
        encapsulation(get("encapsulation")),
        nat_keepalive(get("nat-keepalive")),
        fragmentation(get("fragmentation")),
        ikelifetime(get("ikelifetime")),
        ipsec_lifetime(get("ipsec-lifetime")),
        rekeymargin(get("rekeymargin")),
        rekeyfuzz(get("rekeyfuzz")),
        max_bytes(get("ipsec-max-bytes")),
        max_packets(get("ipsec-max-packets")),
        dpddelay(get("dpddelay")),
        dpdtimeout(get("dpdtimeout")),
        dpdaction(get("dpdaction")),
        retransmit_interval(get("retransmit-interval")),
        retransmit_timeout(get("retransmit-timeout")),
        replay_window(get("replay-window")),
        reqid(get("reqid")),
        priority(get("priority")),
        mark(get("mark")),
        mark_in(get("mark-in")),
        mark_out(get("mark-out")) {}
};

const Ids& ids() {
  static const Ids i;
  return i;
}

// Reads typed values out of a ConnSpec, collecting the first error.
class Reader {
 public:
  Reader(const ConnSpec& spec, const std::vector<std::string>& files)
      : spec_(spec), files_(files) {}

  const Setting* find(KeywordId k, Side side = Side::kNone) const { return spec_.find(k, side); }

  bool flag(KeywordId k, bool fallback) const {
    const Setting* s = find(k);
    return s != nullptr ? detail::canonical_value(keyword(k), s->value) == "yes" : fallback;
  }

  Tristate tristate(KeywordId k, Tristate fallback) const {
    const Setting* s = find(k);
    if (s == nullptr) {
      return fallback;
    }
    std::string v = lower(s->value);
    if (v == "yes" || v == "insist" || v == "force") {
      return Tristate::kYes;
    }
    if (v == "no" || v == "never") {
      return Tristate::kNo;
    }
    return Tristate::kAuto;
  }

  template <class Duration>
  Duration duration(KeywordId k, Duration fallback, TimeUnit unit = TimeUnit::kSeconds) {
    const Setting* s = find(k);
    if (s == nullptr) {
      return fallback;
    }
    auto d = parse_duration(s->value, unit);
    if (!d) {
      fail(*s, d.error());
      return fallback;
    }
    return std::chrono::duration_cast<Duration>(*d);
  }

  uint64_t number(KeywordId k, uint64_t fallback, uint64_t hi = UINT32_MAX) {
    const Setting* s = find(k);
    if (s == nullptr) {
      return fallback;
    }
    // Counts may carry a unit suffix ("1000k"); the value is what the digits say
    // times the unit.
    std::string_view v = s->value;
    size_t digits = 0;
    while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) {
      ++digits;
    }
    auto n = parse_unsigned(v.substr(0, digits), 0, hi);
    if (!n) {
      fail(*s, n.error());
      return fallback;
    }
    uint64_t scale = 1;
    std::string unit = lower(v.substr(digits));
    if (!unit.empty()) {
      bool binary = unit.size() > 1 && unit[1] == 'i';
      uint64_t base = binary ? 1024 : 1000;
      switch (unit[0]) {
        case 'k':
          scale = base;
          break;
        case 'm':
          scale = base * base;
          break;
        case 'g':
          scale = base * base * base;
          break;
        case 't':
          scale = base * base * base * base;
          break;
        case 'p':
          scale = base * base * base * base * base;
          break;
        default:
          break;
      }
    }
    if (*n > UINT64_MAX / scale) {
      fail(*s, "value too large");
      return fallback;
    }
    return *n * scale;
  }

  void fail(const Setting& s, const std::string& why) {
    if (!failed()) {
      error_ = {Severity::kError, file(s.file), static_cast<int>(s.line),
                keyword(s.keyword).spelled(s.side) + "=" + s.value + ": " + why};
    }
  }
  // A setting taken with a caveat; reported beside the connection, which still builds.
  void warn(const Setting& s, const std::string& why) {
    warnings_.push_back({Severity::kWarning, file(s.file), static_cast<int>(s.line),
                         "conn " + spec_.name + ": " + why});
  }
  void fail_conn(const std::string& why) {
    if (!failed()) {
      error_ = {Severity::kError, file(spec_.file), static_cast<int>(spec_.line),
                "conn " + spec_.name + ": " + why};
    }
  }
  bool failed() const { return !error_.message.empty(); }
  const Diagnostic& error() const { return error_; }
  std::vector<Diagnostic>& warnings() { return warnings_; }

 private:
  std::string file(uint32_t index) const { return index < files_.size() ? files_[index] : ""; }

  const ConnSpec& spec_;
  const std::vector<std::string>& files_;
  Diagnostic error_;
  std::vector<Diagnostic> warnings_;
};

AuthMethod auth_method(std::string_view text) {
  std::string v = lower(text);
  std::string first = v.substr(0, v.find_first_of(",| "));
  if (first == "secret" || first == "psk") {
    return AuthMethod::kPsk;
  }
  if (first.rfind("rsa", 0) == 0) {
    return AuthMethod::kRsaSig;
  }
  if (first.rfind("ecdsa", 0) == 0) {
    return AuthMethod::kEcdsa;
  }
  if (first == "eddsa") {
    return AuthMethod::kEddsa;
  }
  if (first == "null") {
    return AuthMethod::kNull;
  }
  if (first == "never") {
    return AuthMethod::kNever;
  }
  if (first == "eaponly") {
    return AuthMethod::kEapOnly;
  }
  return AuthMethod::kDefault;
}

void read_endpoint(Reader& r, Side side, Endpoint& e) {
  const Ids& k = ids();
  if (const Setting* s = r.find(k.host, side)) {
    std::string v = lower(s->value);
    if (v.empty()) {
      e.host_kind = HostKind::kUnset;
    } else if (v == "%any" || v == "%any4" || v == "%any6") {
      e.host_kind = HostKind::kAny;
    } else if (v == "%defaultroute" || v == "%defaultroute6") {
      e.host_kind = HostKind::kDefaultRoute;
    } else if (v[0] == '%') {
      e.host_kind = HostKind::kOpportunistic;
    } else if (auto a = IpAddress::parse(s->value)) {
      e.host_kind = HostKind::kAddress;
      e.address = *a;
    } else {
      e.host_kind = HostKind::kDnsName;
    }
  }
  if (const Setting* s = r.find(k.subnet, side)) {
    if (auto sub = Subnet::parse(s->value)) {
      e.subnets.push_back(*sub);
    }
  }
  if (const Setting* s = r.find(k.subnets, side)) {
    if (auto list = parse_subnet_list(s->value)) {
      e.subnets.insert(e.subnets.end(), list->begin(), list->end());
    } else {
      r.fail(*s, list.error());
    }
  }
  if (const Setting* s = r.find(k.protoport, side)) {
    if (auto pp = ProtoPort::parse(s->value)) {
      e.protoport = *pp;
    } else {
      r.fail(*s, pp.error());
    }
  }
  if (const Setting* s = r.find(k.id, side)) {
    if (auto id = Identity::parse(s->value)) {
      e.id = *id;
    } else {
      r.fail(*s, id.error());
    }
  }
  if (const Setting* s = r.find(k.auth, side)) {
    e.auth = auth_method(s->value);
  }
  if (const Setting* s = r.find(k.nexthop, side)) {
    if (auto a = IpAddress::parse(s->value)) {
      e.nexthop = *a;
    }
  }
  if (const Setting* s = r.find(k.sourceip, side)) {
    if (auto a = IpAddress::parse(s->value)) {
      e.sourceip = *a;
    }
  }
  e.ike_port = static_cast<uint16_t>(r.number(k.ikeport, 0, 65535));
}

// One family per side of the traffic selectors: the kernel cannot pair an IPv4
// subnet with an IPv6 one in a single policy.
void check_families(Reader& r, const Connection& c) {
  auto family_of = [](const Endpoint& e) -> std::optional<AddressFamily> {
    if (!e.subnets.empty()) {
      return e.subnets.front().address.family;
    }
    if (e.address) {
      return e.address->family;
    }
    return std::nullopt;
  };
  auto l = family_of(c.left);
  auto rt = family_of(c.right);
  if (l && rt && *l != *rt && c.mode != Mode::kPassthrough) {
    if (c.left.subnets.empty() == c.right.subnets.empty()) {
      r.fail_conn("left and right traffic selectors are of different address families (" +
                  std::string(*l == AddressFamily::kIpv4 ? "IPv4" : "IPv6") + " and " +
                  std::string(*rt == AddressFamily::kIpv4 ? "IPv4" : "IPv6") + ")");
    }
  }
}

// dpdaction= as libreswan 4.10 takes it (lib/libipsecconf/starterwhack.c):
// hold unless set, restart_by_peer is restart, and restart with rekey=no is
// hold (a connection that must not be renegotiated cannot be restarted).
void read_dpd_action(Reader& r, Connection& c) {
  const Setting* s = r.find(ids().dpdaction);
  if (s == nullptr) {
    return;
  }
  const std::string v = detail::canonical_value(keyword(ids().dpdaction), s->value);
  c.dpd_action = v == "clear"     ? DpdAction::kClear
                 : v == "restart" ? DpdAction::kRestart
                                  : DpdAction::kHold;
  if (c.dpd_action == DpdAction::kRestart && !c.rekey) {
    r.warn(*s, "dpdaction=" + s->value + " cannot be used with rekey=no; dpdaction=hold is used");
    c.dpd_action = DpdAction::kHold;
  }
  if (c.dpd_delay.count() == 0) {
    r.warn(*s, "dpdaction=" + s->value +
                   " has no effect without dpddelay= (no liveness checks are sent, so no peer "
                   "is declared dead)");
  }
}

uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string_view dpd_action_name(DpdAction action) {
  switch (action) {
    case DpdAction::kHold:
      return "hold";
    case DpdAction::kClear:
      return "clear";
    case DpdAction::kRestart:
      return "restart";
  }
  return "hold";
}

std::string Connection::canonical() const {
  std::string out;
  out.reserve(settings.size() * 24);
  for (const Setting& s : settings) {
    out += keyword(s.keyword).spelled(s.side);
    out += '=';
    out += canonical_value(s);
    out += '\n';
  }
  return out;
}

namespace {

// Parses each distinct ike=/esp= text once per build_connections call.
class ProposalCache {
 public:
  ProposalList get(ProposalKind kind, const std::string& text, std::string& error) {
    auto& map = kind == ProposalKind::kIke ? ike_ : esp_;
    auto it = map.find(text);
    if (it != map.end()) {
      return it->second;
    }
    auto parsed = parse_proposals(kind, text);
    if (!parsed) {
      error = parsed.error();
      return nullptr;
    }
    ProposalList list = std::make_shared<const std::vector<Proposal>>(std::move(parsed).value());
    map.emplace(text, list);
    return list;
  }

 private:
  std::unordered_map<std::string, ProposalList> ike_, esp_;
};

// Builds one connection; its settings are moved from `owned` when given (the
// caller's copy of spec.settings is then left empty), copied otherwise.
std::optional<Connection> build(const ConnSpec& spec, std::vector<Setting>* owned,
                                const std::vector<std::string>& files, ProposalCache& cache,
                                Diagnostic& error, std::vector<Diagnostic>& warnings) {
  const Ids& k = ids();
  Reader r(spec, files);
  Connection c;
  c.name = spec.name;
  read_endpoint(r, Side::kLeft, c.left);
  read_endpoint(r, Side::kRight, c.right);

  if (const Setting* s = r.find(k.auto_)) {
    std::string v = lower(s->value);
    c.auto_action = v == "add"                                 ? AutoAction::kAdd
                    : v == "route" || v == "ondemand"          ? AutoAction::kRoute
                    : v == "start" || v == "up" || v == "keep" ? AutoAction::kStart
                                                               : AutoAction::kIgnore;
  }
  if (const Setting* s = r.find(k.type)) {
    std::string v = lower(s->value);
    c.mode = v == "transport"                    ? Mode::kTransport
             : v == "passthrough" || v == "pass" ? Mode::kPassthrough
             : v == "drop"                       ? Mode::kDrop
             : v == "reject"                     ? Mode::kReject
                                                 : Mode::kTunnel;
  }
  if (const Setting* s = r.find(k.authby)) {
    c.authby = auth_method(s->value);
  }
  for (auto [id, kind, field] : {std::tuple{k.ike, ProposalKind::kIke, &c.ike},
                                 std::tuple{k.esp, ProposalKind::kEsp, &c.esp}}) {
    if (const Setting* s = r.find(id)) {
      std::string why;
      *field = cache.get(kind, s->value, why);
      if (*field == nullptr) {
        r.fail(*s, why);
      }
    }
  }
  c.pfs = r.flag(k.pfs, true);
  c.esn = r.tristate(k.esn, Tristate::kAuto);
  c.rekey = r.flag(k.rekey, true);
  c.reauth = r.flag(k.reauth, false);
  c.mobike = r.flag(k.mobike, false);
  c.narrowing = r.flag(k.narrowing, false);
  c.encapsulation = r.tristate(k.encapsulation, Tristate::kAuto);
  c.nat_keepalive = r.flag(k.nat_keepalive, true);
  c.fragmentation = r.tristate(k.fragmentation, Tristate::kYes);
  c.ike_lifetime = r.duration(k.ikelifetime, c.ike_lifetime);
  c.ipsec_lifetime = r.duration(k.ipsec_lifetime, c.ipsec_lifetime);
  c.rekey_margin = r.duration(k.rekeymargin, c.rekey_margin);
  c.rekey_fuzz_percent = static_cast<uint32_t>(r.number(k.rekeyfuzz, 100));
  c.ipsec_max_bytes = r.number(k.max_bytes, 0, UINT64_MAX);
  c.ipsec_max_packets = r.number(k.max_packets, 0, UINT64_MAX);
  c.dpd_delay = r.duration(k.dpddelay, c.dpd_delay);
  c.dpd_timeout = r.duration(k.dpdtimeout, c.dpd_timeout);
  read_dpd_action(r, c);
  c.retransmit_interval =
      r.duration(k.retransmit_interval, c.retransmit_interval, TimeUnit::kMilliseconds);
  c.retransmit_timeout = r.duration(k.retransmit_timeout, c.retransmit_timeout);
  c.replay_window = static_cast<uint32_t>(r.number(k.replay_window, 128));
  c.reqid = static_cast<uint32_t>(r.number(k.reqid, 0));
  c.priority = static_cast<uint32_t>(r.number(k.priority, 0));
  for (auto [id, field] : {std::pair{k.mark, &c.mark_in}, std::pair{k.mark_in, &c.mark_in},
                           std::pair{k.mark_out, &c.mark_out}}) {
    if (const Setting* s = r.find(id)) {
      if (auto m = Mark::parse(s->value)) {
        *field = *m;
        if (id == k.mark) {
          c.mark_out = *m;
        }
      } else {
        r.fail(*s, m.error());
      }
    }
  }
  check_families(r, c);
  if (r.failed()) {
    error = r.error();
    return std::nullopt;
  }
  warnings = std::move(r.warnings());
  if (owned != nullptr) {
    c.settings = std::move(*owned);
    c.settings.shrink_to_fit();
  } else {
    c.settings = spec.settings;
  }
  c.hash = fnv1a64(c.canonical());
  return c;
}

}  // namespace

std::string_view Connection::value(std::string_view keyword_name, Side side) const {
  std::optional<KeywordId> id = keyword_id(keyword_name, Section::kConn);
  if (!id) {
    return {};
  }
  for (const Setting& s : settings) {
    if (s.keyword == *id && s.side == side) {
      return s.value;
    }
  }
  return {};
}

namespace {

// `owned` is the same config when its settings may be moved out, else null.
ConnectionSet build_all(const Config& config, Config* owned) {
  ConnectionSet set;
  set.connections.reserve(config.conns.size());
  ProposalCache cache;
  for (size_t i = 0; i < config.conns.size(); ++i) {
    const ConnSpec& spec = config.conns[i];
    std::vector<Setting>* settings = owned != nullptr ? &owned->conns[i].settings : nullptr;
    Diagnostic error;
    std::vector<Diagnostic> warnings;
    if (std::optional<Connection> conn =
            build(spec, settings, config.files, cache, error, warnings)) {
      set.connections.push_back(std::move(*conn));
      for (const Diagnostic& w : warnings) {
        set.diagnostics.warning(w.file, w.line, w.message);
      }
    } else {
      set.diagnostics.error(error.file, error.line, error.message);
    }
  }
  return set;
}

}  // namespace

ConnectionSet build_connections(const Config& config) {
  return build_all(config, nullptr);
}

ConnectionSet build_connections(Config&& config) {
  return build_all(config, &config);
}

}  // namespace ipsecd::model
