#include "engine/tasks/child_create.h"

#include <algorithm>

#include "engine/child_install.h"
#include "engine/identities.h"
#include "engine/ike_sa_manager.h"
#include "engine/tasks/child_delete.h"
#include "engine/traffic_selectors.h"

namespace ipsecd::engine::tasks {
namespace {

std::optional<uint16_t> pfs_group(const LoadedConnection& conn) {
  if (!conn.spec.pfs) {
    return std::nullopt;
  }
  for (const auto& p : *conn.esp) {
    for (auto g : p.dh) {
      if (crypto::KeyExchange::supported(g)) {
        return static_cast<uint16_t>(g);
      }
    }
  }
  return std::nullopt;
}

uint32_t spi_of(std::span<const uint8_t> spi) {
  return static_cast<uint32_t>(spi[0]) << 24 | static_cast<uint32_t>(spi[1]) << 16 |
         static_cast<uint32_t>(spi[2]) << 8 | spi[3];
}
uint32_t spi_of(const wire::Proposal& p) {
  return spi_of(p.spi);
}
// How long a responder's new CHILD SA waits to send for the DELETE of a twin
// (see sent()): the peer's DELETE follows its install within one round trip.
constexpr Clock::Duration kTwinOutboundWait = std::chrono::seconds(5);

std::vector<uint8_t> spi_octets(uint32_t spi) {
  return {static_cast<uint8_t>(spi >> 24), static_cast<uint8_t>(spi >> 16),
          static_cast<uint8_t>(spi >> 8), static_cast<uint8_t>(spi)};
}

}  // namespace

ChildCreate::ChildCreate(IkeSa& sa, EngineContext& ctx, ConnectionRef conn, bool first,
                         uint32_t rekey_of)
    : Task(sa, ctx), conn_(std::move(conn)), first_(first), rekey_of_(rekey_of) {}

std::unique_ptr<Task> ChildCreate::migrate(IkeSa& to) {
  if (first_ || !initiating_ || !conn_) {
    return nullptr;
  }
  return std::make_unique<ChildCreate>(to, ctx_, conn_, false, rekey_of_);
}

void ChildCreate::note_collision(std::vector<uint8_t> peer_nonce, std::vector<uint8_t> our_nonce,
                                 uint32_t spi_in) {
  collision_ = Collision{{std::move(peer_nonce), std::move(our_nonce)}, spi_in};
}

void ChildCreate::emit_rekeyed(const ChildSa& now, uint32_t old_in, uint32_t old_out) {
  Event e{EventType::kRekeyed, now.conn->name(), sa_.spi_i, sa_.spi_r, now.spi_in, now.spi_out, {}};
  e.rekey = RekeyKind::kChild;
  e.replaced_child_spi_in = old_in;
  e.replaced_child_spi_out = old_out;
  ctx_.emit(std::move(e));
}

void ChildCreate::rekey_failed(const std::string& reason) {
  const uint32_t old_spi = rekey_of_ != 0 ? rekey_of_ : replaced_;
  ChildSa* old = sa_.child_by_spi_in(old_spi);
  if (rekey_of_ != 0 && old != nullptr && old->rekey == ChildRekey::kRekeying) {
    old->rekey = ChildRekey::kNone;
  }
  Event e{EventType::kRekeyFailed,
          conn_ ? conn_->name() : std::string(),
          sa_.spi_i,
          sa_.spi_r,
          child_.spi_in,
          child_.spi_out,
          reason};
  e.rekey = RekeyKind::kChild;
  e.replaced_child_spi_in = old_spi;
  e.replaced_child_spi_out = old != nullptr ? old->spi_out : 0;
  ctx_.emit(std::move(e));
}

ChildCreate::~ChildCreate() {
  if (!finished_) {
    release_spi();  // reserved or installed inbound, never completed
  }
}

void ChildCreate::release_spi() {
  if (child_.spi_in != 0) {
    [[maybe_unused]] auto st =
        ctx_.kernel.delete_sa(kernel::SaId{sa_.local.address, child_.spi_in});
    child_.spi_in = 0;
  }
}

Result ChildCreate::kernel_refused(std::string_view what, const kernel::Status& st) {
  uninstall(ctx_.kernel, sa_, child_);
  // The peer has the CHILD SA: tell it to delete its half (RFC 7296 1.4.1).
  sa_.tasks.queue(
      std::make_unique<ChildDelete>(sa_, ctx_, std::vector<uint32_t>{child_.spi_in}, false));
  child_.spi_in = 0;
  return fail("the kernel refused " + std::string(what) + ": " + st.error().message);
}

Result ChildCreate::fail(std::string reason) {
  if (!finished_ && (rekey_of_ != 0 || replaced_ != 0)) {
    rekey_failed(reason);  // the old CHILD SA stays: the connection is still up
  } else if (!finished_ && conn_ && sa_.reauth_of == 0) {
    // (A reauthentication's CHILD SA that fails leaves the old one up: the
    // reauthentication's own events tell.)
    finished_ = true;
    ctx_.emit(Event{EventType::kChildFailed, conn_->name(), sa_.spi_i, sa_.spi_r, child_.spi_in,
                    child_.spi_out, reason});
  }
  finished_ = true;
  return Result::failed(std::move(reason));
}

Result ChildCreate::reject(std::string reason) {
  // The peer holds its half of the CHILD SA: ask it to delete that (RFC 7296 1.4.1).
  if (child_.spi_in != 0) {
    sa_.tasks.queue(
        std::make_unique<ChildDelete>(sa_, ctx_, std::vector<uint32_t>{child_.spi_in}, false));
  }
  release_spi();
  return fail(std::move(reason));
}

void ChildCreate::abort(std::string_view reason) {
  if (!finished_) {
    release_spi();
    if (rekey_of_ != 0 || replaced_ != 0) {
      finished_ = true;  // the IKE SA ends: its own events say so
      return;
    }
    fail(std::string(reason));
  }
}

Result ChildCreate::refuse(wire::NotifyType type, std::string reason, std::vector<uint8_t> data) {
  error_ = make_notify(type, std::move(data));
  reason_ = std::move(reason);
  ctx_.log("refusing CHILD SA: " + reason_);
  return Result::failed(reason_);
}

bool ChildCreate::derive(std::span<const uint8_t> g_ir) {
  auto lengths = crypto::key_lengths(child_.algorithms.encr.id, child_.algorithms.encr.key_bits,
                                     child_.algorithms.integ);
  if (!lengths.ok()) {
    reason_ = lengths.error();
    return false;
  }
  const auto& ni = first_ ? sa_.handshake->nonce_i : nonce_i_;
  const auto& nr = first_ ? sa_.handshake->nonce_r : nonce_r_;
  keys_ = crypto::derive_child_keys(*sa_.prf, sa_.sk_d, *lengths, g_ir, ni, nr);
  return true;
}

Result ChildCreate::build(wire::Message& message) {
  return initiating_ ? build_request(message) : build_response(message);
}

Result ChildCreate::process(const wire::Message& message) {
  return initiating_ ? process_response(message) : process_request(message);
}

// ---- Initiator

Result ChildCreate::build_request(wire::Message& message) {
  ChildSa* old = nullptr;
  if (rekey_of_ != 0) {
    old = sa_.child_by_spi_in(rekey_of_);
    if (old == nullptr || old->deleting || old->rekey != ChildRekey::kNone) {
      finished_ = true;  // deleted or replaced meanwhile: nothing left to rekey
      return Result::failed("CHILD SA " + hex32(rekey_of_) + " is gone or already replaced");
    }
    old->rekey = ChildRekey::kRekeying;
    conn_ = old->conn;
    child_.rekeys = old->rekeys + 1;
  }
  const LoadedConnection& conn = *conn_;
  child_.conn = conn_;
  child_.reqid = conn.reqid;
  auto spi = ctx_.kernel.allocate_spi(sa_.remote.address, sa_.local.address, conn.reqid);
  if (!spi.ok()) {
    return fail("cannot reserve an inbound SPI: " + spi.error().message);
  }
  child_.spi_in = *spi;
  // 0: no PFS (always so in IKE_AUTH, RFC 7296 1.2).
  const uint16_t group = first_ ? 0 : pfs_group(conn).value_or(0);
  offer_ = esp_offer(*conn.esp, child_.spi_in, group != 0, conn.spec.esn);
  if (offer_.proposals.empty()) {
    release_spi();
    return fail("esp= has no algorithm the kernel backend supports");
  }
  // A rekey asks for what the old CHILD SA has, as it was narrowed.
  offered_tsi_ = old != nullptr ? old->ts_local : conn.ts_local;
  offered_tsr_ = old != nullptr ? old->ts_remote : conn.remote_selectors(sa_.remote.address);
  transport_ = old != nullptr ? old->mode == kernel::Mode::kTransport
                              : conn.spec.mode == model::Mode::kTransport;
  if (old != nullptr) {
    message.payloads.emplace_back(wire::NotifyPayload{
        wire::ProtocolId::kEsp, spi_octets(rekey_of_), wire::NotifyType::kRekeySa, {}});
  }
  if (transport_) {
    message.payloads.emplace_back(make_notify(wire::NotifyType::kUseTransportMode));
  }
  message.payloads.emplace_back(offer_);
  if (!first_) {
    nonce_i_ = ctx_.random_bytes(ctx_.options.nonce_size);
    message.payloads.emplace_back(wire::NoncePayload{nonce_i_});
    if (group != 0) {
      auto ke = crypto::KeyExchange::create(static_cast<model::DhId>(group));
      if (!ke.ok()) {
        release_spi();
        return fail(ke.error());
      }
      ke_ = std::move(ke).value();
      auto pub = ke_->public_value();
      message.payloads.emplace_back(wire::KePayload{group, {pub.begin(), pub.end()}});
    }
  }
  message.payloads.emplace_back(wire::TsPayload{false, offered_tsi_});
  message.payloads.emplace_back(wire::TsPayload{true, offered_tsr_});
  return Result::need_more();
}

Result ChildCreate::process_response(const wire::Message& message) {
  if (finished_) {
    return Result::failed(reason_);
  }
  const LoadedConnection& conn = *conn_;
  if (const auto* error = first_error(message)) {
    release_spi();
    if (rekey_of_ != 0) {
      return rekey_refused(*error);
    }
    return fail("the peer refused the CHILD SA: " + wire::notify_name(error->type) +
                (error->type == wire::NotifyType::kNoProposalChosen
                     ? " (we offered esp=" + describe(offer_) + ")"
                 : error->type == wire::NotifyType::kTsUnacceptable
                     ? " (we offered " + str(offered_tsi_) + " to " + str(offered_tsr_) + ")"
                     : ""));
  }
  const auto* sa = find<wire::SaPayload>(message);
  const auto* tsi = find_ts(message, false);
  const auto* tsr = find_ts(message, true);
  if (sa == nullptr || tsi == nullptr || tsr == nullptr) {
    return reject("the peer's answer lacks the SA, TSi or TSr payload of the CHILD SA");
  }
  auto chosen = check_answer(*sa, offer_);
  if (!chosen.ok()) {
    return reject("CHILD SA: " + chosen.error());
  }
  auto algorithms = esp_algorithms(*chosen);
  if (!algorithms.ok()) {
    return reject("CHILD SA: " + algorithms.error());
  }
  child_.algorithms = *algorithms;
  child_.spi_out = spi_of(*chosen);
  if (!within(tsi->selectors, offered_tsi_) || !within(tsr->selectors, offered_tsr_)) {
    return reject("the peer answered selectors " + str(tsi->selectors) + " to " +
                  str(tsr->selectors) + ", outside what we offered");
  }
  if (!conn.spec.narrowing && (!same_selectors(tsi->selectors, offered_tsi_) ||
                               !same_selectors(tsr->selectors, offered_tsr_))) {
    return reject("the peer narrowed the selectors to " + str(tsi->selectors) + " to " +
                  str(tsr->selectors) + " but narrowing=no");
  }
  child_.ts_local = tsi->selectors;
  child_.ts_remote = tsr->selectors;
  const bool transport = find_notify(message, wire::NotifyType::kUseTransportMode) != nullptr;
  if (transport_ && !transport) {
    return reject("we asked for transport mode (type=transport) and the peer answered tunnel mode");
  }
  child_.mode = transport ? kernel::Mode::kTransport : kernel::Mode::kTunnel;
  std::vector<uint8_t> g_ir_bytes;
  crypto::Secret g_ir;
  if (!first_) {
    const auto* nonce = find<wire::NoncePayload>(message);
    if (nonce == nullptr) {
      return reject("the CREATE_CHILD_SA response lacks a Nonce");
    }
    nonce_r_ = nonce->data;
    if (ke_) {
      const auto* ke = find<wire::KePayload>(message);
      if (ke == nullptr || ke->group != static_cast<uint16_t>(ke_->group()) ||
          child_.algorithms.dh != ke_->group()) {
        return reject("the CREATE_CHILD_SA response lacks the KE payload for PFS group " +
                      crypto::group_name(ke_->group()));
      }
      auto secret = ke_->derive(ke->data);
      if (!secret.ok()) {
        return reject("the peer's KE payload: " + secret.error());
      }
      g_ir = std::move(secret).value();
    }
  }
  auto flows_result = flows(child_.ts_local, child_.ts_remote);
  if (!flows_result.ok()) {
    return reject(flows_result.error());
  }
  child_.flows = std::move(flows_result).value();
  if (sa_.nat_local || sa_.nat_remote) {
    child_.encap = kernel::UdpEncap{sa_.local.port, sa_.remote.port};
  }
  if (!derive(g_ir)) {
    return reject(reason_);
  }
  // Inbound first, so nothing the peer sends once it sees our SA is lost.
  // The spare of a rekey collision (2.8.1) is deleted at once: it never
  // gets an outbound SA, which the kernel would send with as the newest.
  const bool spare = collision_ && collision_->ours_is_spare(nonce_i_, nonce_r_);
  kernel::Status st = install_sa(ctx_.kernel, sa_, child_, true, keys_->encr_r, keys_->integ_r);
  if (st.ok() && !spare) {
    st = install_sa(ctx_.kernel, sa_, child_, false, keys_->encr_i, keys_->integ_i);
  }
  if (st.ok() && !spare) {
    st = install_policies(ctx_.kernel, sa_, child_);
  }
  keys_.reset();
  if (!st.ok()) {
    return kernel_refused("the CHILD SA", st);
  }
  child_.established = ctx_.loop.clock().wall();
  finished_ = true;
  const uint32_t spi_in = child_.spi_in;
  if (rekey_of_ != 0) {
    child_.replaces = sa_.child_by_spi_in(rekey_of_) != nullptr ? rekey_of_ : 0;
    ctx_.sas->add_child(sa_, std::move(child_));
    finish_rekey(spi_in);
    return Result::success();
  }
  Event up{EventType::kChildUp, conn.name(),    sa_.spi_i, sa_.spi_r,
           child_.spi_in,       child_.spi_out, {}};
  child_.crossed = crossed_;
  ctx_.sas->add_child(sa_, std::move(child_));
  ctx_.emit(std::move(up));
  return Result::success();
}

Result ChildCreate::rekey_refused(const wire::NotifyPayload& error) {
  finished_ = true;
  ChildSa* old = sa_.child_by_spi_in(rekey_of_);
  const std::string why = "the peer answered " + wire::notify_name(error.type);
  if (collision_) {
    // The peer finished its own rekey of this CHILD SA first (2.8.1): the
    // one its exchange made here takes over and the peer deletes the old.
    ChildSa* theirs = sa_.child_by_spi_in(collision_->spi_in);
    if (theirs != nullptr) {
      theirs->quiet = false;
      if (old != nullptr) {
        old->rekey = ChildRekey::kRekeyed;
        emit_rekeyed(*theirs, old->spi_in, old->spi_out);
      }
    }
    return Result::success();
  }
  if (old == nullptr) {
    return Result::success();  // deleted meanwhile: nothing to rekey
  }
  if (error.type == wire::NotifyType::kChildSaNotFound) {
    // RFC 7296 2.25: the peer has no such CHILD SA; ours is of no use.
    old->rekey = ChildRekey::kNone;
    ctx_.sas->child_down(sa_, rekey_of_, "the peer no longer has the CHILD SA (" + why + ")");
    return Result::success();
  }
  rekey_failed(why);
  if (error.type == wire::NotifyType::kTemporaryFailure) {
    ctx_.sas->retry_child_rekey(sa_, rekey_of_);  // a crossing exchange: again a little later
  }
  return Result::success();
}

void ChildCreate::finish_rekey(uint32_t new_spi_in) {
  ChildSa* ours = sa_.child_by_spi_in(new_spi_in);
  ChildSa* old = sa_.child_by_spi_in(rekey_of_);
  if (collision_) {
    ChildSa* theirs = sa_.child_by_spi_in(collision_->spi_in);
    const bool spare = collision_->ours_is_spare(nonce_i_, nonce_r_);
    ctx_.log(conn_->name() + ": rekey collision on CHILD SA " + hex32(rekey_of_) + ": " +
             (spare ? "ours is the spare, deleting it" : "ours stays, deleting the old SA"));
    if (spare) {
      ours->quiet = true;
      ours->spare = true;
      ours->replaces = 0;
      sa_.tasks.queue(std::make_unique<ChildDelete>(sa_, ctx_, std::vector<uint32_t>{new_spi_in},
                                                    true, "spare of a rekey collision"));
      if (theirs != nullptr) {
        theirs->quiet = false;
      }
      if (old != nullptr) {
        old->rekey = ChildRekey::kRekeyed;  // the peer deletes it
        if (theirs != nullptr) {
          emit_rekeyed(*theirs, old->spi_in, old->spi_out);
        }
      }
      return;
    }
    if (theirs != nullptr) {
      theirs->spare = true;  // the peer deletes it; if it does not, we do
      ctx_.sas->expect_spare_delete(sa_, theirs->spi_in);
    }
  } else if (old == nullptr) {
    // The peer deleted the CHILD SA while we rekeyed it: it wanted it gone (2.25.1).
    ours->quiet = true;
    ours->replaces = 0;
    sa_.tasks.queue(std::make_unique<ChildDelete>(sa_, ctx_, std::vector<uint32_t>{new_spi_in},
                                                  true,
                                                  "the peer deleted it while it was rekeyed"));
    return;
  }
  if (old != nullptr) {
    old->rekey = ChildRekey::kRekeyed;
    old->quiet = true;
    emit_rekeyed(*ours, old->spi_in, old->spi_out);
    sa_.tasks.queue(std::make_unique<ChildDelete>(sa_, ctx_, std::vector<uint32_t>{rekey_of_}, true,
                                                  "rekeyed"));
  }
}

// ---- Responder

Result ChildCreate::take_rekey(const wire::NotifyPayload& notify) {
  if (notify.protocol != wire::ProtocolId::kEsp || notify.spi.size() != 4) {
    return refuse(wire::NotifyType::kInvalidSyntax,
                  "REKEY_SA must name an ESP SPI of 4 octets (protocol " +
                      std::to_string(static_cast<int>(notify.protocol)) + ", " +
                      std::to_string(notify.spi.size()) + " octets)");
  }
  // The peer names its inbound SPI: our outbound one.
  const uint32_t spi = spi_of(notify.spi);
  ChildSa* old = sa_.child_by_spi_out(spi);
  if (old == nullptr) {
    error_ = wire::NotifyPayload{
        wire::ProtocolId::kEsp, notify.spi, wire::NotifyType::kChildSaNotFound, {}};
    reason_ = "the peer asks to rekey CHILD SA " + hex32(spi) + ", which does not exist here";
    ctx_.log("refusing CHILD SA: " + reason_);
    return Result::failed(reason_);
  }
  if (old->deleting || old->rekey == ChildRekey::kRekeyed) {
    // 2.25.1: being deleted, or already replaced by our own rekey.
    return refuse(wire::NotifyType::kTemporaryFailure,
                  "CHILD SA " + hex32(spi) + " is being deleted or was replaced already");
  }
  conn_ = old->conn;
  replaced_ = old->spi_in;
  replaced_out_ = old->spi_out;
  child_.rekeys = old->rekeys + 1;
  return Result::success();
}

ConnectionRef ChildCreate::pick_connection(const wire::TsPayload& tsi,
                                           const wire::TsPayload& tsr) const {
  if (first_) {
    return sa_.conn;
  }
  // A further CHILD SA: a connection between the same addresses and ids
  // whose selectors overlap the request. Best: one without a CHILD SA here
  // whose selectors take the request unchanged; then one that narrows it;
  // then one that already has a CHILD SA.
  ConnectionRef best;
  int best_rank = -1;
  for (const auto& [name, c] : ctx_.connections) {
    if (!(c->local.address == sa_.local.address) ||
        (c->remote && !(*c->remote == sa_.remote.address)) ||
        !id_matches(c->remote_id, sa_.peer_id) || !(c->local_id == sa_.conn->local_id)) {
      continue;
    }
    auto narrowed_i = narrow(tsi.selectors, c->remote_selectors(sa_.remote.address));
    auto narrowed_r = narrow(tsr.selectors, c->ts_local);
    if (narrowed_i.empty() || narrowed_r.empty()) {
      continue;
    }
    const ConnectionRef& candidate = c;  // clang 14 cannot capture a structured binding
    const bool has_child =
        std::any_of(sa_.children.begin(), sa_.children.end(),
                    [&candidate](const ChildSa& ch) { return ch.conn == candidate; });
    const bool exact = narrowed_i == tsi.selectors && narrowed_r == tsr.selectors;
    const int rank = has_child ? 0 : exact ? 2 : 1;
    if (rank > best_rank) {
      best = c;
      best_rank = rank;
      if (rank == 2) {
        break;
      }
    }
  }
  return best;
}

Result ChildCreate::process_request(const wire::Message& message) {
  const auto* sa = find<wire::SaPayload>(message);
  const auto* tsi = find_ts(message, false);
  const auto* tsr = find_ts(message, true);
  if (first_ && sa == nullptr) {
    return Result::success();  // IKE_AUTH without a CHILD SA
  }
  requested_ = true;
  if (sa == nullptr || tsi == nullptr || tsr == nullptr) {
    return refuse(wire::NotifyType::kInvalidSyntax, "the request lacks SA, TSi or TSr");
  }
  if (!first_ && (sa_.state == IkeState::kDeleting || sa_.rekeying)) {
    // RFC 7296 2.25.2: not while the IKE SA is being closed or rekeyed.
    return refuse(wire::NotifyType::kTemporaryFailure,
                  "the IKE SA is being rekeyed or deleted; the peer may retry on its successor");
  }
  if (const auto* rekey = first_ ? nullptr : find_notify(message, wire::NotifyType::kRekeySa)) {
    if (auto r = take_rekey(*rekey); r.outcome == Outcome::kFailed) {
      return r;
    }
  } else {
    conn_ = pick_connection(*tsi, *tsr);
  }
  if (!conn_) {
    return refuse(wire::NotifyType::kTsUnacceptable,
                  "no connection between " + sa_.local.address.str() + " and " +
                      sa_.remote.address.str() + " covers " + str(tsi->selectors) + " to " +
                      str(tsr->selectors));
  }
  const LoadedConnection& conn = *conn_;
  if (const auto limit = ctx_.options.max_child_sas_per_connection;
      limit != 0 && !first_ && replaced_ == 0) {
    const auto live =
        std::count_if(sa_.children.begin(), sa_.children.end(), [this](const ChildSa& c) {
          return c.conn->name() == conn_->name() && !c.deleting && !c.spare &&
                 c.rekey != ChildRekey::kRekeyed;
        });
    if (static_cast<std::size_t>(live) >= limit) {
      ++ctx_.refused_child_sas;
      const std::string name = conn_->name();
      conn_.reset();  // a refusal at the limit is not this connection's failure
      return refuse(wire::NotifyType::kNoAdditionalSas,
                    name + " already has " + std::to_string(limit) +
                        " CHILD SAs on this IKE SA (the limit); the peer asks for another");
    }
  }
  child_.conn = conn_;
  child_.reqid = conn.reqid;
  const auto* ke = first_ ? nullptr : find<wire::KePayload>(message);
  const bool pfs = !first_ && pfs_group(conn).has_value();
  wire::SaPayload ours = esp_offer(*conn.esp, 0, pfs, conn.spec.esn);
  chosen_ = choose(*sa, ours, wire::ProtocolId::kEsp, ke ? ke->group : 0);
  if (!chosen_) {
    return refuse(wire::NotifyType::kNoProposalChosen, "no ESP proposal chosen for " + conn.name() +
                                                           ": the peer offered " + describe(*sa) +
                                                           ", esp= accepts " + describe(ours));
  }
  auto algorithms = esp_algorithms(*chosen_);
  if (!algorithms.ok()) {
    return refuse(wire::NotifyType::kNoProposalChosen, algorithms.error());
  }
  child_.algorithms = *algorithms;
  child_.spi_out = spi_of(*chosen_);
  auto remote_ts = conn.remote_selectors(sa_.remote.address);
  child_.ts_remote = narrow(tsi->selectors, remote_ts);
  child_.ts_local = narrow(tsr->selectors, conn.ts_local);
  if (child_.ts_remote.empty() || child_.ts_local.empty()) {
    return refuse(wire::NotifyType::kTsUnacceptable,
                  "the peer's selectors " + str(tsi->selectors) + " to " + str(tsr->selectors) +
                      " do not overlap " + conn.name() + "'s " + str(remote_ts) + " to " +
                      str(conn.ts_local));
  }
  auto flows_result = flows(child_.ts_local, child_.ts_remote);
  if (!flows_result.ok()) {
    return refuse(wire::NotifyType::kTsUnacceptable, flows_result.error());
  }
  child_.flows = std::move(flows_result).value();
  const bool transport_asked = find_notify(message, wire::NotifyType::kUseTransportMode) != nullptr;
  const bool transport_configured = conn.spec.mode == model::Mode::kTransport;
  if (transport_configured && !transport_asked) {
    return refuse(wire::NotifyType::kNoProposalChosen,
                  "the peer asks for tunnel mode but " + conn.name() + " has type=transport");
  }
  transport_ = transport_asked && transport_configured;
  child_.mode = transport_ ? kernel::Mode::kTransport : kernel::Mode::kTunnel;
  crypto::Secret g_ir;
  if (!first_) {
    const auto* nonce = find<wire::NoncePayload>(message);
    if (nonce == nullptr) {
      return refuse(wire::NotifyType::kInvalidSyntax, "the CREATE_CHILD_SA request lacks a Nonce");
    }
    nonce_i_ = nonce->data;
    nonce_r_ = ctx_.random_bytes(ctx_.options.nonce_size);
    if (child_.algorithms.dh != model::DhId::kNone) {
      const uint16_t group = static_cast<uint16_t>(child_.algorithms.dh);
      if (ke == nullptr || ke->group != group) {
        return refuse(wire::NotifyType::kInvalidKePayload,
                      "the peer's PFS KE is not for the chosen group " +
                          crypto::group_name(child_.algorithms.dh),
                      group_octets(group));
      }
      auto own = crypto::KeyExchange::create(child_.algorithms.dh);
      if (!own.ok()) {
        return refuse(wire::NotifyType::kNoProposalChosen, own.error());
      }
      ke_ = std::move(own).value();
      auto secret = ke_->derive(ke->data);
      if (!secret.ok()) {
        return refuse(wire::NotifyType::kInvalidSyntax, "the peer's KE payload: " + secret.error());
      }
      g_ir = std::move(secret).value();
    }
  }
  if (sa_.nat_local || sa_.nat_remote) {
    child_.encap = kernel::UdpEncap{sa_.local.port, sa_.remote.port};
  }
  auto spi = ctx_.kernel.allocate_spi(sa_.remote.address, sa_.local.address, conn.reqid);
  if (!spi.ok()) {
    return refuse(notify_for(spi.error()), "cannot reserve an inbound SPI: " + spi.error().message);
  }
  child_.spi_in = *spi;
  if (!derive(g_ir)) {
    release_spi();
    return refuse(wire::NotifyType::kNoProposalChosen, reason_);
  }
  // RFC 7296 2.17: the initiator's keys come first; we receive with them.
  kernel::Status st = install_sa(ctx_.kernel, sa_, child_, true, keys_->encr_i, keys_->integ_i);
  if (!st.ok()) {
    release_spi();
    keys_.reset();
    return refuse(notify_for(st.error()),
                  "the kernel refused the inbound SA: " + st.error().message);
  }
  return Result::need_more();
}

Result ChildCreate::build_response(wire::Message& message) {
  if (!requested_) {
    return Result::success();
  }
  if (error_) {
    message.payloads.emplace_back(*error_);
    if (conn_ && replaced_ == 0) {
      return fail(reason_);
    }
    if (replaced_ != 0) {
      rekey_failed("we refused the peer's rekey: " + reason_);
    }
    finished_ = true;
    return Result::failed(reason_);
  }
  if (transport_) {
    message.payloads.emplace_back(make_notify(wire::NotifyType::kUseTransportMode));
  }
  wire::Proposal answer = *chosen_;
  answer.spi = {static_cast<uint8_t>(child_.spi_in >> 24),
                static_cast<uint8_t>(child_.spi_in >> 16), static_cast<uint8_t>(child_.spi_in >> 8),
                static_cast<uint8_t>(child_.spi_in)};
  message.payloads.emplace_back(wire::SaPayload{{std::move(answer)}});
  if (!first_) {
    message.payloads.emplace_back(wire::NoncePayload{nonce_r_});
    if (ke_) {
      auto pub = ke_->public_value();
      message.payloads.emplace_back(
          wire::KePayload{static_cast<uint16_t>(ke_->group()), {pub.begin(), pub.end()}});
    }
  }
  message.payloads.emplace_back(wire::TsPayload{false, child_.ts_remote});
  message.payloads.emplace_back(wire::TsPayload{true, child_.ts_local});
  return Result::need_more();
}

const ChildSa* ChildCreate::carrying_the_same_flows() const {
  for (const ChildSa& c : sa_.children) {
    if (!c.deleting && !c.spare && c.rekey == ChildRekey::kNone && c.pending_out == std::nullopt &&
        c.conn->name() == child_.conn->name() && c.flows == child_.flows) {
      return &c;
    }
  }
  return nullptr;
}

void ChildCreate::sent() {
  if (!requested_ || error_ || finished_) {
    return;
  }
  ChildSa* old = replaced_ != 0 ? sa_.child_by_spi_in(replaced_) : nullptr;
  // Not a rekey, but a CHILD SA for flows one of ours on this IKE SA already
  // carries: the peer replacing it make-before-break (an edited connection),
  // or initiations that crossed.
  const ChildSa* twin = old != nullptr ? old : carrying_the_same_flows();
  kernel::Status st;
  if (twin != nullptr) {
    // The new outbound SA waits for the old CHILD SA's DELETE: the kernel sends
    // with the newest SA at once, and the peer installs its inbound half only
    // once it has read this answer. A twin's peer may keep both: a timer ends the wait.
    child_.pending_out = OutboundKeys{std::move(keys_->encr_r), std::move(keys_->integ_r)};
    child_.replaces = twin->spi_in;
    if (old == nullptr) {
      ctx_.sas->install_pending_out_later(sa_.our_spi(), child_.spi_in, kTwinOutboundWait);
    }
  } else {
    st = install_sa(ctx_.kernel, sa_, child_, false, keys_->encr_r, keys_->integ_r);
  }
  if (st.ok()) {
    st = install_policies(ctx_.kernel, sa_, child_);
  }
  keys_.reset();
  if (!st.ok()) {
    kernel_refused("the outbound SA or policies", st);
    sa_.tasks.initiate();
    return;
  }
  child_.established = ctx_.loop.clock().wall();
  finished_ = true;
  if (old != nullptr) {
    const uint32_t spi_in = child_.spi_in;
    if (auto* ours = sa_.tasks.active_child_rekey(replaced_)) {
      // Crossing rekeys (2.8.1): settled when our own exchange ends.
      ours->note_collision(nonce_i_, nonce_r_, spi_in);
      child_.quiet = true;
      old->quiet = true;
      ctx_.sas->add_child(sa_, std::move(child_));
      return;
    }
    old->rekey = ChildRekey::kRekeyed;
    old->quiet = true;
    ctx_.sas->add_child(sa_, std::move(child_));
    if (ChildSa* now = sa_.child_by_spi_in(spi_in)) {
      emit_rekeyed(*now, replaced_, replaced_out_);
    }
    return;
  }
  Event up{EventType::kChildUp, conn_->name(),  sa_.spi_i, sa_.spi_r,
           child_.spi_in,       child_.spi_out, {}};
  if (auto* mine = first_ ? nullptr : sa_.tasks.active_child_create(conn_->name())) {
    mine->note_crossed();  // both sides made one at once: one is a duplicate
    child_.crossed = true;
  }
  ctx_.sas->add_child(sa_, std::move(child_));
  ctx_.emit(std::move(up));
}

}  // namespace ipsecd::engine::tasks
