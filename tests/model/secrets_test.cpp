#include "model/secrets.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace ipsecd::model {
namespace {

namespace fs = std::filesystem;

Identity id(std::string_view text) {
  auto r = Identity::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.error();
  return r.ok() ? r.value() : Identity{};
}

SecretsParseResult parse(std::string_view text) {
  return parse_secrets_text(text, "t.secrets");
}

std::string all_messages(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d.all()) {
    out += x.str();
    out += '\n';
  }
  return out;
}

// Parses text expected to hold exactly one error; returns "LINE: MESSAGE".
std::string only_error(std::string_view text) {
  auto r = parse(text);
  EXPECT_EQ(r.diagnostics.error_count(), 1) << all_messages(r.diagnostics);
  for (const auto& d : r.diagnostics.all()) {
    if (d.severity == Severity::kError) {
      EXPECT_EQ(d.file, "t.secrets");
      return std::to_string(d.line) + ": " + d.message;
    }
  }
  return "(no error)";
}

using ipsecd::testing::TempDir;

// ---------------------------------------------------------------------------
// SecretBytes

TEST(SecretBytes, PrintsOnlyItsLength) {
  SecretBytes s("hunter2-hunter2");
  EXPECT_EQ(s.str(), "<redacted 15 bytes>");
  EXPECT_EQ(SecretBytes().str(), "<redacted 0 bytes>");
  EXPECT_EQ(s.view(), "hunter2-hunter2");
}

TEST(SecretBytes, ComparesByContent) {
  EXPECT_TRUE(SecretBytes("abcdefgh") == SecretBytes("abcdefgh"));
  EXPECT_FALSE(SecretBytes("abcdefgh") == SecretBytes("abcdefgX"));
  EXPECT_FALSE(SecretBytes("abcdefgh") == SecretBytes("abcdefg"));
  EXPECT_TRUE(SecretBytes() == SecretBytes(""));
}

