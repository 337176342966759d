#pragma once
// The state of one IKE SA and its CHILD SAs. Kept compact: what only the
// handshake needs (nonces, IKE_SA_INIT messages, the key exchange, SK_pi/pr)
// lives in a Handshake that is freed once IKE_AUTH is done.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/context.h"
#include "engine/crypto/key_exchange.h"
#include "engine/crypto/keys.h"
#include "engine/crypto/prf.h"
#include "engine/crypto/secret.h"
#include "engine/crypto/signature.h"
#include "engine/crypto/sk_cipher.h"
#include "engine/proposal_selection.h"
#include "engine/task_manager.h"
#include "engine/transport.h"

namespace ipsecd::engine {

enum class IkeState : uint8_t { kConnecting, kEstablished, kDeleting, kDead };
std::string_view name(IkeState state);

enum class ChildRekey : uint8_t { kNone, kRekeying, kRekeyed };

struct OutboundKeys {
  crypto::Secret encr;
  crypto::Secret integ;
};

struct ChildSa {
  ConnectionRef conn;
  uint32_t reqid = 0;
  uint32_t spi_in = 0;   // ours: the peer sends with it
  uint32_t spi_out = 0;  // the peer's
  EspAlgorithms algorithms;
  kernel::Mode mode = kernel::Mode::kTunnel;
  std::optional<kernel::UdpEncap> encap;
  std::vector<wire::TrafficSelector> ts_local;
  std::vector<wire::TrafficSelector> ts_remote;
  std::vector<kernel::Selector> flows;  // outbound direction: local to remote
  Clock::WallTime established{};
  bool deleting = false;

  // Rekeying (RFC 7296 1.3.3, 2.8). kRekeyed: a successor is installed and
  // this one waits for its DELETE, still receiving what is in flight.
  ChildRekey rekey = ChildRekey::kNone;
  // Leaves without a child-down event: it was replaced, or it is the spare
  // of a rekey collision (2.8.1) that one side deletes.
  bool quiet = false;
  bool spare = false;  // that spare: its pending outbound SA never goes in
  // Kept from a duplicate IKE SA the peer deleted, until our own IKE SA with
  // that peer brings its CHILD SA up: traffic keeps flowing meanwhile.
  bool orphan = false;
  // Made while the other side made one for the same connection (crossing
  // CREATE_CHILD_SAs): one of the two is a duplicate.
  bool crossed = false;
  // spi_in of the CHILD SA this one rekeyed or stands beside, while that one remains.
  uint32_t replaces = 0;
  uint32_t rekeys = 0;  // rekeys of its predecessors: the lineage's count
  // Responder of a rekey (or of a twin for the same flows): our outbound SA goes in only once the
  // old CHILD SA is deleted, so the peer never sees traffic on an SA it cannot read yet.
  std::optional<OutboundKeys> pending_out;
  Clock::SteadyTime rekey_due{};   // zero: no rekey (rekey=no, or replaced)
  Clock::SteadyTime expire_due{};  // the hard lifetime
  EventLoop::TimerId rekey_timer = 0;
  EventLoop::TimerId expire_timer = 0;
};

// The connections a responder may use for one (local, remote) address pair:
// exact peer first, then %any, each by name; shared by every handshake between
// the two addresses until connections change.
struct Candidates {
  std::vector<ConnectionRef> all;
  // id_match_key of a remote id -> positions in `all` configured with it.
  std::unordered_map<std::string, std::vector<uint32_t>> by_remote_id;
  std::vector<uint32_t> unkeyed;  // positions whose remote id has no key (%any, addresses)
  // Positions, ascending, whose remote id may match `peer`.
  std::vector<uint32_t> for_peer(const model::Identity& peer) const;
};

struct Handshake {
  std::vector<uint8_t> nonce_i;
  std::vector<uint8_t> nonce_r;
  std::vector<uint8_t> init_request;  // IKE_SA_INIT as on the wire, for AUTH (RFC 7296 2.15)
  std::vector<uint8_t> init_response;
  std::unique_ptr<crypto::KeyExchange> ke;
  crypto::Secret sk_pi;
  crypto::Secret sk_pr;
  std::shared_ptr<const Candidates> candidates;  // responder: connections the addresses allow
  // The peer's SIGNATURE_HASH_ALGORITHMS (RFC 7427 4), for our AUTH signature.
  bool peer_announced_hashes = false;
  std::vector<crypto::SignatureHash> peer_signature_hashes;
};

class IkeSa {
 public:
  IkeSa(EngineContext& ctx, bool initiator, uint64_t our_spi, ConnectionRef conn, Endpoint local,
        Endpoint remote);
  ~IkeSa();
  IkeSa(const IkeSa&) = delete;
  IkeSa& operator=(const IkeSa&) = delete;

