#pragma once
// Proposals between model (what ike=/esp= say), wire (SA payloads) and the
// algorithms an SA ends up with: offers filtered to what the engine and the
// kernel can do, the responder's choice (RFC 7296 2.7, 3.3) and the
// initiator's check that the answer is one of its offers.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/algorithms.h"
#include "engine/wire/message.h"
#include "kernel/backend.h"
#include "model/connection.h"
#include "model/proposals.h"
#include "model/result.h"

namespace ipsecd::engine {

// The engine's choice when a connection has no ike= / esp=.
const model::ProposalList& default_ike_proposals();
const model::ProposalList& default_esp_proposals();

std::optional<kernel::Cipher> kernel_cipher(model::EncrAlg encr);
std::optional<kernel::Integrity> kernel_integrity(model::IntegId integ);

// What we offer, without what the engine (IKE) or the kernel (ESP) lacks.
// Proposals numbered from 1. An empty payload means nothing usable is left.
wire::SaPayload ike_offer(const std::vector<model::Proposal>& proposals);
// with_dh: include the KE transforms (PFS in CREATE_CHILD_SA); IKE_AUTH never does.
wire::SaPayload esp_offer(const std::vector<model::Proposal>& proposals, uint32_t spi, bool with_dh,
                          model::Tristate esn);

// The responder's choice: the first offered proposal that one of ours
// accepts, one transform per type. For IKE, `ke_group` (the KE payload's
// group) is taken when acceptable; otherwise the group chosen is the first
// acceptable one, and the caller answers INVALID_KE_PAYLOAD with it.
std::optional<wire::Proposal> choose(const wire::SaPayload& offered, const wire::SaPayload& ours,
                                     wire::ProtocolId protocol, uint16_t ke_group = 0);

// Algorithms in a chosen proposal; the error names a missing or doubled transform.
model::Result<IkeAlgorithms> ike_algorithms(const wire::Proposal& chosen);
model::Result<EspAlgorithms> esp_algorithms(const wire::Proposal& chosen);
// The initiator's check of an answer against what it offered: one proposal,
// one transform per type, each from the offered proposal of that number.
model::Result<wire::Proposal> check_answer(const wire::SaPayload& answer,
                                           const wire::SaPayload& offered);

// The algorithms as a one-transform-per-type proposal (to test another connection's ike=).
wire::Proposal ike_proposal(const IkeAlgorithms& algorithms);

std::string describe(const wire::SaPayload& payload);  // for "no proposal chosen" reasons

// Whether any proposal of `offer` has the key exchange method `group` (INVALID_KE_PAYLOAD's
// suggestion must be one we offered).
bool offers_group(const wire::SaPayload& offer, uint16_t group);

}  // namespace ipsecd::engine
