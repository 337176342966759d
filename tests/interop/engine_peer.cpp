// engine_peer: one Engine on real UDP sockets with the memory kernel, driven
// line by line, so interop tests can put it opposite charon or pluto.
//
//   engine_peer --listen ADDR [--listen ADDR ...] [--ike-port P] [--natt-port P]
//               --conf ipsec.conf [--secrets ipsec.secrets] [-c COMMAND ...]
//
// Commands (from -c first, then stdin, one per line), each answered with
// "ok ..." or "error REASON" as its last output line:
//   initiate NAME              waits for the CHILD SA (or the failure reason)
//   terminate NAME             sends the DELETEs
//   rekey-child NAME [SECONDS] rekeys the connection's CHILD SA now and waits
//                              (20 s unless told) for its "rekeyed" event: "ok"
//                              with the event (new SPIs, and the replaced ones
//                              as replaced_child_spi_in/out), "error" with the
//                              reason on "rekey-failed"
//   rekey-ike NAME [SECONDS]   the same for its IKE SA (replaced_ike_spi_i/r)
//   reauth NAME [SECONDS]      reauthenticates its IKE SA (a new one, CHILD SAs
//                              re-created, then the old deleted), the same way
//   list                       one "sa ..." line per CHILD SA (IKE SAs without
//                              CHILD SAs get one line too), then "ok N"; an SA
//                              replaced by a rekey shows child_state=rekeyed
//                              until its DELETE is done, ike_rekeys/child_rekeys
//                              count the rekeys so far, *_rekey_in/expires_in
//                              are seconds from now ("-": no timer)
//   wait EVENT NAME SECONDS    the next not yet consumed event of that type
//                              (ike-up, child-down, rekeyed, rekey-failed, ...)
//                              for connection NAME
//   events                     every event so far, one "event ..." line each
//   sleep MS
//   quit
// At the end of input it exits: 0 when every command succeeded, else 1 with
// the first failure on stderr. Engine log lines and events go to stderr.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/event_loop.h"
#include "engine/udp_transport.h"
#include "kernel/memory/memory_backend.h"
#include "model/config.h"
#include "model/connection.h"
#include "model/secrets.h"

namespace ipsecd::engine {
namespace {

int g_signal_pipe = -1;

void on_signal(int) {
  const char c = 's';
  [[maybe_unused]] auto n = write(g_signal_pipe, &c, 1);
}

std::string hex(uint64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*" PRIx64, width, v);
  return buf;
}

// Spaces inside a value would break "key=value" parsing: selectors lists are
// printed with commas already, so only squeeze what remains.
std::string token(std::string s) {
  for (char& c : s) {
    if (c == ' ') {
      c = '_';
    }
  }
  return s.empty() ? "-" : s;
}

struct Options {
  std::vector<kernel::Address> listen;
  uint16_t ike_port = 500;
  uint16_t natt_port = 4500;
  std::string conf;
  std::string secrets;
  std::vector<std::string> commands;
};

class Peer {
 public:
  Peer(const Options& options, EpollLoop& loop, UdpTransport& transport,
       kernel::MemoryBackend& kernel, crypto::Random& random)
      : loop_(loop), kernel_(kernel) {
    EngineOptions eo;
    eo.ike_port = options.ike_port;
    eo.natt_port = options.natt_port;
    eo.log = [](std::string_view line) { std::cerr << "engine: " << line << "\n"; };
    engine_ = std::make_unique<Engine>(loop, transport, kernel, random, std::move(eo));
    engine_->subscribe([this](const Event& e) { on_event(e); });
  }

  std::string load(const Options& options) {
    auto config = model::parse_config_file(options.conf);
    for (const auto& d : config.diagnostics.all()) {
      std::cerr << d.str() << "\n";
    }
    if (config.diagnostics.has_errors()) {
      return options.conf + " has errors (listed above)";
    }
    auto set = model::build_connections(std::move(config));
    for (const auto& d : set.diagnostics.all()) {
      std::cerr << d.str() << "\n";
    }
    if (set.diagnostics.has_errors()) {
      return options.conf + " has connection errors (listed above)";
    }
    for (auto& c : set.connections) {
      if (c.auto_action == model::AutoAction::kIgnore) {
        continue;
      }
      const std::string n = c.name;
      if (auto s = engine_->load(std::move(c)); !s.ok()) {
        return s.error;
      }
      std::cerr << "loaded " << n << "\n";
    }
    if (!options.secrets.empty()) {
      auto parsed = model::parse_secrets_file(options.secrets);
      for (const auto& d : parsed.diagnostics.all()) {
        std::cerr << d.str() << "\n";
      }
      if (parsed.diagnostics.has_errors()) {
        return options.secrets + " has errors (listed above)";
      }
      engine_->set_secrets(std::make_shared<const model::Secrets>(std::move(parsed.secrets)));
    }
    return {};
  }

