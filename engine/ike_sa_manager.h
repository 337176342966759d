#pragma once
// All IKE SAs, by our SPI; the half-open ones also by the initiator's SPI and
// address (to answer a retransmitted IKE_SA_INIT); the COOKIE threshold; the
// end of an IKE SA and the events it raises.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include "engine/context.h"
#include "engine/crypto/secret.h"
#include "engine/ike_sa.h"

namespace ipsecd::engine {

class IkeSaManager {
 public:
  explicit IkeSaManager(EngineContext& ctx);
  ~IkeSaManager();

  // A datagram from the transport.
  void dispatch(const Endpoint& local, const Endpoint& remote, std::span<uint8_t> datagram);

  // A new IKE SA we initiate for `conn`; tasks still to be queued.
  IkeSa& create_initiator(const ConnectionRef& conn);
  // Queues and starts an initiator's IKE_SA_INIT and IKE_AUTH, with a CHILD SA
  // of conns[0] in IKE_AUTH and one of each further connection after it.
  void queue_handshake(IkeSa& sa, const std::vector<ConnectionRef>& conns);
  IkeSa* find(uint64_t our_spi);
  // The IKE SA a further CHILD SA of `conn` can use: same addresses and ids.
  IkeSa* reusable_for(const LoadedConnection& conn);
  template <class F>
  void for_each(F&& f) {
    for (auto& [spi, sa] : sas_) {
      f(*sa);
    }
  }

  // Ends the IKE SA: CHILD SAs leave the kernel, tasks are aborted, events
  // carry `reason`; a deletion we or the peer asked for is "down", anything
  // else "failed". The object goes away on the next loop turn.
  void finish(IkeSa& sa, std::string reason, bool failed, bool notify = true);
  // IKE_AUTH succeeded.
  void established(IkeSa& sa);
  // INITIAL_CONTACT (RFC 7296 2.4). Whether we hold no established IKE SA
  // with that peer address for our id, so ours may say it; and, as responder,
  // the peer said it: the IKE SAs with that peer and ids that were up well
  // before this one began are from its earlier life and go, without DELETE.
  bool first_contact(const IkeSa& sa);
  void initial_contact(IkeSa& sa);
  // Uninstalls one CHILD SA and tells the controller, unless it was replaced
  // or the connection keeps an equivalent CHILD SA (then its policies stay
  // too). A successor waiting for it to go gets its outbound SA now.
  void child_down(IkeSa& sa, uint32_t spi_in, const std::string& reason);
  // The outbound SA that NEXT kept back while the CHILD SA it takes over from
  // remained (pending_out) goes into the kernel now; nothing when it has none.
  void install_pending_out(IkeSa& sa, ChildSa& next);
  // The same AFTER from now, unless the CHILD SA it waits for went first: for a
  // peer that keeps both CHILD SAs instead of deleting the old one.
  void install_pending_out_later(uint64_t ike_spi, uint32_t spi_in, Clock::Duration after);
  // A CHILD SA is in the kernel: kept on `sa`, indexed, its rekey and expiry timers armed.
  void add_child(IkeSa& sa, ChildSa child);

