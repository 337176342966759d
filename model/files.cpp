#include "model/files.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace ipsecd::model {

Result<std::string> read_file(const std::string& path, size_t max_bytes,
                              std::string_view limit_note) {
  using R = Result<std::string>;
  const std::string too_big =
      "is larger than " + std::to_string(max_bytes) + " bytes" + std::string(limit_note);
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) {
    return R::failure(ec.message());
  }
  if (size > max_bytes) {
    return R::failure(too_big);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return R::failure(std::strerror(errno));
  }
  // One byte more than the size seen: a file that grew since is caught too.
  std::string bytes(static_cast<size_t>(size) + 1, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  const auto got = static_cast<size_t>(in.gcount());
  if (in.bad() || got > max_bytes) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return R::failure(in.bad() ? std::string("read error") : too_big);
  }
  bytes.resize(got);
  return bytes;
}

}  // namespace ipsecd::model
