// Every keyword of libreswan's table (KEYWORDS.tsv beside the corpus) is
// recognised in its section, in each of its left/right forms; aliases resolve
// to their canonical keyword.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "model/keywords.h"

namespace ipsecd::model {
namespace {

std::vector<std::string> columns(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, '\t')) {
    out.push_back(cell);
  }
  return out;
}

TEST(Keywords, EveryLibreswanKeywordIsRecognised) {
  const char* src = std::getenv("IPSECD_SOURCE_DIR");
  std::filesystem::path tsv = std::filesystem::path(src != nullptr ? src : ".") / ".." / "shared" /
                              "corpus" / "libreswan" / "KEYWORDS.tsv";
  std::ifstream in(tsv);
  if (!in) {
    GTEST_SKIP() << "libreswan keyword list not found at " << tsv.string();
  }
  std::string line;
  std::getline(in, line);
  int checked = 0;
  while (std::getline(in, line)) {
    auto cols = columns(line);
    ASSERT_GE(cols.size(), 5u) << line;
    std::string keyword = cols[0];
    Section section = cols[2] == "config setup" ? Section::kSetup : Section::kConn;
    std::vector<std::string> forms;
    if (keyword.rfind("(empty", 0) == 0) {
      forms = {"left", "right"};
    } else {
      if (!keyword.empty() && keyword.back() == ',') {
        keyword.pop_back();  // libreswan's table spells "dns-match-id,"
      }
      std::istringstream f(cols[1]);
      std::string form;
      while (std::getline(f, form, '/')) {
        forms.push_back(form.back() == ',' ? form.substr(0, form.size() - 1) : form);
      }
    }
    for (const std::string& form : forms) {
      auto match = find_keyword(form, section);
      ASSERT_TRUE(match.has_value()) << form << " (" << cols[2] << ") is not recognised";
      if (cols[3] == "alias") {
        EXPECT_EQ(model::keyword(resolve_alias(match->id)).name, cols[4]) << form;
      }
      ++checked;
    }
  }
  std::printf("keywords: %d spellings of libreswan's table recognised\n", checked);
  EXPECT_GT(checked, 200);  // the list has 216 keywords, most with two forms
}

}  // namespace
}  // namespace ipsecd::model
