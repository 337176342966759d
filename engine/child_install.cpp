#include "engine/child_install.h"

#include "engine/proposal_selection.h"

namespace ipsecd::engine {
namespace {

kernel::Address any_of(kernel::Family family) {
  const uint8_t zero[16] = {};
  return kernel::Address::from_bytes(family, zero);
}

kernel::SecretBytes bytes_of(const crypto::Secret& s) {
  auto span = s.span();
  return kernel::SecretBytes(std::vector<uint8_t>(span.begin(), span.end()));
}

}  // namespace

kernel::Status install_sa(kernel::Backend& kernel, const IkeSa& sa, const ChildSa& child,
                          bool inbound, const crypto::Secret& encr, const crypto::Secret& integ) {
  const model::Connection& spec = child.conn->spec;
  kernel::SaSpec s;
  s.id = kernel::SaId{inbound ? sa.local.address : sa.remote.address,
                      inbound ? child.spi_in : child.spi_out, kernel::kProtoEsp};
  s.src = inbound ? sa.remote.address : sa.local.address;
  s.mode = child.mode;
  s.reqid = child.reqid;
  s.cipher = *kernel_cipher(child.algorithms.encr);
  s.enc_key = bytes_of(encr);
  s.integrity = *kernel_integrity(child.algorithms.integ);
  s.integ_key = bytes_of(integ);
  if (child.encap) {
    s.encap = inbound ? kernel::UdpEncap{child.encap->dport, child.encap->sport} : *child.encap;
  }
  s.esn = child.algorithms.esn;
  s.replay_window = inbound ? spec.replay_window : 0;
  if (s.esn && s.replay_window == 0) {
    s.replay_window = 32;  // the kernel needs a window for ESN, even outbound
  }
  // Time: the engine's own fuzzed timer rekeys; the kernel ends the SA at
  // the hard lifetime. A kernel soft limit at a fixed time would fire on
  // both ends in the same millisecond and make every rekey a collision.
  s.lifetime.hard_seconds = static_cast<uint64_t>(spec.ipsec_lifetime.count());
  s.lifetime.soft_seconds = 0;
  // Volume limits: the soft expire at seven eighths starts the rekey, the
  // hard one at the limit ends the SA (the kernel counts, the engine hears).
  s.lifetime.hard_bytes = spec.ipsec_max_bytes;
  s.lifetime.soft_bytes = spec.ipsec_max_bytes - spec.ipsec_max_bytes / 8;
  s.lifetime.hard_packets = spec.ipsec_max_packets;
  s.lifetime.soft_packets = spec.ipsec_max_packets - spec.ipsec_max_packets / 8;
  s.mark = mark_of(inbound ? spec.mark_in : spec.mark_out);
  if (inbound) {
    // The larval SA from allocate_spi becomes the real one.
    return kernel.update_sa(s);
  }
  return kernel.add_sa(s);
}

kernel::Status install_policies(kernel::Backend& kernel, const IkeSa& sa, const ChildSa& child) {
  const model::Connection& spec = child.conn->spec;
  const bool tunnel = child.mode == kernel::Mode::kTunnel;
  for (const auto& flow : child.flows) {
    for (auto dir : {kernel::Direction::kOut, kernel::Direction::kIn, kernel::Direction::kFwd}) {
      if (dir == kernel::Direction::kFwd && !tunnel) {
        continue;
      }
      const bool out = dir == kernel::Direction::kOut;
      kernel::PolicySpec p;
      p.id.selector = out ? flow : reversed(flow);
      p.id.dir = dir;
      p.id.mark = mark_of(out ? spec.mark_out : spec.mark_in);
      p.kind = kernel::PolicyKind::kProtect;
      kernel::Template t;
      if (tunnel) {
        t.src = out ? sa.local.address : sa.remote.address;
        t.dst = out ? sa.remote.address : sa.local.address;
      } else {
        t.src = any_of(flow.family());
        t.dst = any_of(flow.family());
      }
      t.mode = child.mode;
      t.reqid = child.reqid;
      p.templates.push_back(t);
      p.lifetime.hard_seconds = 0;
      if (auto st = kernel.update_policy(p); !st.ok()) {
        return st;
      }
    }
  }
  return {};
}

void uninstall(kernel::Backend& kernel, const IkeSa& sa, const ChildSa& child, bool policies) {
  const model::Connection& spec = child.conn->spec;
  for (const auto& flow : policies ? child.flows : std::vector<kernel::Selector>{}) {
    for (auto dir : {kernel::Direction::kOut, kernel::Direction::kIn, kernel::Direction::kFwd}) {
      const bool out = dir == kernel::Direction::kOut;
      kernel::PolicyId id{out ? flow : reversed(flow), dir,
                          mark_of(out ? spec.mark_out : spec.mark_in)};
      [[maybe_unused]] auto st = kernel.delete_policy(id);
    }
  }
  if (child.spi_in != 0) {
    [[maybe_unused]] auto st = kernel.delete_sa(kernel::SaId{sa.local.address, child.spi_in});
  }
  if (child.spi_out != 0) {
    [[maybe_unused]] auto st = kernel.delete_sa(kernel::SaId{sa.remote.address, child.spi_out});
  }
}

wire::NotifyType notify_for(const kernel::Error& error) {
  // An algorithm the kernel lacks is a proposal it cannot take; the rest is transient.
  return error.code == kernel::ErrorCode::kUnsupported ? wire::NotifyType::kNoProposalChosen
                                                       : wire::NotifyType::kTemporaryFailure;
}

kernel::Mark mark_of(const std::optional<model::Mark>& m) {
  if (!m || m->unique) {
    return {};
  }
  return kernel::Mark{m->value, m->mask};
}

kernel::Selector reversed(const kernel::Selector& s) {
  kernel::Selector r = s;
  r.src = s.dst;
  r.dst = s.src;
  r.sport = s.dport;
  r.dport = s.sport;
  return r;
}

}  // namespace ipsecd::engine
