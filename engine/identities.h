#pragma once
// IKE identities (RFC 7296 3.5) between model::Identity and ID payloads, and
// which configured id a received one satisfies.

#include "engine/wire/message.h"
#include "kernel/backend.h"
#include "model/result.h"
#include "model/values.h"

namespace ipsecd::engine {

// The id to send: the configured one, or the address when unset (%any).
// Fails for kinds PSK authentication cannot send (DN, %fromcert).
model::Result<wire::IdPayload> id_payload(const model::Identity& id, bool responder);
// A received ID as a model identity (for matching and ipsec.secrets).
model::Result<model::Identity> identity_of(const wire::IdPayload& id);
// An address as an identity: what an unset leftid= means.
model::Identity address_identity(const kernel::Address& address);
// Whether a received id satisfies the configured one; %any accepts all.
bool id_matches(const model::Identity& configured, const model::Identity& received);
// A key that equal ids share and no other id matching them lacks, for indexing
// configured ids; empty for ids that match more than their own key (%any, addresses).
std::string id_match_key(const model::Identity& id);

kernel::Address to_kernel(const model::IpAddress& a);
model::IpAddress to_model(const kernel::Address& a);

}  // namespace ipsecd::engine
