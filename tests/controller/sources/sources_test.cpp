#include "controller/sources/sources.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ipsecd::controller {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Names = std::vector<std::string>;

using ipsecd::testing::TempDir;

using ipsecd::testing::write_text;

// Editors save by writing a temporary file and renaming it over the original.
void replace_file(const std::string& path, const std::string& text) {
  write_text(path + ".tmp", text);
  fs::rename(path + ".tmp", path);
}

std::string conn(const std::string& name, const std::string& extra = "") {
  std::string text = "conn " + name + "\n\tleft=192.0.2.1\n\tright=192.0.2.2\n";
  if (extra.find("auto=") == std::string::npos) {
    text += "\tauto=add\n";
  }
  return text + extra;
}

std::string yaml_conn(const std::string& name) {
  return "apiVersion: ipsecd.io/v1\nkind: IPsecConnection\nmetadata: {name: " + name +
         "}\nspec: {auto: start, left: {host: 192.0.2.1}, right: {host: 192.0.2.2}}\n";
}

Names names_of(const Snapshot& s) {
  Names out;
  for (const Definition& d : s.connections) {
    out.push_back(d.connection->name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string first_error(const Snapshot& s) {
  for (const model::Diagnostic& d : s.diagnostics) {
    if (d.severity == model::Severity::kError) {
      return d.str();
    }
  }
  return "";
}

// Counts watcher calls and lets a test wait for them.
class Reloads {
 public:
  DirectoryWatcher::Callback callback() {
    return [this] {
      std::lock_guard guard(mu_);
      ++count_;
      cv_.notify_all();
    };
  }
  // Waits (up to 5 s, only ever reached on failure) for at least n calls.
  bool wait_for(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 5s, [&] { return count_ >= n; });
  }
  int count() {
    std::lock_guard guard(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

struct Watching {
  Reloads reloads;
  std::unique_ptr<DirectoryWatcher> watcher;

  explicit Watching(std::vector<WatchTarget> targets, WatcherOptions options = {}) {
    auto started = DirectoryWatcher::start(reloads.callback(), options);
    EXPECT_TRUE(started.ok()) << started.error();
    watcher = std::move(started).value();
    std::vector<std::string> problems = watcher->watch(std::move(targets));
    EXPECT_TRUE(problems.empty()) << problems.front();
  }
  // Long enough past the debounce for a second call to have happened, if any.
  static void settle() { std::this_thread::sleep_for(250ms); }
};

TEST(SourceNames, EditorTemporaryFilesAreNotFragments) {
  for (const char* name : {"a.conf", "b.yaml", "c.yml", "west-east.conf"}) {
    EXPECT_TRUE(is_fragment_name(name)) << name;
  }
  for (const char* name :
       {".a.conf.swp", ".a.conf", "a.conf~", "#a.conf#", "a.conf.swp", "a.conf.tmp", "4913",
        "..data", "..2026_11_27_10_00_00.1", "README", "a.conf.bak", ""}) {
    EXPECT_FALSE(is_fragment_name(name)) << name;
  }
  EXPECT_TRUE(is_editor_temp_name("x.swx"));
  EXPECT_FALSE(is_editor_temp_name("ipsec.secrets"));
}

TEST(ConfigFileSource, LoadsConnsWithWhereTheyAreDefined) {
  TempDir dir;
  write_text(dir / "ipsec.conf", "config setup\n\tuniqueids=yes\n\n" + conn("a") + conn("b") +
                                     conn("skipped", "\tauto=ignore\n"));
  ConfigFileSource source(dir / "ipsec.conf");
  EXPECT_EQ(source.origin(), "file:" + dir.path() + "/ipsec.conf");
  Snapshot s = source.load();
  EXPECT_TRUE(s.ok()) << first_error(s);
  EXPECT_EQ(names_of(s), (Names{"a", "b"}));
  ASSERT_EQ(s.connections.size(), 2u);
  EXPECT_EQ(s.connections[1].file, dir / "ipsec.conf");
  EXPECT_EQ(s.connections[1].line, 8);
}

TEST(ConfigFileSource, ErrorsComeWithFileAndLine) {
  TempDir dir;
  write_text(dir / "ipsec.conf", conn("a") + "conn b\n\tleft=192.0.2.1\n\tikelifetime=soon\n");
  Snapshot s = ConfigFileSource(dir / "ipsec.conf").load();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.connections.empty());
  EXPECT_EQ(first_error(s).rfind(dir / "ipsec.conf:7: error:", 0), 0u) << first_error(s);
}

TEST(ConfigFileSource, MissingFileIsAnError) {
  TempDir dir;
  Snapshot s = ConfigFileSource(dir / "nope.conf").load();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(first_error(s).find("cannot read configuration"), std::string::npos);
}

TEST(ConfigFileSource, WatchesTheFileAndItsIncludeDirectories) {
  TempDir dir;
  fs::create_directory(dir / "conf.d");
  fs::create_directory(dir / "empty.d");
  write_text(dir / "conf.d/x.conf", conn("x"));
  write_text(dir / "ipsec.conf", conn("a") + "include conf.d/*.conf\ninclude " + dir.path() +
                                     "/empty.d/*.conf   # none yet\n");
  ConfigFileSource source(dir / "ipsec.conf");
  Snapshot s = source.load();
  EXPECT_TRUE(s.ok()) << first_error(s);
  EXPECT_EQ(names_of(s), (Names{"a", "x"}));
  std::vector<WatchTarget> targets = source.watch_targets();
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].kind, WatchTarget::Kind::kFile);
  EXPECT_EQ(targets[0].path, dir / "ipsec.conf");
  EXPECT_EQ(targets[1].path, dir / "conf.d");
  EXPECT_EQ(targets[2].path, dir / "empty.d");
}

TEST(ConfigFileSource, EditsReachTheWatcher) {
  TempDir dir;
  fs::create_directory(dir / "empty.d");
  write_text(dir / "ipsec.conf", conn("a") + "include empty.d/*.conf\n");
  ConfigFileSource source(dir / "ipsec.conf");
  ASSERT_TRUE(source.load().ok());
  Watching w(source.watch_targets());

  // Something else in the same directory: not our file.
  write_text(dir / "ipsec.secrets", ": PSK \"x\"\n");
  Watching::settle();
  EXPECT_EQ(w.reloads.count(), 0);

  replace_file(dir / "ipsec.conf", conn("a") + conn("b") + "include empty.d/*.conf\n");
  ASSERT_TRUE(w.reloads.wait_for(1));
  EXPECT_EQ(names_of(source.load()), (Names{"a", "b"}));

  // A new file matching an include pattern that matched nothing before.
  write_text(dir / "empty.d/new.conf", conn("n"));
  ASSERT_TRUE(w.reloads.wait_for(2));
  EXPECT_EQ(names_of(source.load()), (Names{"a", "b", "n"}));
}

TEST(ConfigFileSource, FileBehindASymlinkIsWatchedWhereItLives) {
  TempDir dir;
  fs::create_directory(dir / "etc");
  fs::create_directory(dir / "srv");
  write_text(dir / "srv/ipsec.conf", conn("a"));
  fs::create_symlink(dir / "srv/ipsec.conf", dir / "etc/ipsec.conf");
  ConfigFileSource source(dir / "etc/ipsec.conf");
  ASSERT_TRUE(source.load().ok());
  Watching w(source.watch_targets());
  write_text(dir / "srv/ipsec.conf", conn("a") + conn("b"));
  ASSERT_TRUE(w.reloads.wait_for(1));
  EXPECT_EQ(names_of(source.load()), (Names{"a", "b"}));
}

TEST(WatchDirSource, ReadsConfAndYamlFragmentsAndSkipsTheRest) {
  TempDir dir;
  write_text(dir / "a.conf", "conn %default\n\tikelifetime=2h\n\n" + conn("a"));
  write_text(dir / "b.conf", conn("b"));
  write_text(dir / "c.yaml", yaml_conn("c"));
  write_text(dir / "d.yml", yaml_conn("d"));
  write_text(dir / ".a.conf.swp", "garbage");
  write_text(dir / "a.conf~", "garbage");
  write_text(dir / "#a.conf#", "garbage");
  write_text(dir / "4913", "");
  write_text(dir / "x.conf.tmp", "garbage");
  write_text(dir / "README", "not config");
  fs::create_directory(dir / "sub.conf");
  write_text(dir / "sub.conf/e.conf", conn("e"));
  WatchDirSource source(dir.path());
  EXPECT_EQ(source.origin(), "dir:" + dir.path());
  Snapshot s = source.load();
  ASSERT_TRUE(s.ok()) << first_error(s);
  EXPECT_EQ(names_of(s), (Names{"a", "b", "c", "d"}));
  // %default reaches only the conns of its own file.
  for (const Definition& d : s.connections) {
    EXPECT_EQ(d.connection->ike_lifetime, d.connection->name == "a" ? 2h : 8h)
        << d.connection->name;
  }
  EXPECT_EQ(s.connections[2].file, dir / "c.yaml");
}

TEST(WatchDirSource, ConfigSetupInAFragmentIsAWarning) {
  TempDir dir;
  write_text(dir / "a.conf", "config setup\n\tuniqueids=yes\n" + conn("a"));
  Snapshot s = WatchDirSource(dir.path()).load();
  EXPECT_TRUE(s.ok());
  ASSERT_EQ(s.diagnostics.size(), 1u);
  EXPECT_EQ(s.diagnostics[0].str(), dir / "a.conf" +
                                        ":2: warning: 'config setup' in a watched directory has "
                                        "no effect: set it in the --config file");
}

TEST(WatchDirSource, MissingDirectoryIsAnError) {
  TempDir dir;
  Snapshot s = WatchDirSource(dir / "gone").load();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(first_error(s).rfind(dir / "gone: error: cannot read the watched directory:", 0), 0u)
      << first_error(s);
}

TEST(WatchDirSource, BadFileKeepsTheLastGoodStateInTheStore) {
  TempDir dir;
  write_text(dir / "a.conf", conn("a"));
  write_text(dir / "b.yaml", yaml_conn("b"));
  WatchDirSource source(dir.path());
  Store store;
  ASSERT_TRUE(store.apply(source.origin(), source.load()).accepted);

  write_text(dir / "a.conf", conn("a") + "conn broken\n\tleft=192.0.2.1\n\tkeyexchange=ikev9\n");
  write_text(dir / "c.conf", conn("c"));
  Snapshot bad = source.load();
  EXPECT_FALSE(bad.ok());
  Changes changes = store.apply(source.origin(), std::move(bad));
  EXPECT_FALSE(changes.accepted);
  EXPECT_EQ(store.names(), (Names{"a", "b"}));
  std::vector<model::Diagnostic> errors = store.errors(source.origin());
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors[0].file, dir / "a.conf");
  EXPECT_EQ(errors[0].line, 7);

  write_text(dir / "a.conf", conn("a"));
  changes = store.apply(source.origin(), source.load());
  EXPECT_TRUE(changes.accepted);
  EXPECT_EQ(changes.added, (Names{"c"}));
  EXPECT_TRUE(store.errors(source.origin()).empty());
}

TEST(WatchDirSource, RemovedFileTakesItsConnsAway) {
  TempDir dir;
  write_text(dir / "a.conf", conn("a1") + conn("a2"));
  write_text(dir / "b.conf", conn("b"));
  WatchDirSource source(dir.path());
  Store store;
  store.apply(source.origin(), source.load());
  Watching w(source.watch_targets());
  fs::remove(dir / "a.conf");
  ASSERT_TRUE(w.reloads.wait_for(1));
  Changes changes = store.apply(source.origin(), source.load());
  EXPECT_EQ(changes.removed, (Names{"a1", "a2"}));
  EXPECT_EQ(store.names(), (Names{"b"}));
}

TEST(WatchDirSource, SameNameInTwoFilesIsRejected) {
  TempDir dir;
  write_text(dir / "a.conf", conn("x"));
  write_text(dir / "b.yaml", yaml_conn("x"));
  WatchDirSource source(dir.path());
  Store store;
  EXPECT_FALSE(store.apply(source.origin(), source.load()).accepted);
  std::vector<model::Diagnostic> errors = store.errors(source.origin());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].str(),
            dir / "b.yaml" + ":1: error: connection \"x\" is defined twice in dir:" + dir.path() +
                ", first at " + dir / "a.conf" + ":1: each name must be unique");
}

