#include "tests/engine/harness.h"

namespace ipsecd::engine::harness {

model::ProposalList proposals(model::ProposalKind kind, const char* text) {
  auto p = model::parse_proposals(kind, text);
  EXPECT_TRUE(p.ok()) << p.error();
  return std::make_shared<const std::vector<model::Proposal>>(p.value());
}

std::shared_ptr<const model::Secrets> psk(const std::string& text) {
  auto parsed = model::parse_secrets_text(text, "test.secrets");
  return std::make_shared<const model::Secrets>(std::move(parsed.secrets));
}

model::Connection connection(const std::string& name, const Ends& ends) {
  model::Connection c;
  c.name = name;
  c.left.host_kind = model::HostKind::kAddress;
  c.left.address = model::IpAddress::parse(ends.left).value();
  c.right.host_kind = model::HostKind::kAddress;
  c.right.address = model::IpAddress::parse(ends.right).value();
  for (const auto& s : ends.left_subnets) {
    c.left.subnets.push_back(model::Subnet::parse(s).value());
  }
  for (const auto& s : ends.right_subnets) {
    c.right.subnets.push_back(model::Subnet::parse(s).value());
  }
  c.authby = model::AuthMethod::kPsk;
  return c;
}

std::vector<uint8_t> key_bytes(const kernel::SecretBytes& s) {
  return s.bytes();
}

}  // namespace ipsecd::engine::harness
