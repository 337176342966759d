#pragma once
// NAT detection in IKE_SA_INIT (RFC 7296 2.23): NAT_DETECTION_SOURCE_IP and
// _DESTINATION_IP hashes; a NAT moves the initiator to the NAT-T port and
// CHILD SAs to UDP encapsulation.

#include "engine/tasks/task.h"
#include "engine/transport.h"

namespace ipsecd::engine::tasks {

class IkeNatd final : public Task {
 public:
  using Task::Task;
  wire::ExchangeType exchange() const override { return wire::ExchangeType::kIkeSaInit; }
  std::string_view name() const override { return "IkeNatd"; }
  Result build(wire::Message& message) override;
  Result process(const wire::Message& message) override;
};

// SHA-1(SPIi | SPIr | IP | port), RFC 7296 2.23.
std::vector<uint8_t> natd_hash(uint64_t spi_i, uint64_t spi_r, const Endpoint& endpoint);

}  // namespace ipsecd::engine::tasks
