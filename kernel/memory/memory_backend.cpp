#include "kernel/memory/memory_backend.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <random>
#include <thread>

namespace ipsecd::kernel {

namespace {

struct AddrPair {
  Address src;
  Address dst;
  friend bool operator==(const AddrPair&, const AddrPair&) = default;
};
struct AddrPairHash {
  size_t operator()(const AddrPair& p) const { return p.src.hash() * 1000003u ^ p.dst.hash(); }
};

// A larval SA the kernel keeps after an ACQUIRE so that more packets do not raise more.
struct AcquireKey {
  Address src;
  Address dst;
  uint32_t reqid = 0;
  friend bool operator==(const AcquireKey&, const AcquireKey&) = default;
};
struct AcquireKeyHash {
  size_t operator()(const AcquireKey& k) const {
    return k.src.hash() * 31 ^ k.dst.hash() ^ (static_cast<size_t>(k.reqid) << 7);
  }
};

// Fields a packet touches come first, next to each other in memory.
struct SaEntry {
  Counters counters;
  bool larval = false;  // from allocate_spi: SPI reserved, no keys yet
  bool soft_fired = false;
  uint64_t gen = 0;
  SaSpec spec;
};

// Fields a packet touches come first, next to each other in memory.
struct PolicyEntry {
  uint32_t priority = 0;
  uint32_t index = 0;
  uint64_t gen = 0;             // also insertion order: older wins a priority tie, as in XFRM
  PolicyEntry* next = nullptr;  // the next policy with the same masked address pair
  // The SA the (single) template resolved to, valid while the SA table's epoch is unchanged.
  SaEntry* sa_cache = nullptr;
  uint64_t sa_cache_epoch = 0;
  SaId sa_cache_id;
  PolicySpec spec;
  uint64_t add_time = 0;
};

bool is_exact(const Selector& s) {
  return s.src.len == s.src.addr.max_prefix() && s.dst.len == s.dst.addr.max_prefix();
}

// Policies of one direction and family with the same prefix lengths, hashed by masked addresses.
struct MaskClass {
  Family family;
  uint8_t slen;
  uint8_t dlen;
  size_t count = 0;
  std::unordered_map<AddrPair, PolicyEntry*, AddrPairHash> buckets;  // chains through `next`
};

// Policies whose selectors name two hosts (/32 or /128 on both sides), by address pair: one probe
// in a flat, open-addressed table instead of node-hopping or a scan over prefix-length groups.
class ExactIndex {
 public:
  PolicyEntry* find(const AddrPair& k) const {
    if (slots_.empty()) {
      return nullptr;
    }
    size_t h = hash(k);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.head == nullptr) {
        return nullptr;
      }
      if (s.hash == h && s.key == k) {
        return s.head;
      }
    }
  }

  // Puts p at the front of its address pair's chain.
  void insert(const AddrPair& k, PolicyEntry* p) {
    reserve(used_ + 1);
    size_t h = hash(k);
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.head == nullptr) {
        p->next = nullptr;
        s = Slot{h, k, p};
        ++used_;
        return;
      }
      if (s.hash == h && s.key == k) {
        p->next = s.head;
        s.head = p;
        return;
      }
    }
  }

  void remove(const AddrPair& k, PolicyEntry* p) {
    if (slots_.empty()) {
      return;
    }
    size_t h = hash(k);
    size_t mask = slots_.size() - 1;
    size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      if (slots_[i].head == nullptr) {
        return;
      }
      if (slots_[i].hash == h && slots_[i].key == k) {
        break;
      }
    }
    for (PolicyEntry** link = &slots_[i].head; *link != nullptr; link = &(*link)->next) {
      if (*link == p) {
        *link = p->next;
        break;
      }
    }
    if (slots_[i].head != nullptr) {
      return;
    }
    // Backward-shift deletion keeps every remaining key reachable from its home slot.
    for (size_t j = (i + 1) & mask; slots_[j].head != nullptr; j = (j + 1) & mask) {
      size_t home = slots_[j].hash & mask;
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --used_;
  }

  // Makes room for n address pairs without rehashing (load factor at most 1/2).
  void reserve(size_t n) {
    if (n * 2 <= slots_.size()) {
      return;
    }
    size_t cap = 16;
    while (cap < n * 2) {
      cap *= 2;
    }
    std::vector<Slot> old(cap);
    old.swap(slots_);
    size_t mask = cap - 1;
    for (const Slot& s : old) {
      if (s.head == nullptr) {
        continue;
      }
      size_t i = s.hash & mask;
      while (slots_[i].head != nullptr) {
        i = (i + 1) & mask;
      }
      slots_[i] = s;
    }
  }
  size_t size() const { return used_; }

 private:
  struct Slot {
    size_t hash = 0;
    AddrPair key;
    PolicyEntry* head = nullptr;  // empty slot when null
  };
  static size_t hash(const AddrPair& k) {
    size_t h = k.src.hash() * 0x9e3779b97f4a7c15ull ^ k.dst.hash();
    return h ^ (h >> 31);
  }
  std::vector<Slot> slots_;
  size_t used_ = 0;
};

