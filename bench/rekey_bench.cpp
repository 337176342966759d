// CHILD and IKE SA rekeys per second between two ipsecd engines in two
// processes over loopback (UDP, memory kernel), and a check that every rekey
// really replaced the SA on both sides.
//
//   rekey_bench [--count N] [--window W] [--kinds child,ike,...] [--ike PROPOSAL]
//               [--esp PROPOSAL] [--port P] [--initiator ADDR] [--responder ADDR]
//               [--timeout SECONDS] [--rcvbuf BYTES]
//
// N connections (distinct ids, so none shares an IKE SA, and distinct host
// selectors), one PSK, established first as ike_bench does. Then, for each
// kind in --kinds in turn, the initiator calls Engine::rekey(name, kind) for
// every connection, at most W outstanding, and the clock runs from the first
// call to the last kRekeyed event on the initiator ("rekeyed"); it runs on
// until the replaced SAs are gone on both sides too: the memory kernels hold
// two SAs per connection again (CHILD) or each engine N IKE SAs (IKE)
// ("settled"). esp= with a DH group (and pfs=yes, the default) makes every
// CHILD rekey carry a KE.
//
// The check after each kind compares both sides' listings before and after:
// per connection exactly one IKE SA (established) and one CHILD SA
// (installed) on each side; for CHILD rekeys both CHILD SPIs new, the IKE
// SPIs unchanged; for IKE rekeys both IKE SPIs new, the CHILD SPIs
// unchanged; the two sides agree (our inbound SPI is the peer's outbound);
// the rekey counters went up by one; the initiator's kRekeyed event named
// the old and the new SPIs; the responder saw N kRekeyed events; no down or
// failed events; the kernels hold exactly the listed CHILD SAs and as many
// policies as before.
//
// Each kind also prints the latency of single rekeys, the CPU time both
// processes spent (getrusage) per rekey and the UDP datagrams the network
// namespace dropped for full receive buffers (each one costs a retransmission).
// An ike=/esp= the parser refuses stops the bench (it would otherwise leave the
// connection on the default proposals).
//
// --rcvbuf sets SO_RCVBUF on both engines' UDP sockets (the engine leaves the
// system default, net.core.rmem_default): an experiment on where the UDP
// receive-buffer drops the bench reports come from.
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/bench.h"
#include "bench/engine_pair.h"
#include "engine/engine.h"

namespace ipsecd::bench {
namespace {

using engine::Engine;
using engine::EventType;
using engine::RekeyKind;
using Clock = std::chrono::steady_clock;

struct Options : PairOptions {
  std::vector<RekeyKind> kinds = {RekeyKind::kChild, RekeyKind::kIke};
  double timeout = 120;
  int rcvbuf = 0;  // > 0: SO_RCVBUF of the engines' sockets (an experiment; the engine sets none)
  Options() {
    ike = "aes_gcm128-sha2_256-dh31";  // charon: aes128gcm16-prfsha256-x25519
    esp = "aes_gcm128";                // with PFS: aes_gcm128;dh31
    port = 15700;
  }
};

const char* label(RekeyKind k) {
  return k == RekeyKind::kIke ? "IKE" : "CHILD";
}

// --rcvbuf: the transport does not say which descriptors it has, so find
// this process's UDP sockets on the bench's ports and set their receive buffer.
void set_rcvbuf(const Options& o) {
  for (int fd = 0; fd < 1024; ++fd) {
    int type = 0;
    socklen_t len = sizeof type;
    sockaddr_storage ss{};
    socklen_t sl = sizeof ss;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0 || ss.ss_family != AF_INET) {
      continue;
    }
    const uint16_t port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (port == o.port || port == o.port + 1) {
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &o.rcvbuf, sizeof o.rcvbuf) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof o.rcvbuf);
      }
    }
  }
}

// What each side's subscriber has seen.
struct Counters {
  std::size_t ike_up = 0, ike_down = 0, ike_failed = 0;
  std::size_t child_up = 0, child_down = 0, child_failed = 0;
  std::size_t rekeyed_child = 0, rekeyed_ike = 0, rekey_failed = 0;
  std::string first_bad;  // the first down/failed event, for the report

