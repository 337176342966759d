#include "kernel/xfrm/xfrm_backend.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <netlink/addr.h>
#include <netlink/msg.h>
#include <netlink/xfrm/lifetime.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/selector.h>
#include <netlink/xfrm/sp.h>
#include <netlink/xfrm/template.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace ipsecd::kernel {

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

NetlinkSocket::~NetlinkSocket() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

namespace {

using Bytes = std::vector<uint8_t>;

// Requests per datagram: the kernel handles a datagram's messages in one sendmsg.
constexpr size_t kMaxDatagram = 256 * 1024;
constexpr int kSocketBuffer = 8 * 1024 * 1024;

// ---- libnl handles ----

struct SpPut {
  void operator()(xfrmnl_sp* p) const { xfrmnl_sp_put(p); }
};
struct SaPut {
  void operator()(xfrmnl_sa* p) const { xfrmnl_sa_put(p); }
};
struct SelPut {
  void operator()(xfrmnl_sel* p) const { xfrmnl_sel_put(p); }
};
struct LtimePut {
  void operator()(xfrmnl_ltime_cfg* p) const { xfrmnl_ltime_cfg_put(p); }
};
struct AddrPut {
  void operator()(nl_addr* p) const { nl_addr_put(p); }
};
struct MsgFree {
  void operator()(nl_msg* p) const { nlmsg_free(p); }
};
using AddrPtr = std::unique_ptr<nl_addr, AddrPut>;

uint8_t xfrm_dir(Direction d) {
  switch (d) {
    case Direction::kOut:
      return XFRM_POLICY_OUT;
    case Direction::kIn:
      return XFRM_POLICY_IN;
    case Direction::kFwd:
      return XFRM_POLICY_FWD;
  }
  return XFRM_POLICY_OUT;
}

Direction from_xfrm_dir(uint8_t d) {
  switch (d) {
    case XFRM_POLICY_IN:
      return Direction::kIn;
    case XFRM_POLICY_FWD:
      return Direction::kFwd;
    default:
      return Direction::kOut;
  }
}

int af(Family f) {
  return f == Family::kIpv4 ? AF_INET : AF_INET6;
}

AddrPtr nl_address(const Address& a, unsigned prefix) {
  AddrPtr p(nl_addr_build(af(a.family()), a.data(), a.size()));
  nl_addr_set_prefixlen(p.get(), static_cast<int>(prefix));
  return p;
}

uint64_t inf_if_zero(uint64_t v) {
  return v == 0 ? XFRM_INF : v;
}

std::unique_ptr<xfrmnl_sel, SelPut> nl_selector(const Selector& s) {
  std::unique_ptr<xfrmnl_sel, SelPut> sel(xfrmnl_sel_alloc());
  auto d = nl_address(s.dst.addr, s.dst.len);
  auto src = nl_address(s.src.addr, s.src.len);
  xfrmnl_sel_set_daddr(sel.get(), d.get());
  xfrmnl_sel_set_saddr(sel.get(), src.get());
  xfrmnl_sel_set_prefixlen_d(sel.get(), s.dst.len);
  xfrmnl_sel_set_prefixlen_s(sel.get(), s.src.len);
  xfrmnl_sel_set_family(sel.get(), static_cast<unsigned>(af(s.family())));
  xfrmnl_sel_set_proto(sel.get(), s.proto);
  xfrmnl_sel_set_dport(sel.get(), s.dport);
  xfrmnl_sel_set_dportmask(sel.get(), s.dport != 0 ? 0xffff : 0);
  xfrmnl_sel_set_sport(sel.get(), s.sport);
  xfrmnl_sel_set_sportmask(sel.get(), s.sport != 0 ? 0xffff : 0);
  return sel;
}

Bytes take(nl_msg* raw) {
  std::unique_ptr<nl_msg, MsgFree> msg(raw);
  const nlmsghdr* h = nlmsg_hdr(msg.get());
  const auto* p = reinterpret_cast<const uint8_t*>(h);
  return Bytes(p, p + h->nlmsg_len);
}

bool is_block(PolicyKind k) {
  return k == PolicyKind::kHold || k == PolicyKind::kDrop || k == PolicyKind::kReject;
}

std::optional<Bytes> encode_policy(const PolicySpec& spec, const Ownership& own, bool update) {
  std::unique_ptr<xfrmnl_sp, SpPut> sp(xfrmnl_sp_alloc());
  auto sel = nl_selector(spec.id.selector);
  xfrmnl_sp_set_sel(sp.get(), sel.get());
  std::unique_ptr<xfrmnl_ltime_cfg, LtimePut> lt(xfrmnl_ltime_cfg_alloc());
  xfrmnl_ltime_cfg_set_soft_bytelimit(lt.get(), XFRM_INF);
  xfrmnl_ltime_cfg_set_hard_bytelimit(lt.get(), XFRM_INF);
  xfrmnl_ltime_cfg_set_soft_packetlimit(lt.get(), XFRM_INF);
  xfrmnl_ltime_cfg_set_hard_packetlimit(lt.get(), XFRM_INF);
  xfrmnl_ltime_cfg_set_soft_addexpires(lt.get(), spec.lifetime.soft_seconds);
  xfrmnl_ltime_cfg_set_hard_addexpires(lt.get(), spec.lifetime.hard_seconds);
  xfrmnl_sp_set_lifetime_cfg(sp.get(), lt.get());
  uint32_t prio =
      spec.priority ? *spec.priority : derived_priority(spec.id.selector, spec.kind, own);
  xfrmnl_sp_set_priority(sp.get(), prio);
  xfrmnl_sp_set_dir(sp.get(), xfrm_dir(spec.id.dir));
  xfrmnl_sp_set_action(sp.get(), is_block(spec.kind) ? XFRM_POLICY_BLOCK : XFRM_POLICY_ALLOW);
  xfrmnl_sp_set_share(sp.get(), XFRM_SHARE_ANY);
  if (spec.id.mark.mask != 0) {
    xfrmnl_sp_set_mark(sp.get(), spec.id.mark.value, spec.id.mark.mask);
  }
  for (const auto& t : spec.templates) {
    // Owned by the policy object once added.
    xfrmnl_user_tmpl* ut = xfrmnl_user_tmpl_alloc();
    auto d = nl_address(t.dst, t.dst.max_prefix());
    auto s = nl_address(t.src, t.src.max_prefix());
    xfrmnl_user_tmpl_set_daddr(ut, d.get());
    xfrmnl_user_tmpl_set_saddr(ut, s.get());
    xfrmnl_user_tmpl_set_family(ut, static_cast<unsigned>(af(t.dst.family())));
    xfrmnl_user_tmpl_set_proto(ut, t.proto);
    xfrmnl_user_tmpl_set_mode(ut, t.mode == Mode::kTunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT);
    xfrmnl_user_tmpl_set_reqid(ut, t.reqid);
    xfrmnl_user_tmpl_set_aalgos(ut, ~0u);
    xfrmnl_user_tmpl_set_ealgos(ut, ~0u);
    xfrmnl_user_tmpl_set_calgos(ut, ~0u);
    xfrmnl_sp_add_usertemplate(sp.get(), ut);
  }
  nl_msg* msg = nullptr;
  int rc = update ? xfrmnl_sp_build_update_request(sp.get(), 0, &msg)
                  : xfrmnl_sp_build_add_request(sp.get(), NLM_F_EXCL, &msg);
  if (rc < 0 || msg == nullptr) {
    return std::nullopt;
  }
  return take(msg);
}

struct AlgNames {
  const char* name;
  unsigned icv_bits;
};

AlgNames cipher_alg(Cipher c) {
  switch (c) {
    case Cipher::kAesGcm16_128:
    case Cipher::kAesGcm16_256:
      return {"rfc4106(gcm(aes))", 128};
    case Cipher::kChaCha20Poly1305:
      return {"rfc7539esp(chacha20,poly1305)", 128};
    case Cipher::kAesCbc128:
    case Cipher::kAesCbc256:
      return {"cbc(aes)", 0};
  }
  return {"", 0};
}

AlgNames integ_alg(Integrity i) {
  switch (i) {
    case Integrity::kNone:
      return {"", 0};
    case Integrity::kHmacSha256_128:
      return {"hmac(sha256)", 128};
    case Integrity::kHmacSha384_192:
      return {"hmac(sha384)", 192};
    case Integrity::kHmacSha512_256:
      return {"hmac(sha512)", 256};
  }
  return {"", 0};
}

std::optional<Bytes> encode_sa(const SaSpec& spec, bool update) {
  std::unique_ptr<xfrmnl_sa, SaPut> sa(xfrmnl_sa_alloc());
  int family = af(spec.id.dst.family());
  xfrmnl_sa_set_family(sa.get(), static_cast<unsigned>(family));
  auto d = nl_address(spec.id.dst, spec.id.dst.max_prefix());
  auto s = nl_address(spec.src, spec.src.max_prefix());
  xfrmnl_sa_set_daddr(sa.get(), d.get());
  xfrmnl_sa_set_saddr(sa.get(), s.get());
  xfrmnl_sa_set_spi(sa.get(), spec.id.spi);
  xfrmnl_sa_set_proto(sa.get(), spec.id.proto);
  xfrmnl_sa_set_mode(sa.get(), spec.mode == Mode::kTunnel ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT);
  xfrmnl_sa_set_reqid(sa.get(), spec.reqid);
  unsigned flags = 0;
  if (spec.esn) {
    flags |= XFRM_STATE_ESN;
  }
  if (spec.mode == Mode::kTunnel && spec.id.dst.family() == Family::kIpv4) {
    flags |= XFRM_STATE_AF_UNSPEC;  // lets an IPv4 tunnel carry IPv6 traffic
  }
  xfrmnl_sa_set_flags(sa.get(), flags);
  if (spec.esn) {
    // ESN needs the replay state attribute; the bitmap covers the window.
    unsigned bmp_len = (spec.replay_window + 31) / 32;
    std::vector<unsigned> bmp(bmp_len, 0);
    xfrmnl_sa_set_replay_state_esn(sa.get(), 0, 0, 0, 0, spec.replay_window, bmp_len, bmp.data());
  } else {
    xfrmnl_sa_set_replay_window(sa.get(), std::min<uint32_t>(spec.replay_window, 255));
  }
  std::unique_ptr<xfrmnl_ltime_cfg, LtimePut> lt(xfrmnl_ltime_cfg_alloc());
  xfrmnl_ltime_cfg_set_soft_bytelimit(lt.get(), inf_if_zero(spec.lifetime.soft_bytes));
  xfrmnl_ltime_cfg_set_hard_bytelimit(lt.get(), inf_if_zero(spec.lifetime.hard_bytes));
  xfrmnl_ltime_cfg_set_soft_packetlimit(lt.get(), inf_if_zero(spec.lifetime.soft_packets));
  xfrmnl_ltime_cfg_set_hard_packetlimit(lt.get(), inf_if_zero(spec.lifetime.hard_packets));
  xfrmnl_ltime_cfg_set_soft_addexpires(lt.get(), spec.lifetime.soft_seconds);
  xfrmnl_ltime_cfg_set_hard_addexpires(lt.get(), spec.lifetime.hard_seconds);
  xfrmnl_sa_set_lifetime_cfg(sa.get(), lt.get());
  const auto& key = spec.enc_key.bytes();
  auto c = cipher_alg(spec.cipher);
  auto key_bits = static_cast<unsigned>(key.size() * 8);
  const char* key_ptr = reinterpret_cast<const char*>(key.data());
  if (is_aead(spec.cipher)) {
    xfrmnl_sa_set_aead_params(sa.get(), c.name, key_bits, c.icv_bits, key_ptr);
  } else {
    xfrmnl_sa_set_crypto_params(sa.get(), c.name, key_bits, key_ptr);
    auto i = integ_alg(spec.integrity);
    const auto& ik = spec.integ_key.bytes();
    xfrmnl_sa_set_auth_params(sa.get(), i.name, static_cast<unsigned>(ik.size() * 8), i.icv_bits,
                              reinterpret_cast<const char*>(ik.data()));
  }
  if (spec.encap) {
    auto oa =
        nl_address(Address::from_bytes(spec.id.dst.family(), std::array<uint8_t, 16>{}.data()), 0);
    xfrmnl_sa_set_encap_tmpl(sa.get(), UDP_ENCAP_ESPINUDP, spec.encap->sport, spec.encap->dport,
                             oa.get());
  }
  if (spec.mark.mask != 0) {
    xfrmnl_sa_set_mark(sa.get(), spec.mark.value, spec.mark.mask);
  }
  if (spec.selector) {
    auto sel = nl_selector(*spec.selector);
    xfrmnl_sa_set_sel(sa.get(), sel.get());
  }
  nl_msg* msg = nullptr;
  int rc = update ? xfrmnl_sa_build_update_request(sa.get(), 0, &msg)
                  : xfrmnl_sa_build_add_request(sa.get(), NLM_F_EXCL, &msg);
  if (rc < 0 || msg == nullptr) {
    return std::nullopt;
  }
  return take(msg);
}

// ---- raw messages, for what libnl does not offer (get by selector, ALLOCSPI, events) ----

class RawMessage {
 public:
  RawMessage(uint16_t type, uint16_t flags, const void* payload, size_t len) {
    buf_.resize(NLMSG_HDRLEN);
    auto* h = reinterpret_cast<nlmsghdr*>(buf_.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = flags;
    append(payload, len);
  }
  void attr(uint16_t type, const void* data, size_t len) {
    nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
    append(&a, sizeof a);
    append(data, len);
  }
  Bytes finish() {
    reinterpret_cast<nlmsghdr*>(buf_.data())->nlmsg_len = static_cast<uint32_t>(buf_.size());
    return std::move(buf_);
  }

 private:
  // Appends LEN bytes and the zero padding up to the next netlink alignment.
  void append(const void* p, size_t len) {
    const size_t at = buf_.size();
    buf_.resize(NLMSG_ALIGN(at + len));
    if (len > 0) {
      std::memcpy(buf_.data() + at, p, len);
    }
  }
  Bytes buf_;
};

void put_address(xfrm_address_t* out, const Address& a) {
  std::memcpy(out, a.data(), a.size());
}

Address get_address(const xfrm_address_t& in, int family) {
  return Address::from_bytes(family == AF_INET6 ? Family::kIpv6 : Family::kIpv4,
                             reinterpret_cast<const uint8_t*>(&in));
}

xfrm_selector raw_selector(const Selector& s) {
  xfrm_selector x{};
  put_address(&x.daddr, s.dst.addr);
  put_address(&x.saddr, s.src.addr);
  x.prefixlen_d = s.dst.len;
  x.prefixlen_s = s.src.len;
  x.family = static_cast<uint16_t>(af(s.family()));
  x.proto = s.proto;
  x.dport = htons(s.dport);
  x.dport_mask = s.dport != 0 ? 0xffff : 0;
  x.sport = htons(s.sport);
  x.sport_mask = s.sport != 0 ? 0xffff : 0;
  return x;
}

Selector from_raw(const xfrm_selector& x) {
  Selector s;
  s.src = Prefix{get_address(x.saddr, x.family), x.prefixlen_s};
  s.dst = Prefix{get_address(x.daddr, x.family), x.prefixlen_d};
  s.proto = x.proto;
  s.sport = ntohs(x.sport);
  s.dport = ntohs(x.dport);
  return s;
}

Bytes policy_id_message(uint16_t type, const PolicyId& id) {
  xfrm_userpolicy_id pid{};
  pid.sel = raw_selector(id.selector);
  pid.dir = xfrm_dir(id.dir);
  RawMessage m(type, 0, &pid, sizeof pid);
  if (id.mark.mask != 0) {
    xfrm_mark mk{id.mark.value, id.mark.mask};
    m.attr(XFRMA_MARK, &mk, sizeof mk);
  }
  return m.finish();
}

Bytes sa_id_message(uint16_t type, const SaId& id) {
  xfrm_usersa_id sid{};
  put_address(&sid.daddr, id.dst);
  sid.spi = htonl(id.spi);
  sid.family = static_cast<uint16_t>(af(id.dst.family()));
  sid.proto = id.proto;
  return RawMessage(type, 0, &sid, sizeof sid).finish();
}

// Walks the attributes after a fixed-size payload.
template <typename F>
void for_each_attr(const nlmsghdr* h, size_t fixed, F&& f) {
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(fixed);
  const auto* base = reinterpret_cast<const uint8_t*>(h);
  while (off + NLA_HDRLEN <= h->nlmsg_len) {
    const auto* a = reinterpret_cast<const nlattr*>(base + off);
    if (a->nla_len < NLA_HDRLEN || off + a->nla_len > h->nlmsg_len) {
      return;
    }
    f(static_cast<uint16_t>(a->nla_type & NLA_TYPE_MASK), base + off + NLA_HDRLEN,
      static_cast<size_t>(a->nla_len - NLA_HDRLEN));
    off += NLA_ALIGN(a->nla_len);
  }
}

std::vector<Template> templates_from(const uint8_t* data, size_t len) {
  std::vector<Template> out;
  for (size_t off = 0; off + sizeof(xfrm_user_tmpl) <= len; off += sizeof(xfrm_user_tmpl)) {
    xfrm_user_tmpl t;
    std::memcpy(&t, data + off, sizeof t);
    Template tt;
    tt.dst = get_address(t.id.daddr, t.family);
    tt.src = get_address(t.saddr, t.family);
    tt.proto = t.id.proto;
    tt.mode = t.mode == XFRM_MODE_TUNNEL ? Mode::kTunnel : Mode::kTransport;
    tt.reqid = t.reqid;
    out.push_back(tt);
  }
  return out;
}

std::optional<PolicyState> parse_policy(const nlmsghdr* h, const Ownership& own) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_userpolicy_info))) {
    return std::nullopt;
  }
  xfrm_userpolicy_info info;
  std::memcpy(&info, NLMSG_DATA(h), sizeof info);
  PolicyState st;
  st.id.selector = from_raw(info.sel);
  st.id.dir = from_xfrm_dir(info.dir);
  st.priority = info.priority;
  st.index = info.index;
  st.lifetime.soft_seconds = info.lft.soft_add_expires_seconds;
  st.lifetime.hard_seconds = info.lft.hard_add_expires_seconds;
  for_each_attr(h, sizeof info, [&](uint16_t type, const uint8_t* d, size_t len) {
    if (type == XFRMA_TMPL) {
      st.templates = templates_from(d, len);
    } else if (type == XFRMA_MARK && len >= sizeof(xfrm_mark)) {
      xfrm_mark m;
      std::memcpy(&m, d, sizeof m);
      st.id.mark = Mark{m.v, m.m};
    }
  });
  st.kind = listed_kind(st.priority, info.action == XFRM_POLICY_BLOCK, !st.templates.empty(), own);
  st.own = policy_is_own(st.priority, st.templates, own);
  return st;
}

