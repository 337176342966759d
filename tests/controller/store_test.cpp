#include "controller/store.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ipsecd::controller {
namespace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

// A connection as a conf file would define it; `extra` adds settings.
Definition def(const std::string& name, const std::string& extra = "", int line = 1) {
  std::string text = "conn " + name + "\n\tleft=192.0.2.1\n\tright=192.0.2.2\n";
  if (extra.find("auto=") == std::string::npos) {
    text += "\tauto=add\n";
  }
  if (!extra.empty()) {
    text += "\t" + extra + "\n";
  }
  model::Config config = model::parse_config_text(text, "test.conf");
  model::ConnectionSet set = model::build_connections(config);
  EXPECT_FALSE(config.diagnostics.has_errors() || set.diagnostics.has_errors()) << text;
  EXPECT_EQ(set.connections.size(), 1u);
  return {std::make_shared<const model::Connection>(std::move(set.connections.at(0))),
          "/etc/ipsec.conf", line};
}

std::shared_ptr<const model::Connection> renamed(const model::Connection& c, std::string name) {
  auto copy = std::make_shared<model::Connection>(c);
  copy->name = std::move(name);
  return copy;
}

Snapshot snap(std::vector<Definition> defs) {
  return Snapshot{std::move(defs), {}};
}

Snapshot broken(const std::string& message) {
  Snapshot s;
  s.diagnostics.push_back({model::Severity::kError, "/etc/ipsec.conf", 7, message});
  return s;
}

using ipsecd::testing::TempDir;

using ipsecd::testing::read_text;

TEST(Intent, NamesRoundTrip) {
  for (Intent i : {Intent::kNone, Intent::kUp, Intent::kDown, Intent::kRoute, Intent::kUnroute}) {
    EXPECT_EQ(parse_intent(intent_name(i)), i);
  }
  EXPECT_EQ(parse_intent("start"), std::nullopt);
}

TEST(Store, FirstSnapshotAddsEveryConnectionAtGenerationOne) {
  Store store;
  Changes c = store.apply("file:/etc/ipsec.conf", snap({def("a"), def("b")}));
  EXPECT_TRUE(c.accepted);
  EXPECT_EQ(c.added, (Names{"a", "b"}));
  EXPECT_TRUE(c.updated.empty());
  EXPECT_TRUE(c.removed.empty());
  std::optional<Entry> a = store.get("a");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->connection->name, "a");
  EXPECT_EQ(a->origin, "file:/etc/ipsec.conf");
  EXPECT_EQ(a->generation, 1u);
  EXPECT_EQ(a->intent, Intent::kNone);
  EXPECT_EQ(a->last_error, "");
  EXPECT_EQ(store.names(), (Names{"a", "b"}));
  EXPECT_EQ(store.size(), 2u);
}

TEST(Store, UnchangedSnapshotChangesNothing) {
  Store store;
  store.apply("file:x", snap({def("a"), def("b")}));
  auto before = store.get("a")->connection;
  Changes c = store.apply("file:x", snap({def("a"), def("b")}));
  EXPECT_TRUE(c.accepted);
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(store.get("a")->generation, 1u);
  // Same content: the stored connection object is kept as it was.
  EXPECT_EQ(store.get("a")->connection, before);
}

TEST(Store, ChangedContentBumpsTheGeneration) {
  Store store;
  store.apply("file:x", snap({def("a"), def("b")}));
  Changes c = store.apply("file:x", snap({def("a", "ikelifetime=2h"), def("b")}));
  EXPECT_EQ(c.updated, (Names{"a"}));
  EXPECT_EQ(store.get("a")->generation, 2u);
  EXPECT_EQ(store.get("b")->generation, 1u);
  c = store.apply("file:x", snap({def("a", "ikelifetime=3h"), def("b")}));
  EXPECT_EQ(store.get("a")->generation, 3u);
  EXPECT_EQ(store.get("a")->connection->ike_lifetime, std::chrono::hours(3));
}

