#include "controller/sources/sources.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>

#include "model/text.h"
#include "model/yaml_spec.h"

namespace ipsecd::controller {
namespace {

namespace fs = std::filesystem;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr uint32_t kDirMask = IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE |
                              IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.ends_with(suffix);
}

std::string parent_of(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

std::string base_of(const std::string& path) {
  return fs::path(path).filename().string();
}

bool has_glob_chars(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// The resolved conns of a parsed file as definitions; file:line from their conn line.
void add_definitions(const model::Config& config, Snapshot& out) {
  model::ConnectionSet set = model::build_connections(config);
  out.diagnostics.insert(out.diagnostics.end(), config.diagnostics.all().begin(),
                         config.diagnostics.all().end());
  out.diagnostics.insert(out.diagnostics.end(), set.diagnostics.all().begin(),
                         set.diagnostics.all().end());
  std::unordered_map<std::string_view, const model::ConnSpec*> specs;
  for (const model::ConnSpec& spec : config.conns) {
    specs.emplace(spec.name, &spec);
  }
  for (model::Connection& conn : set.connections) {
    Definition def{std::make_shared<const model::Connection>(std::move(conn)),
                   config.files.empty() ? "" : config.files.front(), 0};
    if (auto it = specs.find(def.connection->name); it != specs.end()) {
      def.file = config.files.at(it->second->file);
      def.line = static_cast<int>(it->second->line);
    }
    out.connections.push_back(std::move(def));
  }
}

// A snapshot with errors carries no connections: the store ignores them anyway.
Snapshot finish(Snapshot snapshot) {
  if (!snapshot.ok()) {
    snapshot.connections.clear();
  }
  return snapshot;
}

std::string read_link(const std::string& path) {
  std::error_code ec;
  fs::path target = fs::read_symlink(path, ec);
  return ec ? std::string() : target.string();
}

}  // namespace

bool is_editor_temp_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '~') {
    return true;
  }
  if (name.size() >= 2 && name.front() == '#' && name.back() == '#') {
    return true;
  }
  for (std::string_view suffix : {".swp", ".swx", ".swo", ".tmp"}) {
    if (ends_with(name, suffix)) {
      return true;
    }
  }
  return name == "4913";
}

bool is_fragment_name(std::string_view name) {
  if (is_editor_temp_name(name)) {
    return false;
  }
  return ends_with(name, ".conf") || ends_with(name, ".yaml") || ends_with(name, ".yml");
}

// ---------------------------------------------------------------------------

ConfigFileSource::ConfigFileSource(std::string path, model::ParseOptions options)
    : path_(std::move(path)), origin_("file:" + path_), options_(std::move(options)) {
  // The daemon never loads auto=ignore conns.
  options_.keep_ignored = false;
}

Snapshot ConfigFileSource::load() {
  model::Config config = model::parse_config_file(path_, options_);
  Snapshot snapshot;
  add_definitions(config, snapshot);

  // Directories an include reads from: those of the files read, and those of
  // include patterns (which may match nothing yet).
  std::set<std::string> dirs;
  for (size_t i = 1; i < config.files.size(); ++i) {
    dirs.insert(parent_of(config.files[i]));
  }
  for (const std::string& file : config.files) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      std::string_view rest(line);
      if (!rest.starts_with("include") || rest.size() < 8 || (rest[7] != ' ' && rest[7] != '\t')) {
        continue;
      }
      rest = rest.substr(8);
      if (size_t hash = rest.find(" #"); hash != std::string_view::npos) {
        rest = rest.substr(0, hash);
      }
      rest = model::text::trim(rest, model::text::kLineBlanks);
      if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"') {
        rest = rest.substr(1, rest.size() - 2);
      }
      if (rest.empty()) {
        continue;
      }
      std::string target(rest);
      target = target.front() == '/' ? options_.rootdir + target : parent_of(file) + "/" + target;
      std::string dir = parent_of(target);
      if (!has_glob_chars(dir)) {
        dirs.insert(dir);
      }
    }
  }
  dirs.erase(parent_of(path_));  // the file target watches that one already
  include_dirs_.assign(dirs.begin(), dirs.end());
  return finish(std::move(snapshot));
}

