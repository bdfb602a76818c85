// The textgrad program's heap settings (Note [Huge pages for the heap] in tools/textgrad/main.cpp)
// reach jemalloc, and MALLOC_CONF still adds to them.
#include <gtest/gtest.h>

#include "support/cli_fixture.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg::testing {
namespace {

// jemalloc prints its options at exit when asked to through MALLOC_CONF.
std::string allocator_options(const std::string& malloc_conf) {
  const ProcessResult result =
      run_process({textgrad_tool(), "--version"}, {{"MALLOC_CONF", malloc_conf}});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.err;
}

TEST(CliAllocator, TheProgramAsksJemallocForHugePagesAndTwoArenas) {
  if (!TEXTGRAD_TOOL_USES_JEMALLOC)
    GTEST_SKIP() << "the textgrad program is built without jemalloc";
  const std::string options = allocator_options("stats_print:true");
  EXPECT_NE(options.find("opt.thp: \"always\""), std::string::npos) << options;
  EXPECT_NE(options.find("opt.narenas: 2\n"), std::string::npos) << options;
}

TEST(CliAllocator, MallocConfStillOverridesTheProgramsSettings) {
  if (!TEXTGRAD_TOOL_USES_JEMALLOC)
    GTEST_SKIP() << "the textgrad program is built without jemalloc";
  const std::string options = allocator_options("stats_print:true,thp:never,narenas:3");
  EXPECT_NE(options.find("opt.thp: \"never\""), std::string::npos) << options;
  EXPECT_NE(options.find("opt.narenas: 3\n"), std::string::npos) << options;
}

}  // namespace
}  // namespace tg::testing