std::optional<Cipher> cipher_from(const char* name, unsigned key_bits) {
  std::string_view n(name);
  if (n == "rfc4106(gcm(aes))") {
    return key_bits == (16 + 4) * 8 ? Cipher::kAesGcm16_128 : Cipher::kAesGcm16_256;
  }
  if (n == "rfc7539esp(chacha20,poly1305)") {
    return Cipher::kChaCha20Poly1305;
  }
  if (n == "cbc(aes)") {
    return key_bits == 128 ? Cipher::kAesCbc128 : Cipher::kAesCbc256;
  }
  return std::nullopt;
}

Integrity integrity_from(const char* name) {
  std::string_view n(name);
  if (n == "hmac(sha256)") {
    return Integrity::kHmacSha256_128;
  }
  if (n == "hmac(sha384)") {
    return Integrity::kHmacSha384_192;
  }
  if (n == "hmac(sha512)") {
    return Integrity::kHmacSha512_256;
  }
  return Integrity::kNone;
}

uint64_t zero_if_inf(uint64_t v) {
  return v == XFRM_INF ? 0 : v;
}

std::optional<SaState> parse_sa(const nlmsghdr* h, const Ownership& own) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(xfrm_usersa_info))) {
    return std::nullopt;
  }
  xfrm_usersa_info info;
  std::memcpy(&info, NLMSG_DATA(h), sizeof info);
  SaState st;
  st.id = SaId{get_address(info.id.daddr, info.family), ntohl(info.id.spi), info.id.proto};
  st.src = get_address(info.saddr, info.family);
  st.mode = info.mode == XFRM_MODE_TUNNEL ? Mode::kTunnel : Mode::kTransport;
  st.reqid = info.reqid;
  st.replay_window = info.replay_window;
  st.esn = (info.flags & XFRM_STATE_ESN) != 0;
  st.lifetime =
      Lifetime{zero_if_inf(info.lft.soft_byte_limit),   zero_if_inf(info.lft.hard_byte_limit),
               zero_if_inf(info.lft.soft_packet_limit), zero_if_inf(info.lft.hard_packet_limit),
               info.lft.soft_add_expires_seconds,       info.lft.hard_add_expires_seconds};
  st.counters =
      Counters{info.curlft.bytes, info.curlft.packets, info.curlft.add_time, info.curlft.use_time};
  for_each_attr(h, sizeof info, [&](uint16_t type, const uint8_t* d, size_t len) {
    if (type == XFRMA_ALG_AEAD && len >= sizeof(xfrm_algo_aead)) {
      xfrm_algo_aead a;
      std::memcpy(&a, d, sizeof a);
      a.alg_name[sizeof a.alg_name - 1] = '\0';
      st.cipher = cipher_from(a.alg_name, a.alg_key_len);
    } else if (type == XFRMA_ALG_CRYPT && len >= sizeof(xfrm_algo)) {
      xfrm_algo a;
      std::memcpy(&a, d, sizeof a);
      a.alg_name[sizeof a.alg_name - 1] = '\0';
      st.cipher = cipher_from(a.alg_name, a.alg_key_len);
    } else if (type == XFRMA_ALG_AUTH_TRUNC && len >= sizeof(xfrm_algo_auth)) {
      xfrm_algo_auth a;
      std::memcpy(&a, d, sizeof a);
      a.alg_name[sizeof a.alg_name - 1] = '\0';
      st.integrity = integrity_from(a.alg_name);
    } else if (type == XFRMA_ENCAP && len >= sizeof(xfrm_encap_tmpl)) {
      xfrm_encap_tmpl e;
      std::memcpy(&e, d, sizeof e);
      st.encap = UdpEncap{ntohs(e.encap_sport), ntohs(e.encap_dport)};
    } else if (type == XFRMA_REPLAY_ESN_VAL && len >= sizeof(xfrm_replay_state_esn)) {
      xfrm_replay_state_esn r;
      std::memcpy(&r, d, sizeof r);
      st.replay_window = r.replay_window;
    } else if (type == XFRMA_MARK && len >= sizeof(xfrm_mark)) {
      xfrm_mark m;
      std::memcpy(&m, d, sizeof m);
      st.mark = Mark{m.v, m.m};
    }
  });
  st.own = own.owns_reqid(st.reqid);
  return st;
}

