#include "model/text.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace ipsecd::model::text
