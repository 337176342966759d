#pragma once
// Where desired state comes from on disk: the --config file (with its
// includes) and --watch-dir directories, each turned into one complete
// Snapshot for the Store; and the inotify watcher that says when to look again.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "controller/store.h"
#include "model/config.h"
#include "model/result.h"

namespace ipsecd::controller {

// Editors' scratch files: hidden names (".x.swp", ".#x"), "x~", "#x#",
// "*.swp", "*.swx", "*.tmp", and vim's write probe "4913".
bool is_editor_temp_name(std::string_view name);
// A --watch-dir entry that is read: *.conf, *.yaml or *.yml, not an editor
// temporary file, not hidden.
bool is_fragment_name(std::string_view name);
// The symlink Kubernetes swaps to publish a new ConfigMap/Secret version.
inline constexpr std::string_view kConfigMapDataLink = "..data";

// What a DirectoryWatcher looks at.
struct WatchTarget {
  enum class Kind : uint8_t {
    kDirectory,  // any change of an entry the filter accepts
    kFile,       // the file (through a symlink too) and a `..data` swap beside it
  };
  Kind kind = Kind::kDirectory;
  std::string path;
  // kDirectory only: which entry names matter; empty: every name except
  // editors' temporary files (`..data` always matters).
  std::function<bool(std::string_view)> filter;
};

// The --config file: libreswan ipsec.conf with its includes. Origin "file:PATH".
class ConfigFileSource {
 public:
  explicit ConfigFileSource(std::string path, model::ParseOptions options = {});
  const std::string& origin() const { return origin_; }
  // Every conn of the file, or every error found in it.
  Snapshot load();
  // The file and the directories its includes read from (include patterns
  // that matched nothing too), as of the last load().
  std::vector<WatchTarget> watch_targets() const;

 private:
  std::string path_;
  std::string origin_;
  model::ParseOptions options_;
  std::vector<std::string> include_dirs_;
};

// A --watch-dir: every *.conf file in it is a whole ipsec.conf of its own
// (`conn %default` and includes apply within that file), every *.yaml/*.yml
// holds IPsecConnection documents. Subdirectories, hidden and temporary files
// are skipped. Kubernetes ConfigMap volumes (NAME -> ..data/NAME, ..data ->
// ..TIMESTAMP) are read consistently: if `..data` is swapped during a read,
// the read starts over. Origin "dir:PATH".
class WatchDirSource {
 public:
  explicit WatchDirSource(std::string dir);
  const std::string& origin() const { return origin_; }
  Snapshot load();
  // After a full load(): applies only the changes to these paths (files of
  // this directory) to the last snapshot; anything else is a full load().
  Snapshot load_changed(const std::set<std::string>& paths);
  std::vector<WatchTarget> watch_targets() const;

 private:
  Snapshot load_once();
  Snapshot assemble() const;
  // What one read of a file gave, and the stat fields that say it is unchanged.
  struct FileStamp {
    uint64_t dev = 0;
    uint64_t ino = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  struct Cached {
    FileStamp stamp;
    Snapshot part;
    bool reusable = true;  // false: it includes other files, so it is read again every time
  };
  // Parses one entry (NAME in dir_) into cache_, or drops it when it is gone.
  void read_entry(int dir_fd, const std::string& name);
  std::string dir_;
  std::string origin_;
  // Every fragment read, by path: the last load's result. load() and
  // load_changed() run one at a time (SourceFeed serialises them).
  std::map<std::string, Cached> cache_;
  bool loaded_ = false;
};

struct WatcherOptions {
  // Events closer together than this coalesce into one call.
  std::chrono::milliseconds debounce{50};
  // A steady stream of events still calls back this long after the first.
  std::chrono::milliseconds max_delay{1000};
};

// inotify on the watched directories, on a thread of its own: after a burst
// of relevant changes has been quiet for `debounce`, it calls on_change once,
// on that thread. Single files are watched through their directory (editors
// and Kubernetes replace files by rename), and through the directory of their
// symlink target. A watched directory that is deleted is watched again when
// watch() is next called or the next change fires, if it exists by then.
class DirectoryWatcher {
 public:
  using Callback = std::function<void()>;
  // What one call of on_change covers: the paths (DIR/NAME) of the relevant
  // entries that changed, or `complete` when anything may have (events were
  // lost, a watched directory went away, a `..data` swap, a huge burst).
  struct ChangeSet {
    bool complete = false;
    std::set<std::string> paths;
  };

  // Fails when inotify or the thread cannot be set up.
  static model::Result<std::unique_ptr<DirectoryWatcher>> start(Callback on_change,
                                                                WatcherOptions options = {});
  // Only start() constructs (it owns the file descriptors it passes in).
  class Key {
    friend class DirectoryWatcher;
    Key() = default;
  };
  DirectoryWatcher(Key, Callback on_change, WatcherOptions options, int inotify_fd, int wake_fd);
  ~DirectoryWatcher();  // stops and joins the thread; no callback after it returns
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  // Replaces the watched set; returns one message per target that cannot be
  // watched (e.g. a directory that does not exist). Callable from on_change.
  std::vector<std::string> watch(std::vector<WatchTarget> targets);
  // How many times on_change has been called.
  uint64_t calls() const { return calls_.load(); }
  // Inside on_change: what changed since the previous call.
  const ChangeSet& changes() const { return delivered_; }

 private:
  struct Filter {
    std::string file;  // "": a directory target
    std::function<bool(std::string_view)> accept;
  };
  void run();
  // True when any event read is relevant.
  bool drain_events();
  std::vector<std::string> arm_locked();
  bool relevant_locked(int wd, std::string_view name, uint32_t mask);

  Callback on_change_;
  WatcherOptions options_;
  int inotify_fd_;
  int wake_fd_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> calls_{0};

  std::mutex mu_;
  std::vector<WatchTarget> targets_;
  // Each inotify watch descriptor and the filters of the targets in its directory.
  std::map<int, std::vector<Filter>> wd_filters_;
  std::map<int, std::string> wd_dirs_;
  ChangeSet pending_;    // collected until the burst settles
  ChangeSet delivered_;  // what the running on_change covers (watcher thread only)
  std::thread thread_;
};

}  // namespace ipsecd::controller