  void count(const engine::Event& e) {
    switch (e.type) {
      case EventType::kIkeUp:
        ++ike_up;
        return;
      case EventType::kChildUp:
        ++child_up;
        return;
      case EventType::kRekeyed:
        ++(e.rekey == RekeyKind::kIke ? rekeyed_ike : rekeyed_child);
        return;
      case EventType::kIkeDown:
        ++ike_down;
        break;
      case EventType::kIkeFailed:
        ++ike_failed;
        break;
      case EventType::kChildDown:
        ++child_down;
        break;
      case EventType::kChildFailed:
        ++child_failed;
        break;
      case EventType::kRekeyFailed:
        ++rekey_failed;
        break;
    }
    if (first_bad.empty()) {
      first_bad = std::string(engine::name(e.type)) + " " + e.connection + ": " + e.reason;
    }
  }
  std::size_t bad() const {
    return ike_down + ike_failed + child_down + child_failed + rekey_failed;
  }
};

struct Side : EngineSide {
  Counters counters;

  bool open(const Options& o, const std::string& address) {
    return EngineSide::open(o, address, "rekey_bench", [&o] {
      if (o.rcvbuf > 0) {
        set_rcvbuf(o);
      }
    });
  }

  // "KERNEL_SAS POLICIES IKE_SAS REKEYED_CHILD REKEYED_IKE BAD": cheap, for polling.
  std::string counts() const {
    return std::to_string(memory->sa_count()) + " " + std::to_string(memory->policy_count()) + " " +
           std::to_string(engine->ike_sa_count()) + " " + std::to_string(counters.rekeyed_child) +
           " " + std::to_string(counters.rekeyed_ike) + " " + std::to_string(counters.bad()) + "\n";
  }

  // Every IKE and CHILD SA, every kernel SA and the event counters, one per line.
  std::string snapshot() {
    std::string out;
    char line[256];
    for (const auto& sa : engine->list()) {
      std::snprintf(line, sizeof line, "ike %s %s %016llx %016llx %u %s\n", sa.connection.c_str(),
                    sa.state.c_str(), static_cast<unsigned long long>(sa.spi_i),
                    static_cast<unsigned long long>(sa.spi_r), sa.rekeys,
                    sa.algorithms ? sa.algorithms->str().c_str() : "-");
      out += line;
      for (const auto& c : sa.children) {
        std::snprintf(line, sizeof line, "child %s %s %08x %08x %u %s\n", c.connection.c_str(),
                      c.state.c_str(), c.spi_in, c.spi_out, c.rekeys, c.algorithms.str().c_str());
        out += line;
      }
    }
    if (auto sas = kernel.list_sas(); sas.ok()) {
      for (const auto& s : *sas) {
        std::snprintf(line, sizeof line, "ksa %08x\n", s.id.spi);
        out += line;
      }
    }
    const Counters& n = counters;
    std::snprintf(line, sizeof line, "counts %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
                  memory->policy_count(), n.ike_up, n.ike_down, n.ike_failed, n.child_up,
                  n.child_down, n.child_failed, n.rekeyed_child, n.rekeyed_ike, n.rekey_failed);
    out += line;
    out += "end\n";
    return out;
  }
};

// User + system CPU time of this process, in microseconds.
long long cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec +
         u.ru_stime.tv_usec;
}

// ---- the parsed form of a snapshot, for the checks

struct ChildView {
  std::string state;
  uint32_t in = 0, out = 0, rekeys = 0;
  std::string algorithms;
};
struct IkeView {
  std::string state;
  uint64_t spi_i = 0, spi_r = 0;
  uint32_t rekeys = 0;
  std::string algorithms;
  std::vector<ChildView> children;
};
struct View {
  std::unordered_map<std::string, std::vector<IkeView>> conns;
  std::unordered_set<uint32_t> kernel_spis;
  std::size_t kernel_sas = 0, policies = 0;
  Counters counters;
};

View parse(const std::string& text) {
  View v;
  std::istringstream in(text);
  std::string line;
  IkeView* last = nullptr;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string what, conn;
    f >> what;
    if (what == "ike") {
      IkeView sa;
      f >> conn >> sa.state >> std::hex >> sa.spi_i >> sa.spi_r >> std::dec >> sa.rekeys >>
          sa.algorithms;
      auto& list = v.conns[conn];
      list.push_back(std::move(sa));
      last = &list.back();
    } else if (what == "child" && last != nullptr) {
      ChildView c;
      f >> conn >> c.state >> std::hex >> c.in >> c.out >> std::dec >> c.rekeys >> c.algorithms;
      last->children.push_back(std::move(c));
    } else if (what == "ksa") {
      uint32_t spi = 0;
      f >> std::hex >> spi;
      v.kernel_spis.insert(spi);
      ++v.kernel_sas;
    } else if (what == "counts") {
      Counters& n = v.counters;
      f >> v.policies >> n.ike_up >> n.ike_down >> n.ike_failed >> n.child_up >> n.child_down >>
          n.child_failed >> n.rekeyed_child >> n.rekeyed_ike >> n.rekey_failed;
    }
  }
  return v;
}

