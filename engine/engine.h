#pragma once
// The engine as the controller sees it: load connections, bring them up and
// down, list what is there and hear about changes. Every call is made on the
// loop thread (post() to it from elsewhere); callbacks and events arrive on it.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/context.h"
#include "engine/events.h"

namespace ipsecd::engine {

class IkeSaManager;
class IkeSa;

struct [[nodiscard]] Status {
  std::string error;  // empty: it worked
  bool ok() const { return error.empty(); }
};

struct InitiateResult {
  bool ok = false;
  std::string reason;  // why not, for operators
};

class Engine {
 public:
  using Completion = std::function<void(const InitiateResult&)>;
  using Subscriber = std::function<void(const Event&)>;

  Engine(EventLoop& loop, Transport& transport, kernel::Backend& kernel, crypto::Random& random,
         EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Adds or replaces a connection. Fails, naming the setting, for what the
  // engine cannot negotiate (e.g. neither end is a local address, authby=rsasig,
  // no usable algorithm in ike=/esp=). SAs of a replaced connection stay up.
  Status load(model::Connection connection);
  // Terminates the connection's SAs and forgets it.
  void unload(const std::string& name);
  // Brings the connection's CHILD SA up (and an IKE SA when none can be
  // shared); `done` gets the result once, with the reason on failure.
  void initiate(const std::string& name, Completion done);
  // Deletes the connection's SAs, telling the peer. An IKE SA that also
  // carries other connections' CHILD SAs stays, for them.
  void terminate(const std::string& name);
  // Whether SAs of the connection were negotiated from an earlier definition
  // (load() replaced it since).
  bool stale(const std::string& name);
  // Brings the connection up as it is defined now, make-before-break: a
  // CHILD SA of the new definition comes up (on the IKE SA it can share, or
  // on a new one when the IKE settings changed) before those of the earlier
  // definition are deleted, quietly. Without stale SAs it is initiate().
  void replace(const std::string& name, Completion done);
  std::vector<IkeSaInfo> list();
  // The IKE SAs of one connection or carrying one of its CHILD SAs; costs
  // what that connection has, not what the engine holds.
  std::vector<IkeSaInfo> list(const std::string& name);
  // Events are posted to the loop: a change is visible in list() before its
  // events arrive. True while one of the connection's is still on its way.
  bool events_pending(const std::string& name) const;
  // Events for every IKE and CHILD SA; returns an id for unsubscribe().
  uint64_t subscribe(Subscriber subscriber);
  void unsubscribe(uint64_t id);
  void set_secrets(std::shared_ptr<const model::Secrets> secrets);
  // A kernel event (the controller reads the kernel's event fd): a soft
  // expire of one of our SAs (byte or packet limit, or the time lifetime)
  // starts its rekey, a hard expire takes the CHILD SA down. Others are ignored.
  void on_kernel_event(const kernel::Event& event);
  // Starts a rekey of the connection's IKE SA (kIke, kReauth) or CHILD SA
  // (kChild) now, as its lifetime would; false with nothing done when the
  // connection has no established SA of that kind or a rekey is under way.
  bool rekey(const std::string& name, RekeyKind kind);

  bool loaded(const std::string& name) const { return ctx_.connections.contains(name); }
  // The connection as loaded (oriented, selectors and reqid resolved); null when not loaded.
  ConnectionRef connection(const std::string& name) const {
    auto it = ctx_.connections.find(name);
    return it == ctx_.connections.end() ? nullptr : it->second;
  }
  const Transport& transport() const { return ctx_.transport; }
  std::size_t ike_sa_count() const;
  // CHILD and IKE SAs the peers asked for beyond EngineOptions' limits.
  uint64_t refused_child_sas() const { return ctx_.refused_child_sas; }
  uint64_t refused_ike_sas() const { return ctx_.refused_ike_sas; }
  std::size_t half_open_count() const;

 private:
  IkeSaInfo info(IkeSa& sa);
  void start_ike(const ConnectionRef& conn);
  // A CHILD SA for `conn`: on a shareable IKE SA, else on a new one (paced).
  void bring_up(const ConnectionRef& conn, bool replacing);
  // Once a CHILD SA of the current definition is up: the stale ones go.
  void retire_stale(const std::string& name);
  // Our IKE SAs still in IKE_SA_INIT/IKE_AUTH (pruned as they finish).
  std::size_t initiating();
  void start_deferred();
  void dispatch(const Event& event);
  void complete(const std::string& name, const InitiateResult& result);

  EngineContext ctx_;
  std::unique_ptr<IkeSaManager> sas_;
  std::unordered_map<std::string, std::vector<Completion>> pending_;
  // New IKE SAs wait here while options.max_initiations are in flight: a
  // burst of thousands would otherwise overrun socket buffers and the peer.
  std::deque<std::string> deferred_;
  std::unordered_set<uint64_t> initiating_;
  std::unordered_set<std::string> replacing_;  // replace() under way
  std::vector<std::pair<uint64_t, Subscriber>> subscribers_;
  uint64_t next_subscriber_ = 1;
  std::unordered_map<std::string, uint32_t> reqids_;       // stable across reloads
  std::unordered_map<uint32_t, std::string> reqid_owner_;  // for kernel expire events
  uint32_t next_reqid_ = 0;
};

}  // namespace ipsecd::engine
