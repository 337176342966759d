#pragma once
// Reading whole configuration files with a size limit: ipsec.conf and its
// includes, YAML specs, and the certificate store's files. (ipsec.secrets has
// its own reader: it never lets a secret reach a buffer that is not wiped.)

#include <cstddef>
#include <string>
#include <string_view>

#include "model/result.h"

namespace ipsecd::model {

// ipsec.conf with its includes and YAML specs, per file: room for a mesh of
// 100,000 connections in one file, yet a bound on what a drop may make us read.
inline constexpr size_t kMaxConfigFileBytes = size_t{64} << 20;

// The whole file at PATH when it holds at most MAX_BYTES; a file that grows
// past the limit while it is read is refused too. The error says why, ready to
// follow "PATH: " or "cannot read PATH: ": "No such file or directory",
// "is larger than 67108864 bytes" and then LIMIT_NOTE when one is given. What
// was read of a refused file is wiped before it is freed (key files pass here).
Result<std::string> read_file(const std::string& path, size_t max_bytes,
                              std::string_view limit_note = "");

}  // namespace ipsecd::model