// ---- the responder process: answers the initiator, and the initiator's
// questions on the control pipe ('s' snapshot, 'c' counts, 'q' quit)

bool write_all(int fd, const std::string& s) {
  std::size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

int responder(const Options& o, int cmd_fd, int out_fd) {
  Side side;
  if (!side.open(o, o.responder)) {
    write_all(out_fd, "fail\n");
    return 1;
  }
  side.engine->subscribe([&](const engine::Event& e) { side.counters.count(e); });
  std::string error = side.loop.watch(cmd_fd, [&] {
    char buf[64];
    ssize_t n = read(cmd_fd, buf, sizeof buf);
    if (n <= 0) {
      side.loop.stop();  // the initiator is gone
      return;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == 's') {
        write_all(out_fd, side.snapshot());
      } else if (buf[i] == 'c') {
        write_all(out_fd, side.counts());
      } else if (buf[i] == 'u') {
        write_all(out_fd, std::to_string(cpu_us()) + "\n");
      } else if (buf[i] == 'q') {
        side.loop.stop();
      }
    }
  });
  if (!error.empty()) {
    std::cerr << "rekey_bench: " << error << "\n";
    return 1;
  }
  write_all(out_fd, "ready\n");
  side.loop.run();
  return 0;
}

// Blocking line reads from the responder's pipe.
class Lines {
 public:
  explicit Lines(int fd) : fd_(fd) {}
  bool next(std::string& line) {
    for (;;) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      char chunk[65536];
      ssize_t n = read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

struct Peer {
  int cmd = -1;
  Lines lines;
  explicit Peer(int cmd_fd, int out_fd) : cmd(cmd_fd), lines(out_fd) {}

  std::string snapshot() {
    write_all(cmd, "s");
    std::string text, line;
    while (lines.next(line) && line != "end") {
      text += line + "\n";
    }
    return text;
  }
  long long cpu() {
    write_all(cmd, "u");
    std::string line;
    return lines.next(line) ? std::atoll(line.c_str()) : 0;
  }
  // kernel SAs, policies, IKE SAs, rekeyed CHILD, rekeyed IKE, bad events
  std::vector<std::size_t> counts() {
    write_all(cmd, "c");
    std::string line;
    std::vector<std::size_t> v(6, 0);
    if (lines.next(line)) {
      std::istringstream f(line);
      for (auto& x : v) {
        f >> x;
      }
    }
    return v;
  }
};

// ---- the initiator process: the phases and the checks

// UDP datagrams this network namespace dropped because a socket's receive
// buffer was full (/proc/net/snmp Udp RcvbufErrors): each costs a retransmission
// (500 ms at first). Other processes on loopback count too.
long udp_rcvbuf_errors() {
  std::ifstream in("/proc/net/snmp");
  std::string header, values;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Udp: ", 0) == 0) {
      (header.empty() ? header : values) = line;
    }
  }
  std::istringstream h(header), v(values);
  for (std::string name, value; h >> name && v >> value;) {
    if (name == "RcvbufErrors") {
      return std::strtol(value.c_str(), nullptr, 10);
    }
  }
  return -1;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string percentiles(std::vector<double> v) {
  if (v.empty()) {
    return "-";
  }
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  char buf[128];
  std::snprintf(buf, sizeof buf, "p50 %.1f ms, p99 %.1f ms, max %.1f ms", at(0.5), at(0.99),
                v.back());
  return buf;
}

struct Replaced {  // what the initiator's kRekeyed event said
  uint64_t spi_i = 0, spi_r = 0, old_spi_i = 0, old_spi_r = 0;
  uint32_t in = 0, out = 0, old_in = 0, old_out = 0;
};

// Problems found, grouped by what went wrong: count and the first example.
class Findings {
 public:
  void add(const std::string& what, const std::string& example) {
    auto& [n, first] = by_what_[what];
    if (n++ == 0) {
      first = example;
      order_.push_back(what);
    }
  }
  bool empty() const { return order_.empty(); }
  std::string str() const {
    std::string s;
    for (const auto& w : order_) {
      const auto& [n, first] = by_what_.at(w);
      s += "\n  " + w + ": " + std::to_string(n) + " (first: " + first + ")";
    }
    return s;
  }