std::vector<WatchTarget> ConfigFileSource::watch_targets() const {
  std::vector<WatchTarget> targets;
  targets.push_back({WatchTarget::Kind::kFile, path_, {}});
  for (const std::string& dir : include_dirs_) {
    targets.push_back({WatchTarget::Kind::kDirectory, dir, {}});
  }
  return targets;
}

// ---------------------------------------------------------------------------

WatchDirSource::WatchDirSource(std::string dir) : dir_(std::move(dir)), origin_("dir:" + dir_) {}

Snapshot WatchDirSource::load() {
  std::string link = dir_ + "/" + std::string(kConfigMapDataLink);
  Snapshot snapshot;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string before = read_link(link);
    snapshot = load_once();
    // The same `..data` before and after: every file came from one version.
    if (read_link(link) == before) {
      return snapshot;
    }
  }
  snapshot.connections.clear();
  snapshot.diagnostics.push_back(
      {model::Severity::kError, link, 0,
       "changed during each of 5 reads; keeping the previous state until it settles"});
  return snapshot;
}

Snapshot WatchDirSource::load_once() {
  // One descriptor for the directory: every stat below is relative to it, a
  // one-component lookup instead of a walk of the whole path.
  DIR* listing = ::opendir(dir_.c_str());
  if (listing == nullptr) {
    Snapshot snapshot;
    snapshot.diagnostics.push_back(
        {model::Severity::kError, dir_, 0,
         std::string("cannot read the watched directory: ") + std::strerror(errno)});
    return snapshot;
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(listing, ::closedir);
  const int dir_fd = ::dirfd(listing);
  std::set<std::string> present;
  while (const dirent* entry = ::readdir(listing)) {
    std::string_view name(entry->d_name);
    if (is_fragment_name(name)) {
      present.emplace(dir_ + "/" + std::string(name));
    }
  }
  // Entries gone since the last read.
  std::erase_if(cache_, [&](const auto& kv) { return !present.contains(kv.first); });
  for (const std::string& path : present) {
    read_entry(dir_fd, path.substr(dir_.size() + 1));
  }
  loaded_ = true;
  return assemble();
}

Snapshot WatchDirSource::load_changed(const std::set<std::string>& paths) {
  if (!loaded_) {
    return load();
  }
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return load();  // the directory itself changed: let the full read report it
  }
  for (const std::string& path : paths) {
    if (path.size() > dir_.size() + 1 && path.compare(0, dir_.size() + 1, dir_ + "/") == 0) {
      const std::string name = path.substr(dir_.size() + 1);
      if (is_fragment_name(name) && name.find('/') == std::string::npos) {
        read_entry(dir_fd, name);
      }
    }
  }
  // Files with includes may have changed through them: read them again too.
  for (auto& [path, cached] : cache_) {
    if (!cached.reusable) {
      read_entry(dir_fd, path.substr(dir_.size() + 1));
    }
  }
  ::close(dir_fd);
  return assemble();
}