  // Lines arrive here; one command runs at a time, the others wait.
  void submit(std::string line) {
    queue_.push_back(std::move(line));
    next();
  }
  void end_of_input() {
    input_done_ = true;
    next();
  }
  bool finished() const { return finished_; }
  const std::string& first_failure() const { return first_failure_; }

 private:
  struct Waiter {
    std::string type;
    std::string connection;
    EventLoop::TimerId timer = 0;
    // rekey-child/rekey-ike: the outcome (rekeyed or rekey-failed) of that
    // kind, among the events from index `from` on (those after the command).
    std::optional<RekeyKind> rekey;
    std::size_t from = 0;
  };

  void next() {
    while (!busy_ && !finished_) {
      if (queue_.empty()) {
        if (input_done_) {
          finished_ = true;
          loop_.stop();
        }
        return;
      }
      std::string line = std::move(queue_.front());
      queue_.pop_front();
      run(line);
    }
  }

  void answer(bool ok, const std::string& text) {
    std::cout << (ok ? "ok" : "error") << (text.empty() ? "" : " ") << text << std::endl;
    if (!ok && first_failure_.empty()) {
      first_failure_ = text;
    }
    busy_ = false;
  }

  void run(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    std::string arg;
    in >> cmd >> arg;
    if (cmd.empty() || cmd[0] == '#') {
      return;
    }
    busy_ = true;
    if (cmd == "initiate" && !arg.empty()) {
      engine_->initiate(arg, [this, arg](const InitiateResult& r) {
        answer(r.ok, r.ok ? arg + " up" : arg + ": " + r.reason);
        next();
      });
    } else if (cmd == "terminate" && !arg.empty()) {
      engine_->terminate(arg);
      answer(true, arg);
    } else if ((cmd == "rekey-child" || cmd == "rekey-ike" || cmd == "reauth") && !arg.empty()) {
      rekey(cmd == "rekey-child" ? RekeyKind::kChild
            : cmd == "rekey-ike" ? RekeyKind::kIke
                                 : RekeyKind::kReauth,
            cmd, arg, in);
    } else if (cmd == "list") {
      answer(true, std::to_string(list()));
    } else if (cmd == "events") {
      for (const auto& e : events_) {
        std::cout << "event " << describe(e.event) << "\n";
      }
      answer(true, std::to_string(events_.size()));
    } else if (cmd == "wait" && !arg.empty()) {
      std::string conn;
      double seconds = 0;
      in >> conn >> seconds;
      if (conn.empty() || seconds <= 0) {
        answer(false, "usage: wait EVENT NAME SECONDS (e.g. wait child-up pa 10)");
        return;
      }
      waiter_ = Waiter{arg, conn, 0, std::nullopt, 0};
      if (try_wake()) {
        return;
      }
      waiter_->timer = loop_.schedule(
          std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)), [this, arg, conn] {
            waiter_.reset();
            answer(false, "timed out waiting for " + arg + " of " + conn);
            next();
          });
    } else if (cmd == "sleep" && !arg.empty()) {
      loop_.schedule(std::chrono::milliseconds(std::stoll(arg)), [this] {
        answer(true, {});
        next();
      });
    } else if (cmd == "quit") {
      answer(true, {});
      queue_.clear();
      input_done_ = true;
    } else {
      answer(false, "unknown command '" + line +
                        "' (initiate NAME, terminate NAME, rekey-child NAME [SECONDS], "
                        "rekey-ike NAME [SECONDS], reauth NAME [SECONDS], list, "
                        "wait EVENT NAME SECONDS, events, "
                        "sleep MS, quit)");
    }
  }