 private:
  std::map<std::string, std::pair<std::size_t, std::string>> by_what_;
  std::vector<std::string> order_;
};

// "c" + std::to_string(k) trips GCC 12's -Wrestrict false positive (GCC bug 105329).
std::string conn_name(std::size_t k) {
  std::string s = std::to_string(k);
  s.insert(s.begin(), 'c');
  return s;
}

std::string hex(uint64_t v, int width) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
  return buf;
}

// One IKE SA and one CHILD SA, both up: returns them, or says what is wrong.
bool single(const View& v, const std::string& conn, const char* who, Findings& f,
            const IkeView** ike, const ChildView** child) {
  auto it = v.conns.find(conn);
  const std::size_t sas = it == v.conns.end() ? 0 : it->second.size();
  if (sas != 1) {
    f.add(std::string(who) + ": not exactly one IKE SA", conn + " has " + std::to_string(sas));
    return false;
  }
  *ike = &it->second.front();
  if ((*ike)->state != "established") {
    f.add(std::string(who) + ": IKE SA not established", conn + " " + (*ike)->state);
  }
  if ((*ike)->children.size() != 1) {
    f.add(std::string(who) + ": not exactly one CHILD SA",
          conn + " has " + std::to_string((*ike)->children.size()));
    return false;
  }
  *child = &(*ike)->children.front();
  if ((*child)->state != "installed") {
    f.add(std::string(who) + ": CHILD SA not installed", conn + " " + (*child)->state);
  }
  for (uint32_t spi : {(*child)->in, (*child)->out}) {
    if (!v.kernel_spis.contains(spi)) {
      f.add(std::string(who) + ": a CHILD SA's SPI is not in the kernel", conn + " " + hex(spi, 8));
    }
  }
  return true;
}