void WatchDirSource::read_entry(int dir_fd, const std::string& name) {
  const std::string path = dir_ + "/" + name;
  // Follows ConfigMap symlinks; a dangling one is a key being removed.
  struct stat st {};
  if (::fstatat(dir_fd, name.c_str(), &st, 0) != 0 || !S_ISREG(st.st_mode)) {
    cache_.erase(path);
    return;
  }
  const FileStamp stamp{st.st_dev, st.st_ino, st.st_size,
                        st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                        st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
  // An unchanged file (same inode, size and times) is not parsed again: an
  // edit to one drop among thousands costs one parse.
  if (auto it = cache_.find(path);
      it != cache_.end() && it->second.reusable && it->second.stamp == stamp) {
    return;
  }
  model::ParseOptions options;
  options.keep_ignored = false;
  model::Config config = ends_with(name, ".conf") ? model::parse_config_file(path, options)
                                                  : model::parse_yaml_file(path);
  Cached cached;
  cached.stamp = stamp;
  cached.reusable = config.files.size() <= 1;
  if (!config.setup.empty()) {
    const model::Setting& first = config.setup.front();
    cached.part.diagnostics.push_back(
        {model::Severity::kWarning, config.files.at(first.file), static_cast<int>(first.line),
         "'config setup' in a watched directory has no effect: set it in the --config file"});
  }
  add_definitions(config, cached.part);
  cache_[path] = std::move(cached);
}

// The snapshot of every cached file, in name order.
Snapshot WatchDirSource::assemble() const {
  Snapshot snapshot;
  size_t n = 0;
  for (const auto& [path, cached] : cache_) {
    n += cached.part.connections.size();
  }
  snapshot.connections.reserve(n);
  for (const auto& [path, cached] : cache_) {
    snapshot.connections.insert(snapshot.connections.end(), cached.part.connections.begin(),
                                cached.part.connections.end());
    snapshot.diagnostics.insert(snapshot.diagnostics.end(), cached.part.diagnostics.begin(),
                                cached.part.diagnostics.end());
  }
  return finish(std::move(snapshot));
}

std::vector<WatchTarget> WatchDirSource::watch_targets() const {
  return {{WatchTarget::Kind::kDirectory, dir_,
           [](std::string_view name) { return is_fragment_name(name); }}};
}

// ---------------------------------------------------------------------------

model::Result<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::start(Callback on_change,
                                                                         WatcherOptions options) {
  using R = model::Result<std::unique_ptr<DirectoryWatcher>>;
  int inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) {
    return R::failure(std::string("cannot watch for configuration changes: inotify_init1: ") +
                      std::strerror(errno));
  }
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    int saved = errno;
    ::close(inotify_fd);
    return R::failure(std::string("cannot watch for configuration changes: eventfd: ") +
                      std::strerror(saved));
  }
  // From here the watcher owns both descriptors.
  auto watcher =
      std::make_unique<DirectoryWatcher>(Key(), std::move(on_change), options, inotify_fd, wake_fd);
  try {
    watcher->thread_ = std::thread([w = watcher.get()] { w->run(); });
  } catch (const std::system_error& e) {
    return R::failure(std::string("cannot start the configuration watcher thread: ") + e.what());
  }
  return R(std::move(watcher));
}

DirectoryWatcher::DirectoryWatcher(Key, Callback on_change, WatcherOptions options, int inotify_fd,
                                   int wake_fd)
    : on_change_(std::move(on_change)),
      options_(options),
      inotify_fd_(inotify_fd),
      wake_fd_(wake_fd) {}

DirectoryWatcher::~DirectoryWatcher() {
  stopping_ = true;
  uint64_t one = 1;
  // The eventfd counter cannot overflow from one write; poll() sees it.
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) {
    thread_.join();
  }
  ::close(inotify_fd_);
  ::close(wake_fd_);
}

std::vector<std::string> DirectoryWatcher::watch(std::vector<WatchTarget> targets) {
  std::lock_guard guard(mu_);
  targets_ = std::move(targets);
  return arm_locked();
}

std::vector<std::string> DirectoryWatcher::arm_locked() {
  std::vector<std::string> problems;
  // Directory path -> filters, then one inotify watch per directory.
  std::map<std::string, std::vector<Filter>> dirs;
  for (const WatchTarget& t : targets_) {
    if (t.kind == WatchTarget::Kind::kDirectory) {
      dirs[t.path].push_back({"", t.filter});
      continue;
    }
    dirs[parent_of(t.path)].push_back({base_of(t.path), {}});
    std::error_code ec;
    if (fs::is_symlink(t.path, ec)) {
      fs::path real = fs::canonical(t.path, ec);
      // A ConfigMap's timestamped directory goes away at the next swap; the
      // `..data` event beside the link covers it.
      if (!ec && !real.parent_path().filename().string().starts_with("..")) {
        dirs[real.parent_path().string()].push_back({real.filename().string(), {}});
      }
    }
  }
  std::map<int, std::vector<Filter>> armed;
  wd_dirs_.clear();
  for (auto& [dir, filters] : dirs) {
    int wd = ::inotify_add_watch(inotify_fd_, dir.c_str(), kDirMask);
    if (wd < 0) {
      problems.push_back("cannot watch " + dir + " for changes: " + std::strerror(errno));
      continue;
    }
    auto& slot = armed[wd];  // two paths to one directory share a descriptor
    slot.insert(slot.end(), filters.begin(), filters.end());
    wd_dirs_.emplace(wd, dir);
  }
  for (const auto& [wd, filters] : wd_filters_) {
    if (!armed.contains(wd)) {
      ::inotify_rm_watch(inotify_fd_, wd);
    }
  }
  wd_filters_ = std::move(armed);
  return problems;
}