  void rekey(RekeyKind kind, const std::string& cmd, const std::string& conn,
             std::istringstream& in) {
    double seconds = 20;
    if (std::string s; in >> s) {
      char* end = nullptr;
      seconds = std::strtod(s.c_str(), &end);
      if (*end != '\0' || seconds <= 0) {
        answer(false, "usage: " + cmd + " NAME [SECONDS] (e.g. " + cmd + " pa 10)");
        return;
      }
    }
    const std::string what = kind == RekeyKind::kChild ? "CHILD SA" : "IKE SA";
    const std::size_t from = events_.size();
    if (!engine_->rekey(conn, kind)) {
      answer(false, conn + ": no established " + what +
                        " to rekey (not up, or a rekey of it is under way)");
      return;
    }
    waiter_ = Waiter{"rekeyed", conn, 0, kind, from};
    if (try_wake()) {
      return;
    }
    waiter_->timer = loop_.schedule(
        std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)), [this, conn, what, kind] {
          waiter_.reset();
          answer(false, "timed out waiting for the " + what +
                            (kind == RekeyKind::kReauth ? " reauthentication" : " rekey") + " of " +
                            conn);
          next();
        });
  }

  static std::string describe(const Event& e) {
    std::string rekey;
    if (e.type == EventType::kRekeyed || e.type == EventType::kRekeyFailed) {
      rekey = " rekey=" + std::string(name(e.rekey));
      if (e.rekey == RekeyKind::kChild) {
        rekey += " replaced_child_spi_in=" + hex(e.replaced_child_spi_in, 8) +
                 " replaced_child_spi_out=" + hex(e.replaced_child_spi_out, 8);
      } else {
        rekey += " replaced_ike_spi_i=" + hex(e.replaced_spi_i, 16) +
                 " replaced_ike_spi_r=" + hex(e.replaced_spi_r, 16);
      }
    }
    return "type=" + std::string(name(e.type)) + " conn=" + e.connection +
           " ike_spi_i=" + hex(e.spi_i, 16) + " ike_spi_r=" + hex(e.spi_r, 16) +
           " child_spi_in=" + hex(e.child_spi_in, 8) + " child_spi_out=" + hex(e.child_spi_out, 8) +
           rekey + " reason=" + token(e.reason);
  }

  // Seconds from now to a listed time, "-" for none.
  static std::string in_seconds(const std::optional<std::chrono::system_clock::time_point>& at) {
    if (!at) {
      return "-";
    }
    const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
        *at - std::chrono::system_clock::now());
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(d.count()) / 1000.0);
    return buf;
  }

  std::size_t list() {
    std::map<uint32_t, bool> encap;  // inbound SPI -> UDP-encapsulated
    if (auto sas = kernel_.list_sas(); sas.ok()) {
      for (const auto& s : *sas) {
        encap[s.id.spi] = s.encap.has_value();
      }
    }
    std::size_t n = 0;
    for (const auto& sa : engine_->list()) {
      std::string ike = "sa conn=" + sa.connection + " state=" + sa.state +
                        " role=" + (sa.initiator ? "initiator" : "responder") +
                        " ike_spi_i=" + hex(sa.spi_i, 16) + " ike_spi_r=" + hex(sa.spi_r, 16) +
                        " local=" + sa.local + " remote=" + sa.remote +
                        " local_id=" + token(sa.local_id) + " remote_id=" + token(sa.remote_id) +
                        " ike_alg=" + token(sa.algorithms ? sa.algorithms->str() : "") +
                        " ike_rekeys=" + std::to_string(sa.rekeys) +
                        " ike_rekey_in=" + in_seconds(sa.rekey_at ? sa.rekey_at : sa.reauth_at);
      if (sa.children.empty()) {
        std::cout << ike << " child=-\n";
        ++n;
      }
      for (const auto& c : sa.children) {
        std::cout << ike << " child=" << c.connection << " child_state=" << c.state
                  << " child_spi_in=" << hex(c.spi_in, 8) << " child_spi_out=" << hex(c.spi_out, 8)
                  << " esp_alg=" << token(c.algorithms.str()) << " mode=" << c.mode
                  << " encap=" << (encap[c.spi_in] ? "udp" : "none")
                  << " local_ts=" << token(c.local_ts) << " remote_ts=" << token(c.remote_ts)
                  << " child_rekeys=" << c.rekeys << " child_rekey_in=" << in_seconds(c.rekey_at)
                  << " child_expires_in=" << in_seconds(c.expires_at) << "\n";
        ++n;
      }
    }
    return n;
  }

  void on_event(const Event& e) {
    std::cerr << "event " << describe(e) << "\n";
    events_.push_back(Recorded{e, false});
    try_wake();
  }

  // Hands the waiting command the first unconsumed matching event.
  bool try_wake() {
    if (!waiter_) {
      return false;
    }
    for (std::size_t i = waiter_->from; i < events_.size(); ++i) {
      auto& r = events_[i];
      if (r.consumed || r.event.connection != waiter_->connection) {
        continue;
      }
      bool ok = name(r.event.type) == waiter_->type;
      if (waiter_->rekey) {
        // rekey-child/rekey-ike/reauth: our own rekey's outcome, either way.
        const bool outcome =
            r.event.type == EventType::kRekeyed || r.event.type == EventType::kRekeyFailed;
        if (!outcome || r.event.rekey != *waiter_->rekey) {
          continue;
        }
        ok = r.event.type == EventType::kRekeyed;
      } else if (!ok) {
        continue;
      }
      r.consumed = true;
      if (waiter_->timer != 0) {
        loop_.cancel(waiter_->timer);
      }
      const std::string text = ok ? describe(r.event)
                                  : r.event.connection + ": rekey failed: " + r.event.reason +
                                        " (" + describe(r.event) + ")";
      waiter_.reset();
      answer(ok, text);
      loop_.post([this] { next(); });
      return true;
    }
    return false;
  }

  struct Recorded {
    Event event;
    bool consumed = false;
  };

  EpollLoop& loop_;
  kernel::MemoryBackend& kernel_;
  std::unique_ptr<Engine> engine_;
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool input_done_ = false;
  bool finished_ = false;
  std::optional<Waiter> waiter_;
  std::vector<Recorded> events_;
  std::string first_failure_;
};

