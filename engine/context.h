#pragma once
// What every part of the engine shares: the injected loop, network, kernel and
// randomness, the options, the loaded connections and secrets, and the event
// sink. Owned by Engine; used only on the loop thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/crypto/random.h"
#include "engine/event_loop.h"
#include "engine/events.h"
#include "engine/transport.h"
#include "engine/wire/message.h"
#include "kernel/backend.h"
#include "model/connection.h"
#include "model/secrets.h"

namespace ipsecd::engine {

struct EngineOptions {
  uint16_t ike_port = 500;    // our IKE port, and the peer's unless its endpoint names one
  uint16_t natt_port = 4500;  // the peer's NAT-T port
  // Half-open IKE SAs above which a responder asks for a COOKIE (RFC 7296 2.6).
  std::size_t cookie_threshold = 1000;
  // A responder forgets an IKE SA whose IKE_AUTH has not come by then.
  std::chrono::milliseconds half_open_timeout{30000};
  // Behind a NAT, an established IKE SA sends a NAT-keepalive (RFC 3948 2.3)
  // when nothing else went to the peer for this long; 0 turns them off.
  std::chrono::milliseconds nat_keepalive_interval{20000};
  // IKE SAs we initiate that may be in IKE_SA_INIT/IKE_AUTH at once; more
  // initiations wait their turn (first come, first served).
  std::size_t max_initiations = 128;
  // What an authenticated peer may hold: CHILD SAs of one connection on one
  // IKE SA beside rekeys (one, plus crossings), and IKE SAs with one peer
  // (address and id; rekeys and duplicates overlap for a moment). Beyond
  // them the peer is answered NO_ADDITIONAL_SAS. 0: no limit.
  std::size_t max_child_sas_per_connection = 4;
  std::size_t max_ike_sas_per_peer = 8;
  // Nonce size in octets (RFC 7296 2.10: at least half the PRF key size).
  std::size_t nonce_size = 32;
  std::function<void(std::string_view)> log;  // one line per call; never a secret
};

// A connection as the engine uses it: oriented (which side is us), with its
// ids, proposals and selectors resolved once at load().
struct LoadedConnection {
  model::Connection spec;
  bool local_is_left = true;
  Endpoint local;                         // our address and IKE port
  std::optional<kernel::Address> remote;  // nullopt: %any
  uint16_t remote_port = 500;
  model::Identity local_id;   // address id when leftid= is unset
  model::Identity remote_id;  // %any accepts any peer id
  model::ProposalList ike;    // never null: defaults filled in
  model::ProposalList esp;
  wire::SaPayload ike_offer;                    // what we send and accept
  std::vector<wire::TrafficSelector> ts_local;  // subnets or the host, with protoport
  std::vector<wire::TrafficSelector>
      ts_remote;  // empty for %any without subnets: the peer's address
  uint32_t reqid = 0;

  const model::Endpoint& local_end() const { return local_is_left ? spec.left : spec.right; }
  const model::Endpoint& remote_end() const { return local_is_left ? spec.right : spec.left; }
  const std::string& name() const { return spec.name; }
  // The remote selectors, with the peer's address standing in for %any.
  std::vector<wire::TrafficSelector> remote_selectors(const kernel::Address& peer) const;
};
using ConnectionRef = std::shared_ptr<const LoadedConnection>;

class IkeSaManager;

struct EngineContext {
  EventLoop& loop;
  Transport& transport;
  kernel::Backend& kernel;
  crypto::Random& random;
  EngineOptions options;
  std::shared_ptr<const model::Secrets> secrets = std::make_shared<model::Secrets>();
  std::unordered_map<std::string, ConnectionRef> connections;
  IkeSaManager* sas = nullptr;
  std::function<void(const Event&)> on_event;  // the Engine's dispatcher
  // Posted callbacks hold this weakly: they do nothing once the engine is gone.
  std::shared_ptr<int> alive = std::make_shared<int>(0);
  uint64_t connections_generation = 0;  // moves on every load and unload: caches check it
  // Requests refused at the options' limits, since start.
  uint64_t refused_child_sas = 0;
  uint64_t refused_ike_sas = 0;

  // Delivered later on the loop, never from inside SA processing.
  void emit(Event event);
  // Events emitted and not yet delivered, by connection.
  std::unordered_map<std::string, uint32_t> undelivered = {};
  void log(std::string_view line) const {
    if (options.log) {
      options.log(line);
    }
  }
  std::vector<uint8_t> random_bytes(std::size_t n) {
    std::vector<uint8_t> out(n);
    random.fill(out);
    return out;
  }
};

}  // namespace ipsecd::engine