TEST(Store, MovedLineIsNotAChange) {
  Store store;
  store.apply("file:x", snap({def("a", "", 3)}));
  Changes c = store.apply("file:x", snap({def("a", "", 30)}));
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(store.get("a")->line, 30);
}

TEST(Store, MissingConnectionIsRemoved) {
  Store store;
  store.apply("file:x", snap({def("a"), def("b")}));
  Changes c = store.apply("file:x", snap({def("b")}));
  EXPECT_EQ(c.removed, (Names{"a"}));
  EXPECT_FALSE(store.get("a"));
  EXPECT_EQ(store.names(), (Names{"b"}));
}

TEST(Store, ReaddedNameContinuesItsGeneration) {
  Store store;
  store.apply("file:x", snap({def("a")}));
  store.apply("file:x", snap({def("a", "ikelifetime=2h")}));
  store.apply("file:x", snap({}));
  Changes c = store.apply("file:x", snap({def("a")}));
  EXPECT_EQ(c.added, (Names{"a"}));
  EXPECT_EQ(store.get("a")->generation, 3u);
}

TEST(Store, AutoIgnoreIsNotStored) {
  Store store;
  Changes c = store.apply("file:x", snap({def("a", "auto=ignore"), def("b", "auto=start")}));
  EXPECT_EQ(c.added, (Names{"b"}));
  EXPECT_FALSE(store.get("a"));
  // Switching a stored one to ignore removes it.
  c = store.apply("file:x", snap({def("b", "auto=ignore")}));
  EXPECT_EQ(c.removed, (Names{"b"}));
  EXPECT_EQ(store.size(), 0u);
}

TEST(Store, SnapshotWithErrorsKeepsTheLastGoodState) {
  Store store;
  store.apply("file:/etc/ipsec.conf", snap({def("a"), def("b")}));
  Changes c = store.apply("file:/etc/ipsec.conf", broken("unterminated quoted string"));
  ASSERT_FALSE(c.accepted);
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(store.names(), (Names{"a", "b"}));
  std::vector<model::Diagnostic> errors = store.errors("file:/etc/ipsec.conf");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].str(), "/etc/ipsec.conf:7: error: unterminated quoted string");
  EXPECT_EQ(store.get("a")->last_error, "/etc/ipsec.conf:7: error: unterminated quoted string");
  // Fixed: the error goes away, the comparison is against the last good state.
  c = store.apply("file:/etc/ipsec.conf", snap({def("a")}));
  EXPECT_TRUE(c.accepted);
  EXPECT_EQ(c.removed, (Names{"b"}));
  EXPECT_TRUE(store.errors("file:/etc/ipsec.conf").empty());
  EXPECT_EQ(store.get("a")->last_error, "");
}

TEST(Store, FirstSnapshotWithErrorsLoadsNothing) {
  Store store;
  Changes c = store.apply("dir:/d", broken("bad"));
  EXPECT_FALSE(c.accepted);
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.errors("dir:/d").size(), 1u);
  EXPECT_EQ(store.origins(), (Names{"dir:/d"}));
}

TEST(Store, WarningsDoNotRejectASnapshot) {
  Store store;
  Snapshot s = snap({def("a")});
  s.diagnostics.push_back({model::Severity::kWarning, "f.conf", 2, "obsolete keyword"});
  Changes c = store.apply("file:f", std::move(s));
  EXPECT_TRUE(c.accepted);
  EXPECT_EQ(store.diagnostics("file:f").size(), 1u);
  EXPECT_TRUE(store.errors("file:f").empty());
}

TEST(Store, NameDefinedTwiceInOneSnapshotRejectsIt) {
  Store store;
  Changes c = store.apply("dir:/d", snap({def("a", "", 1), def("a", "", 9)}));
  EXPECT_FALSE(c.accepted);
  EXPECT_EQ(store.size(), 0u);
  std::vector<model::Diagnostic> errors = store.errors("dir:/d");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].str(),
            "/etc/ipsec.conf:9: error: connection \"a\" is defined twice in dir:/d, first at "
            "/etc/ipsec.conf:1: each name must be unique");
}

