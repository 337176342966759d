#include "controller/sources/source_feed.h"

namespace ipsecd::controller {

SourceFeed::Source SourceFeed::from(ConfigFileSource& source) {
  // Includes can change anything: every change is a full load.
  return Source{source.origin(),
                [&source] { return source.load(); },
                [&source] { return source.watch_targets(); },
                {}};
}

SourceFeed::Source SourceFeed::from(WatchDirSource& source) {
  return Source{
      source.origin(), [&source] { return source.load(); },
      [&source] { return source.watch_targets(); },
      [&source](const std::set<std::string>& paths) { return source.load_changed(paths); }};
}

SourceFeed::SourceFeed(Controller& controller, Source source)
    : controller_(controller), source_(std::move(source)) {}

model::Result<std::unique_ptr<SourceFeed>> SourceFeed::start(Controller& controller, Source source,
                                                             WatcherOptions options) {
  auto feed = std::make_unique<SourceFeed>(controller, std::move(source));
  SourceFeed* raw = feed.get();
  auto watcher = DirectoryWatcher::start(
      [raw] {
        // The watcher is set before its first change can fire (see below).
        raw->reload(raw->watcher_->changes());
      },
      options);
  if (!watcher.ok()) {
    return model::Result<std::unique_ptr<SourceFeed>>::failure(feed->source_.origin + ": " +
                                                               watcher.error());
  }
  {
    std::lock_guard lock(feed->mu_);
    feed->watcher_ = std::move(watcher).value();
  }
  feed->reload();
  return feed;
}

Changes SourceFeed::reload() {
  std::lock_guard lock(mu_);
  Changes changes = controller_.apply(source_.origin, source_.load());
  if (watcher_) {
    problems_ = watcher_->watch(source_.targets());
  }
  return changes;
}

Changes SourceFeed::reload(const DirectoryWatcher::ChangeSet& changes) {
  if (changes.complete || !source_.load_changed) {
    return reload();
  }
  std::lock_guard lock(mu_);
  Changes applied = controller_.apply(source_.origin, source_.load_changed(changes.paths));
  if (watcher_) {
    problems_ = watcher_->watch(source_.targets());
  }
  return applied;
}

std::vector<std::string> SourceFeed::watch_problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

}  // namespace ipsecd::controller