// Compares the two sides before and after one kind of rekey (kinds == nullptr:
// only the state after establishment).
Findings check(const Options& o, const View& i0, const View& r0, const View& i1, const View& r1,
               const RekeyKind* kind, const std::unordered_map<std::string, Replaced>& events,
               std::map<std::string, std::size_t>& algorithms) {
  Findings f;
  for (std::size_t k = 0; k < o.count; ++k) {
    const std::string conn = conn_name(k);
    const IkeView *ia = nullptr, *ra = nullptr, *ib = nullptr, *rb = nullptr;
    const ChildView *ica = nullptr, *rca = nullptr, *icb = nullptr, *rcb = nullptr;
    const bool ok_i = single(i1, conn, "initiator", f, &ia, &ica);
    const bool ok_r = single(r1, conn, "responder", f, &ra, &rca);
    if (!ok_i || !ok_r) {
      continue;
    }
    ++algorithms["IKE " + ia->algorithms + ", CHILD " + ica->algorithms];
    if (ia->spi_i != ra->spi_i || ia->spi_r != ra->spi_r) {
      f.add("the two sides list different IKE SPIs",
            conn + " " + hex(ia->spi_i, 16) + "/" + hex(ia->spi_r, 16) + " vs " +
                hex(ra->spi_i, 16) + "/" + hex(ra->spi_r, 16));
    }
    if (ica->in != rca->out || ica->out != rca->in) {
      f.add("the two sides list CHILD SPIs that do not pair",
            conn + " initiator in/out " + hex(ica->in, 8) + "/" + hex(ica->out, 8) +
                ", responder " + hex(rca->in, 8) + "/" + hex(rca->out, 8));
    }
    if (kind == nullptr) {
      continue;
    }
    if (!single(i0, conn, "initiator before", f, &ib, &icb) ||
        !single(r0, conn, "responder before", f, &rb, &rcb)) {
      continue;
    }
    const bool ike_new = ia->spi_i != ib->spi_i && ia->spi_r != ib->spi_r &&
                         ra->spi_i != rb->spi_i && ra->spi_r != rb->spi_r;
    const bool ike_same = ia->spi_i == ib->spi_i && ia->spi_r == ib->spi_r &&
                          ra->spi_i == rb->spi_i && ra->spi_r == rb->spi_r;
    const bool child_new =
        ica->in != icb->in && ica->out != icb->out && rca->in != rcb->in && rca->out != rcb->out;
    const bool child_same =
        ica->in == icb->in && ica->out == icb->out && rca->in == rcb->in && rca->out == rcb->out;
    auto ev = events.find(conn);
    if (*kind == RekeyKind::kChild) {
      if (!child_new) {
        f.add("CHILD SPIs not all new", conn + " initiator in " + hex(icb->in, 8) + " -> " +
                                            hex(ica->in, 8) + ", out " + hex(icb->out, 8) + " -> " +
                                            hex(ica->out, 8));
      }
      if (!ike_same) {
        f.add("IKE SPIs changed by a CHILD rekey", conn);
      }
      if (ica->rekeys != icb->rekeys + 1 || rca->rekeys != rcb->rekeys + 1) {
        f.add("CHILD rekey count not one up", conn + " initiator " + std::to_string(icb->rekeys) +
                                                  " -> " + std::to_string(ica->rekeys) +
                                                  ", responder " + std::to_string(rcb->rekeys) +
                                                  " -> " + std::to_string(rca->rekeys));
      }
      if (ev == events.end()) {
        f.add("no kRekeyed event", conn);
      } else if (ev->second.in != ica->in || ev->second.out != ica->out ||
                 ev->second.old_in != icb->in || ev->second.old_out != icb->out) {
        f.add("the kRekeyed event names other CHILD SPIs than the listing",
              conn + " event " + hex(ev->second.old_in, 8) + " -> " + hex(ev->second.in, 8));
      }
    } else {
      if (!ike_new) {
        f.add("IKE SPIs not all new",
              conn + " initiator " + hex(ib->spi_i, 16) + " -> " + hex(ia->spi_i, 16));
      }
      if (!child_same) {
        f.add("CHILD SPIs changed by an IKE rekey", conn);
      }
      if (ia->rekeys != ib->rekeys + 1 || ra->rekeys != rb->rekeys + 1) {
        f.add("IKE rekey count not one up", conn + " initiator " + std::to_string(ib->rekeys) +
                                                " -> " + std::to_string(ia->rekeys) +
                                                ", responder " + std::to_string(rb->rekeys) +
                                                " -> " + std::to_string(ra->rekeys));
      }
      if (ev == events.end()) {
        f.add("no kRekeyed event", conn);
      } else if (ev->second.spi_i != ia->spi_i || ev->second.spi_r != ia->spi_r ||
                 ev->second.old_spi_i != ib->spi_i || ev->second.old_spi_r != ib->spi_r) {
        f.add("the kRekeyed event names other IKE SPIs than the listing", conn);
      }
    }
  }
  for (const auto* v : {&i1, &r1}) {
    const char* who = v == &i1 ? "initiator" : "responder";
    if (v->kernel_sas != 2 * o.count) {
      f.add(std::string(who) + ": kernel SAs",
            std::to_string(v->kernel_sas) + ", expected " + std::to_string(2 * o.count));
    }
    std::size_t ike_sas = 0;
    for (const auto& [conn, list] : v->conns) {
      ike_sas += list.size();
    }
    if (ike_sas != o.count) {
      f.add(std::string(who) + ": IKE SAs in all",
            std::to_string(ike_sas) + ", expected " + std::to_string(o.count));
    }
    if (v->counters.bad() != 0) {
      f.add(std::string(who) + ": down or failed events", v->counters.first_bad);
    }
  }
  if (kind != nullptr) {
    for (const auto* pair : {&i0, &r0}) {
      const View& now = pair == &i0 ? i1 : r1;
      const char* who = pair == &i0 ? "initiator" : "responder";
      if (now.policies != pair->policies) {
        f.add(std::string(who) + ": kernel policies changed",
              std::to_string(pair->policies) + " -> " + std::to_string(now.policies));
      }
      const std::size_t before =
          *kind == RekeyKind::kIke ? pair->counters.rekeyed_ike : pair->counters.rekeyed_child;
      const std::size_t after =
          *kind == RekeyKind::kIke ? now.counters.rekeyed_ike : now.counters.rekeyed_child;
      if (after - before != o.count) {
        f.add(std::string(who) + ": kRekeyed events",
              std::to_string(after - before) + ", expected " + std::to_string(o.count));
      }
    }
  }
  return f;
}

