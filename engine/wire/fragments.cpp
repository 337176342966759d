#include "engine/wire/fragments.h"

#include <utility>

namespace ipsecd::engine::wire {

void Reassembler::drop() {
  active_ = false;
  total_ = 0;
  first_ = PayloadType::kNone;
  parts_.clear();
  held_ = 0;
}

Reassembler::Outcome Reassembler::add(uint32_t message_id, const EncryptedFragmentPayload& fragment,
                                      std::span<const uint8_t> plaintext, Clock::time_point now) {
  Outcome out;
  auto refuse = [&](std::string reason) {
    drop();
    out.status = Status::kRefused;
    out.reason = std::move(reason);
    return out;
  };
  auto ignore = [&](std::string reason) {
    out.status = Status::kIgnored;
    out.reason = std::move(reason);
    return out;
  };
  const uint16_t number = fragment.number;
  const uint16_t total = fragment.total;
  if (number == 0 || total == 0 || number > total) {
    return refuse("SKF fragment " + std::to_string(number) + " of " + std::to_string(total) +
                  ": numbers run from 1 to Total Fragments (RFC 7383 2.5)");
  }
  if (total > limits_.max_fragments) {
    return refuse("SKF Total Fragments " + std::to_string(total) + " is above the limit of " +
                  std::to_string(limits_.max_fragments));
  }
  if ((number == 1) != (fragment.first_inner != PayloadType::kNone)) {
    return refuse(number == 1 ? "SKF fragment 1 names no first inner payload"
                              : "SKF fragment " + std::to_string(number) +
                                    " names a first inner payload; only fragment 1 may");
  }
  if (active_ && now - started_ > limits_.timeout) {
    drop();  // the peer gave up on it long ago, or never finished
  }
  if (active_ && message_id != message_id_) {
    // One message at a time: a newer one replaces what is left of the older (RFC 7383 2.6.1).
    if (message_id < message_id_) {
      return ignore("SKF fragment of message " + std::to_string(message_id) +
                    ", older than the one being reassembled (" + std::to_string(message_id_) + ")");
    }
    drop();
  }
  if (active_ && total != total_) {
    // RFC 7383 2.6.2: a larger Total means the peer fragmented again for a smaller MTU.
    if (total < total_) {
      return ignore("SKF fragment with Total Fragments " + std::to_string(total) + ", below the " +
                    std::to_string(total_) + " being reassembled");
    }
    drop();
  }
  if (!active_) {
    active_ = true;
    message_id_ = message_id;
    total_ = total;
    started_ = now;
  }
  if (parts_.contains(number)) {
    return ignore("SKF fragment " + std::to_string(number) + " again");
  }
  if (plaintext.size() > limits_.max_bytes - held_) {
    return refuse("the SKF fragments of message " + std::to_string(message_id) +
                  " exceed the reassembly limit of " + std::to_string(limits_.max_bytes) +
                  " bytes");
  }
  if (number == 1) {
    first_ = fragment.first_inner;
  }
  parts_.emplace(number, std::vector<uint8_t>(plaintext.begin(), plaintext.end()));
  held_ += plaintext.size();
  if (parts_.size() < total_) {
    out.status = Status::kIncomplete;
    return out;
  }
  out.status = Status::kComplete;
  out.first = first_;
  out.bytes.reserve(held_);
  for (auto& [n, part] : parts_) {
    out.bytes.insert(out.bytes.end(), part.begin(), part.end());
  }
  drop();
  return out;
}

}  // namespace ipsecd::engine::wire
