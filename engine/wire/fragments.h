#pragma once
// RFC 7383 reassembly: the decrypted contents of one message's SKF fragments put back
// together. Each fragment is added after its own SK check (RFC 7383 2.6: every fragment is
// authenticated on its own, so a forged one never reaches this); the message is whole
// once every number from 1 to Total Fragments is in. One message is reassembled at a time
// (its message ID); everything a peer can make it hold is bounded by Limits.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/wire/message.h"

namespace ipsecd::engine::wire {

class Reassembler {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    uint16_t max_fragments = 64;   // Total Fragments above this is refused
    size_t max_bytes = 64 * 1024;  // the reassembled content, every fragment's data summed
    Clock::duration timeout = std::chrono::seconds(30);  // a partial message is dropped after
  };
  enum class Status : uint8_t {
    kIncomplete,  // kept; more fragments are missing
    kComplete,    // `first` and `bytes` hold the reassembled content
    kIgnored,     // not kept (a duplicate, a stale message ID, a smaller Total): no error
    kRefused,     // against RFC 7383 or beyond a limit: `reason` says which; partial dropped
  };
  struct Outcome {
    Status status = Status::kIncomplete;
    std::string reason;
    PayloadType first = PayloadType::kNone;
    std::vector<uint8_t> bytes;
  };

  Reassembler() = default;
  explicit Reassembler(Limits limits) : limits_(limits) {}

  // One authenticated fragment of the message `message_id`: its header's fields and its
  // decrypted content. The caller's message ID window comes first: a fragment of a
  // message already answered is a retransmission, not for this.
  Outcome add(uint32_t message_id, const EncryptedFragmentPayload& fragment,
              std::span<const uint8_t> plaintext, Clock::time_point now);

  bool idle() const { return parts_.empty(); }
  size_t held_bytes() const { return held_; }

 private:
  void drop();

  Limits limits_;
  bool active_ = false;
  uint32_t message_id_ = 0;
  uint16_t total_ = 0;
  PayloadType first_ = PayloadType::kNone;
  Clock::time_point started_{};
  std::map<uint16_t, std::vector<uint8_t>> parts_;
  size_t held_ = 0;
};

}  // namespace ipsecd::engine::wire