  uint64_t our_spi() const { return initiator ? spi_i : spi_r; }
  bool established() const { return state == IkeState::kEstablished; }

  // Encodes a message, SK-protected unless it is IKE_SA_INIT.
  model::Result<std::vector<uint8_t>> seal(wire::Message& message);
  // Decodes a datagram; an SK payload is checked, decrypted in place and
  // replaced by the payloads inside it.
  model::Result<wire::Message> open(std::span<uint8_t> datagram);

  // Keys from IKE_SA_INIT; sets sk_d, the SK ciphers and handshake SK_pi/pr.
  model::Result<bool> derive_keys(std::span<const uint8_t> g_ir);
  // SK_d and the SK ciphers from `keys` (algorithms and prf already set).
  model::Result<bool> take_keys(crypto::IkeKeys& keys);

  // Sends an encoded IKE message from local to remote and notes when.
  void send(std::span<const uint8_t> datagram);

  ChildSa* child_by_spi_in(uint32_t spi);
  ChildSa* child_by_spi_out(uint32_t spi);
  // Forgets the CHILD SA and its timers (the kernel objects are the caller's).
  void remove_child(uint32_t spi_in);
  // Cancels the SA's own timers and its CHILD SAs' (it dies, or hands them on).
  void cancel_timers();

  uint64_t spi_i = 0;
  uint64_t spi_r = 0;
  bool initiator = false;
  IkeState state = IkeState::kConnecting;
  bool half_open = false;   // counted in the manager's half-open total
  bool nat_local = false;   // we are behind a NAT
  bool nat_remote = false;  // the peer is
  ConnectionRef conn;
  Endpoint local;
  Endpoint remote;
  model::Identity peer_id;  // as authenticated
  IkeAlgorithms algorithms;
  std::optional<crypto::Prf> prf;
  crypto::Secret sk_d;
  std::unique_ptr<crypto::SkCipher> sk_out;
  std::unique_ptr<crypto::SkCipher> sk_in;
  std::unique_ptr<Handshake> handshake;
  std::vector<ChildSa> children;
  Clock::WallTime established_at{};
  Clock::SteadyTime created{};  // when this SA was made: the handshake's start
  EventLoop::TimerId half_open_timer = 0;
  EventLoop::TimerId keepalive_timer = 0;
  Clock::SteadyTime last_sent{};  // the last IKE message or keepalive to the peer
  Endpoint first_remote;  // responder: where IKE_SA_INIT came from (the half-open index key)
  Clock::SteadyTime last_received{};  // the last authenticated message from the peer
  // Rekey and liveness (RFC 7296 1.3.2, 2.4, 2.8.2).
  bool rekeying = false;    // our IKE rekey or reauthentication is under way
  bool superseded = false;  // replaced by a rekey (or a collision's spare): goes without events
  bool peer_dead = false;   // ended because a liveness check went unanswered (dpdaction=)
  uint32_t rekeys = 0;      // rekeys and reauthentications of its predecessors
  // Reauthentication (reauth=yes), make-before-break: a new IKE SA, with a
  // full IKE_SA_INIT and IKE_AUTH, re-creates this one's CHILD SAs; only then
  // is the old one deleted. Our SPIs of the two while that is under way.
  uint64_t reauth_of = 0;  // the new SA: the one it reauthenticates
  uint64_t reauth_by = 0;  // the old SA: the one reauthenticating it
  // When this SA's lineage (it and the SAs it rekeyed) was first established:
  // an IKE SA the peer starts well after that is a fresh start, not a
  // simultaneous initiation.
  Clock::SteadyTime line_up{};
  // The lower nonce of the exchange that made this IKE SA: of two IKE SAs
  // between the same ends and ids, the one with the lower is the duplicate.
  std::vector<uint8_t> min_nonce;
  Clock::SteadyTime rekey_due{};   // zero: none (rekey=no)
  Clock::SteadyTime expire_due{};  // rekey=no: deleted then
  EventLoop::TimerId rekey_timer = 0;
  EventLoop::TimerId expire_timer = 0;
  EventLoop::TimerId dpd_timer = 0;
  EventLoop::TimerId spare_timer = 0;  // a collision's spare the peer should delete
  TaskManager tasks;

 private:
  EngineContext& ctx_;
};

}  // namespace ipsecd::engine
