#include "model/values.h"

#include <gtest/gtest.h>

#include <string>

namespace ipsecd::model {
namespace {

using std::chrono::milliseconds;

// Asserts that r failed and that its message contains every fragment.
template <class T>
void expect_error(const Result<T>& r, std::initializer_list<std::string_view> fragments) {
  ASSERT_FALSE(r.ok());
  for (std::string_view f : fragments) {
    EXPECT_NE(r.error().find(f), std::string::npos)
        << "message: " << r.error() << "\nmissing: " << f;
  }
}

// ------------------------------------------------------------------ IpAddress

TEST(IpAddressTest, ParsesDottedQuad) {
  auto a = IpAddress::parse("192.0.2.1");
  ASSERT_TRUE(a.ok()) << a.error();
  EXPECT_EQ(a->family, AddressFamily::kIpv4);
  EXPECT_EQ(a->bytes[0], 192);
  EXPECT_EQ(a->bytes[3], 1);
  EXPECT_EQ(a->size(), 4u);
  EXPECT_EQ(a->str(), "192.0.2.1");
}

TEST(IpAddressTest, AcceptsLibreswanShortForms) {
  // libreswan 4.10 prints rightsubnet=0.0.0/0 as 0.0.0.0/0 and accepts 0/0.
  EXPECT_EQ(IpAddress::parse("0")->str(), "0.0.0.0");
  EXPECT_EQ(IpAddress::parse("0.0.0")->str(), "0.0.0.0");
  EXPECT_EQ(IpAddress::parse("10.1")->str(), "10.0.0.1");
  EXPECT_EQ(IpAddress::parse("10.1.258")->str(), "10.1.1.2");
}

TEST(IpAddressTest, RejectsBadIpv4) {
  for (const char* bad : {"256.0.0.1", "1.2.3.4.5", "1.2.3.", ".1.2.3", "a1.2.3.4", "1.2.3.4x",
                          " 1.2.3.4", "1.2.3.4 ", "01.2.3.4", "1..2.3", "-1.2.3.4", "+1.2.3.4",
                          "1234", "1", "99999999999999999999.1", "1.2.3.256", "1.2.65536"}) {
    auto r = IpAddress::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().find("is not a valid"), std::string::npos) << r.error();
    }
  }
}

TEST(IpAddressTest, ParsesIpv6Forms) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"2001:db8::1", "2001:db8::1"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"::", "::"},
      {"::1", "::1"},
      {"1::", "1::"},
      {"2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"},  // longest zero run is compressed
      {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
      {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},     // first run wins a tie
      {"2001:db8:1:1:1:1:0:1", "2001:db8:1:1:1:1:0:1"},  // a single zero is not compressed
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1"},
      {"64:ff9b::192.0.2.1", "64:ff9b::c000:201"},
      {"2001:db8:66::0", "2001:db8:66::"},
      {"0::", "::"},
      {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
  };
  for (const auto& c : cases) {
    auto a = IpAddress::parse(c.in);
    ASSERT_TRUE(a.ok()) << c.in << ": " << a.error();
    EXPECT_EQ(a->family, AddressFamily::kIpv6);
    EXPECT_EQ(a->size(), 16u);
    EXPECT_EQ(a->str(), c.out) << c.in;
    EXPECT_EQ(*IpAddress::parse(a->str()), *a) << "round trip " << c.in;
  }
}

TEST(IpAddressTest, RejectsBadIpv6) {
  for (const char* bad : {":::", "1:::2", "1::2::3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "::1.2.3",
                          "::1.2.3.256", "1:2:3:4:5:6:7:8::", "2001:db8::1/64"}) {
    EXPECT_FALSE(IpAddress::parse(bad).ok()) << bad;
  }
}

TEST(IpAddressTest, RejectsZoneIds) {
  expect_error(IpAddress::parse("fe80::1%eth0"), {"zone"});
}

TEST(IpAddressTest, EmptyAndHugeInput) {
  expect_error(IpAddress::parse(""), {"empty address", "192.0.2.1"});
  expect_error(IpAddress::parse(std::string(100000, '1')), {"too long"});
}