int run(const Options& o) {
  int cmd[2];
  int out[2];
  if (pipe(cmd) != 0 || pipe(out) != 0) {
    std::perror("pipe");
    return 1;
  }
  pid_t child = fork();
  if (child == 0) {
    close(cmd[1]);
    close(out[0]);
    _exit(responder(o, cmd[0], out[1]));
  }
  close(cmd[0]);
  close(out[1]);
  Peer peer(cmd[1], out[0]);
  auto finish = [&](int rc) {
    write_all(peer.cmd, "q");
    close(peer.cmd);
    int status = 0;
    waitpid(child, &status, 0);
    return rc;
  };
  std::string line;
  if (!peer.lines.next(line) || line != "ready") {
    std::cerr << "rekey_bench: the responder did not start\n";
    return finish(1);
  }
  Side side;
  if (!side.open(o, o.initiator)) {
    return finish(1);
  }
  std::function<void(const engine::Event&)> phase_events;
  side.engine->subscribe([&](const engine::Event& e) {
    side.counters.count(e);
    if (phase_events) {
      phase_events(e);
    }
  });
  auto timeout_timer = [&](const char* what) {
    return side.loop.schedule(std::chrono::duration_cast<engine::Clock::Duration>(
                                  std::chrono::duration<double>(o.timeout)),
                              [&, what] {
                                std::printf("rekey_bench: %s: timed out after %.0f s\n", what,
                                            o.timeout);
                                side.loop.stop();
                              });
  };

  // ---- establish, as ike_bench does
  {
    std::size_t next = 0, done = 0, failed = 0;
    std::string first_failure;
    std::function<void()> fill = [&] {
      while (next < o.count && next - done < o.window) {
        const std::string name = conn_name(next++);
        side.engine->initiate(name, [&, name](const engine::InitiateResult& r) {
          ++done;
          if (!r.ok && failed++ == 0) {
            first_failure = name + ": " + r.reason;
          }
          if (done == o.count) {
            side.loop.stop();
          } else {
            fill();
          }
        });
      }
    };
    const long drops0 = udp_rcvbuf_errors();
    const auto start = Clock::now();
    auto t = timeout_timer("establishing");
    fill();
    side.loop.run();
    side.loop.cancel(t);
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf(
        "rekey_bench: established %zu IKE+CHILD SAs (ike=%s esp=%s, window %zu) in %.3f "
        "s: %.0f /s; failed %zu%s%s; UDP receive-buffer drops %ld\n",
        o.count, o.ike.c_str(), o.esp.c_str(), o.window, s, static_cast<double>(done - failed) / s,
        failed, failed ? ": " : "", first_failure.c_str(), udp_rcvbuf_errors() - drops0);
    if (failed != 0 || done != o.count) {
      return finish(1);
    }
  }
  View i0 = parse(side.snapshot());
  View r0 = parse(peer.snapshot());
  {
    std::map<std::string, std::size_t> algorithms;
    Findings f = check(o, i0, r0, i0, r0, nullptr, {}, algorithms);
    std::printf("rekey_bench: established state: %s\n",
                f.empty() ? "ok (one IKE SA and one CHILD SA per connection on each side, paired)"
                          : ("WRONG" + f.str()).c_str());
    if (!f.empty()) {
      return finish(1);
    }
  }
  bool pfs = false;
  if (auto c = side.engine->connection(conn_name(0)); c && c->spec.pfs && c->esp) {
    for (const auto& p : *c->esp) {
      pfs = pfs || !p.dh.empty();
    }
  }

  int rc = 0;
  for (RekeyKind kind : o.kinds) {
    std::unordered_map<std::string, Clock::time_point> outstanding;
    std::unordered_map<std::string, Replaced> events;
    std::vector<double> latencies;
    std::size_t next = 0, rekeyed = 0, failed = 0, refused = 0, stray = 0;
    std::string first_failure;
    Clock::time_point last_event{};
    const long drops0 = udp_rcvbuf_errors();
    const long long cpu0 = cpu_us(), peer_cpu0 = peer.cpu();
    long long cpu1 = 0, peer_cpu1 = 0;
    const auto start = Clock::now();
    std::function<void()> fill;
    auto finished = [&] { return rekeyed + failed + refused == o.count; };
    fill = [&] {
      while (next < o.count && outstanding.size() < o.window) {
        std::string name = conn_name(next++);
        if (side.engine->rekey(name, kind)) {
          outstanding.emplace(std::move(name), Clock::now());
        } else if (refused++ == 0 && first_failure.empty()) {
          first_failure = name + ": rekey() refused";
        }
      }
      if (finished()) {
        side.loop.stop();
      }
    };
    phase_events = [&](const engine::Event& e) {
      if ((e.type != EventType::kRekeyed && e.type != EventType::kRekeyFailed) || e.rekey != kind) {
        return;
      }
      auto it = outstanding.find(e.connection);
      if (it == outstanding.end()) {
        ++stray;  // a second event for one rekey, or one we did not start
        return;
      }
      last_event = Clock::now();
      latencies.push_back(ms(last_event - it->second));
      outstanding.erase(it);
      if (e.type == EventType::kRekeyed) {
        ++rekeyed;
        events[e.connection] = Replaced{
            e.spi_i,        e.spi_r,         e.replaced_spi_i,        e.replaced_spi_r,
            e.child_spi_in, e.child_spi_out, e.replaced_child_spi_in, e.replaced_child_spi_out};
      } else if (failed++ == 0) {
        first_failure = e.connection + ": " + e.reason;
      }
      fill();
    };
    auto t = timeout_timer(label(kind));
    side.loop.post([&] { fill(); });
    side.loop.run();
    cpu1 = cpu_us();
    peer_cpu1 = peer.cpu();
    const double seconds =
        std::chrono::duration<double>(
            (last_event == Clock::time_point{} ? Clock::now() : last_event) - start)
            .count();
    // Settled: the replaced SAs are gone from both sides too.
    bool settled = false;
    std::optional<double> here_at, there_at;  // when each side got there
    std::vector<std::size_t> rc_counts;
    std::function<void()> poll;
    engine::EventLoop::TimerId poll_timer = 0;
    poll = [&] {
      poll_timer = 0;
      const double now = std::chrono::duration<double>(Clock::now() - start).count();
      if (!here_at && (kind == RekeyKind::kIke ? side.engine->ike_sa_count() == o.count
                                               : side.memory->sa_count() == 2 * o.count)) {
        here_at = now;
      }
      if (!there_at) {
        rc_counts = peer.counts();
        if (kind == RekeyKind::kIke ? rc_counts[2] == o.count : rc_counts[0] == 2 * o.count) {
          there_at = now;
        }
      }
      if (here_at && there_at) {
        settled = true;
        side.loop.stop();
        return;
      }
      poll_timer = side.loop.schedule(std::chrono::microseconds(500), poll);
    };
    if (finished()) {
      side.loop.post(poll);
      side.loop.run();
    }
    side.loop.cancel(t);
    side.loop.cancel(poll_timer);
    phase_events = nullptr;
    const double settle_s = std::chrono::duration<double>(Clock::now() - start).count();
    std::string what = std::string(label(kind)) + " rekeys";
    if (kind == RekeyKind::kChild) {
      what += std::string(" (esp=") + o.esp + (pfs ? ", PFS" : ", no PFS") + ")";
    } else {
      what += " (ike=" + o.ike + ")";
    }
    std::printf(
        "rekey_bench: %s: %zu of %zu in %.3f s: %.0f /s (window %zu); failed %zu, refused "
        "%zu, stray events %zu%s%s\n",
        what.c_str(), rekeyed, o.count, seconds, static_cast<double>(rekeyed) / seconds, o.window,
        failed, refused, stray, first_failure.empty() ? "" : ": ", first_failure.c_str());
    std::printf(
        "rekey_bench: %s: latency from rekey() to kRekeyed: %s; UDP receive-buffer drops "
        "(loopback, all processes) %ld\n",
        label(kind), percentiles(latencies).c_str(), udp_rcvbuf_errors() - drops0);
    std::printf(
        "rekey_bench: %s: CPU time until the last event: initiator %.3f s, responder %.3f "
        "s: %.0f / %.0f us per rekey\n",
        label(kind), static_cast<double>(cpu1 - cpu0) / 1e6,
        static_cast<double>(peer_cpu1 - peer_cpu0) / 1e6,
        static_cast<double>(cpu1 - cpu0) / static_cast<double>(o.count),
        static_cast<double>(peer_cpu1 - peer_cpu0) / static_cast<double>(o.count));
    if (settled) {
      std::printf(
          "rekey_bench: %s: replaced SAs gone on both sides after %.3f s: %.0f /s "
          "(initiator after %.3f s, responder after %.3f s)\n",
          label(kind), settle_s, static_cast<double>(o.count) / settle_s, *here_at, *there_at);
    } else {
      std::printf(
          "rekey_bench: %s: replaced SAs NOT gone on both sides after %.3f s: initiator "
          "%s, responder %s (%zu IKE SAs, %zu kernel SAs)\n",
          label(kind), settle_s, here_at ? "done" : "not done", there_at ? "done" : "not done",
          rc_counts.empty() ? 0 : rc_counts[2], rc_counts.empty() ? 0 : rc_counts[0]);
    }
    View i1 = parse(side.snapshot());
    View r1 = parse(peer.snapshot());
    std::map<std::string, std::size_t> algorithms;
    Findings f = check(o, i0, r0, i1, r1, &kind, events, algorithms);
    std::string algs;
    for (const auto& [a, n] : algorithms) {
      algs += (algs.empty() ? "" : "; ") + std::to_string(n) + " x " + a;
    }
    if (f.empty()) {
      std::printf(
          "rekey_bench: %s check: ok: %zu connections, one IKE SA and one CHILD SA each "
          "on both sides, %s SPIs new on both sides and paired, %s SPIs unchanged, %zu "
          "kernel SAs per side, %zu kRekeyed events on each side; after: %s\n",
          label(kind), o.count, label(kind), kind == RekeyKind::kIke ? "CHILD" : "IKE",
          i1.kernel_sas, o.count, algs.c_str());
    } else {
      std::printf("rekey_bench: %s check: WRONG%s\n", label(kind), f.str().c_str());
    }
    const bool ok = f.empty() && settled && rekeyed == o.count;
    std::printf(
        "rekey_bench: result kind=%s pfs=%s n=%zu window=%zu rekeyed=%zu failed=%zu "
        "refused=%zu seconds=%.6f rate=%.1f settled_seconds=%.6f settled_rate=%.1f "
        "cpu_us=%.0f/%.0f check=%s\n",
        kind == RekeyKind::kIke ? "ike" : "child", pfs ? "yes" : "no", o.count, o.window, rekeyed,
        failed, refused, seconds, static_cast<double>(rekeyed) / seconds, settle_s,
        settled ? static_cast<double>(o.count) / settle_s : 0.0,
        static_cast<double>(cpu1 - cpu0) / static_cast<double>(o.count),
        static_cast<double>(peer_cpu1 - peer_cpu0) / static_cast<double>(o.count),
        ok ? "ok" : "wrong");
    if (!ok) {
      rc = 1;
      break;
    }
    i0 = std::move(i1);
    r0 = std::move(r1);
  }
  return finish(rc);
}

}  // namespace
}  // namespace ipsecd::bench