  // ---- Rekeying and liveness (RFC 7296 1.3.2, 1.3.3, 2.4, 2.8)
  uint64_t new_spi();
  // Queues a rekey of that CHILD SA; false when it is gone, replaced or
  // already being rekeyed, or the IKE SA is not established.
  bool start_child_rekey(IkeSa& sa, uint32_t spi_in);
  // Queues the IKE SA's rekey (or, with reauth=yes, a reauthentication).
  bool start_ike_rekey(IkeSa& sa, bool reauth);
  // After TEMPORARY_FAILURE: the rekey again in 2-10 s (before the SA expires).
  void retry_child_rekey(IkeSa& sa, uint32_t spi_in);
  void retry_ike_rekey(IkeSa& sa, bool temporary);
  // A reauthentication's new IKE SA has run its tasks: the old one goes
  // (make-before-break); CHILD SAs it could not re-create go down with it.
  void reauthenticated(IkeSa& sa);
  // The new IKE SA of a rekey: established, keyed from `keys`, no CHILD SAs
  // yet; null with `error` when its keys cannot be set up.
  IkeSa* adopt_rekey(IkeSa& old, uint64_t our_spi, uint64_t spi_i, uint64_t spi_r, bool initiator,
                     const IkeAlgorithms& algorithms, crypto::IkeKeys& keys,
                     std::vector<uint8_t> min_nonce, std::string& error);
  // `from`'s CHILD SAs (with their timers) and queued tasks move to `to`;
  // `from` is superseded and waits for its DELETE.
  void hand_over(IkeSa& from, IkeSa& to);
  void ike_rekeyed(const IkeSa& now, const IkeSa& old, RekeyKind kind);
  // Deletes a superseded IKE SA (a rekey's old one or a collision's spare) quietly.
  void delete_spare(IkeSa& sa);
  // The peer should delete this superseded IKE SA (or this spare CHILD SA);
  // if it has not after retransmit-timeout, we do.
  // tell_peer: delete it ourselves then (a duplicate the peer still holds),
  // else let it go quietly (a rekeyed IKE SA the peer has moved away from).
  void expect_spare_delete(IkeSa& sa, bool tell_peer = false);
  void expect_spare_delete(IkeSa& sa, uint32_t child_spi_in);
  // A kernel soft expire starts the SA's rekey; a hard one takes it down.
  void on_kernel_expire(const kernel::ExpireEvent& expire, const std::string& conn);

  // A CHILD SA of `conn` now lives on `sa` (for child_up()).
  void child_added(IkeSa& sa, const std::string& conn);
  // Whether an established IKE SA carries a CHILD SA of `conn` not being deleted.
  bool child_up(const std::string& conn);
  // `sa` now negotiates for sa.conn (set at creation, IKE_SA_INIT and IKE_AUTH).
  void note_connection(IkeSa& sa);
  // The live IKE SAs that belong to `conn` or carry one of its CHILD SAs, by
  // our SPI; as fast as the connection has SAs, whatever the total.
  std::vector<IkeSa*> for_connection(const std::string& conn);

  // Established IKE SAs (not being replaced) with this peer address and id.
  std::size_t ike_sas_with(const IkeSa& like, const model::Identity& peer);
  std::size_t half_open() const { return half_open_; }
  std::size_t size() const { return sas_.size(); }