TEST(SecretBytes, MoveEmptiesTheSourceAndCopyIsExplicit) {
  SecretBytes a("0123456789");
  SecretBytes b = a.copy();
  EXPECT_TRUE(a == b);
  SecretBytes c(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(c.view(), "0123456789");
  c = SecretBytes("other");
  EXPECT_EQ(c.view(), "other");
  b = std::move(c);
  EXPECT_EQ(b.view(), "other");
  EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecretBytes, TextAndOctetsAreTheSameSecret) {
  // One class for ipsec.secrets' PSKs (text) and the engine's keys (octets).
  const uint8_t octets[] = {'p', 's', 'k', 0x00, 0xff};
  SecretBytes from_text(std::string_view("psk\0\xff", 5));
  SecretBytes from_octets{std::span<const uint8_t>(octets)};
  EXPECT_TRUE(from_text == from_octets);
  EXPECT_EQ(from_octets.view(), from_text.view());
  EXPECT_EQ(from_text.slice(1, 2).view(), "sk");
  EXPECT_EQ(SecretBytes(size_t{4}).view(), std::string_view("\0\0\0\0", 4));
  EXPECT_DEATH((void)from_text.slice(4, 2), "");  // outside the key material
}

// ---------------------------------------------------------------------------
// Entries

TEST(SecretsParse, PskForms) {
  auto r = parse(
      "@a @b : PSK \"double quoted secret\"\n"
      "@a @c : PSK 'single \"quoted\" secret'\n"
      "@a @d : PSK 0x0102_0304ff\n"
      "@a @e : PSK 0sQUJDREVGR0g=\n"
      "@a @f : PSK 0tplain text to the end\n"
      "@a @g : psk \"lower-case type\"\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 6u);
  const auto& e = r.secrets.entries;
  EXPECT_EQ(e[0].secret.view(), "double quoted secret");
  EXPECT_EQ(e[1].secret.view(), "single \"quoted\" secret");
  EXPECT_EQ(e[2].secret.view(), std::string_view("\x01\x02\x03\x04\xff", 5));
  EXPECT_EQ(e[3].secret.view(), "ABCDEFGH");
  EXPECT_EQ(e[4].secret.view(), "plain text to the end");
  EXPECT_EQ(e[5].secret.view(), "lower-case type");
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(e[i].kind, SecretKind::kPsk);
    EXPECT_EQ(e[i].line, static_cast<int>(i + 1));
    EXPECT_EQ(e[i].file, "t.secrets");
  }
}

TEST(SecretsParse, Base64PaddingForms) {
  auto r = parse(": PSK 0sDA==\n: PSK 0sDCA=\n: PSK 0sAbraCadabra+\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 3u);
  EXPECT_EQ(r.secrets.entries[0].secret.view(), "\x0c");
  EXPECT_EQ(r.secrets.entries[1].secret.view(), "\x0c\x20");
  EXPECT_EQ(r.secrets.entries[2].secret.view(),
            std::string_view("\x01\xba\xda\x09\xa7\x5a\x6e\xb6\xbe", 9));
}

TEST(SecretsParse, SelectorKinds) {
  auto r = parse(
      "192.0.2.1 2001:db8::1 @east.example.org user@example.org \"C=CA, O=Libreswan, CN=east\" "
      "%any %any6 \"2001:db8::2\" : PSK \"a long enough secret\"\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 1u);
  const auto& s = r.secrets.entries[0].selectors;
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s[0].kind, IdKind::kIpv4);
  EXPECT_EQ(s[1].kind, IdKind::kIpv6);
  EXPECT_EQ(s[2].kind, IdKind::kFqdn);
  EXPECT_EQ(s[3].kind, IdKind::kUserFqdn);
  EXPECT_EQ(s[4].kind, IdKind::kDn);
  EXPECT_EQ(s[5].kind, IdKind::kAny);
  EXPECT_EQ(s[6].kind, IdKind::kAny);
  EXPECT_EQ(s[7].kind, IdKind::kIpv6);
}

TEST(SecretsParse, NoSelectorsMeansAny) {
  auto r = parse(": PSK \"for everybody\"\n");
  ASSERT_EQ(r.secrets.entries.size(), 1u);
  EXPECT_TRUE(r.secrets.entries[0].selectors.empty());
}

TEST(SecretsParse, ColonGluedToTheLastSelector) {
  // A trailing ':' separates from its token, even after an IPv6 address.
  auto r = parse(
      "192.0.2.23: PSK \"glued to an IPv4 address\"\n"
      "@east \"8::\" 2001:db8:1:2::45:  PSK \"glued to an IPv6 address\"\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 2u);
  EXPECT_EQ(r.secrets.entries[0].selectors[0].kind, IdKind::kIpv4);
  ASSERT_EQ(r.secrets.entries[1].selectors.size(), 3u);
  EXPECT_EQ(r.secrets.entries[1].selectors[2].kind, IdKind::kIpv6);
  EXPECT_EQ(r.secrets.entries[1].selectors[2].value, "2001:db8:1:2::45");
}

TEST(SecretsParse, ContinuationLinesAndComments) {
  auto r = parse(
      "# a comment in column 1\n"
      "www.example.org @www.example.net   # trailing comment\n"
      "\n"
      "# comment lines and blank lines do not end an entry\n"
      "\t      192.0.2.1 192.0.2.2\n"
      "   : PSK \"secret shared by 4 systems\"\n"
      "@next : PSK \"a second entry, # not a comment inside quotes\"\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 2u);
  EXPECT_EQ(r.secrets.entries[0].selectors.size(), 4u);
  EXPECT_EQ(r.secrets.entries[0].line, 2);
  EXPECT_EQ(r.secrets.entries[0].secret.view(), "secret shared by 4 systems");
  EXPECT_EQ(r.secrets.entries[1].line, 7);
  EXPECT_EQ(r.secrets.entries[1].secret.view(), "a second entry, # not a comment inside quotes");
}

TEST(SecretsParse, HashInsideATokenIsNotAComment) {
  EXPECT_EQ(only_error("@a : PSK 0x00#11\n"), "1: PSK: hex data: character 5 is not a hex digit");
}

TEST(SecretsParse, CrLfLineEndings) {
  auto r = parse("@a @b : PSK \"windows line end\"\r\n@c : PSK 0xabcd\r\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 2u);
  EXPECT_EQ(r.secrets.entries[1].secret.view(), "\xab\xcd");
}

TEST(SecretsParse, XauthAndPpks) {
  auto r = parse(
      "@use1 : XAUTH \"use1pass\"\n"
      "@west @east : PPKS \"PPK_ID_1\" \"post-quantum preshared key\"\n"
      "@west @east : PPKS 'id2' 0x00112233445566778899\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 3u);
  EXPECT_EQ(r.secrets.entries[0].kind, SecretKind::kXauth);
  EXPECT_EQ(r.secrets.entries[0].secret.view(), "use1pass");
  EXPECT_EQ(r.secrets.entries[1].kind, SecretKind::kPpks);
  EXPECT_EQ(r.secrets.entries[1].key_ref, "PPK_ID_1");
  EXPECT_EQ(r.secrets.entries[1].secret.view(), "post-quantum preshared key");
  EXPECT_EQ(r.secrets.entries[2].key_ref, "id2");
  EXPECT_EQ(r.secrets.entries[2].secret.size(), 10u);
}

TEST(SecretsParse, RsaKeyBlockYieldsTheCkaid) {
  // Fields as newhostkey wrote them; the CKAID is SHA-1 of the modulus.
  const std::string modulus_hex =
      "c715fa722770a4e1f30a7021f90c3fe2651287d9fd12cbafd4e0c2e3dd77a0efaac7d6a2b230f264b0c5e6c7a727"
      "17"
      "547a8e32c9acfdbf8fb333b9747473dd23831153d6d4910e367e67fc891e48ace9da2e669d6e4fe298a7dc41b3a4"
      "37f507a99c23698354877bea00a75bab2d4134d1a3171ea7642d7fff457a5d855c73dd63e740adeb71e65f214380"
      "f5234c3d4a112cca9ad679c5c2516eafc36e99f5261c67ee8a3e304bc193a79234368cbfe6d0d3fe780b0a640444"
      "ca8c83fdf12eb5007661a6def159672b6dc257e0f27d6b9fd346418c31c2fdc46072083bbb56fb01fc1d574ecf7c"
      "0fc46f726f2a0ef330dba080f970ccbb07a9f9d77699634b6a0f1a3795cb9bea17f755626b8a8305ff437857ddbd"
      "08859cf162356e69c7040b4bc41bd238898cde56d0c82c5154321b7d27dccd377a4ecb1aecd2ce48ed43489c8afc"
      "309fb1571ca998e584936cda4dcc95e3f5f2a5b39d70ae248d083b0f8ce95aa5f04d9c3c2f7fbc1095341c967429"
      "fcabfb8f4b71aa0b26b5f03298906afd31f5ab";
  auto r = parse(
      "@road : RSA\t{\n"
      "\t# RSA 3104 bits   road\n"
      "\tModulus: 0x" +
      modulus_hex +
      "\n"
      "\tPublicExponent: 0x03\n"
      "\t# everything after this point is CKA_ID in hex format when using NSS\n"
      "\tPrivateExponent: 0x61559973d3acef7d3a370e3e82ad92c18a8225f1\n"
      "\tCKAIDNSS 0x61559973d3acef7d3a370e3e82ad92c18a8225f1\n"
      "\t}\n"
      "# do not change the indenting of that \"}\"\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 1u);
  const auto& e = r.secrets.entries[0];
  EXPECT_EQ(e.kind, SecretKind::kRsa);
  EXPECT_EQ(e.key_ref, "1a15cce89273439c2bf4202ac1066ef259b0ef45");
  EXPECT_TRUE(e.secret.empty());
}

TEST(SecretsParse, KeyReferences) {
  auto r = parse(
      ": RSA east\n"
      ": RSA \"west\"\n"
      ": RSA /etc/keys/west.key \"key passphrase\"\n"
      ": ECDSA 1a15cce89273439c2bf4202ac1066ef259b0ef45\n"
      ": RSA /etc/keys/prompted.key %prompt\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 5u);
  EXPECT_EQ(r.secrets.entries[0].key_ref, "east");
  EXPECT_EQ(r.secrets.entries[1].key_ref, "west");
  EXPECT_EQ(r.secrets.entries[2].key_ref, "/etc/keys/west.key");
  EXPECT_EQ(r.secrets.entries[2].secret.view(), "key passphrase");
  EXPECT_EQ(r.secrets.entries[3].kind, SecretKind::kEcdsa);
  EXPECT_EQ(r.secrets.entries[3].key_ref, "1a15cce89273439c2bf4202ac1066ef259b0ef45");
  EXPECT_TRUE(r.secrets.entries[4].secret.empty());
  EXPECT_EQ(r.diagnostics.all().size(), 1u) << "%prompt draws one warning";
}

TEST(SecretsParse, EmptyAndCommentOnlyFilesHaveNoEntries) {
  EXPECT_TRUE(parse("").secrets.entries.empty());
  auto r = parse("# empty\n\n   \n# disabled @east @west : PSK \"x\"\n");
  EXPECT_TRUE(r.secrets.entries.empty());
  EXPECT_TRUE(r.diagnostics.all().empty());
}

TEST(SecretsParse, ShortPskDrawsAWarningOnly) {
  auto r = parse(": PSK \"test\"\n");
  EXPECT_FALSE(r.diagnostics.has_errors());
  ASSERT_EQ(r.diagnostics.all().size(), 1u);
  EXPECT_EQ(r.diagnostics.all()[0].str(),
            "t.secrets:1: warning: weak PSK: shorter than 8 bytes; use a long random secret");
  EXPECT_EQ(r.secrets.entries.size(), 1u);
}

// ---------------------------------------------------------------------------
// Errors: each names its line and what would be right.

TEST(SecretsErrors, Quoting) {
  EXPECT_EQ(only_error("@a @b : PSK \"no end\n"),
            "1: unterminated quoted string: missing closing \" on this line (quotes cannot span "
            "lines)");
  EXPECT_EQ(only_error("@a\n  @b : PSK 'no end\n"),
            "2: unterminated quoted string: missing closing ' on this line (quotes cannot span "
            "lines)");
  EXPECT_EQ(only_error("@a : PSK `command`\n"),
            "1: PSK: back-quoted (`...`) secrets are not supported; quote the secret with "
            "\"...\"");
}

TEST(SecretsErrors, HexData) {
  EXPECT_EQ(only_error("@a : PSK 0x12g4\n"), "1: PSK: hex data: character 5 is not a hex digit");
  EXPECT_EQ(only_error("@a : PSK 0xz2\n"), "1: PSK: hex data: character 3 is not a hex digit");
  EXPECT_EQ(only_error("@a : PSK 0x123\n"),
            "1: PSK: hex data has an odd number of digits (each byte needs two)");
  EXPECT_EQ(only_error("@a : PSK 0x\n"), "1: PSK: 0x is not followed by any data");
  EXPECT_EQ(only_error("@a : PSK 0x1234_\n"),
            "1: PSK: hex data has an odd number of digits (each byte needs two)");
  EXPECT_EQ(only_error("@a : PSK 0x_1234\n"), "1: PSK: hex data: character 3 is not a hex digit");
}

TEST(SecretsErrors, Base64Data) {
  EXPECT_EQ(only_error("@a : PSK 0sQUJD*EVG\n"),
            "1: PSK: base64 data: character 7 is not a base64 character");
  EXPECT_EQ(only_error("@a : PSK 0sQUJDREV\n"),
            "1: PSK: base64 data length is not a multiple of 4 (truncated?)");
  EXPECT_EQ(only_error("@a : PSK 0sDC==\n"),
            "1: PSK: base64 data: non-zero bits in the padding at the end");
  EXPECT_EQ(only_error("@a : PSK 0sDA==QUJD\n"),
            "1: PSK: base64 data: character 5 is padding ('=') before the end");
  EXPECT_EQ(only_error("@a : PSK 0sDA=A\n"),
            "1: PSK: base64 data: character 6 follows '=' padding");
}

TEST(SecretsErrors, EntryStructure) {
  EXPECT_EQ(only_error("@a @b PSK \"forgot the colon\"\n"),
            "1: missing ':' between the selectors and the secret (expected \"[SELECTORS] : PSK "
            "\\\"SECRET\\\"\")");
  EXPECT_EQ(only_error("@a @b :PSK \"glued\"\n"),
            "1: ':' must be followed by a blank: write \"SELECTORS : PSK \\\"...\\\"\"");
  EXPECT_EQ(only_error("@a @b :\n"),
            "1: missing secret type after ':' (expected PSK, RSA, ECDSA, XAUTH or PPKS)");
  EXPECT_EQ(only_error("@a : PKS \"typo\"\n"),
            "1: unknown secret type after ':' (expected PSK, RSA, ECDSA, XAUTH or PPKS)");
  EXPECT_EQ(only_error("@a : PIN %smartcard 1234\n"),
            "1: PIN entries are obsolete: smartcard keys are found through NSS");
  EXPECT_EQ(only_error("@a :\n  PSK\n"),
            "2: PSK needs a secret after it: \"SECRET\", 0xHEX or 0sBASE64");
  EXPECT_EQ(only_error("@a : PSK bareword\n"),
            "1: PSK: expected a quoted string, 0x followed by hex digits, or 0s followed by "
            "base64");
  EXPECT_EQ(only_error("@a : PSK \"one\" \"two\"\n"),
            "1: unexpected text after the PSK; an entry holds one secret (is a ':' or a quote "
            "missing?)");
  EXPECT_EQ(only_error("@a : PSK \"\"\n"), "1: PSK is empty; a pre-shared key needs secret bytes");
  EXPECT_EQ(only_error("@a : XAUTH\n"),
            "1: XAUTH password needs a secret after it: \"SECRET\", 0xHEX or 0sBASE64");
  EXPECT_EQ(only_error("  @a : PSK \"indented first line\"\n"),
            "1: the file starts with an indented line; indentation continues the entry above, so "
            "the first entry must start in column 1");
}

TEST(SecretsErrors, Selectors) {
  EXPECT_EQ(only_error("@a %bogus : PSK \"long enough secret\"\n")
                .rfind("1: selector \"%bogus\" is not a valid identity: ", 0),
            0u);
  EXPECT_EQ(only_error("\"\" @a : PSK \"long enough secret\"\n"),
            "1: empty selector \"\"; write %any to match any identity");
}

TEST(SecretsErrors, Ppks) {
  EXPECT_EQ(only_error("@a : PPKS id \"secret-ppk\"\n"),
            "1: PPKS needs a quoted PPK ID and then the PPK: PPKS \"ID\" \"SECRET\"");
  EXPECT_EQ(only_error("@a : PPKS \"id\"\n"),
            "1: PPKS needs the PPK after the PPK ID: PPKS \"ID\" \"SECRET\"");
  EXPECT_EQ(only_error("@a : PPKS \"\" \"x\"\n"), "1: PPK ID is empty: PPKS \"ID\" \"SECRET\"");
  EXPECT_EQ(only_error("@a : PPKS \"id\" 0x1\n"),
            "1: PPK: hex data has an odd number of digits (each byte needs two)");
}

TEST(SecretsErrors, RsaBlock) {
  EXPECT_EQ(only_error(": RSA {\n  Modulus: 0x00ff\n  PublicExponent: 0x03\n"),
            "3: RSA key is not closed: expected an indented '}' after the key fields");
  // A '}' in column 1 is a record of its own: two errors.
  auto r = parse(": RSA {\n  Modulus: 0xc715\n  PublicExponent: 0x03\n}\n");
  ASSERT_EQ(r.diagnostics.error_count(), 2);
  EXPECT_EQ(r.diagnostics.all()[0].str(),
            "t.secrets:3: error: RSA key is not closed: expected an indented '}' after the key "
            "fields");
  EXPECT_EQ(r.diagnostics.all()[1].str(),
            "t.secrets:4: error: '}' in column 1 starts a new entry; indent the '}' that closes an "
            "RSA key");

  EXPECT_EQ(only_error(": RSA {\n  Moduls: 0xc715\n  }\n"),
            "2: unknown RSA key field \"Moduls\" (expected Modulus, PublicExponent, "
            "PrivateExponent, Prime1, Prime2, Exponent1, Exponent2, Coefficient or CKAIDNSS, each "
            "followed by ': 0x...')");
  EXPECT_EQ(only_error(": RSA {\n  PublicExponent: 0x03\n  }\n"),
            "1: RSA key lacks its Modulus field");
  EXPECT_EQ(only_error(": RSA {\n  Modulus: 0xc715\n  }\n"),
            "1: RSA key lacks its PublicExponent field");
  EXPECT_EQ(only_error(": RSA {\n  Modulus: 0xc715\n  PublicExponent: 0x03\n  } extra\n"),
            "4: unexpected text after the '}' that closes the RSA key");
  EXPECT_EQ(only_error(": RSA {\n  Modulus: 0xc715\n  PrivateExponent: 0xZZ\n  }\n"),
            "3: RSA key field PrivateExponent: hex data: character 3 is not a hex digit");
  EXPECT_EQ(only_error(": RSA {\n  Modulus:\n  }\n"), "2: RSA key field Modulus has no value");
  EXPECT_EQ(only_error(": RSA\n"),
            "1: RSA needs a key: a key file name, a CKAID, or (RSA only) a { ... } block");
  EXPECT_EQ(only_error(": ECDSA {\n  }\n"),
            "1: ECDSA keys have no { ... } form; name the key (file name or CKAID)");
  EXPECT_EQ(only_error(": RSA key.pem \"pass\" more\n"),
            "1: unexpected text after the key passphrase; an entry holds one secret (is a ':' or a "
            "quote missing?)");
}

TEST(SecretsErrors, IncludeSyntax) {
  EXPECT_EQ(only_error("include\n"), "1: include needs a file name or pattern: include FILE");
  EXPECT_EQ(only_error("include a b\n"),
            "1: unexpected text after the include file name (names cannot contain blanks)");
}

TEST(SecretsErrors, ParsingContinuesAfterAnError) {
  auto r = parse(
      "@a : PSK 0xnothex\n"
      "@b : PSK \"good entry number one\"\n"
      "@c PSK \"missing colon\"\n"
      "@d : PSK \"good entry number two\"\n");
  EXPECT_EQ(r.diagnostics.error_count(), 2);
  EXPECT_EQ(r.diagnostics.all()[0].line, 1);
  EXPECT_EQ(r.diagnostics.all()[1].line, 3);
  ASSERT_EQ(r.secrets.entries.size(), 2u);
  EXPECT_EQ(r.secrets.entries[0].line, 2);
  EXPECT_EQ(r.secrets.entries[1].line, 4);
}

TEST(SecretsErrors, NoSecretTextInAnyMessage) {
  // Every error path that sees secret material, each with its own marker.
  const std::vector<std::string> secrets = {
      "S3cretAlpha",   "S3cretBravo", "S3cretCharlie", "S3cretDelta",    "S3cretEcho",
      "S3cretFoxtrot", "S3cretGolf",  "S3cretHotel",   "S3cretIndia",    "S3cretJuliet",
      "S3cretKilo",    "S3cretLima",  "S3cretMike",    "S3cretNovember", "S3cretOscar"};
  const std::string text =
      "@a @b PSK \"S3cretAlpha\"\n"                             // missing ':'
      "@a @b : PSK \"S3cretBravo\n"                             // unterminated
      "@a @b : PSK S3cretCharlie\n"                             // unquoted word
      "@a @b : PSK \"S3cretDelta\" S3cretEcho\n"                // extra token
      "@a @b : \"S3cretFoxtrot\"\n"                             // secret where the type belongs
      "@a @b : S3cretGolf\n"                                    // unquoted, where the type belongs
      "@a @b : PSK 0xS3cretHotel\n"                             // bad hex
      "@a @b : PSK 0sS3cretIndia\n"                             // bad base64
      "@a @b :PSK \"S3cretJuliet\"\n"                           // glued colon
      "@a @b : PPKS S3cretKilo \"S3cretLima\"\n"                // unquoted PPK id
      "@a : RSA {\n  S3cretMike 0x00\n  }\n"                    // field name that is not a word
      "@a : RSA {\n  PrivateExponent: 0xS3cretNovember\n  }\n"  // bad private field
      "@a : XAUTH `S3cretOscar`\n";                             // back quotes
  auto r = parse(text);
  const std::string messages = all_messages(r.diagnostics);
  EXPECT_GE(r.diagnostics.error_count(), 13) << messages;
  for (const auto& s : secrets) {
    EXPECT_EQ(messages.find(s), std::string::npos) << s << " leaked in:\n" << messages;
    EXPECT_EQ(messages.find(s.substr(6)), std::string::npos) << s << " leaked in:\n" << messages;
  }
  EXPECT_TRUE(r.secrets.entries.empty());
}

// ---------------------------------------------------------------------------
// Includes

TEST(SecretsInclude, RelativeToTheIncludingFile) {
  TempDir dir;
  dir.write("sub/inner.secrets", "@inner : PSK \"inner secret value\"\n");
  const auto top = dir.write("top.secrets",
                             "@top : PSK \"top secret value\"\n"
                             "include sub/inner.secrets\n"
                             "@after : PSK \"after the include\"\n");
  auto r = parse_secrets_file(top);
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 3u);
  EXPECT_EQ(r.secrets.entries[0].selectors[0].value, "top");
  EXPECT_EQ(r.secrets.entries[1].selectors[0].value, "inner");
  EXPECT_EQ(r.secrets.entries[1].file, dir.path() + "/sub/inner.secrets");
  EXPECT_EQ(r.secrets.entries[1].line, 1);
  EXPECT_EQ(r.secrets.entries[2].selectors[0].value, "after");
}

TEST(SecretsInclude, NestedIncludeIsRelativeToItsOwnDirectory) {
  TempDir dir;
  dir.write("a/b/leaf.secrets", "@leaf : PSK \"leaf secret value\"\n");
  dir.write("a/mid.secrets", "include b/leaf.secrets\n");
  const auto top = dir.write("top.secrets", "include a/mid.secrets\n");
  auto r = parse_secrets_file(top);
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 1u);
}

TEST(SecretsInclude, TextIncludesResolveAgainstBaseDir) {
  TempDir dir;
  dir.write("x.secrets", "@x : PSK \"included from text\"\n");
  auto r = parse_secrets_text("include x.secrets\n", "api", dir.path());
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 1u);
}

TEST(SecretsInclude, GlobIncludesEveryMatchInOrder) {
  TempDir dir;
  dir.write("ipsec.b.secrets", "@b : PSK \"second file value\"\n");
  dir.write("ipsec.a.secrets", "@a : PSK \"first file value\"\n");
  dir.write("ipsec.c.other", "@c : PSK \"not matched at all\"\n");
  const auto top = dir.write("ipsec.secrets", "include ipsec.*.secrets\n");
  auto r = parse_secrets_file(top);
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  ASSERT_EQ(r.secrets.entries.size(), 2u);
  EXPECT_EQ(r.secrets.entries[0].selectors[0].value, "a");
  EXPECT_EQ(r.secrets.entries[1].selectors[0].value, "b");
}

TEST(SecretsInclude, PatternMatchingNothingIsAWarning) {
  TempDir dir;
  const auto top = dir.write("ipsec.secrets", "include conf.d/*.secrets\n: PSK \"still loaded\"\n");
  auto r = parse_secrets_file(top);
  EXPECT_FALSE(r.diagnostics.has_errors());
  ASSERT_EQ(r.diagnostics.all().size(), 1u);
  EXPECT_EQ(r.diagnostics.all()[0].str(),
            top + ":1: warning: include \"conf.d/*.secrets\": no file matches \"" + dir.path() +
                "/conf.d/*.secrets\"");
  EXPECT_EQ(r.secrets.entries.size(), 1u);
}

TEST(SecretsInclude, CycleIsReportedAtTheIncludeLine) {
  TempDir dir;
  const auto a = dir.write("a.secrets", "@a : PSK \"from file a value\"\ninclude b.secrets\n");
  const auto b = dir.write("b.secrets", "\n\ninclude a.secrets\n@b : PSK \"from file b value\"\n");
  auto r = parse_secrets_file(a);
  ASSERT_EQ(r.diagnostics.error_count(), 1) << all_messages(r.diagnostics);
  const auto& d = r.diagnostics.all()[0];
  EXPECT_EQ(d.file, b);
  EXPECT_EQ(d.line, 3);
  EXPECT_EQ(d.message, "include cycle: " + a + " -> " + b + " -> " + a + " (\"" + a +
                           "\" is already being read)");
  EXPECT_EQ(r.secrets.entries.size(), 2u) << "the rest of both files still loads";
}

TEST(SecretsInclude, SelfInclude) {
  TempDir dir;
  const auto a = dir.write("self.secrets", "include self.secrets\n");
  auto r = parse_secrets_file(a);
  ASSERT_EQ(r.diagnostics.error_count(), 1);
  EXPECT_EQ(r.diagnostics.all()[0].line, 1);
  EXPECT_NE(r.diagnostics.all()[0].message.find("include cycle"), std::string::npos);
}

TEST(SecretsInclude, NestingIsLimitedToTenLevels) {
  TempDir dir;
  for (int i = 0; i < 12; ++i) {
    dir.write("f" + std::to_string(i) + ".secrets", "@f" + std::to_string(i) +
                                                        " : PSK \"level secret value\"\ninclude f" +
                                                        std::to_string(i + 1) + ".secrets\n");
  }
  auto r = parse_secrets_file(dir.path() + "/f0.secrets");
  ASSERT_EQ(r.diagnostics.error_count(), 1) << all_messages(r.diagnostics);
  const auto& d = r.diagnostics.all()[0];
  EXPECT_EQ(d.file, dir.path() + "/f10.secrets");
  EXPECT_EQ(d.line, 2);
  EXPECT_EQ(d.message, "include of \"f11.secrets\" nested too deeply (more than 10 levels)");
  EXPECT_EQ(r.secrets.entries.size(), 11u);  // f0 .. f10
}

TEST(SecretsInclude, ErrorsInIncludedFilesNameThatFile) {
  TempDir dir;
  const auto inner = dir.write("inner.secrets", "\n@x : PSK 0xABC\n");
  const auto top = dir.write("top.secrets", "include inner.secrets\n");
  auto r = parse_secrets_file(top);
  ASSERT_EQ(r.diagnostics.error_count(), 1);
  EXPECT_EQ(r.diagnostics.all()[0].str(),
            inner + ":2: error: PSK: hex data has an odd number of digits (each byte needs two)");
}

TEST(SecretsInclude, DirectoryIsNotASecretsFile) {
  TempDir dir;
  fs::create_directories(dir.path() + "/d.secrets");
  const auto top = dir.write("top.secrets", "include *.secrets\n");
  auto r = parse_secrets_file(top);
  // top.secrets matches its own pattern (a cycle) and d.secrets is a directory.
  ASSERT_EQ(r.diagnostics.error_count(), 2) << all_messages(r.diagnostics);
  EXPECT_EQ(r.diagnostics.all()[0].message,
            "cannot read secrets file \"" + dir.path() + "/d.secrets\": not a regular file");
}

TEST(SecretsInclude, MissingTopFile) {
  auto r = parse_secrets_file("/nonexistent/ipsec.secrets");
  ASSERT_EQ(r.diagnostics.error_count(), 1);
  EXPECT_EQ(r.diagnostics.all()[0].str(),
            "/nonexistent/ipsec.secrets: error: cannot read secrets file "
            "\"/nonexistent/ipsec.secrets\": no such file");
}

// ---------------------------------------------------------------------------
// find_psk

const SecretEntry* find(const Secrets& s, std::string_view local, std::string_view remote) {
  return s.find_psk(id(local), id(remote));
}

std::string found(const SecretEntry* e) {
  return e == nullptr ? "none" : std::string(e->secret.view());
}

TEST(FindPsk, MostSpecificEntryWins) {
  auto r = parse(
      ": PSK \"no selectors\"\n"
      "%any %any : PSK \"any any\"\n"
      "%any @west : PSK \"any and remote\"\n"
      "@east : PSK \"local alone\"\n"
      "@east %any : PSK \"local and any\"\n"
      "@west @east : PSK \"local and remote\"\n");
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  const auto& s = r.secrets;
  EXPECT_EQ(found(find(s, "@east", "@west")), "local and remote");
  EXPECT_EQ(found(find(s, "@east", "@road")), "local and any");
  EXPECT_EQ(found(find(s, "@north", "@west")), "any and remote");
  EXPECT_EQ(found(find(s, "@north", "@south")), "no selectors");
}

TEST(FindPsk, RankingStepByStep) {
  // Remove the best entry each time: the next rank takes over.
  const std::vector<std::string> lines = {
      "@west @east : PSK \"local and remote\"\n",
      "@east %any : PSK \"local and any\"\n",
      "@east : PSK \"local alone\"\n",
      "%any @west : PSK \"any and remote\"\n",
      ": PSK \"no selectors\"\n",
  };
  for (size_t first = 0; first < lines.size(); ++first) {
    std::string text;
    // Later (weaker) entries first, so file order cannot be what decides.
    for (size_t i = lines.size(); i-- > first;) {
      text += lines[i];
    }
    auto r = parse(text);
    std::string want = lines[first].substr(lines[first].find('"') + 1);
    want.resize(want.find('"'));
    EXPECT_EQ(found(find(r.secrets, "@east", "@west")), want);
  }
}

TEST(FindPsk, EntriesThatMatchOnlyOneSideDoNotCount) {
  auto r = parse(
      "@west : PSK \"remote alone\"\n"
      "@east @north : PSK \"local with another peer\"\n");
  EXPECT_EQ(find(r.secrets, "@east", "@west"), nullptr);
  // A single selector equal to the local id is a default for every peer.
  auto r2 = parse("@east : PSK \"local alone\"\n");
  EXPECT_EQ(found(find(r2.secrets, "@east", "@anyone")), "local alone");
}

TEST(FindPsk, WildcardEntryWithAnUnrelatedIdDoesNotMatchOtherPairs) {
  auto r = parse("@east %any : PSK \"east with anyone\"\n");
  EXPECT_EQ(found(find(r.secrets, "@east", "@road")), "east with anyone");
  EXPECT_EQ(found(find(r.secrets, "@road", "@east")), "east with anyone");
  EXPECT_EQ(find(r.secrets, "@north", "@south"), nullptr);
}

TEST(FindPsk, SelectorOrderDoesNotMatter) {
  auto r = parse("@west @east : PSK \"symmetric entry\"\n");
  EXPECT_EQ(found(find(r.secrets, "@east", "@west")), "symmetric entry");
  EXPECT_EQ(found(find(r.secrets, "@west", "@east")), "symmetric entry");
}

TEST(FindPsk, TieGoesToTheFirstEntryInTheFile) {
  auto r = parse(
      "@east @west : PSK \"first of two\"\n"
      "@west @east : PSK \"second of two\"\n");
  EXPECT_EQ(found(find(r.secrets, "@east", "@west")), "first of two");
}

TEST(FindPsk, AddressesCompareByValueAndZeroAddressIsAny) {
  auto r = parse(
      "2001:db8:0:0::1 192.0.2.1 : PSK \"by address\"\n"
      "0.0.0.0 192.0.2.9 : PSK \"zero is any\"\n");
  EXPECT_EQ(found(find(r.secrets, "2001:db8::1", "192.0.2.1")), "by address");
  EXPECT_EQ(found(find(r.secrets, "192.0.2.9", "198.51.100.7")), "zero is any");
  EXPECT_EQ(find(r.secrets, "192.0.2.2", "198.51.100.7"), nullptr);
}

TEST(FindPsk, NamesCompareWithoutCaseOrTrailingDot) {
  auto r = parse("@East.Example.ORG. @west.example.org : PSK \"fqdn entry\"\n");
  EXPECT_EQ(found(find(r.secrets, "@east.example.org", "@WEST.example.org")), "fqdn entry");
}

TEST(FindPsk, DnsCompareWithoutBlanksAroundSeparators) {
  auto r =
      parse("\"C=CA, O=Libreswan, CN=east\" \"C=CA,O=Libreswan,CN=west\" : PSK \"dn entry\"\n");
  EXPECT_EQ(found(find(r.secrets, "C=CA,O=Libreswan,CN=east", "C=CA, O=Libreswan, CN=west")),
            "dn entry");
  EXPECT_EQ(find(r.secrets, "C=CA, O=Libreswan, CN=east", "C=CA, O=Libreswan, CN=north"), nullptr);
}

TEST(FindPsk, OnlyPskEntriesAreConsidered) {
  auto r = parse(
      "@east @west : XAUTH \"xauth password\"\n"
      "@east @west : PPKS \"id\" \"ppk value here\"\n");
  EXPECT_EQ(find(r.secrets, "@east", "@west"), nullptr);
}

// ---------------------------------------------------------------------------
// The libreswan test-suite corpus: IPSECD_LIBRESWAN_CORPUS, or ../shared beside
// the source tree (ctest sets IPSECD_SOURCE_DIR).

TEST(SecretsCorpus, EveryLibreswanSecretsFileParses) {
  std::string root_dir;
  if (const char* env = std::getenv("IPSECD_LIBRESWAN_CORPUS")) {
    root_dir = env;
  } else if (const char* src = std::getenv("IPSECD_SOURCE_DIR")) {
    root_dir = std::string(src) + "/../shared/corpus/libreswan";
  }
  if (root_dir.empty() || !std::ifstream(root_dir + "/EXPECTED.tsv")) {
    GTEST_SKIP() << "libreswan corpus not found (set IPSECD_LIBRESWAN_CORPUS to the directory "
                    "with EXPECTED.tsv)";
  }
  const char* root = root_dir.c_str();
  std::ifstream tsv(std::string(root) + "/EXPECTED.tsv");
  ASSERT_TRUE(tsv) << root << "/EXPECTED.tsv cannot be read";
  std::string row;
  int files = 0;
  int entries = 0;
  int warnings = 0;
  std::getline(tsv, row);  // header
  while (std::getline(tsv, row)) {
    std::istringstream cols(row);
    std::string file;
    std::string format;
    std::getline(cols, file, '\t');
    std::getline(cols, format, '\t');
    if (format != "ipsec.secrets") {
      continue;
    }
    ++files;
    auto r = parse_secrets_file(std::string(root) + "/" + file);
    EXPECT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
    entries += static_cast<int>(r.secrets.entries.size());
    warnings += static_cast<int>(r.diagnostics.all().size());
  }
  EXPECT_GT(files, 0);
  std::cout << "corpus: " << files << " secrets files, " << entries << " entries, " << warnings
            << " warnings, 0 errors expected\n";
}

TEST(FindPsk, IndexAgreesWithTheFullScan) {
  const std::string text =
      "@west @east : PSK \"a\"\n"
      "@EAST. %any : PSK \"b\"\n"
      "192.0.2.1 198.51.100.1 : PSK \"c\"\n"
      "2001:db8::1 %any : PSK \"d\"\n"
      "\"CN=a, O=b\" @east : PSK \"e\"\n"
      "user@example.com : PSK \"f\"\n"
      ": PSK \"g\"\n"
      "0.0.0.0 @north : PSK \"h\"\n";
  auto r = parse(text);
  ASSERT_FALSE(r.diagnostics.has_errors()) << all_messages(r.diagnostics);
  Secrets unindexed;  // the same entries, never indexed: find_psk scans them all
  unindexed.entries = std::move(parse(text).secrets.entries);
  const std::vector<std::string> ids = {
      "@west",        "@east",         "@east.",   "@EAST",      "192.0.2.1",
      "198.51.100.1", "2001:db8:0::1", "CN=a,O=b", "CN=a, O=b",  "user@example.com",
      "@north",       "@south",        "%any",     "203.0.113.9"};
  for (const auto& local : ids) {
    for (const auto& remote : ids) {
      EXPECT_EQ(found(find(r.secrets, local, remote)), found(find(unindexed, local, remote)))
          << local << " " << remote;
    }
  }
}

}  // namespace
}  // namespace ipsecd::model
