#pragma once
// What ike_bench and rekey_bench share: two ipsecd engines, one a process, over
// loopback UDP with memory kernels, loaded with N connections that share no IKE SA
// (distinct ids) and no policy (distinct host selectors), and one PSK.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "engine/event_loop.h"
#include "engine/udp_transport.h"
#include "kernel/memory/memory_backend.h"

namespace ipsecd::bench {

struct PairOptions {
  std::size_t count = 1000;
  std::size_t window = 100;
  std::string ike;
  std::string esp;
  uint16_t port = 0;
  std::string initiator = "127.0.0.1";
  std::string responder = "127.0.0.2";
};

// Reads one of the options above (--count, --window, --ike, --esp, --port, --initiator,
// --responder); false if `name` is none of them. Throws std::invalid_argument or
// std::out_of_range for a number that is not one.
bool parse_pair_option(PairOptions& o, std::string_view name, const std::string& value);

// The ipsec.conf of the N connections c0..c{N-1}: ids @cI-l/@cI-r, host selectors
// 198.51.100.x/32 to 203.0.113.y/32 (254 x 254 pairs).
std::string pair_config_text(const PairOptions& o);

// One end: its loop, UDP transport on `address`, memory kernel and engine.
struct EngineSide {
  engine::RealClock clock;
  engine::EpollLoop loop{clock};
  std::unique_ptr<engine::UdpTransport> transport;
  std::shared_ptr<kernel::MemoryKernel> memory = std::make_shared<kernel::MemoryKernel>();
  kernel::MemoryBackend kernel{memory};
  engine::crypto::SystemRandom random;
  std::unique_ptr<engine::Engine> engine;

  // Opens the transport, runs `with_transport` (a bench's socket experiment), then loads
  // the connections and the PSK. A config the parser or the builder refuses (an ike=/esp=
  // it cannot read would otherwise leave the connection on the defaults) is an error,
  // printed after `prog`.
  bool open(const PairOptions& o, const std::string& address, std::string_view prog,
            const std::function<void()>& with_transport = {});
};

}  // namespace ipsecd::bench