enum class DeadlineKind : uint8_t { kSaSoft, kSaHard, kLarval, kPolicySoft, kPolicyHard };
struct Deadline {
  DeadlineKind kind;
  uint64_t gen;
  SaId sa;
  PolicyId policy;
};

uint64_t wall_seconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

struct MemoryKernel::Impl {
  SecondsClock clock;
  KernelFeatures features;
  std::mutex mu;

  using SaMap = std::unordered_map<SaId, SaEntry>;
  SaMap sas;
  std::unordered_map<uint32_t, std::vector<SaId>> sas_by_reqid;
  std::unordered_map<PolicyId, PolicyEntry> policies;
  std::vector<MaskClass> classes[3];  // by direction
  ExactIndex exact[3];                // by direction
  uint64_t sa_epoch = 1;  // changes with every SA table change; invalidates policy SA caches
  std::unordered_map<AcquireKey, uint64_t, AcquireKeyHash> acquires;  // key -> expiry
  std::unordered_map<AcquireKey, SaId, AcquireKeyHash> larval_spis;
  std::multimap<uint64_t, Deadline> deadlines;
  uint64_t next_gen = 1;
  uint32_t next_index = 8;
  std::mt19937 rng{0x1a5e5u};

  std::deque<Event> events;
  int efd = -1;

  uint64_t calls = 0;
  uint64_t fail_at = 0;
  int fail_errno = 0;
  std::chrono::microseconds latency{0};

  uint64_t now() const { return clock ? clock() : wall_seconds(); }

  void emit(Event e) {
    events.push_back(std::move(e));
    uint64_t one = 1;
    // The eventfd counter only signals readability; a failed write means it is already set.
    [[maybe_unused]] auto n = ::write(efd, &one, sizeof one);
  }

  // Counts one kernel operation; returns the errno to fail it with, if a fault is armed for it.
  int fault() {
    ++calls;
    if (fail_at != 0 && calls == fail_at) {
      fail_at = 0;
      return fail_errno;
    }
    return 0;
  }

  // ---- SA table ----