TEST(IpAddressTest, Unspecified) {
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->is_unspecified());
  EXPECT_TRUE(IpAddress::parse("::")->is_unspecified());
  EXPECT_FALSE(IpAddress::parse("::1")->is_unspecified());
  EXPECT_FALSE(IpAddress::parse("0.0.0.1")->is_unspecified());
}

// ------------------------------------------------------------------ Subnet

TEST(SubnetTest, ParsesPrefixes) {
  auto s = Subnet::parse("192.0.2.0/24");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->prefix_len, 24);
  EXPECT_EQ(s->str(), "192.0.2.0/24");
  EXPECT_EQ(Subnet::parse("2001:db8::/32")->str(), "2001:db8::/32");
  EXPECT_EQ(Subnet::parse("2001:db8:66::0/64")->str(), "2001:db8:66::/64");
  EXPECT_EQ(Subnet::parse("192.0.2.7")->str(), "192.0.2.7/32");
  EXPECT_EQ(Subnet::parse("2001:db8::7")->str(), "2001:db8::7/128");
}

TEST(SubnetTest, AnyForms) {
  EXPECT_EQ(Subnet::parse("0.0.0.0/0")->str(), "0.0.0.0/0");
  EXPECT_EQ(Subnet::parse("0/0")->str(), "0.0.0.0/0");
  EXPECT_EQ(Subnet::parse("0.0.0/0")->str(), "0.0.0.0/0");
  EXPECT_EQ(Subnet::parse("%any")->str(), "0.0.0.0/0");
  EXPECT_EQ(Subnet::parse("::/0")->str(), "::/0");
  EXPECT_EQ(Subnet::parse("0::/0")->str(), "::/0");
  EXPECT_EQ(Subnet::parse("%any6")->str(), "::/0");
}

TEST(SubnetTest, NetmaskForm) {
  EXPECT_EQ(Subnet::parse("10.0.0.0/255.255.255.0")->str(), "10.0.0.0/24");
  expect_error(Subnet::parse("10.0.0.0/255.0.255.0"), {"not contiguous"});
}

TEST(SubnetTest, HostBitsAreAnError) {
  expect_error(Subnet::parse("10.0.1.1/24"), {"host bits", "/24", "did you mean 10.0.1.0/24"});
  expect_error(Subnet::parse("2001:db8::1/64"), {"host bits", "2001:db8::/64"});
}

TEST(SubnetTest, BadPrefixLengths) {
  expect_error(Subnet::parse("192.0.2.0/33"), {"prefix length", "0 to 32"});
  expect_error(Subnet::parse("2001:db8::/129"), {"0 to 128"});
  expect_error(Subnet::parse("192.0.2.0/"), {"prefix length"});
  expect_error(Subnet::parse("192.0.2.0/-1"), {"prefix length"});
  expect_error(Subnet::parse("192.0.2.0/99999999999999999999999"), {"prefix length"});
  expect_error(Subnet::parse("1.2.3.4/32/tcp/22"), {"more than one '/'", "leftprotoport"});
  expect_error(Subnet::parse(""), {"empty subnet"});
  expect_error(Subnet::parse("east/24"), {"subnet \"east/24\""});
}

TEST(SubnetTest, VirtualPrivateFormsAreRejected) {
  expect_error(Subnet::parse("vhost:%priv"), {"vhost:/vnet:", "IKEv1"});
  expect_error(Subnet::parse("vnet:%priv"), {"vhost:/vnet:"});
}

TEST(SubnetTest, Contains) {
  auto s = *Subnet::parse("192.0.2.0/24");
  EXPECT_TRUE(s.contains(*IpAddress::parse("192.0.2.200")));
  EXPECT_FALSE(s.contains(*IpAddress::parse("192.0.3.1")));
  EXPECT_FALSE(s.contains(*IpAddress::parse("::ffff:192.0.2.1")));
  EXPECT_TRUE(Subnet::parse("0/0")->contains(*IpAddress::parse("203.0.113.9")));
  EXPECT_TRUE(Subnet::parse("2001:db8::/32")->contains(*IpAddress::parse("2001:db8:ffff::1")));
  EXPECT_FALSE(Subnet::parse("2001:db8::/33")->contains(*IpAddress::parse("2001:db8:8000::1")));
}

