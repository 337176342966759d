#include "engine/tasks/ike_init.h"

#include <algorithm>

#include "engine/crypto/signature.h"
#include "engine/ike_sa.h"
#include "engine/ike_sa_manager.h"
#include "engine/proposal_selection.h"

namespace ipsecd::engine::tasks {

Result IkeInit::build(wire::Message& message) {
  return sa_.initiator ? build_request(message) : build_response(message);
}

Result IkeInit::process(const wire::Message& message) {
  return sa_.initiator ? process_response(message) : process_request(message);
}

Result IkeInit::build_request(wire::Message& message) {
  Handshake& hs = *sa_.handshake;
  const wire::SaPayload& offer = sa_.conn->ike_offer;
  if (group_ == 0) {
    auto first = std::find_if(
        offer.proposals.front().transforms.begin(), offer.proposals.front().transforms.end(),
        [](const wire::Transform& t) { return t.type == wire::TransformType::kKeyExchange; });
    group_ = first->id;
  }
  if (!hs.ke || static_cast<uint16_t>(hs.ke->group()) != group_) {
    auto ke = crypto::KeyExchange::create(static_cast<model::DhId>(group_));
    if (!ke.ok()) {
      return Result::failed(ke.error());
    }
    hs.ke = std::move(ke).value();
  }
  if (hs.nonce_i.empty()) {
    hs.nonce_i = ctx_.random_bytes(ctx_.options.nonce_size);
  }
  if (!cookie_.empty()) {
    // RFC 7296 2.6: the COOKIE notify comes first.
    message.payloads.emplace_back(make_notify(wire::NotifyType::kCookie, cookie_));
  }
  message.payloads.emplace_back(offer);
  auto pub = hs.ke->public_value();
  message.payloads.emplace_back(wire::KePayload{group_, {pub.begin(), pub.end()}});
  message.payloads.emplace_back(wire::NoncePayload{hs.nonce_i});
  message.payloads.emplace_back(signature_hashes_notify());
  return Result::need_more();
}

Result IkeInit::process_response(const wire::Message& message) {
  if (const auto* cookie = find_notify(message, wire::NotifyType::kCookie)) {
    if (++cookies_ > 3) {
      return Result::failed(
          "the peer keeps asking for a COOKIE (RFC 7296 2.6); it may be under attack");
    }
    cookie_ = cookie->data;
    return Result::need_more();
  }
  if (const auto* invalid = find_notify(message, wire::NotifyType::kInvalidKePayload)) {
    if (invalid->data.size() != 2) {
      return Result::failed("INVALID_KE_PAYLOAD without a 2-octet group number");
    }
    uint16_t wanted = static_cast<uint16_t>(invalid->data[0] << 8 | invalid->data[1]);
    if (!offers_group(sa_.conn->ike_offer, wanted)) {
      return Result::failed("the peer asks for key exchange group " + group_text(wanted) +
                            ", which ike= does not offer");
    }
    if (ke_retried_ || wanted == group_) {
      return Result::failed("the peer refused key exchange group " + group_text(group_) +
                            " again after the INVALID_KE_PAYLOAD retry");
    }
    ke_retried_ = true;
    group_ = wanted;
    ctx_.log(sa_.conn->name() + ": peer asks for " + group_text(wanted) + ", retrying");
    return Result::need_more();
  }
  if (const auto* error = first_error(message)) {
    if (error->type == wire::NotifyType::kNoProposalChosen) {
      return Result::failed("no proposal chosen: the peer accepts none of ike=" +
                            describe(sa_.conn->ike_offer));
    }
    return Result::failed("the peer refused IKE_SA_INIT with " + wire::notify_name(error->type));
  }
  const auto* sa = find<wire::SaPayload>(message);
  const auto* ke = find<wire::KePayload>(message);
  const auto* nonce = find<wire::NoncePayload>(message);
  if (sa == nullptr || ke == nullptr || nonce == nullptr) {
    return Result::failed("the IKE_SA_INIT response lacks an SA, KE or Nonce payload");
  }
  auto chosen = check_answer(*sa, sa_.conn->ike_offer);
  if (!chosen.ok()) {
    return Result::failed("IKE_SA_INIT response: " + chosen.error());
  }
  auto algorithms = ike_algorithms(*chosen);
  if (!algorithms.ok()) {
    return Result::failed("IKE_SA_INIT response: " + algorithms.error());
  }
  if (static_cast<uint16_t>(algorithms->dh) != group_ || ke->group != group_) {
    return Result::failed("the peer chose key exchange group " +
                          group_text(static_cast<uint16_t>(algorithms->dh)) + " but we sent " +
                          group_text(group_));
  }
  if (message.header.spi_r == 0) {
    return Result::failed("the IKE_SA_INIT response has a zero responder SPI");
  }
  if (nonce->data.size() < 16 || nonce->data.size() > 256) {
    return Result::failed("the peer's nonce has " + std::to_string(nonce->data.size()) +
                          " octets; RFC 7296 2.10 needs 16 to 256");
  }
  sa_.spi_r = message.header.spi_r;
  sa_.algorithms = *algorithms;
  sa_.handshake->nonce_r = nonce->data;
  note_signature_hashes(message);
  return finish(ke->data);
}

Result IkeInit::finish(std::span<const uint8_t> peer_ke) {
  auto g_ir = sa_.handshake->ke->derive(peer_ke);
  if (!g_ir.ok()) {
    return Result::failed("the peer's KE payload: " + g_ir.error());
  }
  sa_.handshake->ke.reset();
  auto keys = sa_.derive_keys(*g_ir);
  if (!keys.ok()) {
    return Result::failed(keys.error());
  }
  return Result::success();
}

Result IkeInit::process_request(const wire::Message& message) {
  const auto* sa = find<wire::SaPayload>(message);
  const auto* ke = find<wire::KePayload>(message);
  const auto* nonce = find<wire::NoncePayload>(message);
  if (sa == nullptr || ke == nullptr || nonce == nullptr) {
    error_ = make_notify(wire::NotifyType::kInvalidSyntax);
    reason_ = "the IKE_SA_INIT request lacks an SA, KE or Nonce payload";
    return Result::failed(reason_);
  }
  if (nonce->data.size() < 16 || nonce->data.size() > 256) {
    error_ = make_notify(wire::NotifyType::kInvalidSyntax);
    reason_ = "the peer's nonce has " + std::to_string(nonce->data.size()) +
              " octets; RFC 7296 2.10 needs 16 to 256";
    return Result::failed(reason_);
  }
  // The first connection whose ike= accepts one of the offered proposals.
  std::string accepted;
  for (const auto& candidate : sa_.handshake->candidates->all) {
    auto chosen = choose(*sa, candidate->ike_offer, wire::ProtocolId::kIke, ke->group);
    if (chosen) {
      sa_.conn = candidate;
      ctx_.sas->note_connection(sa_);
      chosen_ = std::move(chosen);
      break;
    }
    accepted +=
        (accepted.empty() ? "" : "; ") + candidate->name() + ": " + describe(candidate->ike_offer);
  }
  if (!chosen_) {
    error_ = make_notify(wire::NotifyType::kNoProposalChosen);
    reason_ = "no proposal chosen: the peer offered " + describe(*sa) + ", we accept " + accepted;
    return Result::failed(reason_);
  }
  auto algorithms = ike_algorithms(*chosen_);
  if (!algorithms.ok()) {
    error_ = make_notify(wire::NotifyType::kNoProposalChosen);
    reason_ = algorithms.error();
    return Result::failed(reason_);
  }
  const uint16_t group = static_cast<uint16_t>(algorithms->dh);
  if (group != ke->group) {
    error_ = make_notify(wire::NotifyType::kInvalidKePayload, group_octets(group));
    reason_ =
        "the peer's KE is for group " + group_text(ke->group) + "; asked for " + group_text(group);
    return Result::failed(reason_);
  }
  auto own = crypto::KeyExchange::create(algorithms->dh);
  if (!own.ok()) {
    error_ = make_notify(wire::NotifyType::kNoProposalChosen);
    reason_ = own.error();
    return Result::failed(reason_);
  }
  sa_.algorithms = *algorithms;
  sa_.handshake->ke = std::move(own).value();
  sa_.handshake->nonce_i = nonce->data;
  note_signature_hashes(message);
  sa_.handshake->nonce_r = ctx_.random_bytes(ctx_.options.nonce_size);
  group_ = group;
  std::vector<uint8_t> ours(sa_.handshake->ke->public_value().begin(),
                            sa_.handshake->ke->public_value().end());
  auto done = finish(ke->data);
  if (done.outcome == Outcome::kFailed) {
    error_ = make_notify(wire::NotifyType::kInvalidSyntax);
    reason_ = done.reason;
    return done;
  }
  // finish() dropped the key exchange; keep our public value for the response.
  public_ = std::move(ours);
  return Result::need_more();
}

Result IkeInit::build_response(wire::Message& message) {
  if (error_) {
    // RFC 7296 2.6 and 1.2: error answers to IKE_SA_INIT carry a zero responder SPI.
    message.header.spi_r = 0;
    message.payloads.clear();
    message.payloads.emplace_back(*error_);
    return Result::failed(reason_);
  }
  message.payloads.emplace_back(wire::SaPayload{{*chosen_}});
  message.payloads.emplace_back(wire::KePayload{group_, std::move(public_)});
  message.payloads.emplace_back(wire::NoncePayload{sa_.handshake->nonce_r});
  if (sa_.handshake->peer_announced_hashes) {
    message.payloads.emplace_back(signature_hashes_notify());
  }
  return Result::success();
}

// RFC 7427 4: the hashes our signature verification accepts (crypto::VerifyPolicy's).
wire::NotifyPayload IkeInit::signature_hashes_notify() {
  return make_notify(wire::NotifyType::kSignatureHashAlgorithms,
                     crypto::encode_signature_hashes(crypto::VerifyPolicy{}.hashes));
}

void IkeInit::note_signature_hashes(const wire::Message& message) {
  if (const auto* n = find_notify(message, wire::NotifyType::kSignatureHashAlgorithms)) {
    sa_.handshake->peer_announced_hashes = true;
    sa_.handshake->peer_signature_hashes = crypto::decode_signature_hashes(n->data);
  }
}

}  // namespace ipsecd::engine::tasks