Error foreign(std::string what, std::string_view kind) {
  return Error{ErrorCode::kForeign, 0,
               what + ": the " + std::string(kind) +
                   " belongs to another program (outside ipsecd's markers); left untouched"};
}

}  // namespace

// ---- XfrmBackend ----

XfrmBackend::XfrmBackend(Ownership own, NetlinkSocket requests, NetlinkSocket events)
    : own_(own), requests_(std::move(requests)), events_(std::move(events)), rx_(1 << 20) {}

namespace {
Result<NetlinkSocket> open_socket(uint32_t groups, bool nonblocking) {
  int type = SOCK_RAW | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  NetlinkSocket s(::socket(AF_NETLINK, type, NETLINK_XFRM));
  if (s.fd() < 0) {
    return kernel_error(Subject::kEvents, "opening a NETLINK_XFRM socket", errno);
  }
  int one = 1;
  // Extended acks carry the kernel's own explanation; capped acks keep replies small.
  setsockopt(s.fd(), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(s.fd(), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  int size = kSocketBuffer;
  if (setsockopt(s.fd(), SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(s.fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  if (setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return kernel_error(Subject::kEvents, "binding the NETLINK_XFRM socket", errno);
  }
  return s;
}
}  // namespace

Result<std::unique_ptr<XfrmBackend>> XfrmBackend::open(Ownership ownership) {
  auto req = open_socket(0, false);
  if (!req.ok()) {
    return req.error();
  }
  uint32_t groups = (1u << (XFRMNLGRP_ACQUIRE - 1)) | (1u << (XFRMNLGRP_EXPIRE - 1));
  auto ev = open_socket(groups, true);
  if (!ev.ok()) {
    return ev.error();
  }
  return std::unique_ptr<XfrmBackend>(
      new XfrmBackend(ownership, std::move(req).value(), std::move(ev).value()));
}

std::vector<XfrmBackend::Reply> XfrmBackend::transact(std::vector<Bytes>& requests) {
  std::vector<Reply> replies(requests.size());
  size_t next = 0;
  while (next < requests.size()) {
    // Pack one datagram.
    Bytes datagram;
    uint32_t first_seq = seq_;
    size_t first = next;
    while (next < requests.size() &&
           (datagram.empty() || datagram.size() + requests[next].size() <= kMaxDatagram)) {
      auto* h = reinterpret_cast<nlmsghdr*>(requests[next].data());
      h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
      h->nlmsg_seq = seq_++;
      h->nlmsg_pid = 0;
      datagram.insert(datagram.end(), requests[next].begin(), requests[next].end());
      ++next;
    }
    size_t count = next - first;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = ::sendto(requests_.fd(), datagram.data(), datagram.size(), 0,
                            reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (sent < 0) {
      int err = errno;
      for (size_t i = first; i < next; ++i) {
        replies[i].err = err;
      }
      continue;
    }
    size_t answered = 0;
    std::vector<bool> done(count, false);
    while (answered < count) {
      ssize_t n = ::recv(requests_.fd(), rx_.data(), rx_.size(), 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        int err = errno;
        for (size_t i = 0; i < count; ++i) {
          if (!done[i]) {
            replies[first + i].err = err;
          }
        }
        break;
      }
      auto len = static_cast<size_t>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len)) {
        uint32_t idx = h->nlmsg_seq - first_seq;
        if (idx >= count) {
          continue;  // a stale answer to an earlier, abandoned exchange
        }
        Reply& r = replies[first + idx];
        if (h->nlmsg_type == NLMSG_ERROR) {
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
            continue;
          }
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
          r.err = -e->error;
          if ((h->nlmsg_flags & NLM_F_ACK_TLVS) != 0) {
            size_t fixed = sizeof(nlmsgerr);
            if ((h->nlmsg_flags & NLM_F_CAPPED) == 0) {
              fixed += e->msg.nlmsg_len - sizeof(nlmsghdr);
            }
            for_each_attr(h, fixed, [&](uint16_t type, const uint8_t* d, size_t alen) {
              if (type == NLMSGERR_ATTR_MSG && alen > 0) {
                r.ext_ack.assign(reinterpret_cast<const char*>(d),
                                 strnlen(reinterpret_cast<const char*>(d), alen));
              }
            });
          }
          if (!done[idx]) {
            done[idx] = true;
            ++answered;
          }
        } else {
          const auto* p = reinterpret_cast<const uint8_t*>(h);
          r.message.assign(p, p + h->nlmsg_len);
        }
      }
    }
  }
  return replies;
}

Result<std::vector<Bytes>> XfrmBackend::dump(uint16_t type, std::string_view what) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    // The kernel's dump request body is empty for SAs and policies.
    Bytes req = RawMessage(type, NLM_F_REQUEST | NLM_F_DUMP, nullptr, 0).finish();
    auto* h = reinterpret_cast<nlmsghdr*>(req.data());
    uint32_t seq = seq_++;
    h->nlmsg_seq = seq;
    if (::send(requests_.fd(), req.data(), req.size(), 0) < 0) {
      return kernel_error(Subject::kListing, what, errno);
    }
    std::vector<Bytes> out;
    bool interrupted = false;
    for (;;) {
      ssize_t n = ::recv(requests_.fd(), rx_.data(), rx_.size(), 0);
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        return kernel_error(Subject::kListing, what, errno);
      }
      auto len = static_cast<size_t>(n);
      bool finished = false;
      for (auto* m = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(m, len);
           m = NLMSG_NEXT(m, len)) {
        if (m->nlmsg_seq != seq) {
          continue;
        }
        if ((m->nlmsg_flags & NLM_F_DUMP_INTR) != 0) {
          interrupted = true;
        }
        if (m->nlmsg_type == NLMSG_DONE) {
          finished = true;
          break;
        }
        if (m->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(m));
          return kernel_error(Subject::kListing, what, -e->error);
        }
        const auto* p = reinterpret_cast<const uint8_t*>(m);
        out.emplace_back(p, p + m->nlmsg_len);
      }
      if (finished) {
        break;
      }
    }
    if (!interrupted) {
      return out;
    }
  }
  return Error{ErrorCode::kSystem, EINTR,
               std::string(what) + ": the kernel tables kept changing during three listings"};
}

