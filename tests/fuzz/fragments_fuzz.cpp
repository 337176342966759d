// libFuzzer target: RFC 7383 reassembly (engine/wire/fragments.h) under any sequence of
// fragments a peer can send. The input is records of five octets, then data: message ID,
// fragment number, Total Fragments, first inner payload, data length; each record also
// moves the clock by its message ID's low bits in seconds. Never a crash; never more held
// than the limit; a whole message is never larger than the limit, and only ever what
// was added.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "engine/wire/fragments.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ipsecd::engine::wire::EncryptedFragmentPayload;
  using ipsecd::engine::wire::PayloadType;
  using ipsecd::engine::wire::Reassembler;
  const Reassembler::Limits limits{16, 512, std::chrono::seconds(30)};
  Reassembler r(limits);
  Reassembler::Clock::time_point now{};
  size_t added = 0;
  size_t pos = 0;
  while (pos + 5 <= size) {
    const uint32_t message_id = data[pos];
    EncryptedFragmentPayload f;
    f.number = data[pos + 1];
    f.total = data[pos + 2];
    f.first_inner = static_cast<PayloadType>(data[pos + 3]);
    const size_t len = data[pos + 4];
    pos += 5;
    const size_t take = len < size - pos ? len : size - pos;
    now += std::chrono::seconds(message_id & 7);
    Reassembler::Outcome o = r.add(message_id, f, std::span<const uint8_t>(data + pos, take), now);
    pos += take;
    added += take;
    if (r.held_bytes() > limits.max_bytes ||
        (o.status == Reassembler::Status::kRefused && (!r.idle() || o.reason.empty()))) {
      std::abort();
    }
    if (o.status == Reassembler::Status::kComplete) {
      if (o.bytes.size() > limits.max_bytes || o.bytes.size() > added ||
          o.first == PayloadType::kNone || !r.idle()) {
        std::abort();
      }
    }
  }
  return 0;
}
