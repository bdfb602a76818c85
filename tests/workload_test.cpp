// The reference's workloads: calls per step, overlap of independent calls, and determinism.
#include <gtest/gtest.h>

#include <algorithm>

#include "support/workloads.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

int count(const ScriptedEngine& engine, Phase phase) {
  auto requests = engine.requests();
  return static_cast<int>(std::count_if(requests.begin(), requests.end(),
                                        [&](const Request& r) { return r.phase == phase; }));
}

TEST(Workloads, SolutionOptimizationCostsThreeCallsPerStep) {
  auto engine = testing::scripted_engine();
  testing::run_solution_workload(engine, {.steps = 2});
  EXPECT_EQ(engine->calls(), 6);
  EXPECT_EQ(count(*engine, Phase::kLoss), 2);
  EXPECT_EQ(count(*engine, Phase::kBackward), 2);
  EXPECT_EQ(count(*engine, Phase::kUpdate), 2);
}

TEST(Workloads, PromptOptimizationWithStringMetricCostsTenCallsPerStep) {
  auto engine = testing::scripted_engine();
  testing::run_prompt_workload(engine, {.steps = 2});
  EXPECT_EQ(engine->calls(), 20);
  EXPECT_EQ(count(*engine, Phase::kForward), 6);
  EXPECT_EQ(count(*engine, Phase::kBackward), 12);
  EXPECT_EQ(count(*engine, Phase::kUpdate), 2);
}

TEST(Workloads, PromptOptimizationWithJudgeCostsThirteenCallsPerStep) {
  auto engine = testing::scripted_engine();
  testing::run_prompt_workload(engine, {.steps = 2, .llm_judge = true});
  EXPECT_EQ(engine->calls(), 26);
  EXPECT_EQ(count(*engine, Phase::kLoss), 6);
}

TEST(Workloads, ChainWithOneTrainableInputCostsNineCallsPerStep) {
  auto engine = testing::scripted_engine();
  testing::run_chain_workload(engine, {.steps = 2});
  EXPECT_EQ(engine->calls(), 18);
  EXPECT_EQ(count(*engine, Phase::kForward), 6);
  EXPECT_EQ(count(*engine, Phase::kBackward), 8);
}

TEST(Workloads, IndependentCallsOfPromptOptimizationOverlap) {
  auto engine = testing::scripted_engine(/*delay_ms=*/50);
  testing::run_prompt_workload(engine, {.steps = 1});
  EXPECT_GE(engine->peak_in_flight(), 3);  // the three forward calls, then the backward calls
}

// The same scripted answers with concurrency 1 and 16 give byte-identical prompts, in the same
// order within each phase once sorted by content, and the same final prompt.
TEST(Workloads, ResultsDoNotDependOnConcurrency) {
  auto run = [](int concurrency) {
    auto engine = testing::scripted_engine(/*delay_ms=*/5);
    std::string final_prompt = testing::run_prompt_workload(
        engine, {.steps = 3, .concurrency = concurrency, .llm_judge = true});
    std::vector<std::string> prompts;
    std::vector<std::string> updates;
    for (const Request& r : engine->requests()) {
      prompts.push_back(std::string(to_string(r.phase)) + "|" + r.system_prompt + "|" +
                        r.user_text());
      if (r.phase == Phase::kUpdate) updates.push_back(r.user_text());
    }
    std::sort(prompts.begin(), prompts.end());
    return std::tuple(final_prompt, prompts, updates);
  };
  auto [prompt1, all1, updates1] = run(1);
  auto [prompt16, all16, updates16] = run(16);
  EXPECT_EQ(prompt1, prompt16);
  EXPECT_EQ(all1, all16);
  EXPECT_EQ(updates1, updates16);  // update prompts embed the feedback in graph order
  EXPECT_EQ(all1.size(), 39u);
}

}  // namespace
}  // namespace tg