std::vector<Status> XfrmBackend::apply(const Batch& batch) {
  const size_t n = batch.ops.size();
  std::vector<Status> results(n);
  std::vector<bool> settled(n, false);

  // Round trip 1: look up what updates and deletes would touch, to spare foreign objects.
  std::vector<Bytes> lookups;
  std::vector<size_t> lookup_op;
  for (size_t i = 0; i < n; ++i) {
    const auto& op = batch.ops[i];
    if (const auto* up = std::get_if<Batch::UpdatePolicy>(&op)) {
      lookups.push_back(policy_id_message(XFRM_MSG_GETPOLICY, up->spec.id));
    } else if (const auto* dp = std::get_if<Batch::DeletePolicy>(&op)) {
      lookups.push_back(policy_id_message(XFRM_MSG_GETPOLICY, dp->id));
    } else if (const auto* us = std::get_if<Batch::UpdateSa>(&op)) {
      lookups.push_back(sa_id_message(XFRM_MSG_GETSA, us->spec.id));
    } else if (const auto* ds = std::get_if<Batch::DeleteSa>(&op)) {
      lookups.push_back(sa_id_message(XFRM_MSG_GETSA, ds->id));
    } else {
      continue;
    }
    lookup_op.push_back(i);
  }
  if (!lookups.empty()) {
    auto found = transact(lookups);
    for (size_t k = 0; k < found.size(); ++k) {
      size_t i = lookup_op[k];
      const auto& op = batch.ops[i];
      const Reply& r = found[k];
      bool is_delete = std::holds_alternative<Batch::DeletePolicy>(op) ||
                       std::holds_alternative<Batch::DeleteSa>(op);
      bool is_policy = std::holds_alternative<Batch::DeletePolicy>(op) ||
                       std::holds_alternative<Batch::UpdatePolicy>(op);
      std::string what;
      if (const auto* dp = std::get_if<Batch::DeletePolicy>(&op)) {
        what = "deleting " + dp->id.str();
      } else if (const auto* up = std::get_if<Batch::UpdatePolicy>(&op)) {
        what = "updating " + up->spec.id.str();
      } else if (const auto* ds = std::get_if<Batch::DeleteSa>(&op)) {
        what = "deleting SA " + ds->id.str();
      } else {
        what = "updating SA " + std::get<Batch::UpdateSa>(op).spec.id.str();
      }
      if (r.err != 0 || r.message.empty()) {
        if (is_delete) {
          int err = r.err != 0 ? r.err : (is_policy ? ENOENT : ESRCH);
          results[i] = is_policy ? kernel_error(Subject::kPolicy, what, err, r.ext_ack)
                                 : sa_error(nullptr, what, err, r.ext_ack);
          settled[i] = true;
        }
        continue;
      }
      const auto* h = reinterpret_cast<const nlmsghdr*>(r.message.data());
      bool own = false;
      if (is_policy) {
        auto p = parse_policy(h, own_);
        own = p && p->own;
      } else {
        auto s = parse_sa(h, own_);
        own = s && s->own;
      }
      if (!own) {
        results[i] = foreign(what, is_policy ? "policy" : "SA");
        settled[i] = true;
      }
    }
  }

  // Round trip 2: the changes themselves.
  std::vector<Bytes> requests;
  std::vector<size_t> request_op;
  for (size_t i = 0; i < n; ++i) {
    if (settled[i]) {
      continue;
    }
    const auto& op = batch.ops[i];
    std::optional<Bytes> msg;
    Status invalid;
    if (const auto* as = std::get_if<Batch::AddSa>(&op)) {
      invalid = validate(as->spec, own_);
      msg = invalid.ok() ? encode_sa(as->spec, false) : std::nullopt;
    } else if (const auto* us = std::get_if<Batch::UpdateSa>(&op)) {
      invalid = validate(us->spec, own_);
      msg = invalid.ok() ? encode_sa(us->spec, true) : std::nullopt;
    } else if (const auto* ds = std::get_if<Batch::DeleteSa>(&op)) {
      msg = sa_id_message(XFRM_MSG_DELSA, ds->id);
    } else if (const auto* ap = std::get_if<Batch::AddPolicy>(&op)) {
      invalid = validate(ap->spec, own_);
      msg = invalid.ok() ? encode_policy(ap->spec, own_, false) : std::nullopt;
    } else if (const auto* up = std::get_if<Batch::UpdatePolicy>(&op)) {
      invalid = validate(up->spec, own_);
      msg = invalid.ok() ? encode_policy(up->spec, own_, true) : std::nullopt;
    } else {
      msg = policy_id_message(XFRM_MSG_DELPOLICY, std::get<Batch::DeletePolicy>(op).id);
    }
    if (!invalid.ok()) {
      results[i] = invalid;
      continue;
    }
    if (!msg) {
      results[i] = Error{ErrorCode::kResources, ENOMEM, "building a netlink message failed"};
      continue;
    }
    requests.push_back(std::move(*msg));
    request_op.push_back(i);
  }
  auto replies = transact(requests);
  for (size_t k = 0; k < replies.size(); ++k) {
    const Reply& r = replies[k];
    if (r.err == 0) {
      continue;
    }
    size_t i = request_op[k];
    const auto& op = batch.ops[i];
    if (const auto* as = std::get_if<Batch::AddSa>(&op)) {
      results[i] = sa_error(&as->spec, "adding SA " + as->spec.id.str(), r.err, r.ext_ack);
    } else if (const auto* us = std::get_if<Batch::UpdateSa>(&op)) {
      results[i] = sa_error(&us->spec, "updating SA " + us->spec.id.str(), r.err, r.ext_ack);
    } else if (const auto* ds = std::get_if<Batch::DeleteSa>(&op)) {
      results[i] = sa_error(nullptr, "deleting SA " + ds->id.str(), r.err, r.ext_ack);
    } else if (const auto* ap = std::get_if<Batch::AddPolicy>(&op)) {
      results[i] = kernel_error(Subject::kPolicy, "adding " + ap->spec.id.str(), r.err, r.ext_ack);
    } else if (const auto* up = std::get_if<Batch::UpdatePolicy>(&op)) {
      results[i] =
          kernel_error(Subject::kPolicy, "updating " + up->spec.id.str(), r.err, r.ext_ack);
    } else {
      const auto& id = std::get<Batch::DeletePolicy>(op).id;
      results[i] = kernel_error(Subject::kPolicy, "deleting " + id.str(), r.err, r.ext_ack);
    }
  }
  return results;
}