  void index_sa(const SaId& id, uint32_t reqid) { sas_by_reqid[reqid].push_back(id); }
  void unindex_sa(const SaId& id, uint32_t reqid) {
    auto it = sas_by_reqid.find(reqid);
    if (it == sas_by_reqid.end()) {
      return;
    }
    auto& v = it->second;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i] == id) {
        v[i] = v.back();
        v.pop_back();
        break;
      }
    }
    if (v.empty()) {
      sas_by_reqid.erase(it);
    }
  }

  void erase_sa(SaMap::iterator it) {
    if (it->second.larval) {
      larval_spis.erase(AcquireKey{it->second.spec.src, it->first.dst, it->second.spec.reqid});
    }
    unindex_sa(it->first, it->second.spec.reqid);
    sas.erase(it);
    ++sa_epoch;
  }

  void schedule_sa(const SaId& id, const SaEntry& e) {
    const Lifetime& l = e.spec.lifetime;
    uint64_t base = e.counters.add_time;
    if (e.larval) {
      deadlines.emplace(base + features.acquire_expires,
                        Deadline{DeadlineKind::kLarval, e.gen, id, {}});
      return;
    }
    if (l.soft_seconds != 0) {
      deadlines.emplace(base + l.soft_seconds, Deadline{DeadlineKind::kSaSoft, e.gen, id, {}});
    }
    if (l.hard_seconds != 0) {
      deadlines.emplace(base + l.hard_seconds, Deadline{DeadlineKind::kSaHard, e.gen, id, {}});
    }
  }

  // Checks algorithm and protocol support in the order the kernel does: algorithms first.
  int unsupported(const SaSpec& s) const {
    if ((s.cipher == Cipher::kAesGcm16_128 || s.cipher == Cipher::kAesGcm16_256) && !features.gcm) {
      return ENOSYS;
    }
    if (s.cipher == Cipher::kChaCha20Poly1305 && !features.chacha) {
      return ENOSYS;
    }
    if (!features.esp) {
      return EPROTONOSUPPORT;
    }
    return 0;
  }

  // What adding or updating an SA checks first, in the kernel's order: the spec, an injected
  // fault, then algorithm and protocol support. The message is built only on failure.
  Status admit(const SaSpec& s, const Ownership& own, std::string_view verb) {
    if (auto v = validate(s, own); !v.ok()) {
      return v;
    }
    int err = fault();
    if (err == 0) {
      err = unsupported(s);
    }
    return err == 0 ? Status{} : sa_error(&s, std::string(verb) + " SA " + s.id.str(), err);
  }

  // The SA an update or a delete names, or why it may not be touched.
  Result<SaMap::iterator> owned_sa(const SaId& id, const Ownership& own, std::string_view verb) {
    auto what = [&] { return std::string(verb) + " SA " + id.str(); };
    auto it = sas.find(id);
    if (it == sas.end()) {
      return sa_error(nullptr, what(), ESRCH);
    }
    if (!own.owns_reqid(it->second.spec.reqid)) {
      return Error{ErrorCode::kForeign, 0, what() + ": the SA belongs to another program"};
    }
    return it;
  }

  Status add_sa(const SaSpec& s, const Ownership& own) {
    if (auto a = admit(s, own, "adding"); !a.ok()) {
      return a;
    }
    if (sas.contains(s.id)) {
      return sa_error(&s, "adding SA " + s.id.str(), EEXIST);
    }
    SaEntry e;
    e.spec = s;
    e.counters.add_time = now();
    e.gen = next_gen++;
    acquires.erase(AcquireKey{s.src, s.id.dst, s.reqid});
    schedule_sa(s.id, e);
    index_sa(s.id, s.reqid);
    sas.emplace(s.id, std::move(e));
    ++sa_epoch;
    return {};
  }

  Status update_sa(const SaSpec& s, const Ownership& own) {
    if (auto a = admit(s, own, "updating"); !a.ok()) {
      return a;
    }
    auto it = owned_sa(s.id, own, "updating");
    if (!it.ok()) {
      return it.error();
    }
    SaEntry& e = it.value()->second;
    if (e.larval) {
      // Installing keys into the SPI reserved earlier: the SA starts its life now.
      larval_spis.erase(AcquireKey{e.spec.src, s.id.dst, e.spec.reqid});
      unindex_sa(s.id, e.spec.reqid);
      e.spec = s;
      e.larval = false;
      e.counters.add_time = now();
      index_sa(s.id, s.reqid);
    } else {
      // A valid SA keeps its keys; only lifetimes and the NAT-T ports change, as in XFRM.
      e.spec.lifetime = s.lifetime;
      e.spec.encap = s.encap;
    }
    e.gen = next_gen++;
    e.soft_fired = false;
    ++sa_epoch;
    schedule_sa(s.id, e);
    return {};
  }

  Status delete_sa(const SaId& id, const Ownership& own) {
    if (int err = fault(); err != 0) {
      return sa_error(nullptr, "deleting SA " + id.str(), err);
    }
    auto it = owned_sa(id, own, "deleting");
    if (!it.ok()) {
      return it.error();
    }
    erase_sa(it.value());
    return {};
  }

  SaState state_of(const SaId& id, const SaEntry& e, const Ownership& own) const {
    SaState st;
    st.id = id;
    st.src = e.spec.src;
    st.mode = e.spec.mode;
    st.reqid = e.spec.reqid;
    if (!e.larval) {
      st.cipher = e.spec.cipher;
      st.integrity = e.spec.integrity;
      st.encap = e.spec.encap;
      st.replay_window = e.spec.replay_window;
      st.esn = e.spec.esn;
      st.lifetime = e.spec.lifetime;
      st.mark = e.spec.mark;
    }
    st.counters = e.counters;
    st.own = own.owns_reqid(e.spec.reqid);
    return st;
  }

  Result<uint32_t> allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                uint32_t min, uint32_t max, const Ownership& own) {
    auto what = [&] {
      return "allocating an SPI for reqid " + std::to_string(reqid) + " to " + dst.str();
    };
    if (!own.owns_reqid(reqid)) {
      return Error{
          ErrorCode::kInvalid, 0,
          what() + ": reqid is outside ipsecd's range (kernel-ownership in the state dir)"};
    }
    if (src.family() != dst.family() || min > max || min < 0x100) {
      return kernel_error(Subject::kSpi, what(), EINVAL,
                          "addresses must share a family and the SPI range be 256 or above");
    }
    if (int err = fault(); err != 0) {
      return kernel_error(Subject::kSpi, what(), err);
    }
    AcquireKey key{src, dst, reqid};
    SaId id{dst, 0, kProtoEsp};
    std::uniform_int_distribution<uint32_t> dist(min, max);
    uint64_t span = static_cast<uint64_t>(max) - min + 1;
    uint64_t tries = span < 100 ? span * 4 : 100;
    bool found = false;
    for (uint64_t i = 0; i < tries && !found; ++i) {
      id.spi = dist(rng);
      found = !sas.contains(id);
    }
    if (!found) {
      return kernel_error(Subject::kSpi, what(), ENOENT);
    }
    SaEntry e;
    e.spec.id = id;
    e.spec.src = src;
    e.spec.reqid = reqid;
    e.spec.mode = Mode::kTransport;
    e.larval = true;
    e.counters.add_time = now();
    e.gen = next_gen++;
    schedule_sa(id, e);
    index_sa(id, reqid);
    larval_spis[key] = id;
    sas.emplace(id, std::move(e));
    ++sa_epoch;
    return id.spi;
  }

  // ---- policy table ----

  MaskClass& class_for(Direction dir, const Selector& sel) {
    auto& v = classes[static_cast<int>(dir)];
    for (auto& c : v) {
      if (c.family == sel.family() && c.slen == sel.src.len && c.dlen == sel.dst.len) {
        return c;
      }
    }
    v.push_back(MaskClass{sel.family(), sel.src.len, sel.dst.len, 0, {}});
    return v.back();
  }

  void link(PolicyEntry* p) {
    const Selector& sel = p->spec.id.selector;
    p->sa_cache = nullptr;
    if (is_exact(sel)) {
      exact[static_cast<int>(p->spec.id.dir)].insert(AddrPair{sel.src.addr, sel.dst.addr}, p);
      return;
    }
    MaskClass& c = class_for(p->spec.id.dir, sel);
    PolicyEntry*& head = c.buckets[AddrPair{sel.src.addr, sel.dst.addr}];
    p->next = head;
    head = p;
    ++c.count;
  }

  void unlink(PolicyEntry* p) {
    const Selector& sel = p->spec.id.selector;
    if (is_exact(sel)) {
      exact[static_cast<int>(p->spec.id.dir)].remove(AddrPair{sel.src.addr, sel.dst.addr}, p);
      return;
    }
    auto& v = classes[static_cast<int>(p->spec.id.dir)];
    for (size_t ci = 0; ci < v.size(); ++ci) {
      MaskClass& c = v[ci];
      if (c.family != sel.family() || c.slen != sel.src.len || c.dlen != sel.dst.len) {
        continue;
      }
      auto b = c.buckets.find(AddrPair{sel.src.addr, sel.dst.addr});
      if (b != c.buckets.end()) {
        for (PolicyEntry** link = &b->second; *link != nullptr; link = &(*link)->next) {
          if (*link == p) {
            *link = p->next;
            break;
          }
        }
        if (b->second == nullptr) {
          c.buckets.erase(b);
        }
      }
      if (--c.count == 0) {
        v.erase(v.begin() + static_cast<std::ptrdiff_t>(ci));
      }
      return;
    }
  }

  void schedule_policy(const PolicyEntry& p) {
    const Lifetime& l = p.spec.lifetime;
    if (l.soft_seconds != 0) {
      deadlines.emplace(p.add_time + l.soft_seconds,
                        Deadline{DeadlineKind::kPolicySoft, p.gen, {}, p.spec.id});
    }
    if (l.hard_seconds != 0) {
      deadlines.emplace(p.add_time + l.hard_seconds,
                        Deadline{DeadlineKind::kPolicyHard, p.gen, {}, p.spec.id});
    }
  }

  Status put_policy(const PolicySpec& s, const Ownership& own, bool replace) {
    auto what = [&s, replace] {
      return std::string(replace ? "updating " : "adding ") + s.id.str();
    };
    if (auto v = validate(s, own); !v.ok()) {
      return v;
    }
    if (int err = fault(); err != 0) {
      return kernel_error(Subject::kPolicy, what(), err);
    }
    uint32_t priority = s.priority ? *s.priority : derived_priority(s.id.selector, s.kind, own);
    // One hash lookup finds the existing policy or makes the slot for the new one.
    auto [it, inserted] = policies.try_emplace(s.id);
    PolicyEntry& e = it->second;
    if (!inserted) {
      if (!replace) {
        return kernel_error(Subject::kPolicy, what(), EEXIST);
      }
      if (!policy_is_own(e.priority, e.spec.templates, own)) {
        return Error{ErrorCode::kForeign, 0, what() + ": the policy belongs to another program"};
      }
      // Replacing keeps the kernel index but re-sorts by the new priority.
      unlink(&e);
    } else {
      e.index = next_index | static_cast<uint32_t>(s.id.dir);
      next_index += 8;
    }
    e.spec = s;
    e.priority = priority;
    e.add_time = now();
    e.gen = next_gen++;
    link(&e);
    schedule_policy(e);
    return {};
  }

  Status delete_policy(const PolicyId& id, const Ownership& own) {
    auto what = [&id] { return "deleting " + id.str(); };
    if (int err = fault(); err != 0) {
      return kernel_error(Subject::kPolicy, what(), err);
    }
    auto it = policies.find(id);
    if (it == policies.end()) {
      return kernel_error(Subject::kPolicy, what(), ENOENT);
    }
    if (!policy_is_own(it->second.priority, it->second.spec.templates, own)) {
      return Error{ErrorCode::kForeign, 0, what() + ": the policy belongs to another program"};
    }
    unlink(&it->second);
    policies.erase(it);
    return {};
  }

  PolicyState state_of(const PolicyEntry& p, const Ownership& own) const {
    PolicyState st;
    st.id = p.spec.id;
    bool block = p.spec.kind == PolicyKind::kHold || p.spec.kind == PolicyKind::kDrop ||
                 p.spec.kind == PolicyKind::kReject;
    st.kind = listed_kind(p.priority, block, !p.spec.templates.empty(), own);
    st.templates = p.spec.templates;
    st.priority = p.priority;
    st.index = p.index;
    st.lifetime = p.spec.lifetime;
    st.own = policy_is_own(p.priority, p.spec.templates, own);
    return st;
  }

  // ---- simulated traffic ----

  // Best match in a chain of policies sharing an address pair: protocol, ports and mark decide
  // whether one applies, then the lowest priority (older first on a tie) wins.
  static PolicyEntry* best_of(PolicyEntry* chain, const Packet& pk, PolicyEntry* best) {
    for (PolicyEntry* p = chain; p != nullptr; p = p->next) {
      const Selector& s = p->spec.id.selector;
      const Mark& m = p->spec.id.mark;
      if ((s.proto != 0 && s.proto != pk.proto) || (s.sport != 0 && s.sport != pk.sport) ||
          (s.dport != 0 && s.dport != pk.dport) || (pk.mark & m.mask) != m.value) {
        continue;
      }
      if (best == nullptr || p->priority < best->priority ||
          (p->priority == best->priority && p->gen < best->gen)) {
        best = p;
      }
    }
    return best;
  }

  PolicyEntry* lookup(const Packet& pk) const {
    int dir = static_cast<int>(pk.dir);
    // Host-to-host policies first; prefix groups may still win with a lower priority number.
    PolicyEntry* best = best_of(exact[dir].find(AddrPair{pk.src, pk.dst}), pk, nullptr);
    for (const auto& c : classes[dir]) {
      if (c.family != pk.src.family()) {
        continue;
      }
      auto b = c.buckets.find(AddrPair{pk.src.masked(c.slen), pk.dst.masked(c.dlen)});
      if (b != c.buckets.end()) {
        best = best_of(b->second, pk, best);
      }
    }
    return best;
  }

  SaEntry* find_sa(const Template& t, const Address& src, const Address& dst, SaId* id_out) {
    auto it = sas_by_reqid.find(t.reqid);
    if (it == sas_by_reqid.end()) {
      return nullptr;
    }
    // The newest matching SA, as XFRM picks: after a rekey the new outbound
    // SA takes the traffic while the old one is still installed.
    SaEntry* found = nullptr;
    for (const SaId& id : it->second) {
      auto s = sas.find(id);
      if (s == sas.end() || s->second.larval) {
        continue;
      }
      const SaSpec& sp = s->second.spec;
      if (sp.id.dst == dst && sp.src == src && sp.mode == t.mode &&
          (found == nullptr || s->second.gen > found->gen)) {
        *id_out = id;
        found = &s->second;
      }
    }
    return found;
  }

  void account(const SaId& id, SaEntry& e, uint32_t bytes, uint64_t t_now) {
    e.counters.bytes += bytes;
    e.counters.packets += 1;
    e.counters.use_time = t_now;
    const Lifetime& l = e.spec.lifetime;
    bool hard = (l.hard_bytes != 0 && e.counters.bytes >= l.hard_bytes) ||
                (l.hard_packets != 0 && e.counters.packets >= l.hard_packets);
    bool soft = (l.soft_bytes != 0 && e.counters.bytes >= l.soft_bytes) ||
                (l.soft_packets != 0 && e.counters.packets >= l.soft_packets);
    if (hard) {
      emit(ExpireEvent{id, e.spec.reqid, true});
      erase_sa(sas.find(id));
    } else if (soft && !e.soft_fired) {
      e.soft_fired = true;
      emit(ExpireEvent{id, e.spec.reqid, false});
    }
  }

  PacketResult send(const Packet& pk, uint64_t t_now) {
    PacketResult r;
    PolicyEntry* p = lookup(pk);
    if (p == nullptr) {
      return r;
    }
    r.policy = p->spec.id;
    r.kind = p->spec.kind;
    switch (p->spec.kind) {
      case PolicyKind::kPass:
        return r;
      case PolicyKind::kDrop:
        r.verdict = Verdict::kDropped;
        return r;
      case PolicyKind::kReject:
        r.verdict = Verdict::kRejected;
        return r;
      case PolicyKind::kHold:
        r.verdict = Verdict::kHeld;
        return r;
      case PolicyKind::kProtect:
      case PolicyKind::kTrap:
        break;
    }
    // The common case, one tunnel-mode template whose SA was found before: no search.
    bool single_tunnel = p->spec.templates.size() == 1;
    if (single_tunnel && p->sa_cache != nullptr && p->sa_cache_epoch == sa_epoch) {
      r.verdict = Verdict::kProtected;
      r.sa = p->sa_cache_id;
      account(p->sa_cache_id, *p->sa_cache, pk.bytes, t_now);
      return r;
    }
    // A bundle: every template needs its SA; the outermost carries the packet.
    for (const Template& t : p->spec.templates) {
      Address src = t.mode == Mode::kTunnel ? t.src : pk.src;
      Address dst = t.mode == Mode::kTunnel ? t.dst : pk.dst;
      SaId id;
      SaEntry* sa = find_sa(t, src, dst, &id);
      if (sa != nullptr) {
        r.verdict = Verdict::kProtected;
        r.sa = id;
        if (single_tunnel && t.mode == Mode::kTunnel) {
          p->sa_cache = sa;
          p->sa_cache_id = id;
          p->sa_cache_epoch = sa_epoch;
        }
        account(id, *sa, pk.bytes, t_now);
        continue;
      }
      r.sa.reset();
      if (pk.dir != Direction::kOut) {
        r.verdict = Verdict::kDropped;
        return r;
      }
      AcquireKey key{src, dst, t.reqid};
      auto a = acquires.find(key);
      if (a != acquires.end() && a->second > t_now) {
        r.verdict = Verdict::kHeld;
        return r;
      }
      acquires[key] = t_now + features.acquire_expires;
      Template sent = t;
      sent.src = src;
      sent.dst = dst;
      Selector flow{Prefix::host(pk.src), Prefix::host(pk.dst), pk.proto, pk.sport, pk.dport};
      emit(AcquireEvent{p->spec.id, sent, flow});
      r.verdict = Verdict::kAcquire;
      return r;
    }
    return r;
  }

  void tick() { tick(now()); }
  void tick(uint64_t t) {
    while (!deadlines.empty() && deadlines.begin()->first <= t) {
      Deadline d = deadlines.begin()->second;
      deadlines.erase(deadlines.begin());
      switch (d.kind) {
        case DeadlineKind::kSaSoft:
        case DeadlineKind::kSaHard:
        case DeadlineKind::kLarval: {
          auto it = sas.find(d.sa);
          if (it == sas.end() || it->second.gen != d.gen) {
            break;
          }
          if (d.kind == DeadlineKind::kSaSoft) {
            if (!it->second.soft_fired) {
              it->second.soft_fired = true;
              emit(ExpireEvent{d.sa, it->second.spec.reqid, false});
            }
          } else {
            emit(ExpireEvent{d.sa, it->second.spec.reqid, true});
            erase_sa(it);
          }
          break;
        }
        case DeadlineKind::kPolicySoft:
        case DeadlineKind::kPolicyHard: {
          auto it = policies.find(d.policy);
          if (it == policies.end() || it->second.gen != d.gen) {
            break;
          }
          bool hard = d.kind == DeadlineKind::kPolicyHard;
          emit(PolicyExpireEvent{d.policy, hard});
          if (hard) {
            unlink(&it->second);
            policies.erase(it);
          }
          break;
        }
      }
    }
  }
};

