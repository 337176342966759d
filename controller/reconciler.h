#pragma once
// The level-based reconciler: reconcile(name) reads the desired entry (Store)
// and the actual state (the engine's SAs, the kernel's trap and shunt
// policies) for one connection and takes the next step. Controller wires it
// to the Store, the WorkQueue, the engine's loop and the kernel's events.
//
// Threading: the Reconciler lives on the engine's loop thread (every engine
// call is made there); status()/statuses() are the only calls safe from any
// thread. The Controller's dispatcher thread takes keys from the WorkQueue
// and posts each reconcile to the loop; the key stays in flight until the
// loop has run it, so one name is never reconciled twice at once.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/clock.h"
#include "controller/conditions.h"
#include "controller/store.h"
#include "controller/work_queue.h"
#include "engine/engine.h"
#include "kernel/backend.h"

namespace ipsecd::controller {

// What reconcile() asks of the work queue.
struct ReconcileResult {
  enum class Kind : uint8_t {
    kDone,          // converged: forget the key's backoff
    kWaiting,       // an engine operation is under way; its event queues the key again
    kRequeueAfter,  // look again after `after`, backoff kept
    kError,         // requeue with the key's exponential backoff
  };
  Kind kind = Kind::kDone;
  Duration after{};
  std::string reason;

  static ReconcileResult done() { return {}; }
  static ReconcileResult waiting() { return {Kind::kWaiting, {}, {}}; }
  static ReconcileResult requeue_after(Duration d) { return {Kind::kRequeueAfter, d, {}}; }
  static ReconcileResult error(std::string why) { return {Kind::kError, {}, std::move(why)}; }
};
std::string_view kind_name(ReconcileResult::Kind kind);  // "done", "waiting", ...

// Where one connection stands, as the API and CLI show it.
struct ReconcileStatus {
  std::string name;
  std::string origin;
  uint64_t generation = 0;          // desired (Store)
  uint64_t applied_generation = 0;  // loaded into the engine / kernel; 0: nothing applied
  Intent intent = Intent::kNone;
  Conditions conditions;
  std::vector<engine::IkeSaInfo> sas;  // the IKE SAs carrying this connection's CHILD SAs
  std::string last_error;              // "" when none since the last success
  // Negotiation failures seen for this name so far; only grows, so a waiter
  // can tell a failure that came after its request from an older one.
  uint64_t failures = 0;
};

class Reconciler {
 public:
  // Queues a name again (the WorkQueue's add); callable on the loop thread.
  using Wake = std::function<void(const std::string&)>;
  // A connection's peer was declared dead (DPD) and `action` is what the
  // reconciler does about it; called on the loop thread, once per connection
  // and IKE SA.
  using DeadPeerHook = std::function<void(const std::string& name, model::DpdAction action,
                                          const std::string& reason)>;

  Reconciler(Store& store, engine::Engine& engine, kernel::Backend& kernel, Clock& clock, Wake wake,
             DeadPeerHook on_dead_peer = {});
  Reconciler(const Reconciler&) = delete;
  Reconciler& operator=(const Reconciler&) = delete;

  // Loop thread only.
  ReconcileResult reconcile(const std::string& name);
  // Engine events (IKE/CHILD up, down, failed): queue the connection. A dead
  // peer (Event::dead_peer) is remembered with the connection's dpdaction=.
  void on_engine_event(const engine::Event& event);
  // Kernel events: an ACQUIRE on one of our traps starts negotiation.
  void on_kernel_event(const kernel::Event& event);
  // Names with something applied (a resync must also visit removed ones).
  std::vector<std::string> applied_names() const;
  // Removes our trap and shunt policies that no applied connection wants
  // (left by an earlier run, adopted at start-up); returns how many went.
  size_t prune_policies();
  // Shutdown: every applied connection torn down (DELETEs to peers, its
  // policies removed) and unloaded.
  void teardown_all();

  // Any thread: copies of the last computed status.
  std::optional<ReconcileStatus> status(const std::string& name) const;
  std::vector<ReconcileStatus> statuses() const;  // sorted by name
  // Any thread: totals over every status, kept as statuses change (no copy).
  struct Summary {
    size_t by_state[5] = {};  // indexed by ConnectionState
    size_t established = 0;
    size_t routed = 0;
    size_t failing = 0;
    size_t ike_sas = 0;  // IKE SAs a connection owns
    size_t child_sas = 0;
  };
  Summary summary() const;
  // Any thread: blocks until `done` holds for the name's status (nullopt: no
  // status, e.g. removed) or `timeout` passes; returns the last status seen
  // and whether `done` held. For the API's waiting intents.
  using StatusPredicate = std::function<bool(const std::optional<ReconcileStatus>&)>;
  std::pair<bool, std::optional<ReconcileStatus>> wait_status(const std::string& name,
                                                              const StatusPredicate& done,
                                                              Duration timeout) const;

