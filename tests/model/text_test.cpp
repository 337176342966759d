#include "model/text.h"

#include <gtest/gtest.h>

#include <string>

#include "model/config.h"

namespace ipsecd::model::text {
namespace {

TEST(Text, TrimTakesOnlyTheGivenBlanks) {
  EXPECT_EQ(trim("  a b\t"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  // A value keeps a CR, FF or VT, so the value's parser reports it; a line of a
  // file (CRLF endings) loses them.
  EXPECT_EQ(trim(" yes\r"), "yes\r");
  EXPECT_EQ(trim("\fyes\v"), "\fyes\v");
  EXPECT_EQ(trim("\t conn west \r", kLineBlanks), "conn west");
  EXPECT_EQ(trim("\r\f\v", kLineBlanks), "");
}

TEST(Text, HexValueRejectsWhatIsNotAHexDigit) {
  const std::string digits = "0123456789abcdefABCDEF";
  for (size_t i = 0; i < digits.size(); ++i) {
    EXPECT_EQ(hex_value(digits[i]), i < 16 ? static_cast<int>(i) : static_cast<int>(i) - 6)
        << digits[i];
  }
  for (char c : std::string("gG/:@`_ -\0\xff", 12)) {
    EXPECT_EQ(hex_value(c), -1) << static_cast<int>(c);
  }
}

TEST(Text, CaseHelpersAreAsciiOnly) {
  EXPECT_EQ(lower("AES_GCM16-SHA2"), "aes_gcm16-sha2");
  EXPECT_EQ(lower("\xc3\x84"), "\xc3\x84");
  EXPECT_TRUE(iequals("IKEv2", "ikev2"));
  EXPECT_FALSE(iequals("ikev2", "ikev"));
}

TEST(Text, JsonQuoteIsAlwaysValidJson) {
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quote("\t\r\n\x01\x7f"), "\"\\t\\r\\n\\u0001\\u007f\"");
  EXPECT_EQ(json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(json_quote("bad\xff\xc3"), "\"bad\\ufffd\\ufffd\"");
}

// ipsec readwriteconf --json writes values with it: a CR or a byte that is not
// UTF-8 in a file no longer makes its output invalid JSON.
TEST(Text, ReadwriteconfJsonEscapesWhatAFileHolds) {
  Config c = parse_config_text(
      "conn a\n\tleft=192.0.2.1\n\tright=192.0.2.2\n\tleftupdown=/bin/u\xff\n", "t.conf");
  const std::string json = format_config_json(c);
  EXPECT_NE(json.find("\"/bin/u\\ufffd\""), std::string::npos) << json;
  EXPECT_EQ(json.find('\xff'), std::string::npos) << json;
}

}  // namespace
}  // namespace ipsecd::model::text