MemoryKernel::MemoryKernel(SecondsClock clock, KernelFeatures features)
    : impl_(std::make_unique<Impl>()) {
  impl_->clock = std::move(clock);
  impl_->features = features;
  impl_->efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

MemoryKernel::~MemoryKernel() {
  if (impl_->efd >= 0) {
    ::close(impl_->efd);
  }
}

PacketResult MemoryKernel::send(const Packet& packet) {
  std::lock_guard lock(impl_->mu);
  uint64_t t = impl_->now();
  impl_->tick(t);
  return impl_->send(packet, t);
}

void MemoryKernel::tick() {
  std::lock_guard lock(impl_->mu);
  impl_->tick();
}

void MemoryKernel::fail_nth_call(uint64_t nth, int err) {
  std::lock_guard lock(impl_->mu);
  impl_->fail_at = nth == 0 ? 0 : impl_->calls + nth;
  impl_->fail_errno = err;
}

void MemoryKernel::set_latency(std::chrono::microseconds latency) {
  std::lock_guard lock(impl_->mu);
  impl_->latency = latency;
}

size_t MemoryKernel::sa_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sas.size();
}

size_t MemoryKernel::policy_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->policies.size();
}

// ---- MemoryBackend: one program's handle on the shared kernel ----

MemoryBackend::MemoryBackend(std::shared_ptr<MemoryKernel> kernel, Ownership ownership)
    : kernel_(std::move(kernel)), own_(ownership) {}

