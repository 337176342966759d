#include "model/diagnostic.h"

namespace ipsecd::model {

std::string Diagnostic::str() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    out += ':';
    if (line > 0) {
      out += std::to_string(line);
      out += ':';
    }
    out += ' ';
  }
  out += severity == Severity::kError ? "error: " : "warning: ";
  out += message;
  return out;
}

void Diagnostics::error(std::string_view file, int line, std::string message) {
  all_.push_back({Severity::kError, std::string(file), line, std::move(message)});
  ++errors_;
}

void Diagnostics::warning(std::string_view file, int line, std::string message) {
  all_.push_back({Severity::kWarning, std::string(file), line, std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
  all_.insert(all_.end(), other.all_.begin(), other.all_.end());
  errors_ += other.errors_;
}

}  // namespace ipsecd::model