TEST(SubnetTest, RoundTrip) {
  for (const char* in : {"192.0.2.0/24", "0.0.0.0/0", "10.0.0.0/8", "2001:db8::/32", "::/0",
                         "198.51.100.7/32", "2001:db8:0:1::/64"}) {
    auto s = Subnet::parse(in);
    ASSERT_TRUE(s.ok()) << in;
    EXPECT_EQ(*Subnet::parse(s->str()), *s);
  }
}

TEST(SubnetListTest, BracesCommasAndSpaces) {
  auto l = parse_subnet_list("{ 192.0.2.0/24, 198.51.100.0/24 }");
  ASSERT_TRUE(l.ok()) << l.error();
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[1].str(), "198.51.100.0/24");
  auto plain = parse_subnet_list("10.0.1.0/24,10.0.2.0/24,2001:db8::/32");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->size(), 3u);
  EXPECT_EQ(parse_subnet_list("{10.0.1.0/24 10.0.2.0/24}")->size(), 2u);
}

TEST(SubnetListTest, Errors) {
  expect_error(parse_subnet_list("{10.0.1.0/24"), {"opens '{'"});
  expect_error(parse_subnet_list("10.0.1.0/24}"), {"without an opening"});
  expect_error(parse_subnet_list("{ }"), {"empty subnet list"});
  expect_error(parse_subnet_list("10.0.1.0/24,10.0.2.1/23"), {"host bits"});
}

// ------------------------------------------------------------------ ProtoPort

TEST(ProtoPortTest, NamesNumbersAndAny) {
  struct Case {
    const char* in;
    uint8_t proto;
    uint16_t port;
    bool any;
    const char* out;
  } cases[] = {
      {"tcp", 6, 0, false, "6/0"},
      {"tcp/22", 6, 22, false, "6/22"},
      {"17/1701", 17, 1701, false, "17/1701"},
      {"udp/%any", 17, 0, true, "17/%any"},
      {"6/0", 6, 0, false, "6/0"},
      {"0/0", 0, 0, false, "0/0"},
      {"icmp", 1, 0, false, "1/0"},
      {"ipv6-icmp", 58, 0, false, "58/0"},
      {"icmpv6", 58, 0, false, "58/0"},
      {"gre", 47, 0, false, "47/0"},
      {"sctp/9899", 132, 9899, false, "132/9899"},
      {"TCP/ssh", 6, 22, false, "6/22"},
      {"udp/65535", 17, 65535, false, "17/65535"},
      {"%any", 0, 0, false, "0/0"},
  };
  for (const auto& c : cases) {
    auto p = ProtoPort::parse(c.in);
    ASSERT_TRUE(p.ok()) << c.in << ": " << p.error();
    EXPECT_EQ(p->protocol, c.proto) << c.in;
    EXPECT_EQ(p->port, c.port) << c.in;
    EXPECT_EQ(p->any_port, c.any) << c.in;
    EXPECT_EQ(p->str(), c.out) << c.in;
    EXPECT_EQ(*ProtoPort::parse(p->str()), *p) << "round trip " << c.in;
  }
}

TEST(ProtoPortTest, Errors) {
  expect_error(ProtoPort::parse(""), {"empty protoport"});
  expect_error(ProtoPort::parse("tcpx/22"), {"unknown protocol \"tcpx\""});
  expect_error(ProtoPort::parse("256/0"), {"0 to 255"});
  expect_error(ProtoPort::parse("tcp/65536"), {"0 to 65535"});
  expect_error(ProtoPort::parse("tcp/99999999999999999999999"), {"0 to 65535"});
  expect_error(ProtoPort::parse("tcp/nosuchservice"), {"unknown port \"nosuchservice\""});
  expect_error(ProtoPort::parse("0/22"), {"a port needs a protocol"});
  expect_error(ProtoPort::parse("tcp/"), {"unknown port"});
  expect_error(ProtoPort::parse(std::string(1000, 'x')), {"too long"});
}

// ------------------------------------------------------------------ Identity

