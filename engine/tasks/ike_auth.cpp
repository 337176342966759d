#include "engine/tasks/ike_auth.h"

#include "engine/crypto/auth.h"
#include "engine/identities.h"
#include "engine/ike_sa.h"
#include "engine/ike_sa_manager.h"
#include "engine/traffic_selectors.h"

namespace ipsecd::engine::tasks {
namespace {

std::vector<uint8_t> octets(crypto::Prf& prf, std::span<const uint8_t> message,
                            std::span<const uint8_t> nonce, const crypto::Secret& sk_p,
                            const wire::IdPayload& id) {
  return crypto::signed_octets(prf, message, nonce, sk_p, static_cast<uint8_t>(id.type), id.data);
}

std::span<const uint8_t> secret_of(const model::SecretEntry& e) {
  return crypto::as_bytes(e.secret.view());
}

}  // namespace

const model::SecretEntry* IkeAuth::psk(const model::Identity& local,
                                       const model::Identity& remote) const {
  return ctx_.secrets ? ctx_.secrets->find_psk(local, remote) : nullptr;
}

Result IkeAuth::build(wire::Message& message) {
  Handshake& hs = *sa_.handshake;
  const LoadedConnection& conn = *sa_.conn;
  if (!sa_.initiator && !failure_.empty()) {
    message.payloads.clear();
    message.payloads.emplace_back(make_notify(refusal_));
    return Result::failed(failure_);
  }
  auto id = id_payload(conn.local_id, !sa_.initiator);
  if (!id.ok()) {
    return Result::failed(id.error());
  }
  const model::Identity& remote_id = sa_.initiator ? conn.remote_id : sa_.peer_id;
  const auto* secret = psk(conn.local_id, remote_id);
  if (secret == nullptr) {
    return Result::failed("no PSK in ipsec.secrets for " + conn.local_id.str() + " and " +
                          remote_id.str());
  }
  auto signed_data = sa_.initiator ? octets(*sa_.prf, hs.init_request, hs.nonce_r, hs.sk_pi, *id)
                                   : octets(*sa_.prf, hs.init_response, hs.nonce_i, hs.sk_pr, *id);
  wire::AuthPayload auth{wire::AuthMethod::kSharedKeyMic,
                         crypto::psk_auth(*sa_.prf, secret_of(*secret), signed_data)};
  message.payloads.emplace_back(std::move(id).value());
  if (sa_.initiator && conn.remote_id.kind != model::IdKind::kAny) {
    // IDr tells a responder with several connections which one we mean.
    auto idr = id_payload(conn.remote_id, true);
    if (idr.ok()) {
      message.payloads.emplace_back(std::move(idr).value());
    }
  }
  message.payloads.emplace_back(std::move(auth));
  if (sa_.initiator && ctx_.sas->first_contact(sa_)) {
    // RFC 7296 2.4: the peer may drop what it still holds from an earlier life of ours.
    message.payloads.emplace_back(make_notify(wire::NotifyType::kInitialContact));
  }
  if (!sa_.initiator) {
    ctx_.sas->established(sa_);
    if (initial_contact_) {
      ctx_.sas->initial_contact(sa_);
    }
    return Result::success();
  }
  return Result::need_more();
}

Result IkeAuth::process(const wire::Message& message) {
  Handshake& hs = *sa_.handshake;
  if (sa_.initiator) {
    if (find_notify(message, wire::NotifyType::kAuthenticationFailed) != nullptr) {
      return Result::failed(
          "AUTHENTICATION_FAILED: the peer rejected our authentication; check "
          "that both sides have the same PSK for " +
          sa_.conn->local_id.str() + " and " + sa_.conn->remote_id.str());
    }
    if (const auto* error = first_error(message);
        error != nullptr && find<wire::AuthPayload>(message) == nullptr) {
      return Result::failed("the peer refused IKE_AUTH with " + wire::notify_name(error->type));
    }
    const auto* idr = find_id(message, true);
    const auto* auth = find<wire::AuthPayload>(message);
    if (idr == nullptr || auth == nullptr) {
      return Result::failed("the IKE_AUTH response lacks IDr or AUTH");
    }
    auto peer = identity_of(*idr);
    if (!peer.ok()) {
      return Result::failed("the peer's IDr: " + peer.error());
    }
    if (!id_matches(sa_.conn->remote_id, *peer)) {
      return Result::failed("the peer identified as " + peer->str() + " but rightid= expects " +
                            sa_.conn->remote_id.str());
    }
    const auto* secret = psk(sa_.conn->local_id, *peer);
    if (secret == nullptr) {
      return Result::failed("no PSK in ipsec.secrets for " + sa_.conn->local_id.str() + " and " +
                            peer->str());
    }
    if (auth->method != wire::AuthMethod::kSharedKeyMic ||
        !crypto::psk_auth_matches(*sa_.prf, secret_of(*secret),
                                  octets(*sa_.prf, hs.init_response, hs.nonce_i, hs.sk_pr, *idr),
                                  auth->data)) {
      return Result::failed("AUTHENTICATION_FAILED: the peer " + peer->str() +
                            " did not prove the PSK for " + sa_.conn->local_id.str() + " and " +
                            peer->str() + " (different PSKs?)");
    }
    sa_.peer_id = std::move(peer).value();
    ctx_.sas->established(sa_);
    return Result::success();
  }

  const auto* idi = find_id(message, false);
  const auto* idr = find_id(message, true);
  const auto* auth = find<wire::AuthPayload>(message);
  if (idi == nullptr || auth == nullptr) {
    failure_ = "the IKE_AUTH request lacks IDi or AUTH";
    return Result::failed(failure_);
  }
  auto peer = identity_of(*idi);
  if (!peer.ok()) {
    failure_ = "the peer's IDi: " + peer.error();
    return Result::failed(failure_);
  }
  std::optional<model::Identity> wanted;
  if (idr != nullptr) {
    auto w = identity_of(*idr);
    if (w.ok()) {
      wanted = std::move(w).value();
    }
  }
  // Among the connections the addresses allow: the ids must fit; one whose
  // selectors take the peer's unchanged is preferred, then one that can
  // narrow them, then any (its CHILD SA then fails with TS_UNACCEPTABLE).
  const auto* tsi = find_ts(message, false);
  const auto* tsr = find_ts(message, true);
  ConnectionRef best;
  int best_fit = -1;
  for (uint32_t position : hs.candidates->for_peer(*peer)) {
    const ConnectionRef& c = hs.candidates->all[position];
    if (!id_matches(c->remote_id, *peer) || (wanted && !id_matches(*wanted, c->local_id))) {
      continue;
    }
    // The algorithms IKE_SA_INIT settled on must be ones this connection allows.
    if (c != sa_.conn &&
        !choose(wire::SaPayload{{ike_proposal(sa_.algorithms)}}, c->ike_offer,
                wire::ProtocolId::kIke, static_cast<uint16_t>(sa_.algorithms.dh))) {
      continue;
    }
    int fit = 0;
    if (tsi != nullptr && tsr != nullptr) {
      auto narrowed_i = narrow(tsi->selectors, c->remote_selectors(sa_.remote.address));
      auto narrowed_r = narrow(tsr->selectors, c->ts_local);
      if (!narrowed_i.empty() && !narrowed_r.empty()) {
        fit = narrowed_i == tsi->selectors && narrowed_r == tsr->selectors ? 2 : 1;
      }
    }
    if (fit > best_fit) {
      best = c;
      best_fit = fit;
      if (fit == 2) {
        break;
      }
    }
  }
  if (!best) {
    failure_ = "no connection for peer id " + peer->str() +
               (wanted ? " asking for " + wanted->str() : std::string()) + " from " +
               sa_.remote.str();
    return Result::failed(failure_);
  }
  sa_.conn = best;
  ctx_.sas->note_connection(sa_);
  const auto* secret = psk(best->local_id, *peer);
  if (secret == nullptr) {
    failure_ = "no PSK in ipsec.secrets for " + best->local_id.str() + " and " + peer->str();
    return Result::failed(failure_);
  }
  if (auth->method != wire::AuthMethod::kSharedKeyMic ||
      !crypto::psk_auth_matches(*sa_.prf, secret_of(*secret),
                                octets(*sa_.prf, hs.init_request, hs.nonce_r, hs.sk_pi, *idi),
                                auth->data)) {
    failure_ = "AUTHENTICATION_FAILED: the peer " + peer->str() + " did not prove the PSK for " +
               best->local_id.str() + " and " + peer->str() + " (different PSKs?)";
    return Result::failed(failure_);
  }
  if (const auto limit = ctx_.options.max_ike_sas_per_peer;
      limit != 0 && ctx_.sas->ike_sas_with(sa_, *peer) >= limit) {
    ++ctx_.refused_ike_sas;
    refusal_ = wire::NotifyType::kNoAdditionalSas;
    failure_ = "NO_ADDITIONAL_SAS: " + peer->str() + " at " + sa_.remote.address.str() +
               " already has " + std::to_string(limit) + " IKE SAs here (the limit)";
    return Result::failed(failure_);
  }
  sa_.peer_id = std::move(peer).value();
  initial_contact_ = find_notify(message, wire::NotifyType::kInitialContact) != nullptr;
  return Result::need_more();
}

}  // namespace ipsecd::engine::tasks