namespace {
// Takes the kernel lock after the configured latency and runs due timers.
class Call {
 public:
  explicit Call(MemoryKernel::Impl& k) : k_(k) {
    if (k_.latency.count() > 0) {
      std::this_thread::sleep_for(k_.latency);
    }
    lock_ = std::unique_lock(k_.mu);
    k_.tick();
  }

 private:
  MemoryKernel::Impl& k_;
  std::unique_lock<std::mutex> lock_;
};
}  // namespace

Result<uint32_t> MemoryBackend::allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                             uint32_t min, uint32_t max) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->allocate_spi(src, dst, reqid, min, max, own_);
}

Status MemoryBackend::add_sa(const SaSpec& spec) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->add_sa(spec, own_);
}

Status MemoryBackend::update_sa(const SaSpec& spec) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->update_sa(spec, own_);
}

Status MemoryBackend::delete_sa(const SaId& id) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->delete_sa(id, own_);
}

Result<SaState> MemoryBackend::get_sa(const SaId& id) {
  Call c(*kernel_->impl_);
  auto& k = *kernel_->impl_;
  if (int err = k.fault(); err != 0) {
    return sa_error(nullptr, "getting SA " + id.str(), err);
  }
  auto it = k.sas.find(id);
  if (it == k.sas.end()) {
    return sa_error(nullptr, "getting SA " + id.str(), ESRCH);
  }
  return k.state_of(id, it->second, own_);
}

