// ESP dataplane test, run as root inside a VM whose kernel has ESP (tests/vm/run-vm-test.sh).
// Two network namespaces joined by a veth; for each case the XFRM backend installs a
// tunnel-mode SA pair and out/in/fwd policies on both sides, pings cross, and the test checks
// the SA counters (through the backend), the wire (tcpdump: only ESP or ESP-in-UDP, never the
// ping in clear) and that the ping fails once the outbound SA is deleted.
// Prints one PASS/FAIL line per case; exit status 0 when all pass, 1 otherwise, 77 when the
// environment cannot run it (not root, no network namespaces).
#include <fcntl.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernel/xfrm/xfrm_backend.h"
#include "tests/vm/wire.h"

extern char** environ;

namespace ipsecd::vmtest {
namespace {

using namespace ipsecd::kernel;
using Clock = std::chrono::steady_clock;

constexpr int kSkip = 77;
constexpr uint32_t kReqidBase = 0x1a500100;
// "ipsecd-vm-ping!" as ping -p wants it (hex, at most 16 bytes).
constexpr const char* kPatternHex = "69707365636420766d2070696e6721";

std::vector<uint8_t> pattern_bytes() {
  std::vector<uint8_t> out;
  std::string hex = kPatternHex;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// Runs a shell command; its output goes to `log` (appended) so failures can show it.
int sh(const std::string& cmd, const std::string& log = "/dev/null") {
  std::string full = cmd + " >>" + log + " 2>&1";
  int rc = std::system(full.c_str());
  return rc == -1 ? -1 : (WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc));
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The test's process-wide network namespace, to return to after visiting a named one.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& name) {
    home_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    ok_ = home_ >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (target >= 0) {
      ::close(target);
    }
  }
  ~NetnsGuard() {
    if (home_ >= 0) {
      // Going home cannot fail for a namespace we were in a moment ago.
      (void)::setns(home_, CLONE_NEWNET);
      ::close(home_);
    }
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  int home_ = -1;
  bool ok_ = false;
};

// An open file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// One side of the link: a named namespace and the backend opened inside it.
struct Side {
  std::string ns;
  Address outer4;
  Address outer6;
  Prefix inner4;
  Prefix inner6;
  Address host4;  // an address of inner4 on the side's dummy interface
  Address host6;
  std::unique_ptr<XfrmBackend> backend;
  Fd encap_socket;
};

// The UDP:4500 socket an IKE daemon holds; the kernel decapsulates ESP-in-UDP only there.
std::optional<std::string> open_encap_socket(Side& side) {
  NetnsGuard in(side.ns);
  if (!in.ok()) {
    return "cannot enter namespace " + side.ns;
  }
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(4500);
  int type = UDP_ENCAP_ESPINUDP;
  if (s.get() < 0 || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::setsockopt(s.get(), IPPROTO_UDP, UDP_ENCAP, &type, sizeof type) != 0) {
    return std::string("UDP 4500 encapsulation socket: ") + std::strerror(errno);
  }
  side.encap_socket = std::move(s);
  return std::nullopt;
}

// tcpdump writing a pcap of everything on one interface, started and stopped by the test.
class Capture {
 public:
  Capture(const std::string& ns, const std::string& dev, std::string file)
      : file_(std::move(file)), err_(file_ + ".err") {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> args = {
        "ip", "netns", "exec", ns,   "tcpdump", "-Q", "out", "--immediate-mode", "-Z", "root", "-U",
        "-n", "-i",    dev,    "-s", "65535",   "-w", file_};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "ip", &fa, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Capture() { stop(); }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Waits until tcpdump says it listens; returns why not.
  std::optional<std::string> wait_ready() {
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      if (slurp(err_).find("listening on") != std::string::npos) {
        return std::nullopt;
      }
      int status = 0;
      if (pid_ < 0 || ::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "tcpdump did not start: " + slurp(err_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return "tcpdump did not report listening within 20 s: " + slurp(err_);
  }

  // Lets tcpdump write out what it has seen (at least `min_frames`, or whatever arrived within
  // 5 s), then ends it: a SIGTERM drops frames still in the capture buffer.
  void stop(size_t min_frames = 0) {
    if (pid_ > 0) {
      auto deadline = Clock::now() + std::chrono::seconds(5);
      while (Clock::now() < deadline && summarize_pcap(file_, {}, {}).summary.frames < min_frames) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::string err_;
  pid_t pid_ = -1;
};

struct Case {
  std::string name;
  Family family;  // of the tunnel and of the traffic in it
  Cipher cipher;
  Integrity integrity;
  bool natt;
};

SecretBytes random_key(size_t n) {
  std::random_device rd;
  std::vector<uint8_t> k(n);
  for (auto& b : k) {
    b = static_cast<uint8_t>(rd());
  }
  return SecretBytes(std::move(k));
}

const Address& outer(const Side& s, Family f) {
  return f == Family::kIpv4 ? s.outer4 : s.outer6;
}
const Prefix& inner(const Side& s, Family f) {
  return f == Family::kIpv4 ? s.inner4 : s.inner6;
}

// SAs and policies of one side; `out_key`/`in_key` are shared with the peer's opposite SAs.
struct SideState {
  SaSpec out_sa;
  SaSpec in_sa;
  std::vector<PolicySpec> policies;
};

SideState side_state(const Side& self, const Side& peer, const Case& c, uint32_t reqid,
                     uint32_t spi_out, uint32_t spi_in, const SaSpec& key_out,
                     const SaSpec& key_in) {
  SideState st;
  auto sa = [&](const Address& src, const Address& dst, uint32_t spi, const SaSpec& keys) {
    SaSpec s;
    s.id = SaId{dst, spi, kProtoEsp};
    s.src = src;
    s.mode = Mode::kTunnel;
    s.reqid = reqid;
    s.cipher = c.cipher;
    s.enc_key = keys.enc_key;
    s.integrity = c.integrity;
    s.integ_key = keys.integ_key;
    if (c.natt) {
      s.encap = UdpEncap{4500, 4500};
    }
    return s;
  };
  const Address& me = outer(self, c.family);
  const Address& them = outer(peer, c.family);
  st.out_sa = sa(me, them, spi_out, key_out);
  st.in_sa = sa(them, me, spi_in, key_in);
  auto policy = [&](const Prefix& src, const Prefix& dst, Direction dir, const Address& tsrc,
                    const Address& tdst) {
    PolicySpec p;
    p.id = PolicyId{Selector{src, dst, 0, 0, 0}, dir, {}};
    p.kind = PolicyKind::kProtect;
    p.templates.push_back(Template{tsrc, tdst, kProtoEsp, Mode::kTunnel, reqid});
    return p;
  };
  const Prefix& mine = inner(self, c.family);
  const Prefix& theirs = inner(peer, c.family);
  st.policies.push_back(policy(mine, theirs, Direction::kOut, me, them));
  st.policies.push_back(policy(theirs, mine, Direction::kIn, them, me));
  st.policies.push_back(policy(theirs, mine, Direction::kFwd, them, me));
  return st;
}

class CaseRun {
 public:
  CaseRun(Side& west, Side& east, const Case& c, int pings)
      : west_(west), east_(east), c_(c), pings_(pings) {}

  bool run(size_t index) {
    auto t0 = Clock::now();
    uint32_t reqid = kReqidBase + static_cast<uint32_t>(index);
    uint32_t spi_we = 0x10000 + static_cast<uint32_t>(index);
    uint32_t spi_ew = 0x20000 + static_cast<uint32_t>(index);
    SaSpec keys_we;
    SaSpec keys_ew;
    keys_we.enc_key = random_key(key_length(c_.cipher));
    keys_ew.enc_key = random_key(key_length(c_.cipher));
    keys_we.integ_key = random_key(key_length(c_.integrity));
    keys_ew.integ_key = random_key(key_length(c_.integrity));
    SideState w = side_state(west_, east_, c_, reqid, spi_we, spi_ew, keys_we, keys_ew);
    SideState e = side_state(east_, west_, c_, reqid, spi_ew, spi_we, keys_ew, keys_we);
    if (install(west_, w) && install(east_, e)) {
      traffic(w, e);
    }
    remove(west_, w);
    remove(east_, e);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (failures_.empty()) {
      std::printf("PASS %-32s %s (%.1f s)\n", c_.name.c_str(), summary_.c_str(), secs);
    } else {
      std::printf("FAIL %-32s (%.1f s)\n", c_.name.c_str(), secs);
      for (const auto& f : failures_) {
        std::printf("     - %s\n", f.c_str());
      }
    }
    std::fflush(stdout);
    return failures_.empty();
  }

 private:
  void fail(std::string why) { failures_.push_back(std::move(why)); }

  bool install(Side& side, const SideState& st) {
    Batch b;
    b.add_sa(st.out_sa);
    b.add_sa(st.in_sa);
    for (const auto& p : st.policies) {
      b.add_policy(p);
    }
    bool ok = true;
    for (const auto& s : side.backend->apply(b)) {
      if (!s.ok()) {
        fail(side.ns + ": " + s.error().message);
        ok = false;
      }
    }
    if (!ok) {
      return false;
    }
    // What the kernel lists must be what was asked for: this checks the SA encoding.
    for (const SaSpec* spec : {&st.out_sa, &st.in_sa}) {
      auto got = side.backend->get_sa(spec->id);
      if (!got.ok()) {
        fail(side.ns + ": " + got.error().message);
        ok = false;
        continue;
      }
      std::string what = side.ns + " SA " + spec->id.str();
      if (got->cipher != spec->cipher) {
        fail(what + ": kernel lists cipher " +
             (got->cipher ? std::string(name(*got->cipher)) : "none") + ", installed " +
             std::string(name(spec->cipher)));
        ok = false;
      }
      if (got->integrity != spec->integrity) {
        fail(what + ": kernel lists integrity " + std::string(name(got->integrity)) +
             ", installed " + std::string(name(spec->integrity)));
        ok = false;
      }
      if (got->encap != spec->encap) {
        fail(what + ": kernel lists a different UDP encapsulation than installed");
        ok = false;
      }
      if (got->src != spec->src || got->mode != spec->mode || got->reqid != spec->reqid ||
          !got->own) {
        fail(what + ": kernel lists other endpoints, mode or reqid than installed");
        ok = false;
      }
    }
    return ok;
  }

  void remove(Side& side, const SideState& st) {
    Batch b;
    for (const auto& p : st.policies) {
      b.delete_policy(p.id);
    }
    b.delete_sa(st.in_sa.id);
    (void)side.backend->apply(b);
    (void)side.backend->delete_sa(st.out_sa.id);  // may be gone already (negative test)
    auto sas = side.backend->list_sas();
    auto pols = side.backend->list_policies();
    if (!sas.ok() || !pols.ok() || !sas->empty() || !pols->empty()) {
      fail(side.ns + ": SAs or policies left after removing the case's objects");
    }
  }

  std::optional<Counters> counters(Side& side, const SaId& id) {
    auto got = side.backend->get_sa(id);
    if (!got.ok()) {
      fail(side.ns + ": " + got.error().message);
      return std::nullopt;
    }
    return got->counters;
  }

  int ping(int count, const std::string& log) {
    const Address& src = c_.family == Family::kIpv4 ? west_.host4 : west_.host6;
    const Address& dst = c_.family == Family::kIpv4 ? east_.host4 : east_.host6;
    std::string fam = c_.family == Family::kIpv4 ? "-4" : "-6";
    return sh("ip netns exec " + west_.ns + " ping " + fam + " -n -c " + std::to_string(count) +
                  " -i 0.2 -W 2 -p " + kPatternHex + " -I " + src.str() + " " + dst.str(),
              log);
  }

  void traffic(const SideState& w, const SideState& e) {
    std::string base = "/tmp/ipsecd-vm-" + std::to_string(::getpid()) + "-" +
                       std::to_string(reinterpret_cast<uintptr_t>(this) & 0xffff);
    std::string log = base + ".log";
    int rc = 0;
    // What each end transmits (-Q out): the two together are the whole wire. Capturing both
    // directions on one end would also show the decrypted packets the kernel re-injects there.
    std::vector<std::string> files = {base + ".west.pcap", base + ".east.pcap"};
    {
      Capture wcap(west_.ns, "wan0", files[0]);
      Capture ecap(east_.ns, "wan0", files[1]);
      for (Capture* cap : {&wcap, &ecap}) {
        if (auto why = cap->wait_ready()) {
          fail(*why);
          return;
        }
      }
      rc = ping(pings_, log);
      wcap.stop(static_cast<size_t>(pings_));
      ecap.stop(static_cast<size_t>(pings_));
    }
    WireResult wire;
    std::vector<Prefix> inner_nets = {west_.inner4, west_.inner6, east_.inner4, east_.inner6};
    for (const auto& f : files) {
      WireResult one = summarize_pcap(f, inner_nets, pattern_bytes());
      if (!one.error.empty()) {
        wire.error = one.error;
      }
      WireSummary& t = wire.summary;
      const WireSummary& o = one.summary;
      t.frames += o.frames;
      t.esp += o.esp;
      t.esp_in_udp += o.esp_in_udp;
      t.icmp_echo += o.icmp_echo;
      t.inner_in_clear += o.inner_in_clear;
      t.pattern_hits += o.pattern_hits;
    }
    bool keep_capture = false;
    if (rc != 0) {
      fail("ping through the tunnel failed (exit " + std::to_string(rc) + "):\n" + slurp(log));
    }
    // Each of the four SAs carried every echo request or reply.
    struct Check {
      Side* side;
      const SaSpec* sa;
      const char* label;
    };
    std::string counts;
    for (const Check& ck :
         {Check{&west_, &w.out_sa, "west out"}, Check{&west_, &w.in_sa, "west in"},
          Check{&east_, &e.out_sa, "east out"}, Check{&east_, &e.in_sa, "east in"}}) {
      auto cnt = counters(*ck.side, ck.sa->id);
      if (!cnt) {
        continue;
      }
      if (cnt->packets < static_cast<uint64_t>(pings_) || cnt->bytes == 0) {
        fail(std::string(ck.label) + " SA counted " + std::to_string(cnt->packets) + " packets / " +
             std::to_string(cnt->bytes) + " bytes, expected at least " + std::to_string(pings_) +
             " packets");
      }
      counts += (counts.empty() ? "" : " ") + std::to_string(cnt->packets) + "p/" +
                std::to_string(cnt->bytes) + "B";
    }
    if (!wire.error.empty()) {
      fail(wire.error);
    } else {
      const WireSummary& s = wire.summary;
      size_t want = 2 * static_cast<size_t>(pings_);
      size_t carried = c_.natt ? s.esp_in_udp : s.esp;
      size_t other = c_.natt ? s.esp : s.esp_in_udp;
      if (carried < want) {
        fail("wire: " + std::to_string(carried) + (c_.natt ? " ESP-in-UDP:4500" : " ESP") +
             " packets seen, expected at least " + std::to_string(want) + " (capture of " +
             std::to_string(s.frames) + " frames kept in " + base + ".*.pcap)");
        keep_capture = true;
      }
      if (other != 0) {
        fail("wire: " + std::to_string(other) + (c_.natt ? " bare ESP" : " ESP-in-UDP") +
             " packets seen, expected none");
      }
      if (s.icmp_echo != 0 || s.inner_in_clear != 0 || s.pattern_hits != 0) {
        fail("wire: traffic in clear: " + std::to_string(s.icmp_echo) + " ICMP echoes, " +
             std::to_string(s.inner_in_clear) + " packets with inner addresses, " +
             std::to_string(s.pattern_hits) + " frames with the ping payload (captures kept in " +
             base + ".*.pcap)");
        keep_capture = true;
      }
      summary_ = std::to_string(pings_) + " pings; SA packets/bytes (west out, in, east out, in) " +
                 counts + "; wire " + std::to_string(s.frames) + " frames, " +
                 std::to_string(carried) + (c_.natt ? " ESP-in-UDP:4500" : " ESP") + ", 0 in clear";
    }

    // Without west's outbound SA the policy still captures the ping, which must now fail.
    auto before = counters(east_, e.in_sa.id);
    auto del = west_.backend->delete_sa(w.out_sa.id);
    if (!del.ok()) {
      fail("deleting west's outbound SA: " + del.error().message);
      return;
    }
    auto gone = west_.backend->get_sa(w.out_sa.id);
    if (gone.ok() || gone.error().code != ErrorCode::kNotFound) {
      fail("west's outbound SA is still listed after its deletion");
    }
    std::string neg_log = base + ".neg.log";
    int neg = ping(2, neg_log);
    auto after = counters(east_, e.in_sa.id);
    if (neg == 0) {
      fail("ping still succeeded after west's outbound SA was deleted:\n" + slurp(neg_log));
    }
    if (before && after && after->packets != before->packets) {
      fail("east's inbound SA counted packets after west's outbound SA was deleted");
    }
    summary_ += "; ping fails without the SA";
    ::unlink(log.c_str());
    ::unlink(neg_log.c_str());
    for (const auto& f : files) {
      if (!keep_capture) {
        ::unlink(f.c_str());
      }
      ::unlink((f + ".err").c_str());
    }
  }

  Side& west_;
  Side& east_;
  const Case& c_;
  int pings_;
  std::vector<std::string> failures_;
  std::string summary_;
};

// Two namespaces, a veth between them, a dummy carrying each side's inner subnets.
std::optional<std::string> build_topology(Side& w, Side& e, const std::string& log) {
  std::vector<std::string> cmds = {
      "ip netns add " + w.ns,
      "ip netns add " + e.ns,
      "ip link add wan0 netns " + w.ns + " type veth peer name wan0 netns " + e.ns,
  };
  for (Side* s : {&w, &e}) {
    Side* peer = s == &w ? &e : &w;
    std::string n = "ip -n " + s->ns + " ";
    for (const std::string& c :
         {std::string("link set lo up"), std::string("link set wan0 up"),
          std::string("link add lan0 type dummy"), std::string("link set lan0 up"),
          "addr add " + s->outer4.str() + "/24 dev wan0",
          "addr add " + s->outer6.str() + "/64 dev wan0 nodad",
          "addr add " + s->host4.str() + "/24 dev lan0",
          "addr add " + s->host6.str() + "/64 dev lan0 nodad",
          "route add " + peer->inner4.str() + " via " + peer->outer4.str() + " dev wan0",
          "-6 route add " + peer->inner6.str() + " via " + peer->outer6.str() + " dev wan0"}) {
      cmds.push_back(n + c);
    }
  }
  for (const auto& c : cmds) {
    if (sh(c, log) != 0) {
      return "topology: `" + c + "` failed: " + slurp(log);
    }
  }
  for (Side* s : {&w, &e}) {
    NetnsGuard in(s->ns);
    if (!in.ok()) {
      return "cannot enter namespace " + s->ns;
    }
    auto b = XfrmBackend::open();
    if (!b.ok()) {
      return s->ns + ": " + b.error().message;
    }
    s->backend = std::move(b).value();
  }
  return std::nullopt;
}

int main_impl(int argc, char** argv) {
  int pings = 3;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--pings" && i + 1 < argc) {
      pings = std::atoi(argv[++i]);
    } else if (a == "--case" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--pings N] [--case NAME]\n", argv[0]);
      return 2;
    }
  }
  if (pings < 1 || pings > 100) {
    std::fprintf(stderr, "--pings: %d is outside 1..100\n", pings);
    return 2;
  }
  if (::geteuid() != 0) {
    std::printf("SKIP: needs root (network namespaces, XFRM state)\n");
    return kSkip;
  }
  // The guest's PATH may lack the sbin directories where ip and tcpdump live.
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", ("/usr/sbin:/usr/bin:/sbin:/bin:" + path).c_str(), 1);

  std::string tag = std::to_string(::getpid());
  Side west{"ipsecd-vm-west-" + tag,
            Address::literal("192.0.2.1"),
            Address::literal("2001:db8:1::1"),
            Prefix::literal("198.51.100.0/24"),
            Prefix::literal("2001:db8:a::/64"),
            Address::literal("198.51.100.1"),
            Address::literal("2001:db8:a::1"),
            nullptr,
            {}};
  Side east{"ipsecd-vm-east-" + tag,
            Address::literal("192.0.2.2"),
            Address::literal("2001:db8:1::2"),
            Prefix::literal("203.0.113.0/24"),
            Prefix::literal("2001:db8:b::/64"),
            Address::literal("203.0.113.1"),
            Address::literal("2001:db8:b::1"),
            nullptr,
            {}};
  std::string log = "/tmp/ipsecd-vm-" + tag + ".setup.log";
  auto cleanup = [&] {
    west.backend.reset();
    east.backend.reset();
    west.encap_socket = Fd();
    east.encap_socket = Fd();
    sh("ip netns del " + west.ns);
    sh("ip netns del " + east.ns);
    ::unlink(log.c_str());
  };
  std::printf("esp-dataplane: kernel %s\n", slurp("/proc/sys/kernel/osrelease").c_str());
  if (auto why = build_topology(west, east, log)) {
    std::printf("FAIL setup: %s\n", why->c_str());
    cleanup();
    return 1;
  }
  for (Side* s : {&west, &east}) {
    if (auto why = open_encap_socket(*s)) {
      std::printf("FAIL setup: %s: %s\n", s->ns.c_str(), why->c_str());
      cleanup();
      return 1;
    }
  }

  const std::vector<Case> cases = {
      {"aes-gcm-16-256/ipv4", Family::kIpv4, Cipher::kAesGcm16_256, Integrity::kNone, false},
      {"chacha20-poly1305/ipv4", Family::kIpv4, Cipher::kChaCha20Poly1305, Integrity::kNone, false},
      {"aes-cbc-256+hmac-sha2-256/ipv4", Family::kIpv4, Cipher::kAesCbc256,
       Integrity::kHmacSha256_128, false},
      {"aes-gcm-16-256+nat-t/ipv4", Family::kIpv4, Cipher::kAesGcm16_256, Integrity::kNone, true},
      {"aes-gcm-16-256/ipv6", Family::kIpv6, Cipher::kAesGcm16_256, Integrity::kNone, false},
  };
  size_t ran = 0;
  size_t passed = 0;
  auto t0 = Clock::now();
  for (size_t i = 0; i < cases.size(); ++i) {
    if (!only.empty() && cases[i].name != only) {
      continue;
    }
    ++ran;
    passed += CaseRun(west, east, cases[i], pings).run(i) ? 1 : 0;
  }
  cleanup();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (ran == 0) {
    std::printf("FAIL: no case is named '%s'\n", only.c_str());
    return 2;
  }
  std::printf("esp-dataplane: %zu/%zu cases passed (%.1f s)\n", passed, ran, secs);
  return passed == ran ? 0 : 1;
}

}  // namespace
}  // namespace ipsecd::vmtest

int main(int argc, char** argv) {
  return ipsecd::vmtest::main_impl(argc, argv);
}
