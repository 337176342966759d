// Decode/encode rate of the IKEv2 codec on strongSwan 5.9.8's IKE_SA_INIT messages
// (the 972-byte request with 4 proposals / 78 transforms, and the 248-byte response).
// Usage: wire_bench [SECONDS_PER_CASE]   (default 1)

#include "bench/bench.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "engine/wire/message.h"

namespace wire = ipsecd::engine::wire;

namespace {

using ipsecd::bench::rate;

std::vector<uint8_t> read_capture(const std::string& name) {
  std::string path = std::string(IPSECD_SOURCE_DIR) + "/tests/engine/data/strongswan-5.9.8/" + name;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "wire_bench: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  ipsecd::bench::print_machine("single thread");
  std::size_t sink = 0;
  for (const char* name : {"ike_sa_init_request.bin", "ike_sa_init_response.bin"}) {
    std::vector<uint8_t> bytes = read_capture(name);
    auto message = wire::decode(bytes);
    if (!message) {
      std::fprintf(stderr, "wire_bench: %s: %s\n", name, message.error().message.c_str());
      return 1;
    }
    double dec = rate(seconds, [&] { sink += wire::decode(bytes)->payloads.size(); });
    double enc = rate(seconds, [&] { sink += wire::encode(*message)->size(); });
    double both = rate(seconds, [&] { sink += wire::encode(*wire::decode(bytes))->size(); });
    std::printf(
        "%-26s %4zu bytes: decode %9.0f msg/s  encode %9.0f msg/s  decode+encode %9.0f "
        "msg/s\n",
        name, bytes.size(), dec, enc, both);
  }
  return sink == 0 ? 1 : 0;
}
