// Fuzzes the ipsec.conf reader (and, when the first byte is odd, the YAML spec
// reader) through resolution, structured build and both printed forms.

#include <cstdint>
#include <string_view>

#include "model/config.h"
#include "model/connection.h"
#include "model/yaml_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace ipsecd::model;
  ParseOptions options;
  // Includes must not reach the machine's files.
  options.rootdir = "/nonexistent-ipsecd-fuzz-root";
  Config config = (data[0] & 1) != 0 ? parse_yaml_text(text, "fuzz.yaml")
                                     : parse_config_text(text, "fuzz.conf", options,
                                                         "/nonexistent-ipsecd-fuzz-root");
  ConnectionSet set = build_connections(config);
  (void)format_config_text(config);
  (void)format_config_json(config);
  (void)to_yaml(set.connections);
  for (const Connection& c : set.connections) {
    (void)c.canonical();
  }
  return 0;
}
