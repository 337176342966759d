#pragma once
// The deterministic harness: engines over an in-memory network, each with an
// in-memory kernel, on one simulated loop with a manual clock, so
// retransmissions, lifetimes and collisions run in milliseconds and a failing
// seed repeats exactly.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/memory_network.h"
#include "kernel/memory/memory_backend.h"
#include "model/secrets.h"

namespace ipsecd::engine::harness {

using namespace std::chrono_literals;
using kernel::Address;

// The memory kernel with the keys it was given kept aside, so a test can
// compare both ends' keys (the kernel never lists them).
class RecordingBackend final : public kernel::Backend {
 public:
  explicit RecordingBackend(std::shared_ptr<kernel::MemoryKernel> k) : inner_(std::move(k)) {}
  std::map<std::pair<std::string, uint32_t>, kernel::SaSpec> specs;
  std::optional<kernel::Error> fail_update_sa;  // the next update_sa fails with this

  kernel::Result<uint32_t> allocate_spi(const Address& src, const Address& dst, uint32_t reqid,
                                        uint32_t min, uint32_t max) override {
    return inner_.allocate_spi(src, dst, reqid, min, max);
  }
  kernel::Status add_sa(const kernel::SaSpec& spec) override {
    record(spec);
    return inner_.add_sa(spec);
  }
  kernel::Status update_sa(const kernel::SaSpec& spec) override {
    if (fail_update_sa) {
      auto e = *fail_update_sa;
      fail_update_sa.reset();
      return e;
    }
    record(spec);
    return inner_.update_sa(spec);
  }
  kernel::Status delete_sa(const kernel::SaId& id) override {
    specs.erase({id.dst.str(), id.spi});
    return inner_.delete_sa(id);
  }
  kernel::Result<kernel::SaState> get_sa(const kernel::SaId& id) override {
    return inner_.get_sa(id);
  }
  kernel::Result<std::vector<kernel::SaState>> list_sas() override { return inner_.list_sas(); }
  kernel::Status add_policy(const kernel::PolicySpec& spec) override {
    return inner_.add_policy(spec);
  }
  kernel::Status update_policy(const kernel::PolicySpec& spec) override {
    return inner_.update_policy(spec);
  }
  kernel::Status delete_policy(const kernel::PolicyId& id) override {
    return inner_.delete_policy(id);
  }
  kernel::Result<kernel::PolicyState> get_policy(const kernel::PolicyId& id) override {
    return inner_.get_policy(id);
  }
  kernel::Result<std::vector<kernel::PolicyState>> list_policies() override {
    return inner_.list_policies();
  }
  std::vector<kernel::Status> apply(const kernel::Batch& batch) override {
    return inner_.apply(batch);
  }
  int event_fd() const override { return inner_.event_fd(); }
  std::vector<kernel::Event> read_events(std::chrono::milliseconds t) override {
    return inner_.read_events(t);
  }
  const kernel::Ownership& ownership() const override { return inner_.ownership(); }
  kernel::MemoryKernel& kernel() { return inner_.kernel(); }

 private:
  void record(const kernel::SaSpec& spec) { specs[{spec.id.dst.str(), spec.id.spi}] = spec; }
  kernel::MemoryBackend inner_;
};

struct Node {
  Node(SimulatedLoop& loop, MemoryNetwork& net, const std::string& address, uint64_t seed,
       EngineOptions options)
      : backend(std::make_shared<kernel::MemoryKernel>()),
        transport(net.attach({Address::literal(address)})),
        random(seed),
        engine(std::make_unique<Engine>(loop, *transport, backend, random, std::move(options))) {
    engine->subscribe([this](const Event& e) { events.push_back(e); });
  }
  std::vector<Event> of(EventType type) const {
    std::vector<Event> out;
    for (const auto& e : events) {
      if (e.type == type) {
        out.push_back(e);
      }
    }
    return out;
  }
  std::size_t children() {
    std::size_t n = 0;
    for (const auto& sa : engine->list()) {
      n += sa.children.size();
    }
    return n;
  }

  RecordingBackend backend;
  std::unique_ptr<Transport> transport;
  crypto::SeededRandom random;
  std::unique_ptr<Engine> engine;
  std::vector<Event> events;
};

model::ProposalList proposals(model::ProposalKind kind, const char* text);

std::shared_ptr<const model::Secrets> psk(const std::string& text);

struct Ends {
  std::string left = "192.0.2.1";
  std::string right = "192.0.2.2";
  std::vector<std::string> left_subnets = {"10.1.0.0/24"};
  std::vector<std::string> right_subnets = {"10.2.0.0/24"};
};

model::Connection connection(const std::string& name, const Ends& ends);

class EngineHarness : public ::testing::Test {
 protected:
  void start(EngineOptions a_options = {}, EngineOptions b_options = {},
             std::string left = "192.0.2.1", std::string right = "192.0.2.2") {
    a = std::make_unique<Node>(loop, net, left, 101, std::move(a_options));
    b = std::make_unique<Node>(loop, net, right, 202, std::move(b_options));
    const std::string secrets = left + " " + right + " : PSK \"correct horse battery staple\"\n";
    a->engine->set_secrets(psk(secrets));
    b->engine->set_secrets(psk(secrets));
  }
  void load_both(const model::Connection& c) {
    auto sa = a->engine->load(c);
    ASSERT_TRUE(sa.ok()) << sa.error;
    auto sb = b->engine->load(c);
    ASSERT_TRUE(sb.ok()) << sb.error;
  }
  // Initiates from a and runs the loop until the result is in.
  InitiateResult up(Node& node, const std::string& name, std::chrono::seconds limit = 120s) {
    std::optional<InitiateResult> result;
    node.engine->initiate(name, [&](const InitiateResult& r) { result = r; });
    EXPECT_TRUE(loop.run_until([&] { return result.has_value(); }, limit))
        << "no result for " << name;
    loop.advance(100ms);  // let the responder see the last message
    return result.value_or(InitiateResult{false, "no result"});
  }

  ManualClock clock;
  SimulatedLoop loop{clock};
  MemoryNetwork net{loop, 42};
  std::unique_ptr<Node> a;
  std::unique_ptr<Node> b;
};

std::vector<uint8_t> key_bytes(const kernel::SecretBytes& s);

}  // namespace ipsecd::engine::harness
