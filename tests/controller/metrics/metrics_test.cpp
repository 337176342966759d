// The metrics exposer scraped over HTTP, as Prometheus does.
#include "controller/metrics/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cpprest/http_client.h>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ipsecd::controller {
namespace {

namespace fs = std::filesystem;

struct Scrape {
  int status = 0;
  std::string content_type;
  std::string text;
};

Scrape scrape(const ListenAddress& address) {
  web::http::client::http_client client(address.url());
  web::http::http_response response = client.request(web::http::methods::GET, "/metrics").get();
  Scrape s;
  s.status = response.status_code();
  s.content_type = response.headers().content_type();
  std::vector<unsigned char> bytes = response.extract_vector().get();
  s.text.assign(bytes.begin(), bytes.end());
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

std::unique_ptr<Metrics> serving(bool per_connection_labels = true) {
  MetricsOptions options;
  options.listen = "127.0.0.1:0";
  options.per_connection_labels = per_connection_labels;
  auto metrics = std::make_unique<Metrics>(options);
  model::Result<ListenAddress> bound = metrics->serve();
  EXPECT_TRUE(bound) << bound.error();
  return metrics;
}

TEST(Metrics, DefaultAddressIsLoopback) {
  EXPECT_TRUE(MetricsOptions{}.listen.starts_with("127.0.0.1:"));
}

TEST(Metrics, ScrapeHasEveryFamilyWithItsType) {
  std::unique_ptr<Metrics> metrics = serving();
  ListenAddress bound = metrics->address();
  EXPECT_NE(bound.port, 0);
  Scrape s = scrape(bound);
  ASSERT_EQ(s.status, 200);
  EXPECT_NE(s.content_type.find("text/plain"), std::string::npos);
  const std::pair<const char*, const char*> families[] = {
      {"ipsec_connections", "gauge"},
      {"ipsec_ike_sas", "gauge"},
      {"ipsec_child_sas", "gauge"},
      {"ipsec_ike_sa_established_total", "counter"},
      {"ipsec_ike_sa_failures_total", "counter"},
      {"ipsec_rekeys_total", "counter"},
      {"ipsec_config_reloads_total", "counter"},
      {"ipsec_config_last_reload_success_timestamp_seconds", "gauge"},
      {"ipsec_reconcile_total", "counter"},
      {"ipsec_reconcile_errors_total", "counter"},
      {"ipsec_reconcile_duration_seconds", "histogram"},
      {"ipsec_work_queue_depth", "gauge"},
      {"ipsec_ike_handshake_duration_seconds", "histogram"},
      {"ipsec_sa_limit_refusals_total", "counter"},
      {"ipsec_dead_peers_total", "counter"},
  };
  for (const auto& [name, type] : families) {
    EXPECT_TRUE(has_line(s.text, std::string("# TYPE ") + name + " " + type)) << name;
  }
  // Fixed label sets exist at zero before the first event.
  EXPECT_TRUE(has_line(s.text, "ipsec_connections{state=\"established\"} 0")) << s.text;
  EXPECT_TRUE(has_line(s.text, "ipsec_ike_sa_failures_total{reason=\"timeout\"} 0"));
  for (const char* kind : {"ike", "child", "reauth"}) {
    for (const char* result : {"success", "failure"}) {
      EXPECT_TRUE(has_line(s.text, std::string("ipsec_rekeys_total{kind=\"") + kind +
                                       "\",result=\"" + result + "\"} 0"))
          << kind << " " << result << "\n"
          << s.text;
    }
  }
  EXPECT_FALSE(has_line(s.text, "ipsec_rekeys_total{kind=\"child\"} 0"))
      << "every series has a result";
  EXPECT_TRUE(has_line(s.text, "ipsec_config_reloads_total{result=\"failure\"} 0"));
  EXPECT_TRUE(
      has_line(s.text, "ipsec_sa_limit_refusals_total{limit=\"child_sas_per_connection\"} 0"));
  EXPECT_TRUE(has_line(s.text, "ipsec_sa_limit_refusals_total{limit=\"ike_sas_per_peer\"} 0"));
  for (const char* action : {"hold", "clear", "restart"}) {
    EXPECT_TRUE(
        has_line(s.text, std::string("ipsec_dead_peers_total{action=\"") + action + "\"} 0"))
        << action;
  }
}

TEST(Metrics, DeadPeersCountByTheDpdactionTaken) {
  Metrics metrics;
  metrics.dead_peer(model::DpdAction::kClear);
  metrics.dead_peer(model::DpdAction::kRestart);
  metrics.dead_peer(model::DpdAction::kClear);
  const std::string t = metrics.text();
  EXPECT_TRUE(has_line(t, "ipsec_dead_peers_total{action=\"clear\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "ipsec_dead_peers_total{action=\"restart\"} 1"));
  EXPECT_TRUE(has_line(t, "ipsec_dead_peers_total{action=\"hold\"} 0"));
}

TEST(Metrics, LimitRefusalsAddWhatTheEngineCountedSinceTheLastPass) {
  Metrics metrics;
  metrics.set_limit_refusals(3, 0);
  metrics.set_limit_refusals(3, 1);
  metrics.set_limit_refusals(5, 1);
  const std::string text = metrics.text();
  EXPECT_TRUE(has_line(text, "ipsec_sa_limit_refusals_total{limit=\"child_sas_per_connection\"} 5"))
      << text;
  EXPECT_TRUE(has_line(text, "ipsec_sa_limit_refusals_total{limit=\"ike_sas_per_peer\"} 1"))
      << text;
}

TEST(Metrics, UpdatesShowInTheNextScrape) {
  std::unique_ptr<Metrics> metrics = serving();
  metrics->set_connections(ConnectionState::kEstablished, 7);
  metrics->set_connections(ConnectionState::kFailing, 1);
  metrics->set_ike_sas(IkeSaState::kRekeying, 2);
  metrics->set_child_sas(9);
  metrics->set_work_queue_depth(4);
  metrics->ike_sa_established(std::chrono::milliseconds(30));
  metrics->ike_sa_failed(IkeFailure::kAuthentication);
  metrics->ike_sa_failed(IkeFailure::kAuthentication);
  metrics->rekey_finished(RekeyKind::kIke, RekeyResult::kSuccess);
  metrics->rekey_finished(RekeyKind::kChild, RekeyResult::kSuccess);
  metrics->rekey_finished(RekeyKind::kChild, RekeyResult::kSuccess);
  metrics->rekey_finished(RekeyKind::kReauth, RekeyResult::kFailure);
  metrics->child_sa_bytes("west", 100, 200);
  metrics->child_sa_bytes("west", 1, 2);
  metrics->config_reloaded(true, WallTime(std::chrono::seconds(1767225600)));
  metrics->config_reloaded(false, WallTime(std::chrono::seconds(1767225700)));
  metrics->reconciled(std::chrono::milliseconds(3), false);
  metrics->reconciled(std::chrono::seconds(2), true);

  std::string t = scrape(metrics->address()).text;
  EXPECT_TRUE(has_line(t, "ipsec_connections{state=\"established\"} 7")) << t;
  EXPECT_TRUE(has_line(t, "ipsec_connections{state=\"failing\"} 1"));
  EXPECT_TRUE(has_line(t, "ipsec_ike_sas{state=\"rekeying\"} 2"));
  EXPECT_TRUE(has_line(t, "ipsec_child_sas 9"));
  EXPECT_TRUE(has_line(t, "ipsec_work_queue_depth 4"));
  EXPECT_TRUE(has_line(t, "ipsec_ike_sa_established_total 1"));
  EXPECT_TRUE(has_line(t, "ipsec_ike_handshake_duration_seconds_count 1"));
  EXPECT_TRUE(has_line(t, "ipsec_ike_handshake_duration_seconds_bucket{le=\"0.025\"} 0"));
  EXPECT_TRUE(has_line(t, "ipsec_ike_handshake_duration_seconds_bucket{le=\"0.05\"} 1"));
  EXPECT_TRUE(has_line(t, "ipsec_ike_sa_failures_total{reason=\"authentication_failed\"} 2"));
  // Each kind and result is its own series: a failure does not count as a rekey done.
  EXPECT_TRUE(has_line(t, "ipsec_rekeys_total{kind=\"ike\",result=\"success\"} 1"));
  EXPECT_TRUE(has_line(t, "ipsec_rekeys_total{kind=\"ike\",result=\"failure\"} 0"));
  EXPECT_TRUE(has_line(t, "ipsec_rekeys_total{kind=\"child\",result=\"success\"} 2"));
  EXPECT_TRUE(has_line(t, "ipsec_rekeys_total{kind=\"child\",result=\"failure\"} 0"));
  EXPECT_TRUE(has_line(t, "ipsec_rekeys_total{kind=\"reauth\",result=\"success\"} 0"));
  EXPECT_TRUE(has_line(t, "ipsec_rekeys_total{kind=\"reauth\",result=\"failure\"} 1"));
  // A family without series is not exposed: this one appears with the first connection.
  EXPECT_TRUE(has_line(t, "# TYPE ipsec_child_sa_bytes_total counter"));
  EXPECT_TRUE(has_line(t, "ipsec_child_sa_bytes_total{connection=\"west\",direction=\"in\"} 101"));
  EXPECT_TRUE(has_line(t, "ipsec_child_sa_bytes_total{connection=\"west\",direction=\"out\"} 202"));
  EXPECT_TRUE(has_line(t, "ipsec_config_reloads_total{result=\"success\"} 1"));
  EXPECT_TRUE(has_line(t, "ipsec_config_reloads_total{result=\"failure\"} 1"));
  EXPECT_TRUE(has_line(t, "ipsec_config_last_reload_success_timestamp_seconds 1767225600"));
  EXPECT_TRUE(has_line(t, "ipsec_reconcile_total 2"));
  EXPECT_TRUE(has_line(t, "ipsec_reconcile_errors_total 1"));
  EXPECT_TRUE(has_line(t, "ipsec_reconcile_duration_seconds_count 2"));

  metrics->forget_connection("west");
  t = scrape(metrics->address()).text;
  EXPECT_EQ(t.find("connection=\"west\""), std::string::npos) << t;
}

TEST(Metrics, PerConnectionLabelsCanBeTurnedOff) {
  std::unique_ptr<Metrics> metrics = serving(false);
  metrics->child_sa_bytes("west", 10, 20);
  metrics->child_sa_bytes("east", 1, 2);
  std::string t = scrape(metrics->address()).text;
  EXPECT_EQ(t.find("connection="), std::string::npos) << t;
  EXPECT_TRUE(has_line(t, "ipsec_child_sa_bytes_total{direction=\"in\"} 11")) << t;
  EXPECT_TRUE(has_line(t, "ipsec_child_sa_bytes_total{direction=\"out\"} 22"));
}

TEST(Metrics, TextMatchesTheScrape) {
  std::unique_ptr<Metrics> metrics = serving();
  metrics->set_child_sas(5);
  EXPECT_TRUE(has_line(metrics->text(), "ipsec_child_sas 5"));
}

TEST(Metrics, BusyPortFailsWithTheAddress) {
  std::unique_ptr<Metrics> first = serving();
  MetricsOptions options;
  options.listen = first->address().str();
  Metrics second(options);
  model::Result<ListenAddress> bound = second.serve();
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().find("--metrics " + options.listen + ": cannot listen"),
            std::string::npos)
      << bound.error();
}

TEST(Metrics, RefusesIpv6WithTheReason) {
  MetricsOptions options;
  options.listen = "[::1]:0";
  model::Result<ListenAddress> bound = Metrics(options).serve();
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().find("--metrics [::1]:0: the metrics server cannot listen on an IPv6"),
            std::string::npos)
      << bound.error();
}

TEST(Metrics, BadAddressIsRefused) {
  MetricsOptions options;
  options.listen = "127.0.0.1";
  model::Result<ListenAddress> bound = Metrics(options).serve();
  ASSERT_FALSE(bound);
  EXPECT_NE(bound.error().find("--metrics 127.0.0.1: expected HOST:PORT"), std::string::npos);
}

// promtool (Debian package prometheus) lints the exposition as Prometheus would.
TEST(Metrics, PromtoolAcceptsTheScrape) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not found (Debian package prometheus; scripts/deps.sh test "
                    "installs it)";
  }
  std::unique_ptr<Metrics> metrics = serving();
  metrics->child_sa_bytes("west", 1, 2);
  metrics->ike_sa_established(std::chrono::milliseconds(12));
  metrics->reconciled(std::chrono::milliseconds(1), false);
  Scrape s = scrape(metrics->address());
  ASSERT_EQ(s.status, 200);
  std::string tmpl = (fs::temp_directory_path() / "ipsecd-metrics-XXXXXX").string();
  int fd = ::mkstemp(tmpl.data());
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl) << s.text;
  std::string command = "promtool check metrics < " + tmpl + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    output += buffer;
  }
  int rc = ::pclose(pipe);
  fs::remove(tmpl);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
}  // namespace ipsecd::controller
