#pragma once
// A CHILD SA into and out of the kernel: the two ESP SAs and the out/in/fwd
// policies (fwd in tunnel mode only). Policies replace what was there (a trap
// from auto=route) with update_policy.

#include <optional>

#include "engine/crypto/secret.h"
#include "engine/ike_sa.h"
#include "kernel/backend.h"

namespace ipsecd::engine {

// inbound: to us with spi_in, keyed with the peer's direction keys.
kernel::Status install_sa(kernel::Backend& kernel, const IkeSa& sa, const ChildSa& child,
                          bool inbound, const crypto::Secret& encr, const crypto::Secret& integ);
kernel::Status install_policies(kernel::Backend& kernel, const IkeSa& sa, const ChildSa& child);
// Removes both SAs and (unless another CHILD SA still uses them) the
// policies; what is already gone is not an error.
void uninstall(kernel::Backend& kernel, const IkeSa& sa, const ChildSa& child,
               bool policies = true);
// The notify RFC 7296 has for a CHILD SA the kernel refused.
wire::NotifyType notify_for(const kernel::Error& error);

// The kernel's form of a connection's mark= (none for a unique mark, which is
// allocated per SA).
kernel::Mark mark_of(const std::optional<model::Mark>& mark);
// The selector of the opposite direction: addresses and ports swapped.
kernel::Selector reversed(const kernel::Selector& selector);

}  // namespace ipsecd::engine