TEST(IdentityTest, Specials) {
  EXPECT_EQ(Identity::parse("%any")->kind, IdKind::kAny);
  EXPECT_EQ(Identity::parse("")->kind, IdKind::kAny);
  EXPECT_EQ(Identity::parse("%none")->kind, IdKind::kNone);
  EXPECT_EQ(Identity::parse("%null")->kind, IdKind::kNull);
  EXPECT_EQ(Identity::parse("%fromcert")->kind, IdKind::kFromCert);
  expect_error(Identity::parse("%bogus"), {"%any, %none, %null and %fromcert"});
}

TEST(IdentityTest, Fqdn) {
  auto id = Identity::parse("@east.example.org");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->kind, IdKind::kFqdn);
  EXPECT_EQ(id->value, "east.example.org");
  EXPECT_EQ(id->str(), "@east.example.org");
  EXPECT_EQ(Identity::parse("@*.testing.libreswan.org")->value, "*.testing.libreswan.org");
  auto bare = Identity::parse("east.example.net");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->kind, IdKind::kFqdn);
  EXPECT_EQ(bare->str(), "@east.example.net");
  auto literal = Identity::parse("@[foo]");
  ASSERT_TRUE(literal.ok());
  EXPECT_EQ(literal->kind, IdKind::kFqdn);
  EXPECT_EQ(literal->value, "foo");
  expect_error(Identity::parse("@[foo"), {"closed by ']'"});
  expect_error(Identity::parse("@"), {"has no name"});
  expect_error(Identity::parse("@east west"), {"without spaces"});
  expect_error(Identity::parse("east west"), {"is not an address"});
}

TEST(IdentityTest, UserFqdn) {
  auto id = Identity::parse("user-east@testing.libreswan.org");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->kind, IdKind::kUserFqdn);
  EXPECT_EQ(id->str(), "user-east@testing.libreswan.org");
  expect_error(Identity::parse("user@"), {"user@host"});
}

TEST(IdentityTest, Addresses) {
  auto v4 = Identity::parse("192.0.2.45");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->kind, IdKind::kIpv4);
  EXPECT_EQ(v4->str(), "192.0.2.45");
  auto v6 = Identity::parse("2001:DB8:1:2:0:0:0:45");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->kind, IdKind::kIpv6);
  EXPECT_EQ(v6->str(), "2001:db8:1:2::45");
  expect_error(Identity::parse("2001:db8::g"), {"IPv6"});
}

TEST(IdentityTest, KeyId) {
  auto id = Identity::parse("@#0A0b0C");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->kind, IdKind::kKeyId);
  EXPECT_EQ(id->value, "0a0b0c");
  EXPECT_EQ(id->str(), "@#0a0b0c");
  expect_error(Identity::parse("@#0a0"), {"even number of hex digits"});
  expect_error(Identity::parse("@#xyz1"), {"hex digits"});
}

TEST(IdentityTest, DerDnInHex) {
  // SEQUENCE { SET { SEQUENCE { OID 2.5.4.6 (C), PrintableString "CA" } } }
  auto id = Identity::parse("@~300d310b3009060355040613024341");
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_EQ(id->kind, IdKind::kDn);
  EXPECT_EQ(id->value, "C=CA");
  expect_error(Identity::parse("@~1234abcd"), {"not a DER-encoded distinguished name"});
  expect_error(Identity::parse("@~123"), {"even number of hex digits"});
}

TEST(IdentityTest, DistinguishedNames) {
  auto id = Identity::parse(
      "C=CA, ST=Ontario, L=Toronto, O=Libreswan, OU=Test Department, "
      "CN=west.testing.libreswan.org, E=user-west@testing.libreswan.org");
  ASSERT_TRUE(id.ok()) << id.error();
  EXPECT_EQ(id->kind, IdKind::kDn);
  EXPECT_EQ(id->str(),
            "C=CA, ST=Ontario, L=Toronto, O=Libreswan, OU=Test Department, "
            "CN=west.testing.libreswan.org, E=user-west@testing.libreswan.org");
  // Spacing and attribute spellings do not change the identity.
  EXPECT_EQ(*Identity::parse("C=CA,O=Libreswan,CN=east"),
            *Identity::parse("c = CA ,  organizationName=Libreswan, commonName=east"));
  EXPECT_EQ(Identity::parse("emailAddress=a@b.example")->str(), "E=a@b.example");
  // The slash form.
  EXPECT_EQ(Identity::parse("C=CA/ST=Ontario/O=Libreswan/OU=Test Department/CN=east")->str(),
            "C=CA, ST=Ontario, O=Libreswan, OU=Test Department, CN=east");
  EXPECT_EQ(Identity::parse("/C=CA/O=Libre/swan")->str(), "C=CA, O=\"Libre/swan\"");
  // Wildcards pass through.
  EXPECT_EQ(Identity::parse("C=CA, CN=*, E=*")->str(), "C=CA, CN=*, E=*");
}

