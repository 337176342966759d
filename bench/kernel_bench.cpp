// Kernel backend rates: the memory kernel at 100k objects, XFRM policy add/remove in a netns.
// Prints numbers and the machine; not a test.
#include "bench/bench.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "kernel/memory/memory_backend.h"
#include "kernel/xfrm/xfrm_backend.h"

using namespace ipsecd::kernel;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Distinct host-to-host selectors inside 2001:db8::/32.
Address host(uint32_t net, uint32_t i) {
  uint8_t b[16] = {0x20,
                   0x01,
                   0x0d,
                   0xb8,
                   static_cast<uint8_t>(net),
                   0,
                   0,
                   0,
                   0,
                   0,
                   0,
                   0,
                   static_cast<uint8_t>(i >> 24),
                   static_cast<uint8_t>(i >> 16),
                   static_cast<uint8_t>(i >> 8),
                   static_cast<uint8_t>(i)};
  return Address::from_bytes(Family::kIpv6, b);
}

PolicySpec policy(uint32_t i) {
  PolicySpec p;
  p.id =
      PolicyId{Selector{Prefix::host(host(1, 1)), Prefix::host(host(2, i))}, Direction::kOut, {}};
  p.kind = PolicyKind::kTrap;
  p.templates.push_back(
      Template{host(1, 1), host(2, i), kProtoEsp, Mode::kTunnel, 0x1a500000 + (i % 0xfffff)});
  return p;
}

void memory_bench() {
  constexpr uint32_t kObjects = 100000;
  auto kernel = std::make_shared<MemoryKernel>();
  MemoryBackend b(kernel);
  Batch fill;
  for (uint32_t i = 0; i < kObjects; ++i) {
    fill.add_policy(policy(i));
  }
  auto t0 = Clock::now();
  (void)b.apply(fill);
  std::printf("memory: batched add of %u policies: %.0f ops/s\n", kObjects,
              kObjects / seconds_since(t0));
  for (uint32_t i = 0; i < kObjects; ++i) {
    SaSpec s;
    s.id = SaId{host(2, i), 0x1000 + i, kProtoEsp};
    s.src = host(1, 1);
    s.reqid = 0x1a500000 + (i % 0xfffff);
    s.enc_key = SecretBytes(std::vector<uint8_t>(36, 1));
    (void)b.add_sa(s);
  }

  // Keys are built up front so that the loops time the backend, not the benchmark.
  std::vector<PolicyId> ids;
  std::vector<SaId> sa_ids;
  for (uint32_t i = 0; i < kObjects; ++i) {
    ids.push_back(policy(i).id);
    sa_ids.push_back(SaId{host(2, i), 0x1000 + i, kProtoEsp});
  }
  constexpr uint32_t kOps = 1000000;
  t0 = Clock::now();
  uint32_t found = 0;
  for (uint32_t i = 0; i < kOps; ++i) {
    found += b.get_policy(ids[(i * 7919u) % kObjects]).ok() ? 1 : 0;
  }
  std::printf("memory: get_policy at %u policies: %.0f ops/s (%u found)\n", kObjects,
              kOps / seconds_since(t0), found);
  t0 = Clock::now();
  found = 0;
  for (uint32_t i = 0; i < kOps; ++i) {
    found += b.get_sa(sa_ids[(i * 7919u) % kObjects]).ok() ? 1 : 0;
  }
  std::printf("memory: get_sa at %u SAs: %.0f ops/s (%u found)\n", kObjects,
              kOps / seconds_since(t0), found);
  std::vector<PolicySpec> extra;
  for (uint32_t i = 0; i < kOps / 2; ++i) {
    extra.push_back(policy(kObjects + i));
  }
  t0 = Clock::now();
  for (const auto& p : extra) {
    (void)b.add_policy(p);
    (void)b.delete_policy(p.id);
  }
  std::printf("memory: add+delete policy at %u policies: %.0f ops/s\n", kObjects,
              kOps / seconds_since(t0));
  std::vector<Packet> packets;
  for (uint32_t i = 0; i < kObjects; ++i) {
    packets.push_back(Packet{Direction::kOut, host(1, 1), host(2, i), 17, 1, 2, 100, 0});
  }
  t0 = Clock::now();
  uint32_t protected_or_acq = 0;
  for (uint32_t i = 0; i < kOps; ++i) {
    auto r = kernel->send(packets[(i * 7919u) % kObjects]);
    protected_or_acq += r.verdict == Verdict::kProtected ? 1 : 0;
  }
  std::printf("memory: packet lookups at %u policies + %u SAs: %.0f ops/s (%u protected)\n",
              kObjects, kObjects, kOps / seconds_since(t0), protected_or_acq);
}

bool xfrm_round(uint32_t n) {
  if (unshare(CLONE_NEWNET) != 0) {
    std::printf("xfrm: cannot create a network namespace (needs root); skipped\n");
    return false;
  }
  auto opened = XfrmBackend::open();
  if (!opened.ok()) {
    std::printf("xfrm: %s\n", opened.error().message.c_str());
    return false;
  }
  auto& b = *opened.value();
  Batch add;
  Batch del;
  for (uint32_t i = 0; i < n; ++i) {
    add.add_policy(policy(i));
    del.delete_policy(policy(i).id);
  }
  auto count_ok = [](const std::vector<Status>& v) {
    size_t ok = 0;
    for (const auto& s : v) {
      ok += s.ok() ? 1 : 0;
    }
    return ok;
  };
  auto t0 = Clock::now();
  size_t ok = count_ok(b.apply(add));
  double add_rate = n / seconds_since(t0);
  t0 = Clock::now();
  size_t ok_del = count_ok(b.apply(del));
  double del_rate = n / seconds_since(t0);
  std::printf("xfrm: %6u policies batched:     add %9.0f/s  remove %9.0f/s  (%zu/%zu ok)\n", n,
              add_rate, del_rate, ok, ok_del);

  t0 = Clock::now();
  ok = 0;
  for (const auto& op : add.ops) {
    ok += b.add_policy(std::get<Batch::AddPolicy>(op).spec).ok() ? 1 : 0;
  }
  add_rate = n / seconds_since(t0);
  t0 = Clock::now();
  ok_del = 0;
  for (const auto& op : del.ops) {
    ok_del += b.delete_policy(std::get<Batch::DeletePolicy>(op).id).ok() ? 1 : 0;
  }
  del_rate = n / seconds_since(t0);
  std::printf("xfrm: %6u policies one per call: add %9.0f/s  remove %9.0f/s  (%zu/%zu ok)\n", n,
              add_rate, del_rate, ok, ok_del);
  return true;
}

}  // namespace

int main() {
  ipsecd::bench::print_machine();
  memory_bench();
  for (uint32_t n : {1000u, 10000u, 50000u}) {
    if (!xfrm_round(n)) {
      break;
    }
  }
  return 0;
}