bool DirectoryWatcher::relevant_locked(int wd, std::string_view name, uint32_t mask) {
  // More changed names than this in one burst: a full reload is as cheap.
  constexpr size_t kMaxChangedPaths = 256;
  if ((mask & IN_Q_OVERFLOW) != 0) {
    pending_.complete = true;  // events were lost: look at everything again
    return true;
  }
  auto it = wd_filters_.find(wd);
  if (it == wd_filters_.end()) {
    return false;  // e.g. IN_IGNORED after our own inotify_rm_watch
  }
  if ((mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) != 0) {
    pending_.complete = true;
    return true;
  }
  if (name.empty()) {
    return false;  // the directory's own attributes
  }
  if (name == kConfigMapDataLink) {
    pending_.complete = true;  // a new version of every file at once
    return true;
  }
  for (const Filter& f : it->second) {
    if (!f.file.empty() ? name == f.file
                        : (f.accept ? f.accept(name) : !is_editor_temp_name(name))) {
      if (!pending_.complete) {
        auto dir = wd_dirs_.find(wd);
        if (dir == wd_dirs_.end() || pending_.paths.size() >= kMaxChangedPaths) {
          pending_.complete = true;
          pending_.paths.clear();
        } else {
          pending_.paths.insert(dir->second + "/" + std::string(name));
        }
      }
      return true;
    }
  }
  return false;
}

bool DirectoryWatcher::drain_events() {
  bool relevant = false;
  alignas(inotify_event) char buffer[16384];
  while (true) {
    ssize_t n = ::read(inotify_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return relevant;
    }
    std::lock_guard guard(mu_);
    size_t offset = 0;
    auto size = static_cast<size_t>(n);
    while (offset + sizeof(inotify_event) <= size) {
      inotify_event event{};
      std::memcpy(&event, buffer + offset, sizeof(event));
      size_t end = offset + sizeof(inotify_event) + event.len;
      if (end > size) {
        break;  // the kernel never splits an event; stop rather than overrun
      }
      std::string_view name;
      if (event.len > 0) {
        const char* start = buffer + offset + sizeof(inotify_event);
        name = std::string_view(start, ::strnlen(start, event.len));
      }
      relevant |= relevant_locked(event.wd, name, event.mask);
      if ((event.mask & IN_IGNORED) != 0) {
        wd_filters_.erase(event.wd);  // the directory is gone; arm_locked() retries it
      }
      offset = end;
    }
  }
}

void DirectoryWatcher::run() {
  bool pending = false;
  SteadyTime first{};
  SteadyTime last{};
  // Quiet for `debounce`, or `max_delay` since the burst began.
  auto due = [&] { return std::min(last + options_.debounce, first + options_.max_delay); };
  while (!stopping_) {
    int timeout_ms = -1;
    if (pending) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          due() - std::chrono::steady_clock::now());
      // Rounded up, so the loop does not spin in the last sub-millisecond.
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count() + 1));
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      return;  // only EFAULT/EINVAL/ENOMEM: nothing to recover
    }
    if (stopping_) {
      return;
    }
    SteadyTime now = std::chrono::steady_clock::now();
    if (n > 0 && (fds[0].revents & POLLIN) != 0 && drain_events()) {
      if (!pending) {
        pending = true;
        first = now;
      }
      last = now;
      continue;
    }
    if (pending && now >= due()) {
      pending = false;
      {
        std::lock_guard guard(mu_);
        arm_locked();  // directories deleted and made again are watched again
        delivered_ = std::move(pending_);
        pending_ = ChangeSet{};
      }
      on_change_();
      ++calls_;
    }
  }
}

}  // namespace ipsecd::controller
