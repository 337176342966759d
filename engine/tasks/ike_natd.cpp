#include "engine/tasks/ike_natd.h"

#include <openssl/evp.h>

#include <algorithm>

#include "engine/ike_sa.h"

namespace ipsecd::engine::tasks {

std::vector<uint8_t> natd_hash(uint64_t spi_i, uint64_t spi_r, const Endpoint& endpoint) {
  uint8_t input[8 + 8 + 16 + 2];
  std::size_t n = 0;
  for (uint64_t spi : {spi_i, spi_r}) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      input[n++] = static_cast<uint8_t>(spi >> shift);
    }
  }
  std::copy(endpoint.address.data(), endpoint.address.data() + endpoint.address.size(), input + n);
  n += endpoint.address.size();
  input[n++] = static_cast<uint8_t>(endpoint.port >> 8);
  input[n++] = static_cast<uint8_t>(endpoint.port);
  std::vector<uint8_t> out(20);
  std::size_t out_len = 0;
  if (EVP_Q_digest(nullptr, "SHA1", nullptr, input, n, out.data(), &out_len) != 1) {
    out.clear();  // no SHA-1 in this OpenSSL: the peer sees a mismatch and assumes a NAT
  }
  return out;
}

Result IkeNatd::build(wire::Message& message) {
  const auto& h = message.header;
  if (!message.payloads.empty() &&
      std::holds_alternative<wire::NotifyPayload>(message.payloads.front()) &&
      std::get<wire::NotifyPayload>(message.payloads.front()).type != wire::NotifyType::kCookie) {
    return Result::success();  // an error answer carries nothing else
  }
  message.payloads.emplace_back(
      make_notify(wire::NotifyType::kNatDetectionSourceIp, natd_hash(h.spi_i, h.spi_r, sa_.local)));
  message.payloads.emplace_back(make_notify(wire::NotifyType::kNatDetectionDestinationIp,
                                            natd_hash(h.spi_i, h.spi_r, sa_.remote)));
  return sa_.initiator ? Result::need_more() : Result::success();
}

Result IkeNatd::process(const wire::Message& message) {
  if (sa_.initiator && find<wire::SaPayload>(message) == nullptr) {
    return Result::need_more();  // a COOKIE or INVALID_KE answer: IKE_SA_INIT is sent again
  }
  const auto& h = message.header;
  bool any_source = false;
  bool source_match = false;
  bool destination_seen = false;
  bool destination_match = false;
  const auto expect_source = natd_hash(h.spi_i, h.spi_r, sa_.remote);
  const auto expect_destination = natd_hash(h.spi_i, h.spi_r, sa_.local);
  for (const auto& p : message.payloads) {
    const auto* n = std::get_if<wire::NotifyPayload>(&p);
    if (n == nullptr) {
      continue;
    }
    if (n->type == wire::NotifyType::kNatDetectionSourceIp) {
      any_source = true;
      source_match = source_match || n->data == expect_source;
    } else if (n->type == wire::NotifyType::kNatDetectionDestinationIp) {
      destination_seen = true;
      destination_match = destination_match || n->data == expect_destination;
    }
  }
  if (any_source && destination_seen) {
    sa_.nat_remote = !source_match;
    sa_.nat_local = !destination_match;
  }
  if (sa_.initiator && (sa_.nat_local || sa_.nat_remote)) {
    // RFC 7296 2.23: after IKE_SA_INIT a NATed initiator continues on port 4500.
    sa_.local.port = ctx_.transport.natt_port();
    sa_.remote.port = ctx_.options.natt_port;
  }
  return sa_.initiator ? Result::success() : Result::need_more();
}

}  // namespace ipsecd::engine::tasks
