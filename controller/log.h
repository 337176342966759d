#pragma once
// The daemon's log: one line per event on stderr, as text or JSON
// (--log-format), filtered by level (--log-level). Lines are written whole
// with one write(2), so threads never interleave. Callers never pass a secret.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace ipsecd::controller {

enum class LogLevel : uint8_t { kDebug, kInfo, kWarning, kError };
enum class LogFormat : uint8_t { kText, kJson };
std::string_view log_level_name(LogLevel level);  // "debug", "info", "warning", "error"
std::optional<LogLevel> parse_log_level(std::string_view text);
std::optional<LogFormat> parse_log_format(std::string_view text);

class Logger {
 public:
  // Writes to `fd` (stderr unless told otherwise).
  explicit Logger(LogFormat format = LogFormat::kText, LogLevel level = LogLevel::kInfo,
                  int fd = 2);

  bool enabled(LogLevel level) const { return level >= level_.load(); }
  void set_level(LogLevel level) { level_.store(level); }
  // text: "2026-11-27T07:22:06.123Z info  component: message"
  // json: {"time":"...","level":"info","component":"...","msg":"..."}
  void log(LogLevel level, std::string_view component, std::string_view message);

  void debug(std::string_view component, std::string_view message) {
    log(LogLevel::kDebug, component, message);
  }
  void info(std::string_view component, std::string_view message) {
    log(LogLevel::kInfo, component, message);
  }
  void warning(std::string_view component, std::string_view message) {
    log(LogLevel::kWarning, component, message);
  }
  void error(std::string_view component, std::string_view message) {
    log(LogLevel::kError, component, message);
  }

  // The line log() would write (tests, and the format's documentation).
  std::string format_line(LogLevel level, std::string_view component, std::string_view message,
                          std::string_view time) const;

 private:
  LogFormat format_;
  std::atomic<LogLevel> level_;
  int fd_;
  std::mutex mu_;
};

}  // namespace ipsecd::controller