TEST(Store, ConflictFirstOriginKeepsTheName) {
  Store store;
  store.apply("file:/etc/ipsec.conf", snap({def("a")}));
  Definition other = def("a", "ikelifetime=2h", 4);
  other.file = "/d/extra.conf";
  Changes c = store.apply("dir:/d", snap({std::move(other), def("z")}));
  EXPECT_EQ(c.added, (Names{"z"}));
  EXPECT_EQ(store.get("a")->origin, "file:/etc/ipsec.conf");
  EXPECT_EQ(store.get("a")->generation, 1u);
  std::vector<model::Diagnostic> errors = store.errors("dir:/d");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].str(),
            "/d/extra.conf:4: error: connection \"a\" is already defined by file:/etc/ipsec.conf "
            "at /etc/ipsec.conf:1; this definition in dir:/d is ignored until it is removed there "
            "or renamed here");
  std::vector<model::Diagnostic> owner = store.diagnostics("file:/etc/ipsec.conf");
  ASSERT_EQ(owner.size(), 1u);
  EXPECT_EQ(owner[0].severity, model::Severity::kWarning);
  EXPECT_NE(owner[0].message.find("also defined by dir:/d at /d/extra.conf:4"), std::string::npos);
  EXPECT_NE(store.get("a")->last_error.find("also defined by dir:/d"), std::string::npos);
  EXPECT_EQ(store.get("z")->last_error, "");
}

TEST(Store, ConflictClearsWhenTheSecondOriginDropsTheName) {
  Store store;
  store.apply("file:f", snap({def("a")}));
  store.apply("dir:/d", snap({def("a")}));
  ASSERT_EQ(store.errors("dir:/d").size(), 1u);
  Changes c = store.apply("dir:/d", snap({}));
  EXPECT_TRUE(c.empty());
  EXPECT_TRUE(store.errors("dir:/d").empty());
  EXPECT_TRUE(store.diagnostics("file:f").empty());
  EXPECT_EQ(store.get("a")->origin, "file:f");
}

TEST(Store, NextDefinerTakesOverWhenTheOwnerDropsTheName) {
  Store store;
  store.apply("file:f", snap({def("a")}));
  store.apply("dir:/d", snap({def("a", "ikelifetime=2h")}));
  store.apply("api", snap({def("a", "ikelifetime=3h")}));
  Changes c = store.apply("file:f", snap({}));
  EXPECT_EQ(c.updated, (Names{"a"}));
  EXPECT_TRUE(c.removed.empty());
  std::optional<Entry> a = store.get("a");
  EXPECT_EQ(a->origin, "dir:/d");  // it appeared before api
  EXPECT_EQ(a->generation, 2u);
  EXPECT_EQ(a->connection->ike_lifetime, std::chrono::hours(2));
  EXPECT_TRUE(store.errors("dir:/d").empty());
  EXPECT_EQ(store.errors("api").size(), 1u);
}

TEST(Store, TakeOverWithIdenticalContentKeepsGenerationAndIntent) {
  Store store;
  store.apply("file:f", snap({def("a")}));
  ASSERT_TRUE(store.set_intent("a", Intent::kUp).ok());
  // The conn moves from the config file to a watched directory.
  store.apply("dir:/d", snap({def("a")}));
  Changes c = store.apply("file:f", snap({}));
  EXPECT_EQ(c.updated, (Names{"a"}));
  EXPECT_EQ(store.get("a")->origin, "dir:/d");
  EXPECT_EQ(store.get("a")->generation, 1u);
  EXPECT_EQ(store.get("a")->intent, Intent::kUp);
}

TEST(Store, OriginsListInFirstAppliedOrder) {
  Store store;
  store.apply("file:f", snap({}));
  store.apply("api", snap({}));
  store.apply("dir:/d", snap({}));
  EXPECT_EQ(store.origins(), (Names{"file:f", "api", "dir:/d"}));
}

