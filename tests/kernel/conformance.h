// The kernel backend conformance suite: the same cases against every Backend.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "kernel/backend.h"

namespace ipsecd::kernel::testing {

enum class SendOutcome { kSent, kBlocked };

// One machine's kernel for the duration of a test: the memory kernel, or a fresh network
// namespace for XFRM.
class KernelEnv {
 public:
  virtual ~KernelEnv() = default;
  // Empty when usable; otherwise why the tests must skip.
  virtual std::string skip_reason() const = 0;
  // A new handle on this kernel, as a (re)started daemon with these markers would open it.
  virtual std::unique_ptr<Backend> open(const Ownership& own) = 0;
  // Sends one UDP packet from src to dst:dport through the stack (outbound policies apply).
  virtual SendOutcome send_udp(const Address& src, const Address& dst, uint16_t dport) = 0;
  // Lets `seconds` pass on the kernel's clock.
  virtual void advance(uint64_t seconds) = 0;
  // Creates a policy (blocking shunt) and an SPI reservation the way another program would.
  virtual void plant_foreign(const Selector& sel, const Address& sa_src, const Address& sa_dst) = 0;
  virtual bool has_esp() const = 0;
};

struct EnvFactory {
  std::string name;
  std::function<std::unique_ptr<KernelEnv>()> make;
};

inline std::string env_name(const ::testing::TestParamInfo<EnvFactory>& info) {
  return info.param.name;
}

class Conformance : public ::testing::TestWithParam<EnvFactory> {
 protected:
  void SetUp() override;
  std::unique_ptr<KernelEnv> env_;
  std::unique_ptr<Backend> backend_;
  Ownership own_;
};

}  // namespace ipsecd::kernel::testing
