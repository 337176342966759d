#pragma once
// Diagnostics carry file:line so every configuration error points at its line.

#include <string>
#include <string_view>
#include <vector>

namespace ipsecd::model {

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string file;  // empty when the problem has no file (e.g. an API request)
  int line = 0;      // 0 when the problem has no line
  std::string message;

  // "FILE:LINE: error: MESSAGE" (or "warning:"), the form compilers use.
  std::string str() const;
};

class Diagnostics {
 public:
  void error(std::string_view file, int line, std::string message);
  void warning(std::string_view file, int line, std::string message);

  bool has_errors() const { return errors_ > 0; }
  int error_count() const { return errors_; }
  const std::vector<Diagnostic>& all() const { return all_; }
  void append(const Diagnostics& other);

 private:
  std::vector<Diagnostic> all_;
  int errors_ = 0;
};

}  // namespace ipsecd::model