TEST(IdentityTest, DnEscapesAndQuotes) {
  auto escaped = Identity::parse("E=user-comma\\,@example.org,CN=comma\\,.example.org,C=CA");
  ASSERT_TRUE(escaped.ok()) << escaped.error();
  EXPECT_EQ(escaped->str(), "E=\"user-comma,@example.org\", CN=\"comma,.example.org\", C=CA");
  auto doubled = Identity::parse("E=user-comma,,@example.org,CN=comma,,.example.org,C=CA");
  ASSERT_TRUE(doubled.ok()) << doubled.error();
  EXPECT_EQ(*doubled, *escaped);
  auto q = Identity::parse("CN=\"Smith, John\", O=\"Say \\\"hi\\\"\"");
  ASSERT_TRUE(q.ok()) << q.error();
  EXPECT_EQ(q->str(), "CN=\"Smith, John\", O=\"Say \\\"hi\\\"\"");
  EXPECT_EQ(*Identity::parse(q->str()), *q);
}

TEST(IdentityTest, DnErrors) {
  expect_error(Identity::parse("XX=foo, CN=bar"), {"unknown attribute \"XX\"", "CN"});
  expect_error(Identity::parse("CN=, O=x"), {"empty value"});
  expect_error(Identity::parse("CN=a,"), {"ends with a separator"});
  expect_error(Identity::parse("CN=\"open"), {"never closed"});
  expect_error(Identity::parse("CN=a, junk"), {"not ATTRIBUTE=VALUE"});
  expect_error(Identity::parse("CN=\"a\"b"), {"after the quoted value"});
  EXPECT_EQ(Identity::parse("2.5.4.3=east")->str(), "2.5.4.3=east");
}

TEST(IdentityTest, RoundTripEveryKind) {
  for (const char* in :
       {"%any", "%none", "%null", "%fromcert", "@east", "east", "user@example.org", "192.0.2.1",
        "2001:db8::1", "@#0a0b", "C=CA, O=Libreswan, CN=east", "CN=\"a,b\"", "@[bracketed]"}) {
    auto id = Identity::parse(in);
    ASSERT_TRUE(id.ok()) << in << ": " << id.error();
    auto again = Identity::parse(id->str());
    ASSERT_TRUE(again.ok()) << id->str();
    EXPECT_EQ(*again, *id) << in;
  }
}

TEST(IdentityTest, HugeInputIsRefused) {
  expect_error(Identity::parse(std::string(100000, 'a')), {"too long"});
  // Long but legal values still work.
  auto long_dn = Identity::parse("CN=" + std::string(3000, 'x'));
  EXPECT_TRUE(long_dn.ok());
}

// ------------------------------------------------------------------ durations

