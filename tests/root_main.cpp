// main() for the tiers that need root (netns, interop): without root the whole
// program is skipped with its reason (exit 77, ctest's SKIP_RETURN_CODE)
// instead of passing a suite of skipped cases.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::printf(
        "SKIP: %s needs root (network namespaces, XFRM state, IKE peers); run the suite as "
        "root, as CI does\n",
        argv[0]);
    return 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
