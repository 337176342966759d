#include "controller/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "model/text.h"

namespace ipsecd::controller {
namespace {

constexpr std::string_view kJournalHeader = "# ipsecd operator intents: NAME INTENT per line";

constexpr std::string_view kIntentNames[] = {"none", "up", "down", "route", "unroute"};

// Journal names are percent-encoded so that any name fits on one line.
std::string encode_name(std::string_view name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '#') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<std::string> decode_name(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    int hi = model::text::hex_value(text[i + 1]);
    int lo = model::text::hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (out.empty()) {
    return std::nullopt;
  }
  return out;
}

bool is_ignored(const model::Connection& c) {
  return c.auto_action == model::AutoAction::kIgnore;
}

std::string where(const std::string& file, int line) {
  if (file.empty()) {
    return "";
  }
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

// Writes all of `data` to fd; false with errno set on failure.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string_view intent_name(Intent intent) {
  return kIntentNames[static_cast<size_t>(intent)];
}

std::optional<Intent> parse_intent(std::string_view text) {
  for (size_t i = 0; i < std::size(kIntentNames); ++i) {
    if (kIntentNames[i] == text) {
      return static_cast<Intent>(i);
    }
  }
  return std::nullopt;
}

bool Snapshot::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const model::Diagnostic& d) {
    return d.severity == model::Severity::kError;
  });
}

std::vector<std::string> Changes::names() const {
  std::vector<std::string> all;
  all.reserve(added.size() + updated.size() + removed.size());
  all.insert(all.end(), added.begin(), added.end());
  all.insert(all.end(), updated.begin(), updated.end());
  all.insert(all.end(), removed.begin(), removed.end());
  std::sort(all.begin(), all.end());
  return all;
}

Store::Store(std::string state_dir) : state_dir_(std::move(state_dir)) {}

std::string Store::journal_path() const {
  return state_dir_ + "/intents";
}

std::vector<model::Diagnostic> Store::load_intents() {
  std::vector<model::Diagnostic> problems;
  if (state_dir_.empty()) {
    return problems;
  }
  std::string path = journal_path();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return problems;
  }
  std::ifstream in(path);
  if (!in) {
    problems.push_back({model::Severity::kError, path, 0,
                        std::string("cannot read the intent journal: ") + std::strerror(errno)});
    return problems;
  }
  std::lock_guard lock(mu_);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    std::string name_text;
    std::string intent_text;
    std::string extra;
    fields >> name_text >> intent_text >> extra;
    std::optional<std::string> name = decode_name(name_text);
    std::optional<Intent> intent = parse_intent(intent_text);
    if (!name || !extra.empty() || intent_text.empty()) {
      problems.push_back({model::Severity::kError, path, line_no,
                          "expected 'NAME INTENT' (NAME percent-encoded), skipping this line"});
      continue;
    }
    if (!intent || *intent == Intent::kNone) {
      problems.push_back({model::Severity::kError, path, line_no,
                          "unknown intent '" + intent_text +
                              "': expected up, down, route or unroute; skipping this line"});
      continue;
    }
    auto it = entries_.find(*name);
    if (it != entries_.end()) {
      it->second.intent = *intent;
    } else {
      pending_[*name] = *intent;
    }
  }
  return problems;
}

std::string Store::write_journal_locked() const {
  if (state_dir_.empty()) {
    return "";
  }
  std::string text(kJournalHeader);
  text += '\n';
  std::map<std::string, Intent> all = pending_;
  for (const auto& [name, stored] : entries_) {
    if (stored.intent != Intent::kNone) {
      all[name] = stored.intent;
    }
  }
  for (const auto& [name, intent] : all) {
    text += encode_name(name);
    text += ' ';
    text += intent_name(intent);
    text += '\n';
  }
  std::string path = journal_path();
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return "cannot write " + tmp + ": " + std::strerror(errno);
  }
  bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + std::strerror(saved);
  }
  // rename() replaces the journal atomically: a crash leaves the old or the new one.
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    saved = errno;
    ::unlink(tmp.c_str());
    return "cannot replace " + path + ": " + std::strerror(saved);
  }
  int dir = ::open(state_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return "";
}

const std::string* Store::next_owner_locked(const std::string& name,
                                            const std::string& except) const {
  const std::string* best = nullptr;
  uint64_t best_order = 0;
  for (const auto& [origin_name, origin] : origins_) {
    if (origin_name == except || !origin.conns.contains(name)) {
      continue;
    }
    if (best == nullptr || origin.order < best_order) {
      best = &origin_name;
      best_order = origin.order;
    }
  }
  return best;
}

