// `textgrad optimize --optimizer gepa`: a search runs against a fake provider, archives every
// proposal and its state, stays within --max-metric-calls, and bad flags exit 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;
using testing::TempDir;

class CliSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<fake::FakeLlmServer>(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
  }
  ProcessResult run(const std::string& run_dir, std::vector<std::string> extra) const {
    std::vector<std::string> a{std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad",
                               "optimize",
                               "--task",
                               "object_counting",
                               "--engine",
                               "openai/gpt-4o-mini",
                               "--train-size",
                               "6",
                               "--val-size",
                               "6",
                               "--test-size",
                               "6",
                               "--run-dir",
                               run_dir,
                               "--quiet",
                               "--optimizer",
                               "gepa"};
    a.insert(a.end(), extra.begin(), extra.end());
    return testing::run_process(a, {{"OPENAI_API_KEY", "fake-test-key-search-0123456789abcdef"},
                                    {"OPENAI_BASE_URL", server_->base_url() + "/v1"},
                                    {"TEXTGRAD_CACHE_DIR", dir_.file("cache")},
                                    {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}});
  }
  TempDir dir_;
  std::unique_ptr<fake::FakeLlmServer> server_;
};

TEST_F(CliSearchTest, SearchArchivesEveryProposalWithinTheBudget) {
  const std::string run_dir = dir_.file("gepa");
  ProcessResult r = run(run_dir, {"--max-metric-calls", "40", "--minibatch", "2", "--merge", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json state = json::parse(testing::read_text(run_dir + "/search_state.json"));
  EXPECT_LE(state["metric_calls"].get<int>(), 40);
  const int proposals = state["proposals"].get<int>();
  EXPECT_GT(proposals, 0);
  int archived = 0;
  for (const auto& f : fs::directory_iterator(run_dir + "/proposals")) {
    json p = json::parse(testing::read_text(f.path().string()));
    EXPECT_TRUE(p.contains("outcome") && p.contains("parents") && p.contains("child"));
    ++archived;
  }
  EXPECT_EQ(archived, proposals);
  json config = json::parse(testing::read_text(run_dir + "/config.json"));
  EXPECT_EQ(config["optimizer"]["max_metric_calls"], 40);
  EXPECT_TRUE(fs::exists(run_dir + "/steps/step_0001.json"));
  const std::string report = testing::read_text(run_dir + "/search.md");
  for (const char* section :
       {"## Candidate tree", "- #0: validation", "## Pareto front", "## Best candidate: #"}) {
    EXPECT_NE(report.find(section), std::string::npos) << section << "\n" << report;
  }
}

TEST_F(CliSearchTest, BadSearchFlagsExitTwoWithAClearMessage) {
  ProcessResult r = run(dir_.file("a"), {});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--max-metric-calls"), std::string::npos) << r.err;
  r = run(dir_.file("b"), {"--max-metric-calls", "40", "--selection", "greedy"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pareto, best or epsilon-greedy"), std::string::npos) << r.err;
  r = run(dir_.file("c"), {"--max-metric-calls", "40", "--minibatch", "7"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("larger than the training set"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tg
