#pragma once
// Keeps one on-disk source (the --config file or a --watch-dir) applied to
// the Controller: loaded once at start, then again whenever a DirectoryWatcher
// sees its files change. A load with errors changes nothing (the Store keeps
// the last good state and records the errors).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/reconciler.h"
#include "controller/sources/sources.h"
#include "model/result.h"

namespace ipsecd::controller {

class SourceFeed {
 public:
  struct Source {
    std::string origin;
    std::function<Snapshot()> load;
    // What to watch, as of the last load (includes can change it).
    std::function<std::vector<WatchTarget>()> targets;
    // Optional: applies only what changed (paths from the watcher) to the
    // last load; without it every change is a full load().
    std::function<Snapshot(const std::set<std::string>&)> load_changed;
  };
  static Source from(ConfigFileSource& source);
  static Source from(WatchDirSource& source);

  // Applies the source once and starts watching it; fails when inotify cannot be set up.
  static model::Result<std::unique_ptr<SourceFeed>> start(Controller& controller, Source source,
                                                          WatcherOptions options = {});
  SourceFeed(Controller& controller, Source source);
  SourceFeed(const SourceFeed&) = delete;
  SourceFeed& operator=(const SourceFeed&) = delete;

  // Loads and applies now (also what a change calls), then re-arms the watches.
  Changes reload();
  // What a watcher calls: only the changed paths when the source can.
  Changes reload(const DirectoryWatcher::ChangeSet& changes);
  // Why a target cannot be watched, from the last reload ("" each when fine).
  std::vector<std::string> watch_problems() const;

 private:
  Controller& controller_;
  Source source_;
  mutable std::mutex mu_;  // one reload at a time (watcher thread vs. an operator's reload)
  std::vector<std::string> problems_;
  std::unique_ptr<DirectoryWatcher> watcher_;  // last: stopped before the rest goes
};

}  // namespace ipsecd::controller