TEST(Store, IntentNeedsALoadedConnection) {
  Store store;
  model::Result<Intent> r = store.set_intent("nope", Intent::kUp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "connection \"nope\" is not loaded: an intent needs a loaded connection");
}

TEST(Store, IntentIsSetClearedAndDroppedWithItsConnection) {
  Store store;
  store.apply("file:f", snap({def("a")}));
  model::Result<Intent> r = store.set_intent("a", Intent::kDown);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Intent::kNone);
  EXPECT_EQ(store.get("a")->intent, Intent::kDown);
  r = store.set_intent("a", Intent::kRoute);
  EXPECT_EQ(*r, Intent::kDown);
  // A content change keeps the intent.
  store.apply("file:f", snap({def("a", "ikelifetime=2h")}));
  EXPECT_EQ(store.get("a")->intent, Intent::kRoute);
  store.apply("file:f", snap({}));
  store.apply("file:f", snap({def("a")}));
  EXPECT_EQ(store.get("a")->intent, Intent::kNone);
}

TEST(Store, IntentsSurviveARestartThroughTheJournal) {
  TempDir dir;
  {
    Store store(dir.path());
    EXPECT_TRUE(store.load_intents().empty());
    Definition spaced = def("bc");
    spaced.connection =
        renamed(*spaced.connection, "b c");  // API names are not limited to conf tokens
    store.apply("file:f", snap({def("a"), std::move(spaced), def("d")}));
    ASSERT_TRUE(store.set_intent("a", Intent::kUp).ok());
    ASSERT_TRUE(store.set_intent("b c", Intent::kUnroute).ok());
    ASSERT_TRUE(store.set_intent("d", Intent::kDown).ok());
    ASSERT_TRUE(store.set_intent("d", Intent::kNone).ok());
  }
  std::string journal = read_text(dir.path() + "/intents");
  EXPECT_EQ(journal,
            "# ipsecd operator intents: NAME INTENT per line\n"
            "a up\n"
            "b%20c unroute\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() + "/intents").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(dir.path() + "/intents.tmp"));

  Store restarted(dir.path());
  EXPECT_TRUE(restarted.load_intents().empty());
  // Loaded before any source: pending until the connections appear.
  EXPECT_EQ(restarted.pending_intents().size(), 2u);
  Definition spaced = def("bc");
  spaced.connection = renamed(*spaced.connection, "b c");
  restarted.apply("file:f", snap({def("a"), std::move(spaced)}));
  EXPECT_EQ(restarted.get("a")->intent, Intent::kUp);
  EXPECT_EQ(restarted.get("b c")->intent, Intent::kUnroute);
  EXPECT_TRUE(restarted.pending_intents().empty());
}

TEST(Store, PendingIntentsStayInTheJournalUntilDropped) {
  TempDir dir;
  {
    std::ofstream out(dir.path() + "/intents");
    out << "gone up\nhere down\n";
  }
  Store store(dir.path());
  EXPECT_TRUE(store.load_intents().empty());
  store.apply("file:f", snap({def("here")}));
  // Another intent change rewrites the journal, pending one included.
  ASSERT_TRUE(store.set_intent("here", Intent::kRoute).ok());
  EXPECT_NE(read_text(dir.path() + "/intents").find("gone up\n"), std::string::npos);
  ASSERT_TRUE(store.drop_pending_intents().ok());
  EXPECT_TRUE(store.pending_intents().empty());
  EXPECT_EQ(read_text(dir.path() + "/intents"),
            "# ipsecd operator intents: NAME INTENT per line\nhere route\n");
}

TEST(Store, RemovalRewritesTheJournal) {
  TempDir dir;
  Store store(dir.path());
  store.apply("file:f", snap({def("a"), def("b")}));
  ASSERT_TRUE(store.set_intent("a", Intent::kUp).ok());
  ASSERT_TRUE(store.set_intent("b", Intent::kDown).ok());
  store.apply("file:f", snap({def("b")}));
  EXPECT_EQ(store.journal_error(), "");
  EXPECT_EQ(read_text(dir.path() + "/intents"),
            "# ipsecd operator intents: NAME INTENT per line\nb down\n");
}

TEST(Store, BadJournalLinesAreReportedAndSkipped) {
  TempDir dir;
  {
    std::ofstream out(dir.path() + "/intents");
    out << "# comment\n\nok up\nnointent\nx sideways\ny none\nz up extra\nbad%zz up\n%41 route\n";
  }
  Store store(dir.path());
  std::vector<model::Diagnostic> problems = store.load_intents();
  ASSERT_EQ(problems.size(), 5u);
  std::string path = dir.path() + "/intents";
  EXPECT_EQ(problems[0].str(),
            path + ":4: error: expected 'NAME INTENT' (NAME percent-encoded), skipping this line");
  EXPECT_EQ(problems[1].str(), path +
                                   ":5: error: unknown intent 'sideways': expected up, down, route "
                                   "or unroute; skipping this line");
  EXPECT_EQ(problems[2].line, 6);
  EXPECT_EQ(problems[3].line, 7);
  EXPECT_EQ(problems[4].line, 8);
  std::map<std::string, Intent> pending = store.pending_intents();
  EXPECT_EQ(pending, (std::map<std::string, Intent>{{"A", Intent::kRoute}, {"ok", Intent::kUp}}));
}

TEST(Store, UnwritableJournalRefusesTheIntent) {
  TempDir dir;
  Store store(dir.path());
  store.apply("file:f", snap({def("a")}));
  // A directory where the temporary file goes: no write succeeds, not even as root.
  fs::create_directory(dir.path() + "/intents.tmp");
  model::Result<Intent> r = store.set_intent("a", Intent::kUp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "intent for \"a\" not recorded: cannot write " + dir.path() +
                           "/intents.tmp: Is a directory");
  EXPECT_EQ(store.get("a")->intent, Intent::kNone);
  EXPECT_FALSE(fs::exists(dir.path() + "/intents"));
  EXPECT_EQ(store.get("a")->intent_serial, 0u) << "a refused intent is no operator action";
}

TEST(Store, EveryIntentSetCountsTheSameOneAgainIncluded) {
  Store store;
  store.apply("file:f", snap({def("a")}));
  EXPECT_EQ(store.get("a")->intent_serial, 0u);
  ASSERT_TRUE(store.set_intent("a", Intent::kUp).ok());
  EXPECT_EQ(store.get("a")->intent_serial, 1u);
  // `ipsec auto --up` again: the intent stays, the operator acted once more.
  ASSERT_TRUE(store.set_intent("a", Intent::kUp).ok());
  EXPECT_EQ(store.get("a")->intent, Intent::kUp);
  EXPECT_EQ(store.get("a")->intent_serial, 2u);
  // A reload with the same content is no operator action.
  store.apply("file:f", snap({def("a")}));
  EXPECT_EQ(store.get("a")->intent_serial, 2u);
}

TEST(Store, ReadersRunAlongsideWriters) {
  Store store;
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        for (const Entry& e : store.entries()) {
          // An entry is always whole: its connection matches its name.
          if (!e.connection || e.generation == 0) {
            ++torn;
          }
        }
        if (std::optional<Entry> e = store.get("c1"); e && e->connection->name != "c1") {
          ++torn;
        }
      }
    });
  }
  for (int round = 0; round < 200; ++round) {
    std::vector<Definition> defs;
    for (int i = 0; i < 20; ++i) {
      if ((i + round) % 3 != 0) {
        defs.push_back(
            def("c" + std::to_string(i), "ikelifetime=" + std::to_string(1 + round % 4) + "h"));
      }
    }
    store.apply("file:f", snap(std::move(defs)));
  }
  stop = true;
  for (auto& r : readers) {
    r.join();
  }
  EXPECT_EQ(torn, 0);
}

}  // namespace
}  // namespace ipsecd::controller