 private:
  struct HalfOpenKey {
    uint64_t spi_i;
    Endpoint remote;
    bool operator<(const HalfOpenKey& o) const {
      if (spi_i != o.spi_i) {
        return spi_i < o.spi_i;
      }
      if (remote.port != o.remote.port) {
        return remote.port < o.remote.port;
      }
      return remote.address < o.remote.address;
    }
  };
  void init_request(const Endpoint& local, const Endpoint& remote, std::span<uint8_t> datagram,
                    const wire::Header& header);
  std::vector<uint8_t> cookie_for(const wire::Message& request, const Endpoint& remote) const;
  void send_plain(const Endpoint& local, const Endpoint& remote, wire::Message& message);
  std::shared_ptr<const Candidates> candidates(const Endpoint& local, const Endpoint& remote);
  // The key of reusable_for's index: addresses and our id.
  static std::string peer_key(const kernel::Address& local, const kernel::Address& remote,
                              const model::Identity& local_id);
  void index_peer(IkeSa& sa);
  // The SA no longer counts as half-open (RFC 7296 2.6's cookie threshold): established,
  // or gone.
  void leave_half_open(IkeSa& sa);
  void reap(uint64_t spi);
  // Whether another CHILD SA of the same connection with the same flows is
  // live (on `sa` too unless other_sas_only): the connection is still up.
  bool has_equivalent(const IkeSa& sa, const ChildSa& child, bool other_sas_only);
  void arm_child(IkeSa& sa, ChildSa& child);
  void schedule_child_timers(IkeSa& sa, ChildSa& child);
  void child_timer(uint64_t ike_spi, uint32_t spi_in, bool hard);
  // The CHILD SA's lifetime is over: it goes here and at the peer.
  void expire_child(IkeSa& sa, uint32_t spi_in, const std::string& reason);
  void arm_ike(IkeSa& sa);
  void schedule_ike_timers(IkeSa& sa);
  void ike_rekey_due(IkeSa& sa);
  void ike_expire_due(IkeSa& sa);
  void schedule_dpd(IkeSa& sa, Clock::SteadyTime when);
  void dpd(IkeSa& sa);
  // Simultaneous initiation: two IKE SAs between the same ends and ids, or
  // two CHILD SAs of one connection with the same flows on one IKE SA. Both
  // sides pick the same duplicate; its IKE SA's initiator deletes it (a
  // duplicate CHILD SA both delete). Run after the current exchange.
  void close_duplicate_ike(uint64_t spi);
  void close_duplicate_child(uint64_t ike_spi, uint32_t spi_in);
  // Visits the other live IKE SAs between the same addresses for the same local id, as
  // long as `visit` returns true.
  void for_each_sibling(const IkeSa& sa, const std::function<bool(IkeSa&)>& visit);
  // reauth=yes: whether `sa` carries a CHILD SA to re-create; the new IKE SA
  // and its tasks; the new SA's failure (the old one stays, retried later).
  bool reauthenticable(const IkeSa& sa) const;
  void start_reauth(IkeSa& old);
  void reauth_failed(IkeSa& sa, const std::string& reason);
  // Our reauthentication's new IKE SA lost a crossing with the peer's: quietly unlinked.
  void abandon_reauth(IkeSa& sa);
  // The CHILD SAs of `old` no other IKE SA carries go down now (events with
  // `reason`), before `old` goes quietly.
  void announce_uncovered(IkeSa& old, const std::string& reason);
  // The peer's new IKE SA `by` replaces `old` with all its CHILD SAs (the
  // peer's reauthentication): kRekeyed kReauth, the rekey count carries on,
  // `old` goes quietly.
  void reauthenticated_by_peer(IkeSa& old, IkeSa& by);

 public:
  // The peer deletes `dying` while our own IKE SA with it is still in
  // IKE_AUTH (it closed `dying` as the duplicate of that one): its CHILD SAs
  // stay, quietly, on ours until ours brings its own up. Or an established
  // twin carries them: `dying` goes quietly, told as the peer's
  // reauthentication when the twin is the peer's and begun well after it.
  // True if taken.
  bool adopt_orphans(IkeSa& dying);

 private:
  // Arms the SA's NAT-keepalive timer to fire at `when`.
  void schedule_keepalive(IkeSa& sa, Clock::SteadyTime when);
  void keepalive(IkeSa& sa);
  // A timer on the SA's behalf: when it fires, the SA is found again by its SPI (it may be
  // gone by then) and, while it lives, `fire` runs on it.
  EventLoop::TimerId schedule_for(IkeSa& sa, Clock::SteadyTime when,
                                  void (IkeSaManager::*fire)(IkeSa&));

  EngineContext& ctx_;
  std::unordered_map<uint64_t, std::unique_ptr<IkeSa>> sas_;
  std::map<HalfOpenKey, uint64_t> half_open_index_;
  std::size_t half_open_ = 0;
  crypto::Secret cookie_secret_;
  // Indexes that make initiation and responder lookups independent of how many
  // SAs and connections there are. Entries may be stale: readers check and prune.
  std::map<std::pair<kernel::Address, kernel::Address>, std::shared_ptr<const Candidates>>
      candidates_;
  uint64_t candidates_generation_ = 0;
  std::unordered_map<std::string, std::vector<uint64_t>> by_peer_;   // peer_key -> SPIs
  std::unordered_map<std::string, std::vector<uint64_t>> by_child_;  // connection -> SPIs
  std::unordered_map<std::string, std::vector<uint64_t>> by_conn_;   // sa.conn's name -> SPIs
};

}  // namespace ipsecd::engine