void Store::recompute_conflicts_locked() {
  for (auto& [origin_name, origin] : origins_) {
    origin.conflicts.clear();
  }
  for (auto& [origin_name, origin] : origins_) {
    for (const auto& [name, defined] : origin.conns) {
      auto it = entries_.find(name);
      if (it == entries_.end() || it->second.origin == origin_name) {
        continue;
      }
      const Stored& owner = it->second;
      std::string owner_where = where(owner.file, owner.line);
      std::string here = where(defined.file, defined.line);
      origin.conflicts.push_back(
          {model::Severity::kError, defined.file, defined.line,
           "connection \"" + name + "\" is already defined by " + owner.origin +
               (owner_where.empty() ? "" : " at " + owner_where) + "; this definition in " +
               origin_name + " is ignored until it is removed there or renamed here"});
      origins_.at(owner.origin)
          .conflicts.push_back({model::Severity::kWarning, owner.file, owner.line,
                                "connection \"" + name + "\" is also defined by " + origin_name +
                                    (here.empty() ? "" : " at " + here) +
                                    "; that definition is ignored"});
    }
  }
}

Changes Store::apply(const std::string& origin_name, Snapshot snapshot) {
  Changes changes;
  std::map<std::string, Defined> incoming;
  bool ok = snapshot.ok();
  std::vector<model::Diagnostic> diagnostics = std::move(snapshot.diagnostics);
  if (ok) {
    for (Definition& def : snapshot.connections) {
      if (!def.connection || is_ignored(*def.connection)) {
        continue;
      }
      auto it = incoming.find(def.connection->name);
      if (it != incoming.end()) {
        std::string first = where(it->second.file, it->second.line);
        diagnostics.push_back({model::Severity::kError, def.file, def.line,
                               "connection \"" + def.connection->name + "\" is defined twice in " +
                                   origin_name + (first.empty() ? "" : ", first at " + first) +
                                   ": each name must be unique"});
        ok = false;
        continue;
      }
      std::string name = def.connection->name;
      incoming.emplace(std::move(name),
                       Defined{std::move(def.connection), std::move(def.file), def.line});
    }
  }

  std::lock_guard lock(mu_);
  auto [origin_it, fresh] = origins_.try_emplace(origin_name);
  Origin& origin = origin_it->second;
  if (fresh) {
    origin.order = next_order_++;
  }
  origin.diagnostics = std::move(diagnostics);
  origin.rejected = !ok;
  if (!ok) {
    changes.accepted = false;
    return changes;
  }

  bool intents_changed = false;
  std::map<std::string, Defined> previous = std::move(origin.conns);
  origin.conns = std::move(incoming);

  // Names this origin no longer defines: removed, or handed to the next definer.
  for (const auto& [name, defined] : previous) {
    if (origin.conns.contains(name)) {
      continue;
    }
    auto it = entries_.find(name);
    if (it == entries_.end() || it->second.origin != origin_name) {
      continue;
    }
    Stored& stored = it->second;
    if (const std::string* heir = next_owner_locked(name, origin_name)) {
      const Defined& next = origins_.at(*heir).conns.at(name);
      if (next.connection->hash != stored.connection->hash) {
        ++stored.generation;
      }
      stored.connection = next.connection;
      stored.origin = *heir;
      stored.file = next.file;
      stored.line = next.line;
      changes.updated.push_back(name);
      continue;
    }
    intents_changed |= stored.intent != Intent::kNone;
    last_generation_[name] = stored.generation;
    entries_.erase(it);
    changes.removed.push_back(name);
  }

  for (const auto& [name, defined] : origin.conns) {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      Stored stored{defined.connection, origin_name, defined.file, defined.line, 1, Intent::kNone};
      if (auto gone = last_generation_.find(name); gone != last_generation_.end()) {
        stored.generation = gone->second + 1;
        last_generation_.erase(gone);
      }
      if (auto pending = pending_.find(name); pending != pending_.end()) {
        stored.intent = pending->second;
        pending_.erase(pending);
      }
      entries_.emplace(name, std::move(stored));
      changes.added.push_back(name);
      continue;
    }
    Stored& stored = it->second;
    if (stored.origin != origin_name) {
      continue;  // a conflict: the first origin keeps it
    }
    // Where it is written may move without the content changing.
    stored.file = defined.file;
    stored.line = defined.line;
    if (defined.connection->hash != stored.connection->hash) {
      stored.connection = defined.connection;
      ++stored.generation;
      changes.updated.push_back(name);
    }
  }

  recompute_conflicts_locked();
  if (intents_changed) {
    journal_error_ = write_journal_locked();
  }
  std::sort(changes.updated.begin(), changes.updated.end());
  return changes;
}

