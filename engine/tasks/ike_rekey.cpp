#include "engine/tasks/ike_rekey.h"

#include <algorithm>

#include "engine/ike_sa_manager.h"
#include "engine/proposal_selection.h"

namespace ipsecd::engine::tasks {
namespace {

std::vector<uint8_t> spi_octets(uint64_t spi) {
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(spi >> (56 - 8 * i));
  }
  return out;
}

uint64_t spi_of(std::span<const uint8_t> octets) {
  uint64_t spi = 0;
  for (uint8_t b : octets) {
    spi = spi << 8 | b;
  }
  return spi;
}

}  // namespace

IkeRekey::~IkeRekey() = default;

std::unique_ptr<Task> IkeRekey::migrate(IkeSa&) {
  return nullptr;  // the new IKE SA is what this task was for
}

void IkeRekey::note_collision(std::vector<uint8_t> peer_nonce, std::vector<uint8_t> our_nonce,
                              uint64_t new_spi) {
  collision_ = Collision{{std::move(peer_nonce), std::move(our_nonce)}, new_spi};
}

bool IkeRekey::peer_won() {
  if (!collision_) {
    return false;
  }
  IkeSa* theirs = ctx_.sas->find(collision_->new_spi);
  if (theirs == nullptr || theirs->state == IkeState::kDead) {
    return false;
  }
  theirs->superseded = false;
  ctx_.sas->hand_over(sa_, *theirs);
  ctx_.sas->ike_rekeyed(*theirs, sa_, RekeyKind::kIke);
  done_ = true;
  return true;
}

void IkeRekey::failed(const std::string& reason) {
  done_ = true;
  sa_.rekeying = false;
  Event e{EventType::kRekeyFailed, sa_.conn->name(), sa_.spi_i, sa_.spi_r, 0, 0, reason};
  e.rekey = RekeyKind::kIke;
  e.replaced_spi_i = sa_.spi_i;
  e.replaced_spi_r = sa_.spi_r;
  ctx_.emit(std::move(e));
}

void IkeRekey::abort(std::string_view) {
  done_ = true;
  sa_.rekeying = false;  // the IKE SA ends: its own events say so
}

Result IkeRekey::build(wire::Message& message) {
  return initiating_ ? build_request(message) : build_response(message);
}

Result IkeRekey::process(const wire::Message& message) {
  return initiating_ ? process_response(message) : process_request(message);
}

std::optional<crypto::IkeKeys> IkeRekey::derive(const IkeAlgorithms& algorithms,
                                                std::span<const uint8_t> g_ir, uint64_t spi_i,
                                                uint64_t spi_r, std::string& error) {
  auto prf = crypto::Prf::create(algorithms.prf);
  if (!prf.ok()) {
    error = prf.error();
    return std::nullopt;
  }
  auto lengths =
      crypto::key_lengths(algorithms.encr.id, algorithms.encr.key_bits, algorithms.integ);
  if (!lengths.ok()) {
    error = lengths.error();
    return std::nullopt;
  }
  // RFC 7296 2.18: SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), with the old PRF.
  crypto::Prf new_prf = std::move(prf).value();
  return crypto::derive_rekeyed_ike_keys(*sa_.prf, sa_.sk_d.span(), new_prf, *lengths, nonce_i_,
                                         nonce_r_, g_ir, spi_i, spi_r);
}

// ---- Initiator

Result IkeRekey::build_request(wire::Message& message) {
  if (!sa_.established() || sa_.superseded) {
    done_ = true;
    return Result::failed("the IKE SA is no longer established");
  }
  if (new_spi_ == 0) {
    new_spi_ = ctx_.sas->new_spi();
  }
  offer_ = sa_.conn->ike_offer;
  for (auto& p : offer_.proposals) {
    p.spi = spi_octets(new_spi_);
  }
  if (group_ == 0) {
    // The group the IKE SA has, when ike= still offers it; else ike='s first.
    group_ = static_cast<uint16_t>(sa_.algorithms.dh);
    if (!offers_group(offer_, group_)) {
      for (const auto& t : offer_.proposals.front().transforms) {
        if (t.type == wire::TransformType::kKeyExchange) {
          group_ = t.id;
          break;
        }
      }
    }
  }
  auto ke = crypto::KeyExchange::create(static_cast<model::DhId>(group_));
  if (!ke.ok()) {
    failed(ke.error());
    return Result::failed(ke.error());
  }
  ke_ = std::move(ke).value();
  nonce_i_ = ctx_.random_bytes(ctx_.options.nonce_size);
  sa_.rekeying = true;
  message.payloads.emplace_back(offer_);
  message.payloads.emplace_back(wire::NoncePayload{nonce_i_});
  auto pub = ke_->public_value();
  message.payloads.emplace_back(wire::KePayload{group_, {pub.begin(), pub.end()}});
  return Result::need_more();
}

