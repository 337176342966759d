#pragma once
// What every test tier shares for files: a temporary directory removed with
// everything in it when the test ends, and whole-file reads and writes.

#include <filesystem>
#include <string>
#include <string_view>

namespace ipsecd::testing {

// A fresh directory under the system's temporary directory (mkdtemp), named
// PREFIX-XXXXXX, removed recursively on destruction. Aborts the test binary with
// the reason when no directory can be made: nothing after it could run.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "ipsecd-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name, for files the test writes or expects.
  std::string operator/(std::string_view name) const;
  // Writes TEXT to path()/name, creating the directories between, and returns
  // the file's path.
  std::string write(std::string_view name, std::string_view text) const;

 private:
  std::string path_;
};

// The whole file, or "" when it cannot be read.
std::string read_text(const std::filesystem::path& path);
// Replaces the file's contents with TEXT (binary, truncating).
void write_text(const std::filesystem::path& path, std::string_view text);

}  // namespace ipsecd::testing
