#include "engine/ike_sa.h"

#include <algorithm>

#include "engine/crypto/keys.h"
#include "engine/identities.h"

namespace ipsecd::engine {

std::string_view name(IkeState state) {
  switch (state) {
    case IkeState::kConnecting:
      return "connecting";
    case IkeState::kEstablished:
      return "established";
    case IkeState::kDeleting:
      return "deleting";
    case IkeState::kDead:
      return "dead";
  }
  return "unknown";
}

std::vector<uint32_t> Candidates::for_peer(const model::Identity& peer) const {
  std::vector<uint32_t> out = unkeyed;
  if (auto key = id_match_key(peer); !key.empty()) {
    if (auto it = by_remote_id.find(key); it != by_remote_id.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      std::inplace_merge(out.begin(), out.begin() + static_cast<long>(unkeyed.size()), out.end());
    }
  } else {
    out.resize(all.size());  // an address id: only a full scan is faithful
    for (uint32_t i = 0; i < out.size(); ++i) {
      out[i] = i;
    }
  }
  return out;
}

IkeSa::IkeSa(EngineContext& ctx, bool is_initiator, uint64_t spi, ConnectionRef connection,
             Endpoint local_end, Endpoint remote_end)
    : initiator(is_initiator),
      conn(std::move(connection)),
      local(std::move(local_end)),
      remote(std::move(remote_end)),
      handshake(std::make_unique<Handshake>()),
      tasks(*this, ctx),
      ctx_(ctx) {
  (initiator ? spi_i : spi_r) = spi;
  created = ctx.loop.now();
}

IkeSa::~IkeSa() {
  cancel_timers();
}

namespace {
void cancel(EventLoop& loop, EventLoop::TimerId& id) {
  if (id != 0) {
    loop.cancel(id);
    id = 0;
  }
}
}  // namespace

void IkeSa::cancel_timers() {
  for (auto* t : {&half_open_timer, &keepalive_timer, &rekey_timer, &expire_timer, &dpd_timer,
                  &spare_timer}) {
    cancel(ctx_.loop, *t);
  }
  for (auto& child : children) {
    cancel(ctx_.loop, child.rekey_timer);
    cancel(ctx_.loop, child.expire_timer);
  }
}

void IkeSa::send(std::span<const uint8_t> datagram) {
  last_sent = ctx_.loop.now();
  ctx_.transport.send(local, remote, datagram);
}

model::Result<std::vector<uint8_t>> IkeSa::seal(wire::Message& message) {
  using R = model::Result<std::vector<uint8_t>>;
  if (message.header.exchange == wire::ExchangeType::kIkeSaInit) {
    auto encoded = wire::encode(message);
    if (!encoded.ok()) {
      return R::failure("cannot encode " + wire::summary(message) + ": " + encoded.error().message);
    }
    return std::move(encoded).value();
  }
  if (!sk_out) {
    return R::failure("no keys to protect " + wire::summary(message));
  }
  auto inner = wire::encode_payloads(message.payloads);
  if (!inner.ok()) {
    return R::failure("cannot encode " + wire::summary(message) + ": " + inner.error().message);
  }
  wire::Message outer;
  outer.header = message.header;
  outer.payloads.emplace_back(wire::EncryptedPayload{inner->first, sk_out->frame(inner->bytes)});
  auto layout = wire::encode_layout(outer);
  if (!layout.ok()) {
    return R::failure("cannot encode " + wire::summary(message) + ": " + layout.error().message);
  }
  sk_out->seal_in_place(layout.value().bytes, layout->encrypted_offset, ctx_.random);
  return std::move(layout.value().bytes);
}

model::Result<wire::Message> IkeSa::open(std::span<uint8_t> datagram) {
  using R = model::Result<wire::Message>;
  auto decoded = wire::decode(datagram);
  if (!decoded.ok()) {
    return R::failure(decoded.error().message);
  }
  wire::Message message = std::move(decoded).value();
  if (message.header.exchange == wire::ExchangeType::kIkeSaInit) {
    return message;  // the only exchange that is not protected
  }
  if (!message.payloads.empty() &&
      std::holds_alternative<wire::EncryptedFragmentPayload>(message.payloads.back())) {
    return R::failure("fragmented messages (SKF, RFC 7383) are not supported yet");
  }
  auto* sk = message.payloads.empty()
                 ? nullptr
                 : std::get_if<wire::EncryptedPayload>(&message.payloads.back());
  if (sk == nullptr) {
    // RFC 7296 3.14: after IKE_SA_INIT every message is SK-protected; an
    // unprotected one is ignored, or anyone could delete the SA.
    return R::failure("an unprotected message after IKE_SA_INIT is ignored");
  }
  if (!sk_in) {
    return R::failure("an SK payload before keys exist");
  }
  const std::size_t offset = datagram.size() - sk->data.size();
  auto plain = sk_in->open_in_place(datagram, offset);
  if (!plain.ok()) {
    return R::failure(plain.error());
  }
  auto inner = wire::decode_payloads(sk->first_inner, *plain);
  if (!inner.ok()) {
    return R::failure("inside SK: " + inner.error().message);
  }
  message.payloads = std::move(inner).value();
  return message;
}

model::Result<bool> IkeSa::derive_keys(std::span<const uint8_t> g_ir) {
  using R = model::Result<bool>;
  auto p = crypto::Prf::create(algorithms.prf);
  if (!p.ok()) {
    return R::failure(p.error());
  }
  prf.emplace(std::move(p).value());
  auto lengths =
      crypto::key_lengths(algorithms.encr.id, algorithms.encr.key_bits, algorithms.integ);
  if (!lengths.ok()) {
    return R::failure(lengths.error());
  }
  crypto::IkeKeys keys = crypto::derive_ike_keys(*prf, *lengths, handshake->nonce_i,
                                                 handshake->nonce_r, g_ir, spi_i, spi_r);
  auto taken = take_keys(keys);
  if (!taken.ok()) {
    return taken;
  }
  min_nonce = std::min(handshake->nonce_i, handshake->nonce_r);
  handshake->sk_pi = std::move(keys.sk_pi);
  handshake->sk_pr = std::move(keys.sk_pr);
  return true;
}

model::Result<bool> IkeSa::take_keys(crypto::IkeKeys& keys) {
  using R = model::Result<bool>;
  const crypto::SkAlgorithm alg{algorithms.encr.id, algorithms.encr.key_bits, algorithms.integ};
  auto out = crypto::SkCipher::create(alg, initiator ? keys.sk_ei : keys.sk_er,
                                      initiator ? keys.sk_ai : keys.sk_ar);
  auto in = crypto::SkCipher::create(alg, initiator ? keys.sk_er : keys.sk_ei,
                                     initiator ? keys.sk_ar : keys.sk_ai);
  if (!out.ok() || !in.ok()) {
    return R::failure(!out.ok() ? out.error() : in.error());
  }
  sk_out = std::move(out).value();
  sk_in = std::move(in).value();
  sk_d = std::move(keys.sk_d);
  return true;
}

ChildSa* IkeSa::child_by_spi_in(uint32_t spi) {
  auto it = std::find_if(children.begin(), children.end(),
                         [spi](const ChildSa& c) { return c.spi_in == spi; });
  return it == children.end() ? nullptr : &*it;
}

ChildSa* IkeSa::child_by_spi_out(uint32_t spi) {
  auto it = std::find_if(children.begin(), children.end(),
                         [spi](const ChildSa& c) { return c.spi_out == spi; });
  return it == children.end() ? nullptr : &*it;
}

void IkeSa::remove_child(uint32_t spi_in) {
  std::erase_if(children, [this, spi_in](ChildSa& c) {
    if (c.spi_in != spi_in) {
      return false;
    }
    cancel(ctx_.loop, c.rekey_timer);
    cancel(ctx_.loop, c.expire_timer);
    return true;
  });
}

}  // namespace ipsecd::engine