// One operation is a batch of one: the same messages, the same error texts.
Status XfrmBackend::apply_one(Batch::Op op) {
  Batch b;
  b.ops.push_back(std::move(op));
  return std::move(apply(b).front());
}

Status XfrmBackend::add_sa(const SaSpec& spec) {
  return apply_one(Batch::AddSa{spec});
}
Status XfrmBackend::update_sa(const SaSpec& spec) {
  return apply_one(Batch::UpdateSa{spec});
}
Status XfrmBackend::delete_sa(const SaId& id) {
  return apply_one(Batch::DeleteSa{id});
}
Status XfrmBackend::add_policy(const PolicySpec& spec) {
  return apply_one(Batch::AddPolicy{spec});
}
Status XfrmBackend::update_policy(const PolicySpec& spec) {
  return apply_one(Batch::UpdatePolicy{spec});
}
Status XfrmBackend::delete_policy(const PolicyId& id) {
  return apply_one(Batch::DeletePolicy{id});
}

Result<SaState> XfrmBackend::get_sa(const SaId& id) {
  std::vector<Bytes> req{sa_id_message(XFRM_MSG_GETSA, id)};
  auto r = transact(req);
  std::string what = "getting SA " + id.str();
  if (r[0].err != 0 || r[0].message.empty()) {
    return sa_error(nullptr, what, r[0].err != 0 ? r[0].err : ESRCH, r[0].ext_ack);
  }
  auto st = parse_sa(reinterpret_cast<const nlmsghdr*>(r[0].message.data()), own_);
  if (!st) {
    return Error{ErrorCode::kSystem, 0, what + ": the kernel's answer was too short to parse"};
  }
  return *st;
}

