#include "bench/engine_pair.h"

#include <iostream>
#include <sstream>

#include "model/config.h"
#include "model/connection.h"
#include "model/secrets.h"

namespace ipsecd::bench {

bool parse_pair_option(PairOptions& o, std::string_view name, const std::string& value) {
  if (name == "--count") {
    o.count = std::stoul(value);
  } else if (name == "--window") {
    o.window = std::stoul(value);
  } else if (name == "--ike") {
    o.ike = value;
  } else if (name == "--esp") {
    o.esp = value;
  } else if (name == "--port") {
    o.port = static_cast<uint16_t>(std::stoul(value));
  } else if (name == "--initiator") {
    o.initiator = value;
  } else if (name == "--responder") {
    o.responder = value;
  } else {
    return false;
  }
  return true;
}

std::string pair_config_text(const PairOptions& o) {
  std::ostringstream out;
  out << "conn %default\n  ikev2=insist\n  authby=secret\n  auto=add\n  left=" << o.initiator
      << "\n  right=" << o.responder << "\n  ike=" << o.ike << "\n  esp=" << o.esp << "\n";
  for (std::size_t i = 0; i < o.count; ++i) {
    out << "conn c" << i << "\n  leftid=@c" << i << "-l\n  rightid=@c" << i << "-r\n"
        << "  leftsubnet=198.51.100." << (i % 254 + 1) << "/32\n  rightsubnet=203.0.113."
        << (i / 254 % 254 + 1) << "/32\n";
  }
  return out.str();
}

bool EngineSide::open(const PairOptions& o, const std::string& address, std::string_view prog,
                      const std::function<void()>& with_transport) {
  engine::UdpOptions uo;
  uo.addresses = {kernel::Address::literal(address)};
  uo.ike_port = o.port;
  uo.natt_port = static_cast<uint16_t>(o.port + 1);
  std::string error;
  transport = engine::UdpTransport::open(loop, uo, error);
  if (!transport) {
    std::cerr << prog << ": " << error << "\n";
    return false;
  }
  if (with_transport) {
    with_transport();
  }
  engine::EngineOptions eo;
  eo.ike_port = o.port;
  eo.natt_port = static_cast<uint16_t>(o.port + 1);
  eo.cookie_threshold = o.count * 2;  // a benchmark, not a flood
  engine = std::make_unique<engine::Engine>(loop, *transport, kernel, random, std::move(eo));
  auto config = model::parse_config_text(pair_config_text(o), "bench.conf");
  if (config.diagnostics.has_errors()) {
    std::cerr << prog << ": " << config.diagnostics.all().front().str() << "\n";
    return false;
  }
  auto set = model::build_connections(std::move(config));
  if (set.diagnostics.has_errors()) {
    std::cerr << prog << ": " << set.diagnostics.all().front().str() << "\n";
    return false;
  }
  for (auto& c : set.connections) {
    if (auto s = engine->load(std::move(c)); !s.ok()) {
      std::cerr << prog << ": " << s.error << "\n";
      return false;
    }
  }
  auto secrets = model::parse_secrets_text(": PSK \"bench-psk-0123456789abcdef\"\n", "bench");
  engine->set_secrets(std::make_shared<const model::Secrets>(std::move(secrets.secrets)));
  return true;
}

}  // namespace ipsecd::bench
