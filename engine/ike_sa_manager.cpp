#include "engine/ike_sa_manager.h"

#include <algorithm>

#include "engine/child_install.h"
#include "engine/crypto/prf.h"
#include "engine/identities.h"
#include "engine/lifetime.h"
#include "engine/tasks/child_create.h"
#include "engine/tasks/child_delete.h"
#include "engine/tasks/ike_auth.h"
#include "engine/tasks/ike_delete.h"
#include "engine/tasks/ike_dpd.h"
#include "engine/tasks/ike_init.h"
#include "engine/tasks/ike_natd.h"
#include "engine/tasks/ike_rekey.h"
#include "engine/tasks/task.h"

namespace ipsecd::engine {

IkeSaManager::IkeSaManager(EngineContext& ctx) : ctx_(ctx), cookie_secret_(32) {
  ctx_.random.fill(cookie_secret_.span());
}

IkeSaManager::~IkeSaManager() = default;

IkeSa* IkeSaManager::find(uint64_t our_spi) {
  auto it = sas_.find(our_spi);
  return it == sas_.end() ? nullptr : it->second.get();
}

uint64_t IkeSaManager::new_spi() {
  uint64_t spi = 0;
  while (spi == 0 || sas_.contains(spi)) {
    spi = ctx_.random.next_u64();
  }
  return spi;
}

IkeSa& IkeSaManager::create_initiator(const ConnectionRef& conn) {
  const uint64_t spi = new_spi();
  Endpoint remote{*conn->remote, conn->remote_port};
  auto sa = std::make_unique<IkeSa>(ctx_, true, spi, conn, conn->local, remote);
  IkeSa& ref = *sa;
  sas_.emplace(spi, std::move(sa));
  index_peer(ref);
  note_connection(ref);
  return ref;
}

std::string IkeSaManager::peer_key(const kernel::Address& local, const kernel::Address& remote,
                                   const model::Identity& local_id) {
  return local.str() + "|" + remote.str() + "|" + local_id.str();
}

void IkeSaManager::index_peer(IkeSa& sa) {
  by_peer_[peer_key(sa.local.address, sa.remote.address, sa.conn->local_id)].push_back(
      sa.our_spi());
}

void IkeSaManager::child_added(IkeSa& sa, const std::string& conn) {
  auto& spis = by_child_[conn];
  if (std::find(spis.begin(), spis.end(), sa.our_spi()) == spis.end()) {
    spis.push_back(sa.our_spi());
  }
}

void IkeSaManager::note_connection(IkeSa& sa) {
  auto& spis = by_conn_[sa.conn->name()];
  if (std::find(spis.begin(), spis.end(), sa.our_spi()) == spis.end()) {
    spis.push_back(sa.our_spi());
  }
}

std::vector<IkeSa*> IkeSaManager::for_connection(const std::string& conn) {
  std::vector<IkeSa*> out;
  auto collect = [&](std::unordered_map<std::string, std::vector<uint64_t>>& index, bool own) {
    auto it = index.find(conn);
    if (it == index.end()) {
      return;
    }
    // Entries go stale when an SA dies or moves to another connection: prune them here.
    std::erase_if(it->second, [&](uint64_t spi) {
      IkeSa* sa = find(spi);
      if (sa == nullptr || sa->state == IkeState::kDead) {
        return true;
      }
      bool related = own && sa->conn->name() == conn;
      for (const auto& child : sa->children) {
        related = related || (!own && child.conn->name() == conn);
      }
      if (related && std::find(out.begin(), out.end(), sa) == out.end()) {
        out.push_back(sa);
      }
      return !related;
    });
    if (it->second.empty()) {
      index.erase(it);
    }
  };
  collect(by_conn_, true);
  collect(by_child_, false);
  std::sort(out.begin(), out.end(),
            [](const IkeSa* a, const IkeSa* b) { return a->our_spi() < b->our_spi(); });
  return out;
}

bool IkeSaManager::child_up(const std::string& conn) {
  auto it = by_child_.find(conn);
  if (it == by_child_.end()) {
    return false;
  }
  bool up = false;
  std::erase_if(it->second, [&](uint64_t spi) {
    IkeSa* sa = find(spi);
    bool carries = false;
    if (sa != nullptr && sa->state != IkeState::kDead) {
      for (const auto& child : sa->children) {
        carries = carries || child.conn->name() == conn;
        up = up || (child.conn->name() == conn && !child.deleting && sa->established());
      }
    }
    return !carries;
  });
  if (it->second.empty()) {
    by_child_.erase(it);
  }
  return up;
}

IkeSa* IkeSaManager::reusable_for(const LoadedConnection& conn) {
  if (!conn.remote) {
    return nullptr;
  }
  auto it = by_peer_.find(peer_key(conn.local.address, *conn.remote, conn.local_id));
  if (it == by_peer_.end()) {
    return nullptr;
  }
  std::erase_if(it->second, [this](uint64_t spi) {
    IkeSa* sa = find(spi);
    return sa == nullptr || sa->state == IkeState::kDead;
  });
  for (uint64_t s : it->second) {
    IkeSa* sa = find(s);
    // Not an SA being reauthenticated: its successor takes new CHILD SAs.
    if ((sa->state != IkeState::kConnecting && sa->state != IkeState::kEstablished) ||
        sa->superseded || sa->reauth_by != 0) {
      continue;
    }
    const LoadedConnection& other = *sa->conn;
    if (!(other.local.address == conn.local.address) || !conn.remote ||
        !(sa->remote.address == *conn.remote) || !(other.local_id == conn.local_id)) {
      continue;
    }
    if (sa->established()
            ? !(conn.remote_id.kind == model::IdKind::kAny || conn.remote_id == sa->peer_id)
            : !(other.remote_id == conn.remote_id)) {
      continue;
    }
    return sa;
  }
  if (it->second.empty()) {
    by_peer_.erase(it);
  }
  return nullptr;
}

std::shared_ptr<const Candidates> IkeSaManager::candidates(const Endpoint& local,
                                                           const Endpoint& remote) {
  if (candidates_generation_ != ctx_.connections_generation || candidates_.size() > 4096) {
    candidates_.clear();  // connections changed, or too many peers to remember
    candidates_generation_ = ctx_.connections_generation;
  }
  auto& cached = candidates_[{local.address, remote.address}];
  if (cached) {
    return cached;
  }
  std::vector<ConnectionRef> exact;
  std::vector<ConnectionRef> any;
  for (const auto& [name, c] : ctx_.connections) {
    if (!(c->local.address == local.address)) {
      continue;
    }
    if (c->remote && *c->remote == remote.address) {
      exact.push_back(c);
    } else if (!c->remote) {
      any.push_back(c);
    }
  }
  auto by_name = [](const ConnectionRef& a, const ConnectionRef& b) {
    return a->name() < b->name();
  };
  std::sort(exact.begin(), exact.end(), by_name);
  std::sort(any.begin(), any.end(), by_name);
  exact.insert(exact.end(), any.begin(), any.end());
  auto out = std::make_shared<Candidates>();
  out->all = std::move(exact);
  for (uint32_t i = 0; i < out->all.size(); ++i) {
    if (auto key = id_match_key(out->all[i]->remote_id); !key.empty()) {
      out->by_remote_id[key].push_back(i);
    } else {
      out->unkeyed.push_back(i);
    }
  }
  cached = std::move(out);
  return cached;
}

void IkeSaManager::dispatch(const Endpoint& local, const Endpoint& remote,
                            std::span<uint8_t> datagram) {
  auto header = wire::decode_header(datagram);
  if (!header.ok()) {
    ctx_.log("dropped a datagram from " + remote.str() + ": " + header.error().message);
    return;
  }
  const wire::Header& h = *header;
  if (h.exchange == wire::ExchangeType::kIkeSaInit && !h.response && h.initiator && h.spi_r == 0) {
    init_request(local, remote, datagram, h);
    return;
  }
  // The original initiator's messages carry its flag: then we are the responder.
  const uint64_t spi = h.initiator ? h.spi_r : h.spi_i;
  IkeSa* sa = find(spi);
  if (sa == nullptr || sa->state == IkeState::kDead || sa->initiator == h.initiator) {
    return;
  }
  if (h.initiator ? sa->spi_i != h.spi_i
                  : (sa->spi_r != 0 && h.spi_r != sa->spi_r && h.spi_r != 0)) {
    return;
  }
  if (!sa->initiator && !(remote.address == sa->remote.address)) {
    return;  // no MOBIKE: the peer stays at its address
  }
  auto message = sa->open(datagram);
  if (!message.ok()) {
    ctx_.log("dropped a message for IKE SA " + std::to_string(spi) + " from " + remote.str() +
             ": " + message.error());
    return;
  }
  wire::Message opened = std::move(message).value();
  sa->tasks.on_message(opened, local, remote, datagram);
}

std::vector<uint8_t> IkeSaManager::cookie_for(const wire::Message& request,
                                              const Endpoint& remote) const {
  // RFC 7296 2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>).
  const auto* nonce = tasks::find<wire::NoncePayload>(request);
  uint8_t spi[8];
  for (int i = 0; i < 8; ++i) {
    spi[i] = static_cast<uint8_t>(request.header.spi_i >> (56 - 8 * i));
  }
  auto prf = crypto::Prf::create(model::PrfId::kHmacSha2_256);
  std::vector<uint8_t> cookie{0};
  if (!prf.ok() || nonce == nullptr) {
    return cookie;
  }
  crypto::Prf p = std::move(prf).value();
  crypto::Secret mac = p.compute(
      cookie_secret_,
      {nonce->data, std::span<const uint8_t>(remote.address.data(), remote.address.size()), spi});
  cookie.insert(cookie.end(), mac.span().begin(), mac.span().end());
  return cookie;
}

void IkeSaManager::send_plain(const Endpoint& local, const Endpoint& remote,
                              wire::Message& message) {
  auto bytes = wire::encode(message);
  if (bytes.ok()) {
    ctx_.transport.send(local, remote, *bytes);
  }
}

void IkeSaManager::init_request(const Endpoint& local, const Endpoint& remote,
                                std::span<uint8_t> datagram, const wire::Header& header) {
  if (auto it = half_open_index_.find(HalfOpenKey{header.spi_i, remote});
      it != half_open_index_.end()) {
    // A retransmission: the SA answers it from its cached response.
    if (IkeSa* sa = find(it->second); sa != nullptr && sa->state != IkeState::kDead) {
      auto message = sa->open(datagram);
      if (message.ok()) {
        wire::Message opened = std::move(message).value();
        sa->tasks.on_message(opened, local, remote, datagram);
      }
    }
    return;
  }
  auto decoded = wire::decode(datagram);
  if (!decoded.ok()) {
    ctx_.log("dropped IKE_SA_INIT from " + remote.str() + ": " + decoded.error().message);
    return;
  }
  wire::Message& request = decoded.value();
  auto conns = candidates(local, remote);
  if (conns->all.empty()) {
    ctx_.log("dropped IKE_SA_INIT from " + remote.str() + ": no connection between " +
             local.address.str() + " and " + remote.address.str());
    return;
  }
  if (half_open_ >= ctx_.options.cookie_threshold) {
    auto expected = cookie_for(request, remote);
    const auto* first = request.payloads.empty()
                            ? nullptr
                            : std::get_if<wire::NotifyPayload>(&request.payloads.front());
    if (first == nullptr || first->type != wire::NotifyType::kCookie || first->data != expected) {
      // Stateless: nothing is kept until the peer proves it gets our answers.
      wire::Message answer;
      answer.header = request.header;
      answer.header.spi_r = 0;
      answer.header.response = true;
      answer.header.initiator = false;
      answer.payloads.emplace_back(tasks::make_notify(wire::NotifyType::kCookie, expected));
      send_plain(local, remote, answer);
      return;
    }
  }
  const uint64_t spi = new_spi();
  auto owned = std::make_unique<IkeSa>(ctx_, false, spi, conns->all.front(), local, remote);
  IkeSa& sa = *owned;
  sa.spi_i = header.spi_i;
  sa.first_remote = remote;
  sa.handshake->candidates = std::move(conns);
  sa.half_open = true;
  ++half_open_;
  half_open_index_[HalfOpenKey{header.spi_i, remote}] = spi;
  sa.half_open_timer = ctx_.loop.schedule(ctx_.options.half_open_timeout, [this, spi] {
    if (IkeSa* s = find(spi); s != nullptr && s->state == IkeState::kConnecting) {
      s->half_open_timer = 0;
      finish(*s, "half-open IKE SA timed out: no IKE_AUTH from " + s->remote.str(), true);
    }
  });
  sas_.emplace(spi, std::move(owned));
  sa.tasks.on_message(request, local, remote, datagram);
}

void IkeSaManager::leave_half_open(IkeSa& sa) {
  if (sa.half_open) {
    sa.half_open = false;
    --half_open_;
    half_open_index_.erase(HalfOpenKey{sa.spi_i, sa.first_remote});
  }
  if (sa.half_open_timer != 0) {
    ctx_.loop.cancel(sa.half_open_timer);
    sa.half_open_timer = 0;
  }
}

void IkeSaManager::established(IkeSa& sa) {
  sa.state = IkeState::kEstablished;
  if (!sa.initiator) {
    index_peer(sa);  // its connection is settled now; initiators are indexed at creation
  }
  sa.established_at = ctx_.loop.clock().wall();
  sa.line_up = ctx_.loop.now();
  leave_half_open(sa);
  // RFC 3948 2.3: keep our NAT's mapping alive; only the side behind it can.
  if (sa.nat_local && sa.conn->spec.nat_keepalive &&
      ctx_.options.nat_keepalive_interval.count() > 0 && sa.keepalive_timer == 0) {
    schedule_keepalive(sa, sa.last_sent + ctx_.options.nat_keepalive_interval);
  }
  sa.last_received = ctx_.loop.now();
  arm_ike(sa);
  Event up{EventType::kIkeUp, sa.conn->name(), sa.spi_i, sa.spi_r, 0, 0, {}};
  up.handshake = ctx_.loop.now() - sa.created;
  ctx_.emit(std::move(up));
  ctx_.loop.post([this, spi = sa.our_spi(), alive = std::weak_ptr<int>(ctx_.alive)] {
    if (!alive.expired()) {
      close_duplicate_ike(spi);
    }
  });
}

namespace {

// Whether every CHILD SA on `dup` has a twin (same connection, same flows) on
// `by`: only then is `dup` a duplicate. Two IKE SAs between the same ends
// that carry different connections (a peer that keeps one IKE SA per
// connection) are both needed.
// Whether `later` began well after `earlier`'s lineage was up: then the two
// did not cross. The window covers the spread of a simultaneous initiation
// on both ends (an IKE_SA_INIT retransmitted a few times); a reauthentication
// or a restart comes later than that.
constexpr auto kCrossingWindow = std::chrono::seconds(5);

bool fresh_start(const IkeSa& earlier, const IkeSa& later,
                 Clock::Duration window = kCrossingWindow) {
  return earlier.line_up != Clock::SteadyTime{} && later.created > earlier.line_up + window;
}

bool covered(const IkeSa& dup, const IkeSa& by) {
  if (dup.children.empty()) {
    return false;
  }
  return std::all_of(dup.children.begin(), dup.children.end(), [&by](const ChildSa& c) {
    return c.deleting || c.spare ||
           std::any_of(by.children.begin(), by.children.end(), [&c](const ChildSa& t) {
             return !t.deleting && !t.spare && t.conn->name() == c.conn->name() &&
                    t.flows == c.flows;
           });
  });
}

}  // namespace

void IkeSaManager::for_each_sibling(const IkeSa& sa, const std::function<bool(IkeSa&)>& visit) {
  auto it = by_peer_.find(peer_key(sa.local.address, sa.remote.address, sa.conn->local_id));
  if (it == by_peer_.end()) {
    return;
  }
  // A copy, each SA found again: a visit may end SAs and change the index.
  const std::vector<uint64_t> spis = it->second;
  for (uint64_t spi : spis) {
    IkeSa* other = find(spi);
    if (other != nullptr && other != &sa && other->state != IkeState::kDead &&
        other->remote.address == sa.remote.address && !visit(*other)) {
      return;
    }
  }
}

void IkeSaManager::close_duplicate_ike(uint64_t spi) {
  IkeSa* sa = find(spi);
  if (sa == nullptr || !sa->established() || sa->superseded) {
    return;
  }
  for_each_sibling(*sa, [this, sa](IkeSa& sibling) {
    IkeSa* other = &sibling;
    if (!other->established() || other->superseded || !(other->peer_id == sa->peer_id)) {
      return true;
    }
    if (sa->reauth_of == other->our_spi() || other->reauth_of == sa->our_spi()) {
      return true;  // our reauthentication: the old one goes once the new one carries its CHILD SAs
    }
    if (!other->initiator && !sa->initiator) {
      // Both made by the peer: not a crossing but a peer that started afresh
      // (a restart, or its reauthentication). The older one is stale here.
      IkeSa* stale = other->created < sa->created ? other : sa;
      if (!covered(*stale, stale == sa ? *other : *sa)) {
        return true;
      }
      ctx_.log(sa->conn->name() + ": " + sa->remote.address.str() + " made a new IKE SA " +
               std::to_string((stale == sa ? other : sa)->our_spi()) + "; deleting the older " +
               std::to_string(stale->our_spi()));
      if (IkeSa& newer = stale == sa ? *other : *sa; fresh_start(*stale, newer)) {
        reauthenticated_by_peer(*stale, newer);
      }
      // Told with a DELETE: a peer that replaces it make-before-break deletes
      // it too (the DELETEs cross), one that restarted does not answer.
      delete_spare(*stale);
      return stale != sa;  // on to the next sibling while `sa` stays
    }
    if (other->initiator && sa->initiator) {
      return true;  // both ours: each carries what it was made for
    }
    if (fresh_start(*other, *sa) || fresh_start(*sa, *other)) {
      // Not a crossing: one end started anew long after the other SA was up
      // (its reauthentication, or a restart). That end deletes the old one
      // make-before-break; the nonce rule could pick the new one instead.
      return true;
    }
    IkeSa* duplicate = other->min_nonce < sa->min_nonce ? other : sa;
    IkeSa* kept = duplicate == sa ? other : sa;
    if (!covered(*duplicate, *kept)) {
      return true;
    }
    ctx_.log(sa->conn->name() + ": two IKE SAs with " + sa->remote.address.str() +
             " (simultaneous initiation): " +
             (duplicate->initiator ? "deleting" : "the peer deletes") + " the duplicate " +
             std::to_string(duplicate->our_spi()) + ", keeping " + std::to_string(kept->our_spi()));
    if (duplicate->reauth_of != 0) {
      abandon_reauth(*duplicate);  // both ends reauthenticated at once: the peer's goes on
    }
    if (duplicate->initiator) {
      delete_spare(*duplicate);
    } else {
      duplicate->state = IkeState::kDeleting;
      expect_spare_delete(*duplicate, true);
    }
    return duplicate != sa;
  });
}

bool IkeSaManager::first_contact(const IkeSa& sa) {
  bool first = true;
  for_each_sibling(sa, [&first](const IkeSa& other) {
    first = !other.established();
    return first;
  });
  return first;
}

void IkeSaManager::initial_contact(IkeSa& sa) {
  // After the exchange: the new IKE SA's CHILD SA is in by then, so what it
  // carries again stays in the kernel.
  ctx_.loop.post([this, spi = sa.our_spi(), alive = std::weak_ptr<int>(ctx_.alive)] {
    IkeSa* now = alive.expired() ? nullptr : find(spi);
    if (now == nullptr || !now->established()) {
      return;
    }
    for_each_sibling(*now, [this, now](IkeSa& other) {
      if (other.state == IkeState::kConnecting || !(other.peer_id == now->peer_id) ||
          !fresh_start(other, *now, {})) {
        return true;
      }
      const std::string reason = "the peer started afresh (INITIAL_CONTACT)";
      ctx_.log(now->conn->name() + ": " + now->remote.address.str() + " sent INITIAL_CONTACT: " +
               "dropping IKE SA " + std::to_string(other.our_spi()) + " of its earlier life");
      announce_uncovered(other, reason);
      other.superseded = true;
      finish(other, reason, false);
      return true;
    });
  });
}

void IkeSaManager::announce_uncovered(IkeSa& old, const std::string& reason) {
  for (auto& child : old.children) {
    if (child.deleting || child.spare || child.quiet || has_equivalent(old, child, true)) {
      continue;
    }
    child.quiet = true;
    ctx_.emit(Event{EventType::kChildDown, child.conn->name(), old.spi_i, old.spi_r, child.spi_in,
                    child.spi_out, reason});
  }
}

void IkeSaManager::close_duplicate_child(uint64_t ike_spi, uint32_t spi_in) {
  IkeSa* sa = find(ike_spi);
  ChildSa* child = sa == nullptr || !sa->established() ? nullptr : sa->child_by_spi_in(spi_in);
  if (child == nullptr || !child->crossed || child->deleting || child->spare) {
    return;
  }
  auto key = [](const ChildSa& c) { return std::min(c.spi_in, c.spi_out); };
  for (auto& other : sa->children) {
    if (&other == child || !other.crossed || other.deleting || other.spare ||
        other.rekey != ChildRekey::kNone || other.conn != child->conn ||
        other.flows != child->flows) {
      continue;
    }
    // Both sides see the same SPI pairs, so both pick the same one and delete
    // it. (A CHILD SA of an earlier definition is replace()'s business.)
    ChildSa& duplicate = key(other) < key(*child) ? other : *child;
    duplicate.quiet = true;
    duplicate.spare = true;
    ctx_.log(child->conn->name() +
             ": two CHILD SAs for the same flows (simultaneous initiation): deleting " +
             tasks::hex32(duplicate.spi_in));
    sa->tasks.queue(std::make_unique<tasks::ChildDelete>(
        *sa, ctx_, std::vector<uint32_t>{duplicate.spi_in}, true, "duplicate CHILD SA"));
    sa->tasks.initiate();
    return;
  }
}

EventLoop::TimerId IkeSaManager::schedule_for(IkeSa& sa, Clock::SteadyTime when,
                                              void (IkeSaManager::*fire)(IkeSa&)) {
  const uint64_t spi = sa.our_spi();
  return ctx_.loop.schedule_at(when, [this, spi, fire] {
    if (IkeSa* found = find(spi); found != nullptr && found->state != IkeState::kDead) {
      (this->*fire)(*found);
    }
  });
}

void IkeSaManager::schedule_keepalive(IkeSa& sa, Clock::SteadyTime when) {
  sa.keepalive_timer = schedule_for(sa, when, &IkeSaManager::keepalive);
}

void IkeSaManager::keepalive(IkeSa& sa) {
  sa.keepalive_timer = 0;
  const auto now = ctx_.loop.now();
  const auto due = sa.last_sent + ctx_.options.nat_keepalive_interval;
  if (now >= due) {
    // Nothing went to the peer for a whole interval: the NAT may forget us.
    sa.last_sent = now;
    ctx_.transport.send_keepalive(sa.local, sa.remote);
    schedule_keepalive(sa, now + ctx_.options.nat_keepalive_interval);
    return;
  }
  schedule_keepalive(sa, due);  // an IKE message refreshed the mapping meanwhile
}

bool IkeSaManager::has_equivalent(const IkeSa& sa, const ChildSa& child, bool other_sas_only) {
  auto it = by_child_.find(child.conn->name());
  if (it == by_child_.end()) {
    return false;
  }
  for (uint64_t spi : it->second) {
    const IkeSa* other = find(spi);
    if (other == nullptr || other->state == IkeState::kDead || (other_sas_only && other == &sa)) {
      continue;
    }
    for (const auto& c : other->children) {
      if (&c != &child && !c.deleting && !c.spare && c.reqid == child.reqid &&
          c.flows == child.flows) {
        return true;
      }
    }
  }
  return false;
}

void IkeSaManager::child_down(IkeSa& sa, uint32_t spi_in, const std::string& reason) {
  if (sa.child_by_spi_in(spi_in) == nullptr) {
    return;
  }
  // A rekey's responder side: the new outbound SA goes in as the old one
  // goes, and before it, so the kernel always has one to send with.
  for (auto& next : sa.children) {
    if (next.replaces != spi_in) {
      continue;
    }
    install_pending_out(sa, next);
    break;
  }
  ChildSa* child = sa.child_by_spi_in(spi_in);
  const bool equivalent = has_equivalent(sa, *child, false);
  uninstall(ctx_.kernel, sa, *child, !equivalent);
  if (!child->quiet && !equivalent) {
    ctx_.emit(Event{EventType::kChildDown, child->conn->name(), sa.spi_i, sa.spi_r, child->spi_in,
                    child->spi_out, reason});
  }
  sa.remove_child(spi_in);
}

void IkeSaManager::install_pending_out(IkeSa& sa, ChildSa& next) {
  next.replaces = 0;
  if (!next.pending_out || next.spare) {
    next.pending_out.reset();
    return;
  }
  OutboundKeys keys = std::move(*next.pending_out);
  next.pending_out.reset();
  if (auto st = install_sa(ctx_.kernel, sa, next, false, keys.encr, keys.integ); !st.ok()) {
    ctx_.log(next.conn->name() + ": the kernel refused the outbound SA " +
             tasks::hex32(next.spi_out) + ": " + st.error().message);
    const uint32_t failed = next.spi_in;
    sa.tasks.queue(std::make_unique<tasks::ChildDelete>(
        sa, ctx_, std::vector<uint32_t>{failed}, true, "the kernel refused its outbound SA"));
    sa.tasks.initiate();
  }
}

void IkeSaManager::install_pending_out_later(uint64_t ike_spi, uint32_t spi_in,
                                             Clock::Duration after) {
  ctx_.loop.schedule(after, [this, ike_spi, spi_in] {
    IkeSa* sa = find(ike_spi);
    ChildSa* next =
        sa == nullptr || sa->state == IkeState::kDead ? nullptr : sa->child_by_spi_in(spi_in);
    if (next != nullptr && next->pending_out) {
      ctx_.log(next->conn->name() + ": the peer kept CHILD SA " + tasks::hex32(next->replaces) +
               " beside " + tasks::hex32(spi_in) + "; sending with the new one");
      install_pending_out(*sa, *next);
    }
  });
}

std::size_t IkeSaManager::ike_sas_with(const IkeSa& like, const model::Identity& peer) {
  std::size_t n = 0;
  for_each_sibling(like, [&n, &peer](const IkeSa& sa) {
    n += sa.established() && !sa.superseded && sa.peer_id == peer;
    return true;
  });
  return n;
}

bool IkeSaManager::adopt_orphans(IkeSa& dying) {
  if (dying.superseded || dying.children.empty()) {
    return false;
  }
  // A twin that is up (perhaps in this very turn, not compared yet) carries
  // the same CHILD SAs: the DELETE closes a duplicate, quietly, or ends what
  // the peer's reauthentication replaced (its new IKE SA, begun well after).
  IkeSa* twin = nullptr;
  for_each_sibling(dying, [&](IkeSa& other) {
    if (other.established() && !other.superseded && other.peer_id == dying.peer_id &&
        covered(dying, other)) {
      twin = &other;
    }
    return twin == nullptr;
  });
  if (twin != nullptr) {
    if (!twin->initiator && fresh_start(dying, *twin)) {
      reauthenticated_by_peer(dying, *twin);
    }
    dying.superseded = true;
    return true;
  }
  IkeSa* next = nullptr;
  for_each_sibling(dying, [&](IkeSa& other) {
    if (other.initiator && other.state == IkeState::kConnecting && other.sk_in &&
        (other.conn->remote_id.kind == model::IdKind::kAny ||
         other.conn->remote_id == dying.peer_id)) {
      next = &other;
    }
    return next == nullptr;
  });
  if (next == nullptr) {
    return false;
  }
  ctx_.log(dying.conn->name() + ": the peer deleted IKE SA " + std::to_string(dying.our_spi()) +
           " as a duplicate; its CHILD SAs stay until IKE SA " + std::to_string(next->our_spi()) +
           " is up");
  for (auto& child : dying.children) {
    for (auto* t : {&child.rekey_timer, &child.expire_timer}) {
      if (*t != 0) {
        ctx_.loop.cancel(*t);
        *t = 0;
      }
    }
    child.quiet = true;
    child.spare = true;
    child.orphan = true;
    child_added(*next, child.conn->name());
    next->children.push_back(std::move(child));
  }
  dying.children.clear();
  dying.superseded = true;
  return true;
}

void IkeSaManager::add_child(IkeSa& sa, ChildSa child) {
  // What a duplicate IKE SA left here for these flows is not needed now.
  std::vector<uint32_t> orphans;
  for (const auto& c : sa.children) {
    if (c.orphan && c.reqid == child.reqid && c.flows == child.flows) {
      orphans.push_back(c.spi_in);
    }
  }
  for (uint32_t spi : orphans) {
    if (ChildSa* c = sa.child_by_spi_in(spi)) {
      uninstall(ctx_.kernel, sa, *c, false);
      sa.remove_child(spi);
    }
  }
  child_added(sa, child.conn->name());
  const uint32_t spi_in = child.spi_in;
  const bool fresh = child.crossed;
  sa.children.push_back(std::move(child));
  arm_child(sa, sa.children.back());
  if (fresh) {
    ctx_.loop.post([this, ike = sa.our_spi(), spi_in, alive = std::weak_ptr<int>(ctx_.alive)] {
      if (!alive.expired()) {
        close_duplicate_child(ike, spi_in);
      }
    });
  }
}

void IkeSaManager::finish(IkeSa& sa, std::string reason, bool failed, bool notify) {
  if (sa.state == IkeState::kDead) {
    return;
  }
  sa.state = IkeState::kDead;
  const bool reauth = sa.reauth_of != 0;
  if (reauth) {
    reauth_failed(sa, reason);
    notify = false;  // the connection stays up on the old IKE SA
  }
  if (IkeSa* next = sa.reauth_by != 0 ? find(sa.reauth_by) : nullptr; next != nullptr) {
    next->reauth_of = 0;  // the old one went first (the peer deleted it): the new one stays
  }
  notify = notify && !sa.superseded;  // replaced: the connection did not go down
  ctx_.log((sa.conn ? sa.conn->name() : std::string("?")) + ": IKE SA " +
           (sa.superseded ? "replaced: "
            : failed      ? "failed: "
                          : "down: ") +
           reason);
  leave_half_open(sa);
  sa.cancel_timers();
  auto flag_dead = [&sa](Event event) {  // dpdaction= acts on these
    event.dead_peer = sa.peer_dead;
    return event;
  };
  if (notify) {
    ctx_.emit(flag_dead(Event{failed ? EventType::kIkeFailed : EventType::kIkeDown, sa.conn->name(),
                              sa.spi_i, sa.spi_r, 0, 0, reason}));
  }
  for (const auto& child : sa.children) {
    // Another IKE SA may carry the same flows (a reauthentication, a duplicate).
    const bool equivalent = has_equivalent(sa, child, true);
    uninstall(ctx_.kernel, sa, child, !equivalent);
    if (notify && !child.quiet && !equivalent) {
      ctx_.emit(flag_dead(Event{EventType::kChildDown, child.conn->name(), sa.spi_i, sa.spi_r,
                                child.spi_in, child.spi_out, reason}));
    }
  }
  sa.children.clear();
  sa.tasks.abort_all(reason);  // (a reauthentication's CHILD SAs fail quietly)
  if (reauth) {
    sa.reauth_of = 0;
  }
  const uint64_t spi = sa.our_spi();
  ctx_.loop.post([this, spi, alive = std::weak_ptr<int>(ctx_.alive)] {
    if (!alive.expired()) {
      reap(spi);
    }
  });
}

void IkeSaManager::reap(uint64_t spi) {
  if (IkeSa* sa = find(spi);
      sa != nullptr && sa->conn && (sa->initiator || sa->established_at != Clock::WallTime{})) {
    auto key = peer_key(sa->local.address, sa->remote.address, sa->conn->local_id);
    if (auto it = by_peer_.find(key); it != by_peer_.end()) {
      std::erase(it->second, spi);
      if (it->second.empty()) {
        by_peer_.erase(it);
      }
    }
  }
  sas_.erase(spi);
}

// ---- Rekeying and liveness

namespace {

Clock::Duration since(Clock::SteadyTime t, Clock::SteadyTime now) {
  return now > t ? now - t : Clock::Duration::zero();
}

}  // namespace

void IkeSaManager::arm_child(IkeSa& sa, ChildSa& child) {
  const model::Connection& spec = child.conn->spec;
  const auto life = std::chrono::duration_cast<Clock::Duration>(spec.ipsec_lifetime);
  if (life.count() <= 0) {
    return;
  }
  const auto now = ctx_.loop.now();
  child.expire_due = now + life;
  child.rekey_due = {};
  if (spec.rekey) {
    child.rekey_due =
        now + rekey_after(life, spec.rekey_margin, spec.rekey_fuzz_percent, ctx_.random.next_u64());
  }
  schedule_child_timers(sa, child);
}

void IkeSaManager::schedule_child_timers(IkeSa& sa, ChildSa& child) {
  const uint64_t ike = sa.our_spi();
  const uint32_t spi = child.spi_in;
  if (child.rekey_due != Clock::SteadyTime{} && child.rekey == ChildRekey::kNone) {
    child.rekey_timer =
        ctx_.loop.schedule_at(child.rekey_due, [this, ike, spi] { child_timer(ike, spi, false); });
  }
  if (child.expire_due != Clock::SteadyTime{}) {
    child.expire_timer =
        ctx_.loop.schedule_at(child.expire_due, [this, ike, spi] { child_timer(ike, spi, true); });
  }
}

void IkeSaManager::child_timer(uint64_t ike_spi, uint32_t spi_in, bool hard) {
  IkeSa* sa = find(ike_spi);
  ChildSa* child =
      sa == nullptr || sa->state == IkeState::kDead ? nullptr : sa->child_by_spi_in(spi_in);
  if (child == nullptr) {
    return;
  }
  if (!hard) {
    child->rekey_timer = 0;
    start_child_rekey(*sa, spi_in);
    return;
  }
  child->expire_timer = 0;
  // The hard lifetime: the kernel drops the SAs now (XFRM does so itself);
  // the peer is told, and the reconciler decides what comes next.
  const std::string reason =
      sa->superseded ? "its IKE SA is being replaced or closed as a duplicate"
      : child->rekey == ChildRekey::kRekeyed || child->spare ? "replaced, and its DELETE never came"
      : child->conn->spec.rekey ? "CHILD SA lifetime expired: its rekey did not complete"
                                : "CHILD SA lifetime expired (rekey=no)";
  ctx_.log(child->conn->name() + ": " + tasks::hex32(spi_in) + ": " + reason);
  expire_child(*sa, spi_in, reason);
}

void IkeSaManager::expire_child(IkeSa& sa, uint32_t spi_in, const std::string& reason) {
  child_down(sa, spi_in, reason);
  if (sa.established()) {
    // The peer's half goes too; ours is gone already, so nothing waits for the answer.
    sa.tasks.queue(std::make_unique<tasks::ChildDelete>(sa, ctx_, std::vector<uint32_t>{spi_in},
                                                        false, reason));
    sa.tasks.initiate();
  }
}

bool IkeSaManager::start_child_rekey(IkeSa& sa, uint32_t spi_in) {
  ChildSa* child = sa.child_by_spi_in(spi_in);
  if (child == nullptr || child->deleting || child->spare || child->rekey != ChildRekey::kNone ||
      sa.state != IkeState::kEstablished || sa.superseded || sa.tasks.child_rekey_pending(spi_in)) {
    return false;
  }
  if (child->rekey_timer != 0) {
    ctx_.loop.cancel(child->rekey_timer);
    child->rekey_timer = 0;
  }
  child->rekey_due = {};
  sa.tasks.queue(std::make_unique<tasks::ChildCreate>(sa, ctx_, child->conn, false, spi_in));
  sa.tasks.initiate();
  return true;
}

void IkeSaManager::retry_child_rekey(IkeSa& sa, uint32_t spi_in) {
  ChildSa* child = sa.child_by_spi_in(spi_in);
  if (child == nullptr || child->rekey != ChildRekey::kNone) {
    return;
  }
  const auto delay = std::chrono::milliseconds(2000 + ctx_.random.next_u64() % 8000);
  child->rekey_due = ctx_.loop.now() + delay;
  if (child->expire_due != Clock::SteadyTime{} && child->rekey_due >= child->expire_due) {
    return;  // too late: the SA expires first
  }
  if (child->rekey_timer != 0) {
    ctx_.loop.cancel(child->rekey_timer);
  }
  const uint64_t ike = sa.our_spi();
  child->rekey_timer =
      ctx_.loop.schedule(delay, [this, ike, spi_in] { child_timer(ike, spi_in, false); });
}

void IkeSaManager::arm_ike(IkeSa& sa) {
  const model::Connection& spec = sa.conn->spec;
  const auto now = ctx_.loop.now();
  const auto life = std::chrono::duration_cast<Clock::Duration>(spec.ike_lifetime);
  sa.rekey_due = {};
  sa.expire_due = {};
  if (life.count() > 0) {
    if (spec.rekey) {
      sa.rekey_due = now + rekey_after(life, spec.rekey_margin, spec.rekey_fuzz_percent,
                                       ctx_.random.next_u64());
    } else {
      sa.expire_due = now + life;
    }
  }
  schedule_ike_timers(sa);
  if (spec.dpd_delay.count() > 0 && sa.dpd_timer == 0) {
    schedule_dpd(sa, now + spec.dpd_delay);
  }
}

void IkeSaManager::schedule_ike_timers(IkeSa& sa) {
  if (sa.rekey_due != Clock::SteadyTime{}) {
    sa.rekey_timer = schedule_for(sa, sa.rekey_due, &IkeSaManager::ike_rekey_due);
  }
  if (sa.expire_due != Clock::SteadyTime{}) {
    sa.expire_timer = schedule_for(sa, sa.expire_due, &IkeSaManager::ike_expire_due);
  }
}

void IkeSaManager::ike_rekey_due(IkeSa& sa) {
  sa.rekey_timer = 0;
  start_ike_rekey(sa, sa.conn->spec.reauth);
}

void IkeSaManager::ike_expire_due(IkeSa& sa) {
  sa.expire_timer = 0;
  if (sa.established() && !sa.tasks.has_task("IkeDelete")) {
    sa.tasks.queue(
        std::make_unique<tasks::IkeDelete>(sa, ctx_, "IKE SA lifetime expired (rekey=no)"));
    sa.tasks.initiate();
  }
}

bool IkeSaManager::start_ike_rekey(IkeSa& sa, bool reauth) {
  if (sa.state != IkeState::kEstablished || sa.superseded || sa.rekeying || sa.reauth_by != 0 ||
      sa.reauth_of != 0 || sa.tasks.has_task("IkeRekey") || sa.tasks.has_task("IkeDelete")) {
    return false;
  }
  if (sa.rekey_timer != 0) {
    ctx_.loop.cancel(sa.rekey_timer);
    sa.rekey_timer = 0;
  }
  sa.rekey_due = {};
  if (reauth) {
    if (!sa.conn->remote) {
      // A connection to %any has no address to initiate to; strongSwan
      // reauthenticates to where the peer is, which a roaming peer may have left.
      ctx_.log(sa.conn->name() + ": the peer is %any: the IKE SA is rekeyed, not reauthenticated");
    } else if (reauthenticable(sa)) {
      start_reauth(sa);
      return true;
    } else {
      ctx_.log(sa.conn->name() +
               ": no CHILD SA to re-create: the IKE SA is rekeyed, not "
               "reauthenticated");
    }
  }
  sa.tasks.queue(std::make_unique<tasks::IkeRekey>(sa, ctx_));
  sa.tasks.initiate();
  return true;
}

bool IkeSaManager::reauthenticable(const IkeSa& sa) const {
  return std::any_of(sa.children.begin(), sa.children.end(), [](const ChildSa& c) {
    return !c.deleting && !c.spare && c.rekey != ChildRekey::kRekeyed;
  });
}

void IkeSaManager::start_reauth(IkeSa& old) {
  // The CHILD SAs to re-create, one per connection and flows; the one of the
  // IKE SA's own connection rides in IKE_AUTH.
  std::vector<ConnectionRef> conns;
  for (const auto& c : old.children) {
    if (c.deleting || c.spare || c.rekey == ChildRekey::kRekeyed ||
        std::find(conns.begin(), conns.end(), c.conn) != conns.end()) {
      continue;
    }
    conns.push_back(c.conn);
  }
  auto own = std::find_if(conns.begin(), conns.end(),
                          [&old](const ConnectionRef& c) { return c->name() == old.conn->name(); });
  if (own != conns.end()) {
    std::rotate(conns.begin(), own, own + 1);
  }
  IkeSa& sa = create_initiator(old.conn);
  sa.reauth_of = old.our_spi();
  sa.rekeys = old.rekeys + 1;
  old.reauth_by = sa.our_spi();
  ctx_.log(old.conn->name() + ": reauthenticating IKE SA " + std::to_string(old.our_spi()) +
           " as " + std::to_string(sa.our_spi()) + " (" + std::to_string(conns.size()) +
           " CHILD SA" + (conns.size() == 1 ? "" : "s") + " to re-create)");
  queue_handshake(sa, conns);
}

void IkeSaManager::queue_handshake(IkeSa& sa, const std::vector<ConnectionRef>& conns) {
  sa.tasks.queue(std::make_unique<tasks::IkeInit>(sa, ctx_));
  sa.tasks.queue(std::make_unique<tasks::IkeNatd>(sa, ctx_));
  sa.tasks.queue(std::make_unique<tasks::IkeAuth>(sa, ctx_));
  for (size_t i = 0; i < conns.size(); ++i) {
    sa.tasks.queue(std::make_unique<tasks::ChildCreate>(sa, ctx_, conns[i], i == 0));
  }
  sa.tasks.initiate();
}

void IkeSaManager::reauthenticated(IkeSa& sa) {
  IkeSa* old = find(sa.reauth_of);
  sa.reauth_of = 0;
  if (old == nullptr || old->state == IkeState::kDead) {
    return;
  }
  old->reauth_by = 0;
  ctx_.log(sa.conn->name() + ": IKE SA " + std::to_string(old->our_spi()) + " reauthenticated as " +
           std::to_string(sa.our_spi()));
  ike_rekeyed(sa, *old, RekeyKind::kReauth);
  announce_uncovered(*old, "not re-created when the IKE SA was reauthenticated");
  delete_spare(*old);
}

void IkeSaManager::reauthenticated_by_peer(IkeSa& old, IkeSa& by) {
  ctx_.log(old.conn->name() + ": the peer reauthenticated IKE SA " + std::to_string(old.our_spi()) +
           " as " + std::to_string(by.our_spi()));
  by.rekeys = std::max(by.rekeys, old.rekeys + 1);
  ike_rekeyed(by, old, RekeyKind::kReauth);
  old.superseded = true;
}

void IkeSaManager::abandon_reauth(IkeSa& sa) {
  IkeSa* old = find(sa.reauth_of);
  sa.reauth_of = 0;
  if (old != nullptr && old->state != IkeState::kDead) {
    old->reauth_by = 0;
    // The peer's reauthentication deletes the old IKE SA; should it not, ours comes again.
    retry_ike_rekey(*old, true);
  }
}

void IkeSaManager::reauth_failed(IkeSa& sa, const std::string& reason) {
  IkeSa* old = find(sa.reauth_of);
  if (old == nullptr || old->state == IkeState::kDead) {
    return;
  }
  old->reauth_by = 0;
  Event e{EventType::kRekeyFailed, old->conn->name(), old->spi_i, old->spi_r, 0, 0, reason};
  e.rekey = RekeyKind::kReauth;
  e.replaced_spi_i = old->spi_i;
  e.replaced_spi_r = old->spi_r;
  ctx_.emit(std::move(e));
  if (old->established() && !old->superseded) {
    retry_ike_rekey(*old, false);  // the old IKE SA stays; the peer's answer may change
  }
}

void IkeSaManager::retry_ike_rekey(IkeSa& sa, bool temporary) {
  if (sa.state != IkeState::kEstablished || sa.superseded) {
    return;
  }
  // A crossing exchange clears in seconds; a refusal may need the peer's
  // configuration to change.
  const auto delay = temporary ? std::chrono::milliseconds(2000 + ctx_.random.next_u64() % 8000)
                               : std::chrono::milliseconds(60000);
  sa.rekey_due = ctx_.loop.now() + delay;
  if (sa.rekey_timer != 0) {
    ctx_.loop.cancel(sa.rekey_timer);
  }
  sa.rekey_timer = schedule_for(sa, sa.rekey_due, &IkeSaManager::ike_rekey_due);
}

IkeSa* IkeSaManager::adopt_rekey(IkeSa& old, uint64_t our_spi, uint64_t spi_i, uint64_t spi_r,
                                 bool initiator, const IkeAlgorithms& algorithms,
                                 crypto::IkeKeys& keys, std::vector<uint8_t> min_nonce,
                                 std::string& error) {
  if (sas_.contains(our_spi)) {
    error = "our new IKE SPI is taken";
    return nullptr;
  }
  auto prf = crypto::Prf::create(algorithms.prf);
  if (!prf.ok()) {
    error = prf.error();
    return nullptr;
  }
  auto owned = std::make_unique<IkeSa>(ctx_, initiator, our_spi, old.conn, old.local, old.remote);
  IkeSa& sa = *owned;
  sa.spi_i = spi_i;
  sa.spi_r = spi_r;
  sa.algorithms = algorithms;
  sa.prf.emplace(std::move(prf).value());
  if (auto taken = sa.take_keys(keys); !taken.ok()) {
    error = taken.error();
    return nullptr;
  }
  sa.handshake.reset();
  sa.state = IkeState::kEstablished;
  sa.peer_id = old.peer_id;
  sa.nat_local = old.nat_local;
  sa.nat_remote = old.nat_remote;
  sa.rekeys = old.rekeys + 1;
  sa.min_nonce = std::move(min_nonce);
  sa.established_at = ctx_.loop.clock().wall();
  sa.line_up = old.line_up;
  sa.last_sent = old.last_sent;
  sa.last_received = ctx_.loop.now();
  sas_.emplace(our_spi, std::move(owned));
  index_peer(sa);
  note_connection(sa);
  arm_ike(sa);
  if (sa.nat_local && sa.conn->spec.nat_keepalive &&
      ctx_.options.nat_keepalive_interval.count() > 0) {
    schedule_keepalive(sa, sa.last_sent + ctx_.options.nat_keepalive_interval);
  }
  return &sa;
}

void IkeSaManager::hand_over(IkeSa& from, IkeSa& to) {
  for (auto& child : from.children) {
    for (auto* t : {&child.rekey_timer, &child.expire_timer}) {
      if (*t != 0) {
        ctx_.loop.cancel(*t);
        *t = 0;
      }
    }
  }
  auto moved = std::move(from.children);
  from.children.clear();
  for (auto& child : moved) {
    child_added(to, child.conn->name());
    to.children.push_back(std::move(child));
    schedule_child_timers(to, to.children.back());
  }
  from.tasks.migrate_to(to);
  if (IkeSa* next = from.reauth_by != 0 ? find(from.reauth_by) : nullptr; next != nullptr) {
    // The peer rekeyed the IKE SA we reauthenticate: the reauthentication replaces its successor.
    next->reauth_of = to.our_spi();
    to.reauth_by = next->our_spi();
    from.reauth_by = 0;
  }
  from.superseded = true;
  from.state = IkeState::kDeleting;
  for (auto* t : {&from.rekey_timer, &from.expire_timer, &from.dpd_timer}) {
    if (*t != 0) {
      ctx_.loop.cancel(*t);
      *t = 0;
    }
  }
  to.tasks.initiate();
}

void IkeSaManager::ike_rekeyed(const IkeSa& now, const IkeSa& old, RekeyKind kind) {
  Event e{EventType::kRekeyed, now.conn->name(), now.spi_i, now.spi_r, 0, 0, {}};
  e.rekey = kind;
  e.replaced_spi_i = old.spi_i;
  e.replaced_spi_r = old.spi_r;
  ctx_.emit(std::move(e));
}

void IkeSaManager::delete_spare(IkeSa& sa) {
  sa.superseded = true;
  if (sa.tasks.has_task("IkeDelete")) {
    return;
  }
  sa.tasks.queue(std::make_unique<tasks::IkeDelete>(sa, ctx_, "superseded"));
  sa.tasks.initiate();
}

void IkeSaManager::expect_spare_delete(IkeSa& sa, bool tell_peer) {
  sa.superseded = true;
  if (sa.spare_timer != 0) {
    return;
  }
  const uint64_t spi = sa.our_spi();
  sa.spare_timer = ctx_.loop.schedule(sa.conn->spec.retransmit_timeout, [this, spi, tell_peer] {
    IkeSa* s = find(spi);
    if (s == nullptr || s->state == IkeState::kDead) {
      return;
    }
    s->spare_timer = 0;
    if (tell_peer) {
      delete_spare(*s);  // the peer still holds it: delete it properly
    } else if (s->children.empty()) {
      finish(*s, "replaced by a rekey; the peer did not delete it", false);
    }
  });
}

void IkeSaManager::expect_spare_delete(IkeSa& sa, uint32_t child_spi_in) {
  const uint64_t ike = sa.our_spi();
  ctx_.loop.schedule(sa.conn->spec.retransmit_timeout, [this, ike, child_spi_in,
                                                        alive = std::weak_ptr<int>(ctx_.alive)] {
    if (alive.expired()) {
      return;
    }
    IkeSa* s = find(ike);
    ChildSa* c =
        s == nullptr || s->state == IkeState::kDead ? nullptr : s->child_by_spi_in(child_spi_in);
    if (c == nullptr || !c->spare || c->deleting) {
      return;
    }
    s->tasks.queue(std::make_unique<tasks::ChildDelete>(
        *s, ctx_, std::vector<uint32_t>{child_spi_in}, true, "spare of a rekey collision"));
    s->tasks.initiate();
  });
}

void IkeSaManager::on_kernel_expire(const kernel::ExpireEvent& expire, const std::string& conn) {
  for (IkeSa* sa : for_connection(conn)) {
    for (const auto& child : sa->children) {
      const bool in = child.spi_in == expire.sa.spi && expire.sa.dst == sa->local.address;
      const bool out = child.spi_out == expire.sa.spi && expire.sa.dst == sa->remote.address;
      if (!in && !out) {
        continue;
      }
      const uint32_t spi_in = child.spi_in;
      if (!expire.hard) {
        if (child.conn->spec.rekey) {
          start_child_rekey(*sa, spi_in);  // a byte or packet limit, or the kernel's clock
        }
        return;
      }
      const std::string reason = "the kernel expired SA " + tasks::hex32(expire.sa.spi) +
                                 " (hard " +
                                 (child.conn->spec.rekey ? "limit" : "limit, rekey=no") + ")";
      expire_child(*sa, spi_in, reason);
      return;
    }
  }
}

void IkeSaManager::schedule_dpd(IkeSa& sa, Clock::SteadyTime when) {
  sa.dpd_timer = schedule_for(sa, when, &IkeSaManager::dpd);
}

void IkeSaManager::dpd(IkeSa& sa) {
  if (sa.superseded) {
    return;
  }
  sa.dpd_timer = 0;
  const auto delay = std::chrono::duration_cast<Clock::Duration>(sa.conn->spec.dpd_delay);
  const auto now = ctx_.loop.now();
  // RFC 7296 2.4: only when nothing came from the peer for a whole interval.
  if (since(sa.last_received, now) >= delay && sa.established() && sa.tasks.idle()) {
    sa.tasks.queue(std::make_unique<tasks::IkeDpd>(sa, ctx_));
    sa.tasks.initiate();
    schedule_dpd(sa, now + delay);
    return;
  }
  schedule_dpd(sa, std::max(sa.last_received + delay, now + delay / 4));
}

}  // namespace ipsecd::engine
