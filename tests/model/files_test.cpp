#include "model/files.h"

#include <gtest/gtest.h>

#include <string>

#include "model/config.h"
#include "model/yaml_spec.h"
#include "tests/support/temp_dir.h"

namespace ipsecd::model {
namespace {

using ipsecd::testing::TempDir;

TEST(ReadFile, WholeFileUpToTheLimit) {
  TempDir dir;
  const std::string path = dir.write("a.conf", std::string(100, 'x'));
  Result<std::string> all = read_file(path, 100);
  ASSERT_TRUE(all) << all.error();
  EXPECT_EQ(all.value(), std::string(100, 'x'));
  EXPECT_TRUE(read_file(dir.write("empty", ""), 0));
}

TEST(ReadFile, RefusesWithTheReason) {
  TempDir dir;
  const std::string path = dir.write("a.conf", std::string(101, 'x'));
  Result<std::string> big = read_file(path, 100, "; split it");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), "is larger than 100 bytes; split it");
  Result<std::string> missing = read_file(dir / "none.conf", 100);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "No such file or directory");
  Result<std::string> directory = read_file(dir.path(), 100);
  ASSERT_FALSE(directory);
  EXPECT_EQ(directory.error(), "Is a directory");
}

// Both readers of configuration text go through it and say so.
TEST(ReadFile, ConfigAndYamlReadersNameTheFileAndReason) {
  TempDir dir;
  Config conf = parse_config_file(dir / "missing.conf");
  ASSERT_FALSE(conf.diagnostics.all().empty());
  EXPECT_NE(conf.diagnostics.all().front().message.find(
                "cannot read configuration: No such file or directory"),
            std::string::npos)
      << conf.diagnostics.all().front().message;
  Config yaml = parse_yaml_file(dir / "missing.yaml");
  ASSERT_FALSE(yaml.diagnostics.all().empty());
  EXPECT_EQ(yaml.diagnostics.all().front().message,
            "cannot read YAML spec: No such file or directory");
}

}  // namespace
}  // namespace ipsecd::model
