// `textgrad optimize --optimizer gepa`: a search runs against a fake provider, archives every
// proposal and its state, stays within --max-metric-calls, reports its candidate tree, Pareto
// front and best candidate, resumes after a kill to the same pool, and bad flags exit 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_fixture.h"
#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "test_paths.h"
#include "textgrad/search.h"

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
  std::vector<std::string> args(const std::string& run_dir, std::vector<std::string> extra) const {
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
    return a;
  }
  std::map<std::string, std::string> env(const std::string& cache = "cache") const {
    return {{"OPENAI_API_KEY", "fake-test-key-search-0123456789abcdef"},
            {"OPENAI_BASE_URL", server_->base_url() + "/v1"},
            {"TEXTGRAD_CACHE_DIR", dir_.file(cache)},
            {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}};
  }
  ProcessResult run(const std::string& run_dir, std::vector<std::string> extra) const {
    return testing::run_process(args(run_dir, std::move(extra)), env());
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
  const std::string report = testing::read_text(run_dir + "/report.md");
  for (const char* section : {"### Candidate tree", "- #0: validation", "### Pareto front",
                              "### Best candidate: #", "### Proposals"}) {
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

// The pool of a run's search_state.json.
std::vector<PoolEntry> pool_of(const std::string& run_dir) {
  return pool_from_state(testing::read_text(run_dir + "/search_state.json"));
}

TEST_F(CliSearchTest, ReportShowsTheCandidateTreeTheFrontAndTheBestCandidate) {
  const std::string run_dir = dir_.file("gepa");
  ProcessResult r = run(run_dir, {"--max-metric-calls", "60", "--minibatch", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<PoolEntry> pool = pool_of(run_dir);
  ASSERT_GE(pool.size(), 2u);  // the mock's first rewrite solves every item
  size_t best = 0;
  for (size_t c = 1; c < pool.size(); ++c)
    best = pool[c].aggregate > pool[best].aggregate ? c : best;
  const json step = json::parse(testing::read_text(run_dir + "/steps/step_0001.json"));
  ASSERT_EQ(step["prompt"], pool[best].candidate.at("system"));

  const std::string md = testing::read_text(run_dir + "/report.md");
  const size_t search = md.find("## Search");
  ASSERT_NE(search, std::string::npos) << md;
  // Every candidate is in the tree, one level below its parent.
  std::map<size_t, size_t> indent;
  std::istringstream lines(md.substr(search, md.find("### Pareto front") - search));
  for (std::string line; std::getline(lines, line);) {
    const size_t hash = line.find("- #");
    if (hash == std::string::npos) continue;
    indent[std::stoul(line.substr(hash + 3))] = hash;
  }
  ASSERT_EQ(indent.size(), pool.size()) << md;
  for (size_t c = 1; c < pool.size(); ++c) EXPECT_EQ(indent[c], indent[pool[c].parents[0]] + 2);
  // The front is the non-dominated set, with the items each holds.
  for (const auto& [c, items] : non_dominated(pool)) {
    const std::string row = "| #" + std::to_string(c) + " | ";
    const size_t at = md.find(row, md.find("### Pareto front"));
    ASSERT_NE(at, std::string::npos) << row << md;
    EXPECT_NE(md.substr(at, md.find('\n', at) - at).find(" | " + std::to_string(items) + " | "),
              std::string::npos);
  }
  EXPECT_NE(md.find("### Best candidate: #" + std::to_string(best)), std::string::npos);
  EXPECT_NE(md.find(pool[best].candidate.at("system"), search), std::string::npos);
  EXPECT_NE(md.find("{+", md.find("Against the starting prompt")), std::string::npos);
  const std::string html = testing::read_text(run_dir + "/report.html");
  EXPECT_NE(html.find("<h3>Candidate tree</h3>"), std::string::npos);
  EXPECT_NE(html.find("<li class=\"best\">#" + std::to_string(best) + ":"), std::string::npos);
  EXPECT_NE(html.find("<ins>"), std::string::npos);
}

TEST_F(CliSearchTest, KilledMidSearchResumesToTheSamePoolAndBestCandidate) {
  const std::vector<std::string> extra = {"--max-metric-calls", "60", "--minibatch", "2"};
  const std::string whole = dir_.file("whole");
  const size_t before = server_->request_count();
  ASSERT_EQ(run(whole, extra).exit_code, 0);
  const size_t requests = server_->request_count() - before;
  ASSERT_GT(requests, 24u);  // 12 step-0 evaluations, the search, 6 test evaluations

  // The same run from a cold cache; the server holds the search's last request (the 6 after it
  // evaluate the best candidate on the test set) and the process is killed (SIGKILL: nothing is
  // cleaned up) while it waits for the answer.
  const size_t hold = before + 2 * requests - 6;
  auto arrived = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  std::shared_future<void> released = release->get_future().share();
  testing::MockModel model(TEXTGRAD_TEST_DATA_DIR);
  auto seen = std::make_shared<std::atomic<size_t>>(before + requests);
  server_->set_script([=](const fake::RecordedRequest& request) {
    if (++*seen == hold) {
      arrived->set_value();
      released.wait();
    }
    return model(request);
  });
  const std::string cut = dir_.file("cut");
  testing::Process process(args(cut, extra), env("cache-cut"));
  ASSERT_EQ(arrived->get_future().wait_for(std::chrono::minutes(2)), std::future_status::ready);
  process.kill_now();
  EXPECT_EQ(process.wait().exit_code, -1);
  release->set_value();
  ASSERT_TRUE(fs::exists(cut + "/search_state.json"));  // at least one proposal was saved
  EXPECT_FALSE(fs::exists(cut + "/steps/step_0001.json"));

  ProcessResult resumed = testing::run_process(
      {testing::textgrad_tool(), "optimize", "--resume", cut, "--quiet"}, env("cache-cut"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::read_text(cut + "/search_state.json"),
            testing::read_text(whole + "/search_state.json"));
  EXPECT_EQ(testing::read_text(cut + "/final_prompt.txt"),
            testing::read_text(whole + "/final_prompt.txt"));
  EXPECT_EQ(json::parse(testing::read_text(cut + "/steps/step_0001.json"))["test_scores"],
            json::parse(testing::read_text(whole + "/steps/step_0001.json"))["test_scores"]);
}

// Every call passes the run's BudgetGuard, which reserves a call's estimated cost before sending
// it (docs/runs.md); the mock bills 40 + 10 tokens a call, under every estimate, so a search
// with many calls in flight must still stop at or below its budget.
TEST_F(CliSearchTest, TokenAndDollarBudgetsAreNeverOvershotAndTheSearchResumes) {
  const std::vector<std::string> extra = {
      "--max-metric-calls", "60", "--minibatch", "2", "--json", "--yes"};
  const std::string whole = dir_.file("whole");
  ProcessResult full = run(whole, extra);
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const json unlimited = json::parse(full.out);
  const long whole_tokens =
      unlimited["input_tokens"].get<long>() + unlimited["output_tokens"].get<long>();
  ASSERT_GT(whole_tokens, 1500);

  for (const long budget : {700L, 1100L, 1500L}) {
    const std::string run_dir = dir_.file("tokens-" + std::to_string(budget));
    auto args_with_budget = args(run_dir, extra);
    args_with_budget.insert(args_with_budget.end(), {"--budget-tokens", std::to_string(budget)});
    ProcessResult r =
        testing::run_process(args_with_budget, env("cache-" + std::to_string(budget)));
    ASSERT_EQ(r.exit_code, 3) << r.err;
    const json out = json::parse(r.out);
    const long spent = out["input_tokens"].get<long>() + out["output_tokens"].get<long>();
    EXPECT_LE(spent, budget);
    EXPECT_GT(spent, budget / 2);
    EXPECT_TRUE(out["stopped_by_budget"].get<bool>());
  }
  // The run stopped mid-search continues with a larger budget to the uninterrupted result.
  const std::string cut = dir_.file("tokens-1500");
  ASSERT_TRUE(fs::exists(cut + "/search_state.json"));
  ProcessResult resumed = testing::run_process({testing::textgrad_tool(), "optimize", "--resume",
                                                cut, "--quiet", "--budget-tokens", "1000000"},
                                               env("cache-1500"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::read_text(cut + "/search_state.json"),
            testing::read_text(whole + "/search_state.json"));

  // gpt-4o-mini's prices: 40 input and 10 output tokens cost $0.000012 a call.
  const double usd = 0.0003;
  const std::string dollars = dir_.file("dollars");
  auto args_with_budget = args(dollars, extra);
  args_with_budget.insert(args_with_budget.end(), {"--budget-usd", "0.0003"});
  ProcessResult r = testing::run_process(args_with_budget, env("cache-dollars"));
  ASSERT_EQ(r.exit_code, 3) << r.err;
  const json out = json::parse(r.out);
  EXPECT_GT(out["cost_usd"].get<double>(), usd / 2);
  EXPECT_LE(out["cost_usd"].get<double>(), usd * (1 + 1e-9));  // summed in floating point
}

}  // namespace
}  // namespace tg