Result<std::vector<SaState>> MemoryBackend::list_sas() {
  Call c(*kernel_->impl_);
  auto& k = *kernel_->impl_;
  if (int err = k.fault(); err != 0) {
    return kernel_error(Subject::kListing, "listing SAs", err);
  }
  std::vector<SaState> out;
  out.reserve(k.sas.size());
  for (const auto& [id, e] : k.sas) {
    out.push_back(k.state_of(id, e, own_));
  }
  return out;
}

Status MemoryBackend::add_policy(const PolicySpec& spec) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->put_policy(spec, own_, false);
}

Status MemoryBackend::update_policy(const PolicySpec& spec) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->put_policy(spec, own_, true);
}

Status MemoryBackend::delete_policy(const PolicyId& id) {
  Call c(*kernel_->impl_);
  return kernel_->impl_->delete_policy(id, own_);
}

Result<PolicyState> MemoryBackend::get_policy(const PolicyId& id) {
  Call c(*kernel_->impl_);
  auto& k = *kernel_->impl_;
  if (int err = k.fault(); err != 0) {
    return kernel_error(Subject::kPolicy, "getting " + id.str(), err);
  }
  auto it = k.policies.find(id);
  if (it == k.policies.end()) {
    return kernel_error(Subject::kPolicy, "getting " + id.str(), ENOENT);
  }
  return k.state_of(it->second, own_);
}