Result IkeRekey::process_response(const wire::Message& message) {
  if (const auto* error = first_error(message)) {
    if (collision_ && peer_won()) {
      sa_.rekeying = false;
      return Result::success();  // the peer's crossing rekey finished first (2.8.2)
    }
    if (error->type == wire::NotifyType::kInvalidKePayload && error->data.size() == 2 &&
        !ke_retried_) {
      const uint16_t wanted = static_cast<uint16_t>(error->data[0] << 8 | error->data[1]);
      if (wanted != group_ && offers_group(offer_, wanted)) {
        ke_retried_ = true;
        group_ = wanted;
        ctx_.log(sa_.conn->name() + ": IKE rekey: the peer asks for " + group_text(wanted) +
                 ", retrying");
        return Result::need_more();  // a new request with the group the peer wants
      }
    }
    const std::string reason = "the peer answered " + wire::notify_name(error->type);
    failed(reason);
    ctx_.sas->retry_ike_rekey(sa_, error->type == wire::NotifyType::kTemporaryFailure);
    return Result::success();
  }
  const auto* sa = find<wire::SaPayload>(message);
  const auto* ke = find<wire::KePayload>(message);
  const auto* nonce = find<wire::NoncePayload>(message);
  std::string reason;
  if (sa == nullptr || ke == nullptr || nonce == nullptr) {
    reason = "the IKE rekey response lacks an SA, KE or Nonce payload";
  }
  std::optional<wire::Proposal> chosen;
  if (reason.empty()) {
    if (auto c = check_answer(*sa, offer_); !c.ok()) {
      reason = "IKE rekey response: " + c.error();
    } else if (c->spi.size() != 8 || spi_of(c->spi) == 0) {
      reason = "the IKE rekey response's proposal has no 8-octet SPI";
    } else {
      chosen = std::move(c).value();
    }
  }
  IkeAlgorithms algorithms;
  if (reason.empty()) {
    if (auto a = ike_algorithms(*chosen); !a.ok()) {
      reason = "IKE rekey response: " + a.error();
    } else if (static_cast<uint16_t>(a->dh) != group_ || ke->group != group_) {
      reason = "the peer chose key exchange group " + group_text(static_cast<uint16_t>(a->dh)) +
               " but we sent " + group_text(group_);
    } else if (nonce->data.size() < 16 || nonce->data.size() > 256) {
      reason = "the peer's nonce has " + std::to_string(nonce->data.size()) +
               " octets; RFC 7296 2.10 needs 16 to 256";
    } else {
      algorithms = *a;
    }
  }
  std::optional<crypto::IkeKeys> keys;
  if (reason.empty()) {
    nonce_r_ = nonce->data;
    peer_spi_ = spi_of(chosen->spi);
    if (auto g_ir = ke_->derive(ke->data); !g_ir.ok()) {
      reason = "the peer's KE payload: " + g_ir.error();
    } else {
      keys = derive(algorithms, g_ir->span(), new_spi_, peer_spi_, reason);
    }
  }
  IkeSa* ours = nullptr;
  if (reason.empty()) {
    ours = ctx_.sas->adopt_rekey(sa_, new_spi_, new_spi_, peer_spi_, true, algorithms, *keys,
                                 std::min(nonce_i_, nonce_r_), reason);
  }
  sa_.rekeying = false;
  if (ours == nullptr) {
    // The peer made its half: tell it, on the old IKE SA, that there is none here.
    failed(reason);
    ctx_.sas->retry_ike_rekey(sa_, false);
    return Result::success();
  }
  done_ = true;
  if (collision_) {
    IkeSa* theirs = ctx_.sas->find(collision_->new_spi);
    const bool spare = collision_->ours_is_spare(nonce_i_, nonce_r_);
    ctx_.log(sa_.conn->name() + ": IKE rekey collision: " +
             (spare ? "ours is the spare, deleting it" : "ours stays, deleting the old IKE SA"));
    if (spare) {
      ours->superseded = true;
      ctx_.sas->delete_spare(*ours);
      if (theirs != nullptr && theirs->state != IkeState::kDead) {
        theirs->superseded = false;
        ctx_.sas->hand_over(sa_, *theirs);
        ctx_.sas->ike_rekeyed(*theirs, sa_, RekeyKind::kIke);
      }
      ctx_.sas->expect_spare_delete(sa_);  // the peer deletes the old IKE SA
      return Result::success();
    }
    if (theirs != nullptr && theirs->state != IkeState::kDead) {
      ctx_.sas->expect_spare_delete(*theirs);  // the peer deletes its spare; if not, we do
    }
  }
  ctx_.sas->hand_over(sa_, *ours);
  ctx_.sas->ike_rekeyed(*ours, sa_, RekeyKind::kIke);
  ctx_.sas->delete_spare(sa_);  // the old IKE SA: its initiator of the rekey deletes it
  return Result::success();
}

// ---- Responder

Result IkeRekey::refuse(wire::NotifyType type, std::string reason, std::vector<uint8_t> data) {
  error_ = make_notify(type, std::move(data));
  reason_ = std::move(reason);
  ctx_.log(sa_.conn->name() + ": refusing the peer's IKE rekey: " + reason_);
  return Result::failed(reason_);
}