TEST(DurationTest, UnitsAndDefaults) {
  EXPECT_EQ(*parse_duration("3600"), milliseconds(3600000));
  EXPECT_EQ(*parse_duration("60s"), milliseconds(60000));
  EXPECT_EQ(*parse_duration("30m"), milliseconds(1800000));
  EXPECT_EQ(*parse_duration("8h"), milliseconds(28800000));
  EXPECT_EQ(*parse_duration("1d"), milliseconds(86400000));
  EXPECT_EQ(*parse_duration("1w"), milliseconds(604800000));
  EXPECT_EQ(*parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(*parse_duration("2000us"), milliseconds(2));
  EXPECT_EQ(*parse_duration("1.5h"), milliseconds(5400000));
  EXPECT_EQ(*parse_duration("0.5s"), milliseconds(500));
  EXPECT_EQ(*parse_duration("0"), milliseconds(0));
  // retransmit-interval counts milliseconds when no unit is given.
  EXPECT_EQ(*parse_duration("2000", TimeUnit::kMilliseconds), milliseconds(2000));
  EXPECT_EQ(*parse_duration("15s", TimeUnit::kMilliseconds), milliseconds(15000));
}

TEST(DurationTest, Errors) {
  expect_error(parse_duration(""), {"empty duration", "90s"});
  expect_error(parse_duration("10seconds"), {"unknown unit \"seconds\""});
  expect_error(parse_duration("0xA"), {"hexadecimal"});
  expect_error(parse_duration("-5s"), {"does not start with a number"});
  expect_error(parse_duration("s"), {"does not start with a number"});
  expect_error(parse_duration("1.s"), {"no digits after the '.'"});
  expect_error(parse_duration(".5s"), {"does not start with a number"});
  expect_error(parse_duration("10 s"), {"unknown unit"});
  expect_error(parse_duration("1500us"), {"finer than a millisecond"});
  expect_error(parse_duration("0.0001s"), {"finer than a millisecond"});
  expect_error(parse_duration("1.1234567891s"), {"more than 9 decimal places"});
}

TEST(DurationTest, OverflowIsAnError) {
  expect_error(parse_duration("18446744073709551616"), {"too large"});
  expect_error(parse_duration("99999999999999999w"), {"too large"});
  expect_error(parse_duration("9223372036854775807s"), {"too large"});
  EXPECT_TRUE(parse_duration("9223372036854775807ms").ok());
  expect_error(parse_duration("9223372036854775808ms"), {"too large"});
  expect_error(parse_duration(std::string(200, '9')), {"too long"});
}

// ------------------------------------------------------------------ yes/no, numbers

TEST(YesNoTest, OnlyYesAndNo) {
  EXPECT_TRUE(*parse_yes_no("yes"));
  EXPECT_FALSE(*parse_yes_no("no"));
  expect_error(parse_yes_no("true"), {"expected \"yes\" or \"no\"", "\"true\""});
  expect_error(parse_yes_no("YES"), {"\"YES\""});
  expect_error(parse_yes_no(""), {"expected"});
}

TEST(UnsignedTest, DecimalHexAndRange) {
  EXPECT_EQ(*parse_unsigned("64"), 64u);
  EXPECT_EQ(*parse_unsigned("0x10"), 16u);
  EXPECT_EQ(*parse_unsigned("0XfF"), 255u);
  EXPECT_EQ(*parse_unsigned("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(*parse_unsigned("4294967295", 0, UINT32_MAX), 4294967295u);
  expect_error(parse_unsigned("4294967296", 0, UINT32_MAX), {"out of range", "0 to 4294967295"});
  expect_error(parse_unsigned("18446744073709551616"), {"too large"});
  expect_error(parse_unsigned("0x10000000000000000"), {"too large"});
  expect_error(parse_unsigned("5", 10, 20), {"out of range", "10 to 20"});
  expect_error(parse_unsigned("-1"), {"not a number"});
  expect_error(parse_unsigned("12abc"), {"not a number"});
  expect_error(parse_unsigned("0x"), {"not a number"});
  expect_error(parse_unsigned(""), {"empty number"});
  expect_error(parse_unsigned(" 1"), {"not a number"});
}

// ------------------------------------------------------------------ Mark

TEST(MarkTest, ValueMaskAndUnique) {
  auto m = Mark::parse("20/0xffffffff");
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->value, 20u);
  EXPECT_EQ(m->mask, 0xffffffffu);
  EXPECT_EQ(m->str(), "20/0xffffffff");
  auto no_mask = Mark::parse("0x14");
  ASSERT_TRUE(no_mask.ok());
  EXPECT_EQ(*no_mask, *m);
  auto small = Mark::parse("1/0xff");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->str(), "1/0x000000ff");
  EXPECT_EQ(*Mark::parse(small->str()), *small);
  auto unique = Mark::parse("-1");
  ASSERT_TRUE(unique.ok());
  EXPECT_TRUE(unique->unique);
  EXPECT_EQ(*Mark::parse(unique->str()), *unique);
  EXPECT_EQ(Mark::parse("0/0")->str(), "0/0x00000000");
}

TEST(MarkTest, Errors) {
  expect_error(Mark::parse(""), {"empty mark"});
  expect_error(Mark::parse("4294967296"), {"value", "out of range"});
  expect_error(Mark::parse("1/0x1ffffffff"), {"mask", "out of range"});
  expect_error(Mark::parse("0x100/0xff"), {"outside the mask"});
  expect_error(Mark::parse("abc"), {"not a number"});
  expect_error(Mark::parse("-2"), {"not a number"});
}

// ------------------------------------------------------------------ robustness

TEST(ValuesRobustness, ArbitraryBytesNeverCrash) {
  // A cheap deterministic fuzz: every parser must answer, never throw or crash.
  uint32_t seed = 12345;
  const std::string alphabet = "0123456789abcdefx.:/%@#~=,\" -+;{}[]\\*\x01\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    seed = seed * 1103515245 + 12345;
    size_t len = (seed >> 16) % 40;
    for (size_t j = 0; j < len; ++j) {
      seed = seed * 1103515245 + 12345;
      s += alphabet[(seed >> 16) % alphabet.size()];
    }
    (void)IpAddress::parse(s).ok();
    (void)Subnet::parse(s).ok();
    (void)parse_subnet_list(s).ok();
    (void)ProtoPort::parse(s).ok();
    auto id = Identity::parse(s);
    if (id.ok()) {
      auto again = Identity::parse(id->str());
      EXPECT_TRUE(again.ok()) << s << " -> " << id->str();
      if (again.ok()) {
        EXPECT_EQ(*again, *id) << s;
      }
    }
    (void)parse_duration(s).ok();
    (void)parse_unsigned(s).ok();
    (void)Mark::parse(s).ok();
  }
}

