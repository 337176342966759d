#include "engine/tasks/task.h"

#include <algorithm>

#include "engine/crypto/key_exchange.h"

namespace ipsecd::engine::tasks {

const wire::TsPayload* find_ts(const wire::Message& m, bool responder) {
  for (const auto& p : m.payloads) {
    if (const auto* ts = std::get_if<wire::TsPayload>(&p);
        ts != nullptr && ts->responder == responder) {
      return ts;
    }
  }
  return nullptr;
}

const wire::IdPayload* find_id(const wire::Message& m, bool responder) {
  for (const auto& p : m.payloads) {
    if (const auto* id = std::get_if<wire::IdPayload>(&p);
        id != nullptr && id->responder == responder) {
      return id;
    }
  }
  return nullptr;
}

const wire::NotifyPayload* find_notify(const wire::Message& m, wire::NotifyType type) {
  for (const auto& p : m.payloads) {
    if (const auto* n = std::get_if<wire::NotifyPayload>(&p); n != nullptr && n->type == type) {
      return n;
    }
  }
  return nullptr;
}

const wire::NotifyPayload* first_error(const wire::Message& m) {
  for (const auto& p : m.payloads) {
    if (const auto* n = std::get_if<wire::NotifyPayload>(&p);
        n != nullptr && static_cast<uint16_t>(n->type) < 16384) {
      return n;
    }
  }
  return nullptr;
}

wire::NotifyPayload make_notify(wire::NotifyType type, std::vector<uint8_t> data) {
  wire::NotifyPayload n;
  n.type = type;
  n.data = std::move(data);
  return n;
}

bool CrossedExchange::ours_is_spare(const std::vector<uint8_t>& our_ni,
                                    const std::vector<uint8_t>& peer_nr) const {
  return std::min(our_ni, peer_nr) < std::min(peer_nonce, our_nonce);
}

std::string group_text(uint16_t group) {
  return crypto::group_name(static_cast<model::DhId>(group));
}

std::vector<uint8_t> group_octets(uint16_t group) {
  return {static_cast<uint8_t>(group >> 8), static_cast<uint8_t>(group)};
}

std::string hex32(uint32_t spi) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) {
    out += kDigits[(spi >> shift) & 15];
  }
  return out;
}

}  // namespace ipsecd::engine::tasks
