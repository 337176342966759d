#include "engine/ike_sa_manager.h"

#include <algorithm>

#include "engine/child_install.h"
#include "engine/crypto/prf.h"
#include "engine/identities.h"
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
    if (sa->state != IkeState::kConnecting && sa->state != IkeState::kEstablished) {
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

void IkeSaManager::established(IkeSa& sa) {
  sa.state = IkeState::kEstablished;
  if (!sa.initiator) {
    index_peer(sa);  // its connection is settled now; initiators are indexed at creation
  }
  sa.established_at = ctx_.loop.clock().wall();
  if (sa.half_open) {
    sa.half_open = false;
    --half_open_;
    half_open_index_.erase(HalfOpenKey{sa.spi_i, sa.first_remote});
  }
  if (sa.half_open_timer != 0) {
    ctx_.loop.cancel(sa.half_open_timer);
    sa.half_open_timer = 0;
  }
  // RFC 3948 2.3: keep our NAT's mapping alive; only the side behind it can.
  if (sa.nat_local && sa.conn->spec.nat_keepalive &&
      ctx_.options.nat_keepalive_interval.count() > 0 && sa.keepalive_timer == 0) {
    schedule_keepalive(sa, sa.last_sent + ctx_.options.nat_keepalive_interval);
  }
  Event up{EventType::kIkeUp, sa.conn->name(), sa.spi_i, sa.spi_r, 0, 0, {}};
  up.handshake = ctx_.loop.now() - sa.created;
  ctx_.emit(std::move(up));
}

void IkeSaManager::schedule_keepalive(IkeSa& sa, Clock::SteadyTime when) {
  const uint64_t spi = sa.our_spi();
  sa.keepalive_timer = ctx_.loop.schedule_at(when, [this, spi] { keepalive(spi); });
}

void IkeSaManager::keepalive(uint64_t spi) {
  IkeSa* sa = find(spi);
  if (sa == nullptr || sa->state == IkeState::kDead) {
    return;
  }
  sa->keepalive_timer = 0;
  const auto now = ctx_.loop.now();
  const auto due = sa->last_sent + ctx_.options.nat_keepalive_interval;
  if (now >= due) {
    // Nothing went to the peer for a whole interval: the NAT may forget us.
    sa->last_sent = now;
    ctx_.transport.send_keepalive(sa->local, sa->remote);
    schedule_keepalive(*sa, now + ctx_.options.nat_keepalive_interval);
    return;
  }
  schedule_keepalive(*sa, due);  // an IKE message refreshed the mapping meanwhile
}

void IkeSaManager::child_down(IkeSa& sa, uint32_t spi_in, const std::string& reason) {
  ChildSa* child = sa.child_by_spi_in(spi_in);
  if (child == nullptr) {
    return;
  }
  uninstall(ctx_.kernel, sa, *child);
  ctx_.emit(Event{EventType::kChildDown, child->conn->name(), sa.spi_i, sa.spi_r, child->spi_in,
                  child->spi_out, reason});
  sa.remove_child(spi_in);
}

void IkeSaManager::finish(IkeSa& sa, std::string reason, bool failed, bool notify) {
  if (sa.state == IkeState::kDead) {
    return;
  }
  sa.state = IkeState::kDead;
  ctx_.log((sa.conn ? sa.conn->name() : std::string("?")) + ": IKE SA " +
           (failed ? "failed: " : "down: ") + reason);
  if (sa.half_open) {
    sa.half_open = false;
    --half_open_;
    half_open_index_.erase(HalfOpenKey{sa.spi_i, sa.first_remote});
  }
  if (sa.half_open_timer != 0) {
    ctx_.loop.cancel(sa.half_open_timer);
    sa.half_open_timer = 0;
  }
  if (sa.keepalive_timer != 0) {
    ctx_.loop.cancel(sa.keepalive_timer);
    sa.keepalive_timer = 0;
  }
  if (notify) {
    ctx_.emit(Event{failed ? EventType::kIkeFailed : EventType::kIkeDown, sa.conn->name(), sa.spi_i,
                    sa.spi_r, 0, 0, reason});
  }
  for (const auto& child : sa.children) {
    uninstall(ctx_.kernel, sa, child);
    if (notify) {
      ctx_.emit(Event{EventType::kChildDown, child.conn->name(), sa.spi_i, sa.spi_r, child.spi_in,
                      child.spi_out, reason});
    }
  }
  sa.children.clear();
  sa.tasks.abort_all(reason);
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

}  // namespace ipsecd::engine