Result<PolicyState> XfrmBackend::get_policy(const PolicyId& id) {
  std::vector<Bytes> req{policy_id_message(XFRM_MSG_GETPOLICY, id)};
  auto r = transact(req);
  std::string what = "getting " + id.str();
  if (r[0].err != 0 || r[0].message.empty()) {
    return kernel_error(Subject::kPolicy, what, r[0].err != 0 ? r[0].err : ENOENT, r[0].ext_ack);
  }
  auto st = parse_policy(reinterpret_cast<const nlmsghdr*>(r[0].message.data()), own_);
  if (!st) {
    return Error{ErrorCode::kSystem, 0, what + ": the kernel's answer was too short to parse"};
  }
  return *st;
}

Result<std::vector<SaState>> XfrmBackend::list_sas() {
  auto msgs = dump(XFRM_MSG_GETSA, "listing SAs");
  if (!msgs.ok()) {
    return msgs.error();
  }
  std::vector<SaState> out;
  for (const auto& m : msgs.value()) {
    auto st = parse_sa(reinterpret_cast<const nlmsghdr*>(m.data()), own_);
    // SPI 0 marks the kernel's own larval SAs of pending ACQUIREs, not a table entry.
    if (st && st->id.spi != 0) {
      out.push_back(std::move(*st));
    }
  }
  return out;
}