TEST(DirectoryWatcher, DroppedFileIsOneReload) {
  TempDir dir;
  WatchDirSource source(dir.path());
  Watching w(source.watch_targets());
  write_text(dir / "a.conf", conn("a"));
  ASSERT_TRUE(w.reloads.wait_for(1));
  Watching::settle();
  EXPECT_EQ(w.reloads.count(), 1);
  EXPECT_EQ(names_of(source.load()), (Names{"a"}));
}

TEST(DirectoryWatcher, RapidWritesCoalesceIntoOneReload) {
  TempDir dir;
  WatchDirSource source(dir.path());
  WatcherOptions options;
  options.debounce = 150ms;
  options.max_delay = 5s;
  Watching w(source.watch_targets(), options);
  for (int i = 0; i < 30; ++i) {
    write_text(dir / ("c" + std::to_string(i % 10) + ".conf"), conn("c" + std::to_string(i % 10)));
  }
  ASSERT_TRUE(w.reloads.wait_for(1));
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(w.reloads.count(), 1);
  EXPECT_EQ(source.load().connections.size(), 10u);
}

TEST(DirectoryWatcher, SteadyStreamStillReloadsAfterMaxDelay) {
  TempDir dir;
  WatcherOptions options;
  options.debounce = 100ms;
  options.max_delay = 200ms;
  Watching w(WatchDirSource(dir.path()).watch_targets(), options);
  auto until = std::chrono::steady_clock::now() + 600ms;
  // Events 20 ms apart never leave a 100 ms quiet gap.
  while (std::chrono::steady_clock::now() < until) {
    write_text(dir / "a.conf", conn("a"));
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GE(w.reloads.count(), 2);
}

TEST(DirectoryWatcher, EditorTemporaryFilesDoNotReload) {
  TempDir dir;
  Watching w(WatchDirSource(dir.path()).watch_targets());
  write_text(dir / ".a.conf.swp", "x");
  write_text(dir / "a.conf~", "x");
  write_text(dir / "#a.conf#", "x");
  write_text(dir / "4913", "");
  fs::remove(dir / "4913");
  write_text(dir / "a.conf.tmp", "x");
  write_text(dir / "notes.txt", "x");
  fs::create_directory(dir / "sub");
  write_text(dir / "sub/a.conf", "x");
  Watching::settle();
  EXPECT_EQ(w.reloads.count(), 0);
  // A save through such a temporary file is one change of a.conf.
  replace_file(dir / "a.conf", conn("a"));
  ASSERT_TRUE(w.reloads.wait_for(1));
}

// kubelet's AtomicWriter: files live in a timestamped directory, `..data`
// points at it, NAME -> ..data/NAME; an update writes a new directory and
// renames a fresh `..data_tmp` symlink over `..data`.
class ConfigMapVolume {
 public:
  explicit ConfigMapVolume(const TempDir& dir) : dir_(dir) {}
  void publish(const std::map<std::string, std::string>& files) {
    std::string version = "..2026_11_27_10_00_00." + std::to_string(++serial_);
    fs::create_directory(dir_ / version);
    for (const auto& [name, text] : files) {
      write_text(dir_ / version + "/" + name, text);
    }
    fs::create_symlink(version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    for (const auto& [name, text] : files) {
      if (!fs::is_symlink(dir_ / name)) {
        fs::create_symlink("..data/" + name, dir_ / name);
      }
    }
    for (const std::string& name : names_) {
      if (!files.contains(name)) {
        fs::remove(dir_ / name);
      }
    }
    if (!previous_.empty()) {
      fs::remove_all(dir_ / previous_);
    }
    previous_ = version;
    names_.clear();
    for (const auto& [name, text] : files) {
      names_.push_back(name);
    }
  }

 private:
  const TempDir& dir_;
  int serial_ = 0;
  std::string previous_;
  std::vector<std::string> names_;
};

TEST(DirectoryWatcher, ConfigMapSwapReloadsWithTheNewContent) {
  TempDir dir;
  ConfigMapVolume volume(dir);
  volume.publish({{"west.conf", conn("west")}, {"east.yaml", yaml_conn("east")}});
  WatchDirSource source(dir.path());
  Store store;
  store.apply(source.origin(), source.load());
  EXPECT_EQ(store.names(), (Names{"east", "west"}));
  EXPECT_EQ(store.get("west")->file, dir / "west.conf");

  Watching w(source.watch_targets());
  volume.publish({{"west.conf", conn("west", "\tikelifetime=3h\n") + conn("north")}});
  ASSERT_TRUE(w.reloads.wait_for(1));
  Changes changes = store.apply(source.origin(), source.load());
  EXPECT_EQ(changes.added, (Names{"north"}));
  EXPECT_EQ(changes.updated, (Names{"west"}));
  EXPECT_EQ(changes.removed, (Names{"east"}));
  EXPECT_EQ(store.get("west")->connection->ike_lifetime, 3h);
  EXPECT_EQ(store.get("west")->generation, 2u);
}

TEST(DirectoryWatcher, SecretInAVolumeIsWatchedThroughTheSwap) {
  TempDir dir;
  ConfigMapVolume volume(dir);
  volume.publish({{"ipsec.secrets", ": PSK \"one\"\n"}});
  Watching w({{WatchTarget::Kind::kFile, dir / "ipsec.secrets", {}}});
  volume.publish({{"ipsec.secrets", ": PSK \"two\"\n"}});
  ASSERT_TRUE(w.reloads.wait_for(1));
  // Later swaps too: the watch follows the volume, not the old timestamped directory.
  volume.publish({{"ipsec.secrets", ": PSK \"three\"\n"}});
  ASSERT_TRUE(w.reloads.wait_for(2));
}

TEST(DirectoryWatcher, WatchingAMissingDirectoryIsReported) {
  TempDir dir;
  auto started = DirectoryWatcher::start([] {});
  ASSERT_TRUE(started.ok());
  std::unique_ptr<DirectoryWatcher> watcher = std::move(started).value();
  std::vector<std::string> problems =
      watcher->watch({{WatchTarget::Kind::kDirectory, dir / "gone", {}}});
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "cannot watch " + dir / "gone" + " for changes: No such file or directory");
}

TEST(DirectoryWatcher, ReplacingTargetsStopsOldOnes) {
  TempDir one;
  TempDir two;
  Watching w({{WatchTarget::Kind::kDirectory, one.path(), {}}});
  EXPECT_TRUE(w.watcher->watch({{WatchTarget::Kind::kDirectory, two.path(), {}}}).empty());
  write_text(one / "a.conf", conn("a"));
  Watching::settle();
  EXPECT_EQ(w.reloads.count(), 0);
  write_text(two / "a.conf", conn("a"));
  ASSERT_TRUE(w.reloads.wait_for(1));
}

TEST(DirectoryWatcher, CallbackMayReplaceTheTargets) {
  TempDir dir;
  fs::create_directory(dir / "conf.d");
  write_text(dir / "ipsec.conf", conn("a"));
  ConfigFileSource source(dir / "ipsec.conf");
  ASSERT_TRUE(source.load().ok());
  std::atomic<int> loads{0};
  std::unique_ptr<DirectoryWatcher> watcher;
  auto started = DirectoryWatcher::start([&] {
    source.load();
    watcher->watch(source.watch_targets());
    ++loads;
  });
  ASSERT_TRUE(started.ok());
  watcher = std::move(started).value();
  watcher->watch(source.watch_targets());
  // The include appears: after the reload its directory is watched too.
  replace_file(dir / "ipsec.conf", conn("a") + "include conf.d/*.conf\n");
  for (int i = 0; i < 500 && watcher->calls() < 1; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(watcher->calls(), 1u);
  write_text(dir / "conf.d/b.conf", conn("b"));
  for (int i = 0; i < 500 && watcher->calls() < 2; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(watcher->calls(), 2u);
  EXPECT_EQ(names_of(source.load()), (Names{"a", "b"}));
  watcher.reset();
  EXPECT_EQ(loads, 2);
}

TEST(DirectoryWatcher, StopsPromptlyWithAChangePending) {
  TempDir dir;
  WatcherOptions options;
  options.debounce = 10s;
  auto w = std::make_unique<Watching>(
      std::vector<WatchTarget>{{WatchTarget::Kind::kDirectory, dir.path(), {}}}, options);
  write_text(dir / "a.conf", conn("a"));
  std::this_thread::sleep_for(20ms);
  auto start = std::chrono::steady_clock::now();
  w->watcher.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(w->reloads.count(), 0);
}

TEST(WatchDirSource, LoadChangedMatchesAFullLoad) {
  TempDir dir;
  write_text(dir / "a.conf", conn("a"));
  write_text(dir / "b.conf", conn("b") + conn("b2"));
  write_text(dir / "c.yaml", yaml_conn("c"));
  WatchDirSource source(dir.path());
  EXPECT_EQ(names_of(source.load()), (Names{"a", "b", "b2", "c"}));

  replace_file(dir / "b.conf", conn("b", "\tikelifetime=2h\n"));  // b2 goes
  fs::remove(dir / "c.yaml");
  write_text(dir / "d.conf", conn("d"));
  write_text(dir / "e.conf.swp", conn("e"));  // never read
  Snapshot partial = source.load_changed(
      {dir / "b.conf", dir / "c.yaml", dir / "d.conf", dir / "e.conf.swp", "/elsewhere/x.conf"});
  EXPECT_EQ(names_of(partial), (Names{"a", "b", "d"}));
  Store store;
  store.apply(source.origin(), partial);
  EXPECT_EQ(store.get("b")->connection->ike_lifetime, 2h);
  // The same as reading everything again.
  WatchDirSource fresh(dir.path());
  EXPECT_EQ(names_of(fresh.load()), names_of(partial));
  // A change to a file not named is not seen until a full load.
  replace_file(dir / "a.conf", conn("a") + conn("a2"));
  EXPECT_EQ(names_of(source.load_changed({dir / "d.conf"})), (Names{"a", "b", "d"}));
  EXPECT_EQ(names_of(source.load()), (Names{"a", "a2", "b", "d"}));
}

TEST(DirectoryWatcher, ReportsWhichFilesChanged) {
  TempDir dir;
  WatchDirSource source(dir.path());
  std::mutex mu;
  std::vector<DirectoryWatcher::ChangeSet> seen;
  std::condition_variable cv;
  DirectoryWatcher* raw = nullptr;
  auto started = DirectoryWatcher::start([&] {
    std::lock_guard lock(mu);
    seen.push_back(raw->changes());
    cv.notify_all();
  });
  ASSERT_TRUE(started.ok());
  auto watcher = std::move(started).value();
  raw = watcher.get();
  ASSERT_TRUE(watcher->watch(source.watch_targets()).empty());
  auto wait_for = [&](size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 5s, [&] { return seen.size() >= n; });
  };
  write_text(dir / "a.conf", conn("a"));
  replace_file(dir / "b.conf", conn("b"));
  write_text(dir / ".a.conf.swp", "x");
  ASSERT_TRUE(wait_for(1));
  {
    std::lock_guard lock(mu);
    EXPECT_FALSE(seen[0].complete);
    EXPECT_EQ(seen[0].paths, (std::set<std::string>{dir / "a.conf", dir / "b.conf"}));
  }
  // A ConfigMap swap changes every file at once.
  fs::create_directory(dir / "..v1");
  fs::create_directory_symlink("..v1", dir / "..data");
  ASSERT_TRUE(wait_for(2));
  std::lock_guard lock(mu);
  EXPECT_TRUE(seen[1].complete);
}

}  // namespace
}  // namespace ipsecd::controller