int main(int argc, char** argv) {
  ipsecd::bench::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    std::string v = argv[i + 1];
    if (ipsecd::bench::parse_pair_option(o, a, v)) {
      continue;
    }
    if (a == "--kinds") {
      o.kinds.clear();
      std::istringstream in(v);
      for (std::string k; std::getline(in, k, ',');) {
        if (k == "child") {
          o.kinds.push_back(ipsecd::engine::RekeyKind::kChild);
        } else if (k == "ike") {
          o.kinds.push_back(ipsecd::engine::RekeyKind::kIke);
        } else {
          std::cerr << "rekey_bench: --kinds takes child and ike, comma-separated\n";
          return 2;
        }
      }
    } else if (a == "--timeout") {
      o.timeout = std::stod(v);
    } else if (a == "--rcvbuf") {
      o.rcvbuf = std::stoi(v);
    } else {
      std::cerr << "rekey_bench: unknown option " << a
                << " (--count N, --window W, --kinds child,ike, --ike P, --esp P, --port P, "
                   "--initiator A, --responder A, --timeout S, --rcvbuf BYTES)\n";
      return 2;
    }
  }
  if (o.count == 0 || o.window == 0 || o.kinds.empty()) {
    std::cerr << "rekey_bench: --count, --window and --kinds must not be empty\n";
    return 2;
  }
  ipsecd::bench::print_machine("two processes over loopback UDP, memory kernel");
  const int rc = ipsecd::bench::run(o);
  ipsecd::bench::print_machine("after");
  return rc;
}