Result<std::vector<PolicyState>> XfrmBackend::list_policies() {
  auto msgs = dump(XFRM_MSG_GETPOLICY, "listing policies");
  if (!msgs.ok()) {
    return msgs.error();
  }
  std::vector<PolicyState> out;
  out.reserve(msgs->size());
  for (const auto& m : msgs.value()) {
    const auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
    auto st = parse_policy(h, own_);
    // Per-socket policies (dir >= XFRM_POLICY_MAX) are not table entries.
    if (st && h->nlmsg_len >= NLMSG_LENGTH(sizeof(xfrm_userpolicy_info)) &&
        static_cast<const xfrm_userpolicy_info*>(NLMSG_DATA(h))->dir < XFRM_POLICY_MAX) {
      out.push_back(std::move(*st));
    }
  }
  return out;
}

Result<uint32_t> XfrmBackend::allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                           uint32_t min, uint32_t max) {
  std::string what = "allocating an SPI for reqid " + std::to_string(reqid) + " to " + dst.str();
  if (!own_.owns_reqid(reqid)) {
    return Error{ErrorCode::kInvalid, 0,
                 what + ": reqid is outside ipsecd's range (kernel-ownership in the state dir)"};
  }
  if (src.family() != dst.family() || min > max || min < 0x100) {
    return kernel_error(Subject::kSpi, what, EINVAL,
                        "addresses must share a family and the SPI range be 256 or above");
  }
  xfrm_userspi_info info{};
  put_address(&info.info.id.daddr, dst);
  put_address(&info.info.saddr, src);
  info.info.id.proto = kProtoEsp;
  info.info.family = static_cast<uint16_t>(af(dst.family()));
  info.info.reqid = reqid;
  info.info.mode = XFRM_MODE_TRANSPORT;
  info.min = min;
  info.max = max;
  std::vector<Bytes> req{RawMessage(XFRM_MSG_ALLOCSPI, 0, &info, sizeof info).finish()};
  auto r = transact(req);
  if (r[0].err != 0 || r[0].message.empty()) {
    return kernel_error(Subject::kSpi, what, r[0].err != 0 ? r[0].err : ENOENT, r[0].ext_ack);
  }
  auto st = parse_sa(reinterpret_cast<const nlmsghdr*>(r[0].message.data()), own_);
  if (!st) {
    return Error{ErrorCode::kSystem, 0, what + ": the kernel's answer was too short to parse"};
  }
  return st->id.spi;
}

