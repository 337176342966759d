#pragma once
// YAML connection specs: multi-document files of
//
//   apiVersion: ipsecd.io/v1
//   kind: IPsecConnection
//   metadata: {name: west-east}
//   spec:
//     auto: start
//     ike: aes256-sha2;dh19
//     left:  {host: 192.0.2.1, id: "@west", subnet: 198.51.100.0/24}
//     right: {host: 192.0.2.2, id: "@east", subnet: 203.0.113.0/24}
//
// Every field is an ipsec.conf keyword under its canonical name (sided ones
// under left:/right:, with `host` for left=/right=), so a spec maps one-to-one
// onto a conn and goes through the same validation. Schema: docs/yaml-spec.md.

#include <string>
#include <string_view>
#include <vector>

#include "model/config.h"
#include "model/connection.h"

namespace ipsecd::model {

inline constexpr std::string_view kYamlApiVersion = "ipsecd.io/v1";
inline constexpr std::string_view kYamlKind = "IPsecConnection";

// Parses every document; errors carry file:line (1-based) and name the field.
Config parse_yaml_text(std::string_view text, const std::string& name);
Config parse_yaml_file(const std::string& path);

// The YAML form of resolved connections (ipsec readwriteconf --yaml).
std::string to_yaml(const std::vector<Connection>& connections);

}  // namespace ipsecd::model