// The ttodata(3) forms both ipsec.secrets and leftrsasigkey= decode.
std::string ttodata(std::string_view text) {
  std::string out(text.size(), '\0');
  Result<size_t> n = decode_ttodata(text, out);
  if (!n) {
    return "error: " + n.error();
  }
  out.resize(n.value());
  return out;
}

TEST(DecodeTtodata, EachFormEitherCase) {
  EXPECT_EQ(ttodata("0x414243"), "ABC");
  EXPECT_EQ(ttodata("0X41_42_43"), "ABC");
  EXPECT_EQ(ttodata("0sQUJD"), "ABC");
  EXPECT_EQ(ttodata("0SQUI="), "AB");
  EXPECT_EQ(ttodata("0sQQ=="), "A");
  EXPECT_EQ(ttodata("0tABC"), "ABC");
  EXPECT_EQ(ttodata("0T0x"), "0x");
}

TEST(DecodeTtodata, BadInputNamesThePositionNotTheCharacter) {
  EXPECT_EQ(ttodata("QUJD"),
            "error: expected 0x followed by hex digits, 0s followed by base64 "
            "or 0t followed by text");
  EXPECT_EQ(ttodata("0t"), "error: 0t is not followed by any data");
  EXPECT_EQ(ttodata("0x4_142"), "error: hex data: character 4 is not a hex digit");
  EXPECT_EQ(ttodata("0x41__42"), "error: hex data: character 6 is not a hex digit");
  EXPECT_EQ(ttodata("0sQUJDQ"), "error: base64 data length is not a multiple of 4 (truncated?)");
  EXPECT_EQ(ttodata("0sQU=D"), "error: base64 data: character 6 follows '=' padding");
  EXPECT_EQ(ttodata("0sQ===QUJD"),
            "error: base64 data: character 4 is padding ('=') before the end");
  EXPECT_EQ(ttodata("0sQR=="), "error: base64 data: non-zero bits in the padding at the end");
  std::string small(3, '\0');
  Result<size_t> n = decode_ttodata("0x414243", small);
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().find("holds only 3 bytes"), std::string::npos) << n.error();
}

}  // namespace
}  // namespace ipsecd::model