 private:
  // What was applied for a name: the spec it came from (so a removed or
  // replaced connection's policies can be derived again) and its generation.
  struct Applied {
    uint64_t generation = 0;
    std::shared_ptr<const model::Connection> connection;
    engine::ConnectionRef loaded;  // null for shunts
  };
  // The policies (trap or shunt) a connection wants installed by us.
  std::vector<kernel::PolicySpec> trap_policies(const engine::LoadedConnection& c) const;
  model::Result<std::vector<kernel::PolicySpec>> shunt_policies(const model::Connection& c) const;
  // Adds what is missing; a protect policy in a trap's place (SA up) is left.
  kernel::Status ensure_policies(const std::vector<kernel::PolicySpec>& specs);
  // Removes ours of these kinds only (a protect policy belongs to the engine's SA).
  void remove_policies(const std::vector<kernel::PolicySpec>& specs);
  void forget_traps(const std::string& name);
  void teardown(const std::string& name, const Applied& applied);
  void start_initiate(const std::string& name, bool replace = false);
  // A changed connection with SAs up: its new definition comes up beside
  // them and they go once it is (make-before-break). False when it cannot
  // load; nothing changed then.
  bool replace_in_place(const std::string& name, const Applied& old,
                        const std::shared_ptr<const model::Connection>& now, uint64_t generation);
  // terminate() or unload() in the engine, remembering which IKE SAs that ends.
  void close(const std::string& name, bool unload);
  void note_dead_peer(const engine::Event& event);
  ReconcileResult finish(ReconcileStatus st, ReconcileResult result);
  void set(ReconcileStatus& st, std::string_view type, ConditionStatus status, std::string reason,
           std::string message);

  Store& store_;
  engine::Engine& engine_;
  kernel::Backend& kernel_;
  Clock& clock_;
  Wake wake_;
  DeadPeerHook on_dead_peer_;

  std::map<std::string, Applied> applied_;
  std::set<std::string> initiating_;                 // initiate() called, result not in yet
  std::map<std::string, std::string> failure_;       // a failed negotiation not yet acted on
  std::map<std::string, std::string> last_failure_;  // shown until established
  std::map<std::string, uint64_t> failures_seen_;
  std::map<std::string, std::string> trap_owner_;  // trap PolicyId::str() -> connection
  // IKE SAs (by SPIi) we asked the engine to delete: their down events are expected.
  std::set<uint64_t> closing_;
  // A peer declared dead and the dpdaction= taken, kept until the connection
  // is established again, edited (another generation) or given an operator
  // intent (another intent_serial): with clear, nothing brings it back before.
  struct DeadPeer {
    model::DpdAction action = model::DpdAction::kHold;
    uint64_t generation = 0;
    uint64_t intent_serial = 0;
    uint64_t ike_spi = 0;  // the IKE SA that died (its IKE and CHILD events count once)
    std::string reason;
  };
  std::map<std::string, DeadPeer> dead_peers_;

  mutable std::condition_variable status_changed_;
  mutable std::mutex status_mu_;  // guards statuses_ and summary_ (readers are API threads)
  std::map<std::string, ReconcileStatus> statuses_;
  Summary summary_;
  // Adds (sign 1) or takes away (-1) one status's share of summary_.
  void count_locked(const ReconcileStatus& st, int sign);
};

struct ControllerOptions {
  WorkQueueOptions queue;
  // Every name is queued again this often (level-based safety net).
  std::chrono::milliseconds resync_period{std::chrono::seconds(30)};
  // Called on the loop after every reconcile with its duration and whether it failed.
  std::function<void(Duration, bool)> on_reconcile;
  // Called on the loop when a connection's peer is declared dead, with the dpdaction= taken.
  Reconciler::DeadPeerHook on_dead_peer;
};

// Store + WorkQueue + dispatcher thread + Reconciler on the engine's loop,
// the kernel event fd watched on that loop, and the periodic resync.
// start() and stop() are called from a thread other than the loop's, while
// the loop runs (they wait for work they post to it).
class Controller {
 public:
  Controller(Store& store, engine::Engine& engine, kernel::Backend& kernel, engine::EventLoop& loop,
             Clock& clock = real_clock(), ControllerOptions options = {});
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void start();
  void stop();

  // A source's snapshot into the Store; every changed name is queued.
  Changes apply(const std::string& origin, Snapshot snapshot);
  // The operator's intent (kNone clears it); the name is queued.
  model::Result<Intent> set_intent(const std::string& name, Intent intent);
  void enqueue(const std::string& name);
  // Queues every desired and every applied name.
  void resync();

  const Reconciler& reconciler() const { return *reconciler_; }
  // The Reconciler's loop-only calls (prune_policies, teardown_all): on the loop thread only.
  Reconciler& reconciler_for_loop() { return *reconciler_; }
  WorkQueue& queue() { return queue_; }
  Store& store() { return store_; }
  uint64_t reconciles() const;

 private:
  void dispatch_loop();
  void run_one(const std::string& name);  // on the loop thread
  void schedule_resync();                 // on the loop thread
  void on_loop_and_wait(std::function<void()> fn);

  Store& store_;
  engine::Engine& engine_;
  kernel::Backend& kernel_;
  engine::EventLoop& loop_;
  ControllerOptions options_;
  WorkQueue queue_;
  std::unique_ptr<Reconciler> reconciler_;
  std::thread dispatcher_;
  // Loop-side registrations, touched only on the loop thread.
  uint64_t subscription_ = 0;
  engine::EventLoop::TimerId resync_timer_ = 0;
  bool watching_kernel_ = false;
  // Posted work holds this weakly: nothing runs once the controller stopped.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::atomic<uint64_t> reconciles_{0};
  bool started_ = false;
};

}  // namespace ipsecd::controller
