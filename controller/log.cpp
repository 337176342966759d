#include "controller/log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "controller/conditions.h"

namespace ipsecd::controller {

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (auto level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (text == log_level_name(level)) {
      return level;
    }
  }
  if (text == "warn") {
    return LogLevel::kWarning;
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") {
    return LogFormat::kText;
  }
  if (text == "json") {
    return LogFormat::kJson;
  }
  return std::nullopt;
}

Logger::Logger(LogFormat format, LogLevel level, int fd)
    : format_(format), level_(level), fd_(fd) {}

std::string Logger::format_line(LogLevel level, std::string_view component,
                                std::string_view message, std::string_view time) const {
  std::string line;
  if (format_ == LogFormat::kJson) {
    line = "{\"time\":" + json_quote(time) + ",\"level\":" + json_quote(log_level_name(level)) +
           ",\"component\":" + json_quote(component) + ",\"msg\":" + json_quote(message) + "}\n";
    return line;
  }
  line.reserve(time.size() + component.size() + message.size() + 12);
  line.append(time).append(" ");
  std::string_view name = log_level_name(level);
  line.append(name).append(8 - name.size(), ' ');
  line.append(component).append(": ");
  // One event, one line: a message never breaks the line format.
  for (char c : message) {
    line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  line.push_back('\n');
  return line;
}

void Logger::log(LogLevel level, std::string_view component, std::string_view message) {
  if (!enabled(level)) {
    return;
  }
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char time[64];
  std::snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  const std::string line = format_line(level, component, message, time);
  std::lock_guard lock(mu_);
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // nowhere to log to: nothing better to do
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace ipsecd::controller
