// IKE SA + first CHILD SA establishments per second between two ipsecd
// engines in two processes over loopback (UDP, memory kernel), and the memory
// each established pair costs.
//
//   ike_bench [--count N] [--window W] [--ike PROPOSAL] [--esp PROPOSAL]
//             [--port P] [--initiator ADDR] [--responder ADDR]
//
// N connections (distinct ids, so none shares an IKE SA, and distinct host
// selectors), one PSK. The initiator keeps at most W initiations in flight.
// The rate counts from the first IKE_SA_INIT to the last CHILD SA up. Memory
// is the VmRSS growth of each process from "connections loaded" to "all SAs
// established", divided by N.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "bench/bench.h"
#include "bench/engine_pair.h"
#include "engine/engine.h"

namespace ipsecd::bench {
namespace {

using engine::Engine;
using engine::EventType;

struct Options : PairOptions {
  Options() {
    ike = "aes_gcm128-sha2_256-dh31";  // charon: aes128gcm16-prfsha256-x25519
    esp = "aes_gcm128";                // charon: aes128gcm16
    port = 15500;
  }
};

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtol(line.c_str() + 6, nullptr, 10);
    }
  }
  return 0;
}

struct Side : EngineSide {
  long rss_loaded = 0;

  bool open(const Options& o, const std::string& address) {
    if (!EngineSide::open(o, address, "ike_bench")) {
      return false;
    }
    rss_loaded = rss_kib();
    return true;
  }
};

// The responder: counts CHILD SAs up, then reports its RSS growth on `out`.
int responder(const Options& o, int ready_fd, int out_fd) {
  Side side;
  if (!side.open(o, o.responder)) {
    return 1;
  }
  std::size_t up = 0;
  side.engine->subscribe([&](const engine::Event& e) {
    if (e.type == EventType::kChildUp && ++up == o.count) {
      side.loop.stop();
    }
  });
  [[maybe_unused]] auto n = write(ready_fd, "r", 1);
  close(ready_fd);
  side.loop.run();
  const long grown = rss_kib() - side.rss_loaded;
  std::string line = std::to_string(grown) + " " + std::to_string(side.engine->ike_sa_count()) +
                     " " + std::to_string(side.rss_loaded) + "\n";
  [[maybe_unused]] auto m = write(out_fd, line.data(), line.size());
  close(out_fd);
  // Stay until the initiator has its last answer (it would retransmit otherwise).
  char c;
  [[maybe_unused]] auto r = read(STDIN_FILENO, &c, 1);
  return 0;
}

int run(const Options& o) {
  int ready[2];
  int report[2];
  int hold[2];
  if (pipe(ready) != 0 || pipe(report) != 0 || pipe(hold) != 0) {
    std::perror("pipe");
    return 1;
  }
  pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    close(report[0]);
    close(hold[1]);
    dup2(hold[0], STDIN_FILENO);
    _exit(responder(o, ready[1], report[1]));
  }
  close(ready[1]);
  close(report[1]);
  close(hold[0]);
  char c;
  if (read(ready[0], &c, 1) != 1) {
    std::cerr << "ike_bench: the responder did not start\n";
    waitpid(child, nullptr, 0);
    return 1;
  }
  Side side;
  if (!side.open(o, o.initiator)) {
    close(hold[1]);
    waitpid(child, nullptr, 0);
    return 1;
  }
  std::size_t next = 0;
  std::size_t done = 0;
  std::size_t failed = 0;
  std::string first_failure;
  std::function<void()> fill = [&] {
    while (next < o.count && next - done < o.window) {
      const std::string name = "c" + std::to_string(next++);
      side.engine->initiate(name, [&, name](const engine::InitiateResult& r) {
        ++done;
        if (!r.ok) {
          ++failed;
          if (first_failure.empty()) {
            first_failure = name + ": " + r.reason;
          }
        }
        if (done == o.count) {
          side.loop.stop();
        } else {
          fill();
        }
      });
    }
  };
  const auto start = std::chrono::steady_clock::now();
  fill();
  side.loop.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long grown = rss_kib() - side.rss_loaded;
  std::size_t sas = side.engine->ike_sa_count();

  char buf[128] = {};
  ssize_t n = read(report[0], buf, sizeof buf - 1);
  close(hold[1]);
  int status = 0;
  waitpid(child, &status, 0);
  long r_grown = 0;
  long r_sas = 0;
  long r_loaded = 0;
  if (n > 0) {
    std::sscanf(buf, "%ld %ld %ld", &r_grown, &r_sas, &r_loaded);
  }
  const double per_i = static_cast<double>(grown) * 1024.0 / static_cast<double>(o.count);
  const double per_r = static_cast<double>(r_grown) * 1024.0 / static_cast<double>(o.count);
  std::printf(
      "ike_bench: %zu IKE+CHILD SAs (ike=%s esp=%s, window %zu) in %.3f s: %.0f /s; "
      "failed %zu%s%s\n",
      o.count, o.ike.c_str(), o.esp.c_str(), o.window, seconds,
      static_cast<double>(o.count - failed) / seconds, failed, first_failure.empty() ? "" : ": ",
      first_failure.c_str());
  std::printf(
      "ike_bench: memory per established IKE+CHILD SA: initiator %.0f B (%zu IKE SAs, RSS %ld "
      "KiB loaded), responder %.0f B (%ld IKE SAs, RSS %ld KiB loaded)\n",
      per_i, sas, side.rss_loaded, per_r, r_sas, r_loaded);
  return failed == 0 && n > 0 ? 0 : 1;
}

}  // namespace
}  // namespace ipsecd::bench

int main(int argc, char** argv) {
  ipsecd::bench::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    std::string v = argv[i + 1];
    if (!ipsecd::bench::parse_pair_option(o, a, v)) {
      std::cerr << "ike_bench: unknown option " << a
                << " (--count N, --window W, --ike P, --esp P, --port P, --initiator A, "
                   "--responder A)\n";
      return 2;
    }
  }
  if (o.count == 0 || o.window == 0) {
    std::cerr << "ike_bench: --count and --window must be at least 1\n";
    return 2;
  }
  ipsecd::bench::print_machine("two processes over loopback UDP, memory kernel");
  return ipsecd::bench::run(o);
}
