#pragma once
// The desired state: every loaded connection by name, with where it came from
// (its origin), a generation that grows when its content changes, and the
// operator's intent. Sources hand over complete snapshots; applying one says
// which names changed, so the controller queues exactly those.
//
// Rules:
// - A snapshot with errors changes nothing: the last good state stays and
//   the errors are kept for that origin (errors(), Entry::last_error).
// - A name defined by two origins belongs to the first; the second gets an
//   error naming both, the first a warning. When the owner drops the name,
//   the next origin that defines it (in the order origins first appeared)
//   takes it over.
// - auto=ignore connections are not stored.
// - generation starts at 1 and grows by one each time the content hash
//   changes. A name removed and added again continues from where it was, so
//   a generation never repeats for a name within one run.
// - Intents are journaled in STATE_DIR/intents (replaced atomically). An
//   intent is dropped when its connection is removed. Journaled intents of
//   names not loaded yet wait (pending) until the connection appears, or
//   until drop_pending_intents(), which the daemon calls once every source
//   has delivered a good snapshot.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/connection.h"
#include "model/diagnostic.h"
#include "model/result.h"

namespace ipsecd::controller {

// The operator's override of auto= (ipsec auto --up/--down/--route/--unroute).
enum class Intent : uint8_t { kNone, kUp, kDown, kRoute, kUnroute };
std::string_view intent_name(Intent intent);  // "none", "up", "down", "route", "unroute"
std::optional<Intent> parse_intent(std::string_view text);

// One connection as a source defines it, with where (for messages).
struct Definition {
  // Shared, never modified: a source's cache, its snapshots and the Store
  // hold the same object, so a reload of thousands of unchanged connections
  // copies pointers, not connections.
  std::shared_ptr<const model::Connection> connection;
  std::string file;  // empty when not from a file (API)
  int line = 0;
};

// Everything one origin defines now, or why it cannot say.
struct Snapshot {
  std::vector<Definition> connections;
  std::vector<model::Diagnostic> diagnostics;  // any error rejects the snapshot

  bool ok() const;
};

struct Entry {
  std::shared_ptr<const model::Connection> connection;  // shared, never modified
  std::string origin;                                   // "file:PATH", "dir:PATH", "api"
  std::string file;                                     // where it is defined, if in a file
  int line = 0;
  uint64_t generation = 0;
  Intent intent = Intent::kNone;
  // The first error its origin reports now ("" when none): a rejected
  // snapshot (the connection stays as it was) or a conflict over this name.
  std::string last_error;
  // How many times set_intent() succeeded for this name in this run, the same
  // intent again included: an `ipsec auto --up` of a connection whose intent
  // is already up is still the operator acting (it ends a dpdaction=clear).
  uint64_t intent_serial = 0;
};

struct Changes {
  bool accepted = true;              // false: the snapshot had errors, nothing changed
  std::vector<std::string> added;    // each list sorted
  std::vector<std::string> updated;  // content changed, or taken over by another origin
  std::vector<std::string> removed;

  std::vector<std::string> names() const;  // all three, sorted
  bool empty() const { return added.empty() && updated.empty() && removed.empty(); }
};

class Store {
 public:
  // An empty state_dir keeps intents in memory only.
  explicit Store(std::string state_dir = "");
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Reads the intent journal (a missing file is an empty journal). Bad
  // lines are skipped and reported with file:line.
  std::vector<model::Diagnostic> load_intents();

  Changes apply(const std::string& origin, Snapshot snapshot);

  std::optional<Entry> get(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  std::vector<Entry> entries() const;      // sorted by name
  size_t size() const;

  std::vector<std::string> origins() const;  // in the order they first applied
  // How many stored connections each origin owns.
  std::map<std::string, size_t> origin_sizes() const;
  // The current diagnostics of an origin: those of its last snapshot (the
  // rejected one, if it was rejected) and its conflicts.
  std::vector<model::Diagnostic> diagnostics(const std::string& origin) const;
  std::vector<model::Diagnostic> errors(const std::string& origin) const;

  // Sets (kNone: clears) the intent of a loaded connection and journals it;
  // the entry's intent_serial grows. Returns the previous intent; fails for a
  // name that is not loaded or when the journal cannot be written (then
  // nothing changes).
  model::Result<Intent> set_intent(const std::string& name, Intent intent);
  std::map<std::string, Intent> pending_intents() const;
  // Forgets journaled intents of names still not loaded; journals the rest.
  model::Result<bool> drop_pending_intents();
  // The last journal write failure during apply() ("" when none).
  std::string journal_error() const;

 private:
  struct Defined {
    std::shared_ptr<const model::Connection> connection;
    std::string file;
    int line = 0;
  };
  struct Origin {
    uint64_t order = 0;
    std::map<std::string, Defined> conns;  // the last good snapshot
    std::vector<model::Diagnostic> diagnostics;
    std::vector<model::Diagnostic> conflicts;
    bool rejected = false;
  };
  struct Stored {
    std::shared_ptr<const model::Connection> connection;
    std::string origin;
    std::string file;
    int line = 0;
    uint64_t generation = 0;
    Intent intent = Intent::kNone;
    uint64_t intent_serial = 0;
  };

  // The first origin (by order) other than `except` that defines name.
  const std::string* next_owner_locked(const std::string& name, const std::string& except) const;
  void recompute_conflicts_locked();
  Entry entry_locked(const std::string& name, const Stored& stored) const;
  std::string write_journal_locked() const;  // error text, "" on success
  std::string journal_path() const;

  const std::string state_dir_;
  // A plain mutex: every hold is short, and a reader-preferring shared lock
  // would let a stream of status reads starve apply().
  mutable std::mutex mu_;
  std::map<std::string, Stored> entries_;
  std::map<std::string, Origin> origins_;
  uint64_t next_order_ = 0;
  std::unordered_map<std::string, uint64_t> last_generation_;  // of removed names
  std::map<std::string, Intent> pending_;
  std::string journal_error_;
};

}  // namespace ipsecd::controller
