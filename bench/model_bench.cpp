// model_bench FILE...: time to parse and validate each ipsec.conf (best of 5
// runs: parse, resolve also=/%default, check every value, build every
// Connection), the heap at its peak (file text, parsed config and connections
// all alive) and the heap the daemon keeps afterwards, per connection.

#include "bench/bench.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "model/config.h"
#include "model/connection.h"

namespace {

// Bytes allocated from the heap, including chunks malloc served with mmap
// (large vectors), which uordblks alone leaves out.
size_t heap_in_use() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: model_bench FILE...\n");
    return 2;
  }
  ipsecd::bench::print_machine();
  std::printf("%-40s %8s %10s %16s %16s\n", "file", "conns", "best ms", "peak heap B/conn",
              "kept heap B/conn");
  for (int i = 1; i < argc; ++i) {
    double best = 1e18;
    size_t conns = 0;
    size_t per_conn = 0;
    size_t peak_per_conn = 0;
    for (int run = 0; run < 5; ++run) {
      size_t before = heap_in_use();
      auto t0 = std::chrono::steady_clock::now();
      ipsecd::model::Config config = ipsecd::model::parse_config_file(argv[i]);
      size_t after_parse = heap_in_use() - before;
      if (config.diagnostics.has_errors()) {
        std::fprintf(stderr, "%s: configuration has errors\n", argv[i]);
        return 1;
      }
      ipsecd::model::ConnectionSet set = ipsecd::model::build_connections(std::move(config));
      auto t1 = std::chrono::steady_clock::now();
      size_t peak = std::max(after_parse, heap_in_use() - before);
      if (set.diagnostics.has_errors()) {
        std::fprintf(stderr, "%s: configuration has errors\n", argv[i]);
        return 1;
      }
      // What a daemon keeps: the structured connections (the parsed Config is
      // dropped once they are built).
      config = {};
      size_t held = heap_in_use() - before;
      best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
      conns = set.connections.size();
      per_conn = conns != 0 ? held / conns : 0;
      peak_per_conn = conns != 0 ? peak / conns : 0;
    }
    std::printf("%-40s %8zu %10.1f %16zu %16zu\n", argv[i], conns, best, peak_per_conn, per_conn);
  }
  return 0;
}
