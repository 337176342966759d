// The engine's SAs as status, metrics and logs show them, rekey states included.
#include "controller/sa_status.h"

#include <gtest/gtest.h>

namespace ipsecd::controller {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

const WallTime kT = WallTime(seconds(1767225600));  // 2026-01-01T00:00:00Z

TEST(SaStatus, StatesShowUpperCase) {
  EXPECT_EQ(status_state("connecting"), "CONNECTING");
  EXPECT_EQ(status_state("established"), "ESTABLISHED");
  EXPECT_EQ(status_state("rekeying"), "REKEYING");
  EXPECT_EQ(status_state("installed"), "INSTALLED");
  EXPECT_EQ(status_state("rekeyed"), "REKEYED");
  EXPECT_EQ(status_state("deleting"), "DELETING");
}

TEST(SaStatus, ARekeyUnderWayKeepsTheSaUp) {
  EXPECT_TRUE(ike_sa_up("established"));
  EXPECT_TRUE(ike_sa_up("rekeying"));
  EXPECT_FALSE(ike_sa_up("connecting"));
  EXPECT_FALSE(ike_sa_up("deleting"));
  EXPECT_TRUE(child_sa_up("installed"));
  EXPECT_TRUE(child_sa_up("rekeying"));
  // Replaced: its successor carries the traffic.
  EXPECT_FALSE(child_sa_up("rekeyed"));
  EXPECT_FALSE(child_sa_up("deleting"));
}

TEST(SaStatus, MetricStateOfEachIkeSaState) {
  EXPECT_EQ(ike_sa_metric_state("connecting"), IkeSaState::kConnecting);
  EXPECT_EQ(ike_sa_metric_state("established"), IkeSaState::kEstablished);
  EXPECT_EQ(ike_sa_metric_state("rekeying"), IkeSaState::kRekeying);
  EXPECT_EQ(ike_sa_metric_state("deleting"), IkeSaState::kDeleting);
  EXPECT_EQ(ike_sa_metric_state("something-new"), IkeSaState::kConnecting);
}

TEST(SaStatus, RekeyKindsMapOneToOne) {
  EXPECT_EQ(rekey_kind(engine::RekeyKind::kIke), RekeyKind::kIke);
  EXPECT_EQ(rekey_kind(engine::RekeyKind::kChild), RekeyKind::kChild);
  EXPECT_EQ(rekey_kind(engine::RekeyKind::kReauth), RekeyKind::kReauth);
}

TEST(SaStatus, IkeSaCarriesItsTimesAndRekeys) {
  engine::IkeSaInfo sa;
  sa.connection = "west";
  sa.state = "rekeying";
  sa.initiator = false;
  sa.spi_i = 0x1111;
  sa.spi_r = 0x2222;
  sa.local = "192.0.2.1:4500";
  sa.remote = "192.0.2.2:4500";
  sa.local_id = "@west";
  sa.remote_id = "@east";
  sa.algorithms = engine::IkeAlgorithms{{model::EncrId::kAesCbc, 256},
                                        model::PrfId::kHmacSha2_256,
                                        model::IntegId::kHmacSha2_256_128,
                                        model::DhId::kModp2048};
  sa.established = kT;
  sa.rekey_at = kT + hours(1);
  sa.reauth_at = kT + hours(2);
  sa.expires_at = kT + hours(3);
  sa.rekeys = 4;
  const IkeSaStatus s = ike_sa_status(sa);
  EXPECT_EQ(s.state, "REKEYING");
  EXPECT_FALSE(s.initiator);
  EXPECT_EQ(s.local_spi, 0x2222u);  // the responder's SPI is ours
  EXPECT_EQ(s.remote_spi, 0x1111u);
  EXPECT_EQ(s.local_address, "192.0.2.1:4500");
  EXPECT_EQ(s.remote_id, "@east");
  EXPECT_EQ(s.algorithms.encryption, "AES_CBC_256");
  EXPECT_EQ(s.algorithms.integrity, "HMAC_SHA2_256_128");
  EXPECT_EQ(s.algorithms.prf, "PRF_HMAC_SHA2_256");
  EXPECT_EQ(s.algorithms.dh_group, "MODP2048");
  EXPECT_EQ(s.established_at, kT);
  EXPECT_EQ(s.rekey_at, kT + hours(1));
  EXPECT_EQ(s.reauth_at, kT + hours(2));
  EXPECT_EQ(s.expires_at, kT + hours(3));
  EXPECT_EQ(s.rekeys, 4u);

  // Times the engine does not have stay unknown (null in JSON).
  const IkeSaStatus fresh = ike_sa_status(engine::IkeSaInfo{});
  EXPECT_EQ(fresh.established_at, std::nullopt);
  EXPECT_EQ(fresh.rekey_at, std::nullopt);
  EXPECT_EQ(fresh.reauth_at, std::nullopt);
  EXPECT_EQ(fresh.expires_at, std::nullopt);
  EXPECT_EQ(fresh.rekeys, 0u);
  EXPECT_EQ(fresh.algorithms.encryption, "");  // none before IKE_SA_INIT ends
  EXPECT_EQ(fresh.algorithms.prf, "");
}

TEST(SaStatus, ChildSaCarriesItsTimesAndRekeys) {
  engine::ChildSaInfo c;
  c.connection = "west";
  c.state = "rekeyed";
  c.spi_in = 0xc0ffee01;
  c.spi_out = 0xc0ffee02;
  c.reqid = 16385;
  c.algorithms = engine::EspAlgorithms{
      {model::EncrId::kAesGcm16, 256}, model::IntegId::kNone, model::DhId::kCurve25519, true};
  c.mode = "tunnel";
  c.local_selectors = {"198.51.100.0/24"};
  c.remote_selectors = {"203.0.113.0/24"};
  c.established = kT;
  c.expires_at = kT + hours(8);
  c.rekeys = 2;
  c.in.bytes = 10;
  c.in.packets = 1;
  c.out.bytes = 20;
  c.out.packets = 2;
  const ChildSaStatus s = child_sa_status(c, true);
  EXPECT_EQ(s.state, "REKEYED");
  EXPECT_EQ(s.spi_in, 0xc0ffee01u);
  EXPECT_EQ(s.spi_out, 0xc0ffee02u);
  EXPECT_EQ(s.reqid, 16385u);
  EXPECT_EQ(s.protocol, "ESP");
  EXPECT_TRUE(s.udp_encapsulated);
  EXPECT_EQ(s.algorithms.encryption, "AES_GCM_16_256");
  EXPECT_EQ(s.algorithms.integrity, "");  // AEAD
  EXPECT_EQ(s.algorithms.dh_group, "DH31");
  EXPECT_TRUE(s.algorithms.esn);
  // Integrity and no PFS group: each part is told by its type, not guessed from its name.
  c.algorithms = engine::EspAlgorithms{
      {model::EncrId::kAesCbc, 128}, model::IntegId::kAesXcbc96, model::DhId::kNone, false};
  const ChildSaStatus cbc = child_sa_status(c, false);
  EXPECT_EQ(cbc.algorithms.encryption, "AES_CBC_128");
  EXPECT_EQ(cbc.algorithms.integrity, std::string(model::integ_name(model::IntegId::kAesXcbc96)));
  EXPECT_EQ(cbc.algorithms.dh_group, "");
  EXPECT_FALSE(cbc.algorithms.esn);
  EXPECT_EQ(s.bytes_in, 10u);
  EXPECT_EQ(s.packets_out, 2u);
  EXPECT_EQ(s.local_ts, c.local_selectors);
  EXPECT_EQ(s.established_at, kT);
  EXPECT_EQ(s.rekey_at, std::nullopt);  // replaced: no rekey of its own
  EXPECT_EQ(s.expires_at, kT + hours(8));
  EXPECT_EQ(s.rekeys, 2u);

  c.rekey_at = kT + hours(7);
  EXPECT_EQ(child_sa_status(c, false).rekey_at, kT + hours(7));
  EXPECT_FALSE(child_sa_status(c, false).udp_encapsulated);
}

engine::Event rekey_event(engine::EventType type, engine::RekeyKind kind) {
  engine::Event e;
  e.type = type;
  e.connection = "west";
  e.rekey = kind;
  return e;
}

TEST(SaStatus, RekeyedLogLineNamesOldAndNewSpisInHex) {
  engine::Event child = rekey_event(engine::EventType::kRekeyed, engine::RekeyKind::kChild);
  child.replaced_child_spi_in = 0xc0ffee01;
  child.replaced_child_spi_out = 0x00000a02;
  child.child_spi_in = 0xc0ffee03;
  child.child_spi_out = 0xc0ffee04;
  child.spi_i = 0x99;  // the IKE SA's, not shown for a CHILD rekey
  EXPECT_EQ(describe_rekey(child),
            "rekeyed child SA 0xc0ffee01/0x00000a02 -> 0xc0ffee03/0xc0ffee04");

  engine::Event ike = rekey_event(engine::EventType::kRekeyed, engine::RekeyKind::kIke);
  ike.replaced_spi_i = 0x0123456789abcdefULL;
  ike.replaced_spi_r = 0xfedcba9876543210ULL;
  ike.spi_i = 0x1;
  ike.spi_r = 0x2;
  EXPECT_EQ(describe_rekey(ike),
            "rekeyed IKE SA 0x0123456789abcdef/0xfedcba9876543210 -> "
            "0x0000000000000001/0x0000000000000002");

  ike.rekey = engine::RekeyKind::kReauth;
  EXPECT_EQ(describe_rekey(ike),
            "rekeyed IKE SA (reauth) 0x0123456789abcdef/0xfedcba9876543210 -> "
            "0x0000000000000001/0x0000000000000002");
}

TEST(SaStatus, RekeyFailedLogLineNamesTheSaAndTheReason) {
  engine::Event e = rekey_event(engine::EventType::kRekeyFailed, engine::RekeyKind::kChild);
  e.replaced_child_spi_in = 0xc0ffee01;
  e.replaced_child_spi_out = 0xc0ffee02;
  e.reason = "peer answered NO_PROPOSAL_CHOSEN";
  EXPECT_EQ(describe_rekey(e),
            "rekey-failed: child SA 0xc0ffee01/0xc0ffee02: peer answered NO_PROPOSAL_CHOSEN");
  // An engine that reports the SA in the first SPIs only is named by those.
  engine::Event ike = rekey_event(engine::EventType::kRekeyFailed, engine::RekeyKind::kIke);
  ike.spi_i = 0xab;
  ike.spi_r = 0xcd;
  EXPECT_EQ(describe_rekey(ike), "rekey-failed: IKE SA 0x00000000000000ab/0x00000000000000cd");
}

}  // namespace
}  // namespace ipsecd::controller