Result IkeRekey::process_request(const wire::Message& message) {
  if (sa_.state != IkeState::kEstablished || sa_.superseded) {
    return refuse(wire::NotifyType::kTemporaryFailure, "the IKE SA is being deleted");
  }
  if (sa_.tasks.child_exchange_active()) {
    return refuse(wire::NotifyType::kTemporaryFailure,
                  "a CHILD SA exchange of ours is outstanding (RFC 7296 2.25.2)");
  }
  const auto* sa = find<wire::SaPayload>(message);
  const auto* ke = find<wire::KePayload>(message);
  const auto* nonce = find<wire::NoncePayload>(message);
  if (sa == nullptr || ke == nullptr || nonce == nullptr) {
    return refuse(wire::NotifyType::kInvalidSyntax,
                  "the IKE rekey request lacks an SA, KE or Nonce payload");
  }
  if (nonce->data.size() < 16 || nonce->data.size() > 256) {
    return refuse(wire::NotifyType::kInvalidSyntax, "the peer's nonce has " +
                                                        std::to_string(nonce->data.size()) +
                                                        " octets; RFC 7296 2.10 needs 16 to 256");
  }
  chosen_ = choose(*sa, sa_.conn->ike_offer, wire::ProtocolId::kIke, ke->group);
  if (!chosen_) {
    return refuse(wire::NotifyType::kNoProposalChosen, "no proposal chosen: the peer offered " +
                                                           describe(*sa) + ", ike= accepts " +
                                                           describe(sa_.conn->ike_offer));
  }
  if (chosen_->spi.size() != 8 || spi_of(chosen_->spi) == 0) {
    return refuse(wire::NotifyType::kInvalidSyntax, "the IKE rekey proposal has no 8-octet SPI (" +
                                                        std::to_string(chosen_->spi.size()) +
                                                        " octets)");
  }
  auto algorithms = ike_algorithms(*chosen_);
  if (!algorithms.ok()) {
    return refuse(wire::NotifyType::kNoProposalChosen, algorithms.error());
  }
  const uint16_t group = static_cast<uint16_t>(algorithms->dh);
  if (group != ke->group) {
    return refuse(
        wire::NotifyType::kInvalidKePayload,
        "the peer's KE is for group " + group_text(ke->group) + "; asked for " + group_text(group),
        group_octets(group));
  }
  auto own = crypto::KeyExchange::create(algorithms->dh);
  if (!own.ok()) {
    return refuse(wire::NotifyType::kNoProposalChosen, own.error());
  }
  ke_ = std::move(own).value();
  auto g_ir = ke_->derive(ke->data);
  if (!g_ir.ok()) {
    return refuse(wire::NotifyType::kInvalidSyntax, "the peer's KE payload: " + g_ir.error());
  }
  peer_spi_ = spi_of(chosen_->spi);
  new_spi_ = ctx_.sas->new_spi();
  nonce_i_ = nonce->data;
  nonce_r_ = ctx_.random_bytes(ctx_.options.nonce_size);
  algorithms_ = *algorithms;
  group_ = group;
  std::string error;
  keys_ = derive(algorithms_, g_ir->span(), peer_spi_, new_spi_, error);
  if (!keys_) {
    return refuse(wire::NotifyType::kNoProposalChosen, error);
  }
  auto pub = ke_->public_value();
  public_.assign(pub.begin(), pub.end());
  return Result::need_more();
}

Result IkeRekey::build_response(wire::Message& message) {
  if (error_) {
    message.payloads.emplace_back(*error_);
    return Result::failed(reason_);
  }
  wire::Proposal answer = *chosen_;
  answer.spi = spi_octets(new_spi_);
  message.payloads.emplace_back(wire::SaPayload{{std::move(answer)}});
  message.payloads.emplace_back(wire::NoncePayload{nonce_r_});
  message.payloads.emplace_back(wire::KePayload{group_, public_});
  return Result::need_more();
}

void IkeRekey::sent() {
  if (error_ || !keys_ || done_) {
    return;
  }
  done_ = true;
  std::string error;
  // The peer started this rekey: it is the new IKE SA's initiator (2.18).
  IkeSa* theirs = ctx_.sas->adopt_rekey(sa_, new_spi_, peer_spi_, new_spi_, false, algorithms_,
                                        *keys_, std::min(nonce_i_, nonce_r_), error);
  keys_.reset();
  if (theirs == nullptr) {
    ctx_.log(sa_.conn->name() + ": cannot take the peer's IKE rekey: " + error);
    return;
  }
  if (auto* ours = sa_.tasks.active_ike_rekey()) {
    // Crossing rekeys (2.8.2): settled when our own exchange ends.
    ours->note_collision(nonce_i_, nonce_r_, new_spi_);
    theirs->superseded = true;
    return;
  }
  ctx_.sas->hand_over(sa_, *theirs);
  ctx_.sas->ike_rekeyed(*theirs, sa_, RekeyKind::kIke);
  ctx_.sas->expect_spare_delete(sa_);  // the peer deletes the old IKE SA
}

}  // namespace ipsecd::engine::tasks