Entry Store::entry_locked(const std::string& name, const Stored& stored) const {
  Entry entry{stored.connection, stored.origin, stored.file, stored.line,
              stored.generation, stored.intent, "",          stored.intent_serial};
  auto origin = origins_.find(stored.origin);
  if (origin != origins_.end() && origin->second.rejected) {
    for (const model::Diagnostic& d : origin->second.diagnostics) {
      if (d.severity == model::Severity::kError) {
        entry.last_error = d.str();
        break;
      }
    }
  }
  if (entry.last_error.empty() && origin != origins_.end()) {
    // The owner carries a warning for each conflict over one of its names.
    std::string needle = "connection \"" + name + "\" ";
    for (const model::Diagnostic& d : origin->second.conflicts) {
      if (d.message.starts_with(needle)) {
        entry.last_error = d.str();
        break;
      }
    }
  }
  return entry;
}

std::optional<Entry> Store::get(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  return entry_locked(name, it->second);
}

std::vector<std::string> Store::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, stored] : entries_) {
    out.push_back(name);
  }
  return out;
}

std::vector<Entry> Store::entries() const {
  std::lock_guard lock(mu_);
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto& [name, stored] : entries_) {
    out.push_back(entry_locked(name, stored));
  }
  return out;
}

size_t Store::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::map<std::string, size_t> Store::origin_sizes() const {
  std::lock_guard lock(mu_);
  std::map<std::string, size_t> out;
  for (const auto& [name, stored] : entries_) {
    ++out[stored.origin];
  }
  return out;
}

std::vector<std::string> Store::origins() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<uint64_t, std::string>> ordered;
  for (const auto& [name, origin] : origins_) {
    ordered.emplace_back(origin.order, name);
  }
  std::sort(ordered.begin(), ordered.end());
  std::vector<std::string> out;
  for (auto& [order, name] : ordered) {
    out.push_back(std::move(name));
  }
  return out;
}

std::vector<model::Diagnostic> Store::diagnostics(const std::string& origin_name) const {
  std::lock_guard lock(mu_);
  auto it = origins_.find(origin_name);
  if (it == origins_.end()) {
    return {};
  }
  std::vector<model::Diagnostic> out = it->second.diagnostics;
  out.insert(out.end(), it->second.conflicts.begin(), it->second.conflicts.end());
  return out;
}

std::vector<model::Diagnostic> Store::errors(const std::string& origin_name) const {
  std::vector<model::Diagnostic> all = diagnostics(origin_name);
  std::erase_if(all,
                [](const model::Diagnostic& d) { return d.severity != model::Severity::kError; });
  return all;
}

model::Result<Intent> Store::set_intent(const std::string& name, Intent intent) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return model::Result<Intent>::failure("connection \"" + name +
                                          "\" is not loaded: an intent needs a loaded connection");
  }
  Intent previous = it->second.intent;
  if (previous == intent) {
    ++it->second.intent_serial;
    return previous;
  }
  it->second.intent = intent;
  if (std::string error = write_journal_locked(); !error.empty()) {
    it->second.intent = previous;
    return model::Result<Intent>::failure("intent for \"" + name + "\" not recorded: " + error);
  }
  ++it->second.intent_serial;
  return previous;
}

std::map<std::string, Intent> Store::pending_intents() const {
  std::lock_guard lock(mu_);
  return pending_;
}

model::Result<bool> Store::drop_pending_intents() {
  std::lock_guard lock(mu_);
  if (pending_.empty()) {
    return true;
  }
  std::map<std::string, Intent> dropped = std::move(pending_);
  pending_.clear();
  if (std::string error = write_journal_locked(); !error.empty()) {
    pending_ = std::move(dropped);
    return model::Result<bool>::failure(error);
  }
  return true;
}

std::string Store::journal_error() const {
  std::lock_guard lock(mu_);
  return journal_error_;
}

}  // namespace ipsecd::controller