std::optional<Options> parse_args(int argc, char** argv, std::string& error) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) {
        error = a + " needs a value";
        return std::nullopt;
      }
      return std::string(argv[++i]);
    };
    auto port = [&](uint16_t& out) {
      auto v = value();
      if (!v) {
        return false;
      }
      char* end = nullptr;
      unsigned long p = std::strtoul(v->c_str(), &end, 10);
      if (*end != '\0' || p > 65535) {
        error = a + " " + *v + ": a port is a number from 0 to 65535";
        return false;
      }
      out = static_cast<uint16_t>(p);
      return true;
    };
    if (a == "--listen") {
      auto v = value();
      if (!v) {
        return std::nullopt;
      }
      auto addr = kernel::Address::parse(*v);
      if (!addr) {
        error = "--listen " + *v + ": not an IPv4 or IPv6 address";
        return std::nullopt;
      }
      o.listen.push_back(*addr);
    } else if (a == "--ike-port") {
      if (!port(o.ike_port)) {
        return std::nullopt;
      }
    } else if (a == "--natt-port") {
      if (!port(o.natt_port)) {
        return std::nullopt;
      }
    } else if (a == "--conf" || a == "--secrets" || a == "-c") {
      auto v = value();
      if (!v) {
        return std::nullopt;
      }
      if (a == "--conf") {
        o.conf = *v;
      } else if (a == "--secrets") {
        o.secrets = *v;
      } else {
        o.commands.push_back(*v);
      }
    } else {
      error = "unknown argument " + a +
              " (--listen ADDR, --ike-port P, --natt-port P, --conf FILE, --secrets FILE, -c CMD)";
      return std::nullopt;
    }
  }
  if (o.listen.empty() || o.conf.empty()) {
    error = "--listen ADDR and --conf FILE are required";
    return std::nullopt;
  }
  return o;
}

int run(int argc, char** argv) {
  std::string error;
  auto options = parse_args(argc, argv, error);
  if (!options) {
    std::cerr << "engine_peer: " << error << "\n";
    return 2;
  }
  RealClock clock;
  EpollLoop loop(clock);
  UdpOptions uo;
  uo.addresses = options->listen;
  uo.ike_port = options->ike_port;
  uo.natt_port = options->natt_port;
  auto transport = UdpTransport::open(loop, uo, error);
  if (!transport) {
    std::cerr << "engine_peer: " << error << "\n";
    return 2;
  }
  kernel::MemoryBackend kernel(std::make_shared<kernel::MemoryKernel>());
  crypto::SystemRandom random;
  Peer peer(*options, loop, *transport, kernel, random);
  if (auto e = peer.load(*options); !e.empty()) {
    std::cerr << "engine_peer: " << e << "\n";
    return 2;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::cerr << "engine_peer: cannot create a pipe\n";
    return 2;
  }
  g_signal_pipe = fds[1];
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  bool interrupted = false;
  (void)loop.watch(fds[0], [&] {
    interrupted = true;
    loop.stop();
  });
  for (const auto& c : options->commands) {
    peer.submit(c);
  }
  std::string pending;
  auto on_stdin = [&] {
    char buf[4096];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      loop.unwatch(STDIN_FILENO);
      if (!pending.empty()) {
        peer.submit(std::move(pending));
      }
      peer.end_of_input();
      return;
    }
    pending.append(buf, static_cast<std::size_t>(n));
    for (auto pos = pending.find('\n'); pos != std::string::npos; pos = pending.find('\n')) {
      std::string line = pending.substr(0, pos);
      pending.erase(0, pos + 1);
      peer.submit(std::move(line));
    }
  };
  if (!loop.watch(STDIN_FILENO, on_stdin).empty()) {
    // A file or /dev/null cannot be watched: it is read to its end now.
    std::string line;
    while (std::getline(std::cin, line)) {
      peer.submit(line);
    }
    peer.end_of_input();
  }
  std::cout << "ready" << std::endl;
  if (!peer.finished()) {
    loop.run();
  }
  if (interrupted) {
    std::cerr << "engine_peer: stopped by a signal\n";
    return 1;
  }
  if (!peer.first_failure().empty()) {
    std::cerr << "engine_peer: failed: " << peer.first_failure() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ipsecd::engine

int main(int argc, char** argv) {
  return ipsecd::engine::run(argc, argv);
}
