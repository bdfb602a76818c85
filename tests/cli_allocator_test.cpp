// The textgrad program's heap settings (Note [Huge pages for the heap] in tools/textgrad/main.cpp)
// reach jemalloc, and MALLOC_CONF still adds to them.
#include <gtest/gtest.h>

#include "support/cli_fixture.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg::testing {
namespace {

// Runs the program with `malloc_conf` in MALLOC_CONF (plus stats_print, through which jemalloc
// prints its options at exit) and checks the transparent huge page mode and arenas it reports.
void expect_options(const std::string& malloc_conf, const std::string& thp, int narenas) {
  if (!TEXTGRAD_TOOL_USES_JEMALLOC)
    GTEST_SKIP() << "the textgrad program is built without jemalloc";
  const ProcessResult result = run_process({textgrad_tool(), "--version"},
                                           {{"MALLOC_CONF", "stats_print:true" + malloc_conf}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("opt.thp: \"" + thp + "\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("opt.narenas: " + std::to_string(narenas) + "\n"), std::string::npos)
      << result.err;
}

TEST(CliAllocator, TheProgramAsksJemallocForHugePagesAndTwoArenas) {
  expect_options("", "always", 2);
}

TEST(CliAllocator, MallocConfStillOverridesTheProgramsSettings) {
  expect_options(",thp:never,narenas:3", "never", 3);
}

}  // namespace
}  // namespace tg::testing
