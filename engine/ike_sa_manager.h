#pragma once
// All IKE SAs, by our SPI; the half-open ones also by the initiator's SPI and
// address (to answer a retransmitted IKE_SA_INIT); the COOKIE threshold; the
// end of an IKE SA and the events it raises.

#include <cstdint>
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
  // Uninstalls one CHILD SA and tells the controller.
  void child_down(IkeSa& sa, uint32_t spi_in, const std::string& reason);

  // A CHILD SA of `conn` now lives on `sa` (for child_up()).
  void child_added(IkeSa& sa, const std::string& conn);
  // Whether an established IKE SA carries a CHILD SA of `conn` not being deleted.
  bool child_up(const std::string& conn);
  // `sa` now negotiates for sa.conn (set at creation, IKE_SA_INIT and IKE_AUTH).
  void note_connection(IkeSa& sa);
  // The live IKE SAs that belong to `conn` or carry one of its CHILD SAs, by
  // our SPI; as fast as the connection has SAs, whatever the total.
  std::vector<IkeSa*> for_connection(const std::string& conn);

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
  uint64_t new_spi();
  void reap(uint64_t spi);
  // Arms the SA's NAT-keepalive timer to fire at `when`.
  void schedule_keepalive(IkeSa& sa, Clock::SteadyTime when);
  void keepalive(uint64_t spi);

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