Result<std::vector<PolicyState>> MemoryBackend::list_policies() {
  Call c(*kernel_->impl_);
  auto& k = *kernel_->impl_;
  if (int err = k.fault(); err != 0) {
    return kernel_error(Subject::kListing, "listing policies", err);
  }
  std::vector<PolicyState> out;
  out.reserve(k.policies.size());
  for (const auto& [id, p] : k.policies) {
    out.push_back(k.state_of(p, own_));
  }
  return out;
}

std::vector<Status> MemoryBackend::apply(const Batch& batch) {
  Call c(*kernel_->impl_);
  auto& k = *kernel_->impl_;
  std::vector<Status> out;
  out.reserve(batch.ops.size());
  // Room for every addition up front: no rehash in the middle of a large fill.
  size_t new_policies = 0;
  size_t new_sas = 0;
  for (const auto& op : batch.ops) {
    new_policies += std::holds_alternative<Batch::AddPolicy>(op) ? 1 : 0;
    new_sas += std::holds_alternative<Batch::AddSa>(op) ? 1 : 0;
  }
  if (new_policies > 0) {
    k.policies.reserve(k.policies.size() + new_policies);
    for (auto& x : k.exact) {
      x.reserve(x.size() + new_policies);
    }
  }
  if (new_sas > 0) {
    k.sas.reserve(k.sas.size() + new_sas);
  }
  for (const auto& op : batch.ops) {
    if (const auto* a = std::get_if<Batch::AddSa>(&op)) {
      out.push_back(k.add_sa(a->spec, own_));
    } else if (const auto* u = std::get_if<Batch::UpdateSa>(&op)) {
      out.push_back(k.update_sa(u->spec, own_));
    } else if (const auto* d = std::get_if<Batch::DeleteSa>(&op)) {
      out.push_back(k.delete_sa(d->id, own_));
    } else if (const auto* ap = std::get_if<Batch::AddPolicy>(&op)) {
      out.push_back(k.put_policy(ap->spec, own_, false));
    } else if (const auto* up = std::get_if<Batch::UpdatePolicy>(&op)) {
      out.push_back(k.put_policy(up->spec, own_, true));
    } else {
      out.push_back(k.delete_policy(std::get<Batch::DeletePolicy>(op).id, own_));
    }
  }
  return out;
}

int MemoryBackend::event_fd() const {
  return kernel_->impl_->efd;
}

std::vector<Event> MemoryBackend::read_events(std::chrono::milliseconds timeout) {
  auto& k = *kernel_->impl_;
  std::unique_lock lock(k.mu);
  k.tick();
  if (k.events.empty() && timeout.count() > 0) {
    // Another thread may raise events meanwhile; wait without holding the tables.
    lock.unlock();
    pollfd p{k.efd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(timeout.count()));
    lock.lock();
  }
  uint64_t drained = 0;
  [[maybe_unused]] auto n = ::read(k.efd, &drained, sizeof drained);
  std::vector<Event> out(std::make_move_iterator(k.events.begin()),
                         std::make_move_iterator(k.events.end()));
  k.events.clear();
  return out;
}

}  // namespace ipsecd::kernel
