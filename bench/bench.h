#pragma once
// What every benchmark shares: the machine line it prints first, and a rate
// loop for operations that take microseconds.

#include <chrono>
#include <cstddef>
#include <string>

namespace ipsecd::bench {

// "machine: nproc=2 cpu="AMD EPYC" kernel=Linux 6.18 load=2.1 1.9 1.2; NOTE"
void print_machine(const std::string& note = {});

// Runs `op` until `seconds` have passed; returns operations per second.
template <class Op>
double rate(double seconds, Op op) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  std::size_t n = 0;
  double elapsed = 0;
  std::size_t batch = 1;
  while (elapsed < seconds) {
    for (std::size_t i = 0; i < batch; ++i) {
      op();
    }
    n += batch;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed < seconds / 100 && batch < 1024) {
      batch *= 2;  // cheap operations: fewer clock reads
    }
  }
  return static_cast<double>(n) / elapsed;
}

}  // namespace ipsecd::bench