std::vector<Event> XfrmBackend::read_events(std::chrono::milliseconds timeout) {
  std::vector<Event> out;
  pollfd p{events_.fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    return out;
  }
  for (;;) {
    ssize_t n = ::recv(events_.fd(), rx_.data(), rx_.size(), MSG_DONTWAIT);
    if (n <= 0) {
      break;
    }
    auto len = static_cast<size_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(rx_.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == XFRM_MSG_ACQUIRE &&
          h->nlmsg_len >= NLMSG_LENGTH(sizeof(xfrm_user_acquire))) {
        xfrm_user_acquire a;
        std::memcpy(&a, NLMSG_DATA(h), sizeof a);
        AcquireEvent ev;
        ev.flow = from_raw(a.sel);
        ev.policy.selector = from_raw(a.policy.sel);
        ev.policy.dir = from_xfrm_dir(a.policy.dir);
        std::vector<Template> tmpls;
        for_each_attr(h, sizeof a, [&](uint16_t type, const uint8_t* d, size_t alen) {
          if (type == XFRMA_TMPL) {
            tmpls = templates_from(d, alen);
          } else if (type == XFRMA_MARK && alen >= sizeof(xfrm_mark)) {
            xfrm_mark m;
            std::memcpy(&m, d, sizeof m);
            ev.policy.mark = Mark{m.v, m.m};
          }
        });
        int family = tmpls.empty() ? a.policy.sel.family : af(tmpls[0].dst.family());
        ev.tmpl.dst = get_address(a.id.daddr, family);
        ev.tmpl.src = get_address(a.saddr, family);
        ev.tmpl.proto = a.id.proto;
        if (!tmpls.empty()) {
          ev.tmpl.mode = tmpls[0].mode;
          ev.tmpl.reqid = tmpls[0].reqid;
        }
        out.emplace_back(std::move(ev));
      } else if (h->nlmsg_type == XFRM_MSG_EXPIRE &&
                 h->nlmsg_len >= NLMSG_LENGTH(sizeof(xfrm_user_expire))) {
        xfrm_user_expire x;
        std::memcpy(&x, NLMSG_DATA(h), sizeof x);
        ExpireEvent ev;
        ev.sa = SaId{get_address(x.state.id.daddr, x.state.family), ntohl(x.state.id.spi),
                     x.state.id.proto};
        ev.reqid = x.state.reqid;
        ev.hard = x.hard != 0;
        out.emplace_back(ev);
      } else if (h->nlmsg_type == XFRM_MSG_POLEXPIRE &&
                 h->nlmsg_len >= NLMSG_LENGTH(sizeof(xfrm_user_polexpire))) {
        xfrm_user_polexpire x;
        std::memcpy(&x, NLMSG_DATA(h), sizeof x);
        PolicyExpireEvent ev;
        ev.policy.selector = from_raw(x.pol.sel);
        ev.policy.dir = from_xfrm_dir(x.pol.dir);
        for_each_attr(h, sizeof x, [&](uint16_t type, const uint8_t* d, size_t alen) {
          if (type == XFRMA_MARK && alen >= sizeof(xfrm_mark)) {
            xfrm_mark m;
            std::memcpy(&m, d, sizeof m);
            ev.policy.mark = Mark{m.v, m.m};
          }
        });
        ev.hard = x.hard != 0;
        out.emplace_back(ev);
      }
    }
  }
  return out;
}

}  // namespace ipsecd::kernel
