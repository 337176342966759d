#include "controller/source_feed.h"

namespace ipsecd::controller {

SourceFeed::Source SourceFeed::from(ConfigFileSource& source) {
  return Source{source.origin(), [&source] { return source.load(); },
                [&source] { return source.watch_targets(); }};
}

SourceFeed::Source SourceFeed::from(WatchDirSource& source) {
  return Source{source.origin(), [&source] { return source.load(); },
                [&source] { return source.watch_targets(); }};
}

SourceFeed::SourceFeed(Controller& controller, Source source)
    : controller_(controller), source_(std::move(source)) {}

model::Result<std::unique_ptr<SourceFeed>> SourceFeed::start(Controller& controller, Source source,
                                                             WatcherOptions options) {
  auto feed = std::make_unique<SourceFeed>(controller, std::move(source));
  SourceFeed* raw = feed.get();
  auto watcher = DirectoryWatcher::start([raw] { raw->reload(); }, options);
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

std::vector<std::string> SourceFeed::watch_problems() const {
  std::lock_guard lock(mu_);
  return problems_;
}

}  // namespace ipsecd::controller
