// Calls per step of each optimizer and backward mode on the workloads (documented in
// README.md and docs/optimizers.md), and byte-identical requests at concurrency 1 and 16.
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

struct Counts {
  int total;
  int backward;
};

Counts calls_per_step(const std::string& workload, const std::string& optimizer) {
  auto engine = testing::scripted_engine();
  testing::WorkloadOptions options{.steps = 2, .optimizer = optimizer};
  if (workload == "a") testing::run_solution_workload(engine, options);
  if (workload == "b") testing::run_prompt_workload(engine, options);
  if (workload == "b-judge") {
    options.llm_judge = true;
    testing::run_prompt_workload(engine, options);
  }
  if (workload == "c") testing::run_chain_workload(engine, options);
  if (workload == "d") testing::run_pipeline_workload(engine, options);
  return {engine->calls() / 2, count(*engine, Phase::kBackward) / 2};
}

TEST(OptimizerWorkloads, CallsPerStepForEachOptimizerAndMode) {
  struct Row {
    const char* workload;
    int total;     // tgd and revolve (same calls; REVOLVE's prompts are longer)
    int backward;  // per-edge
    int joint_total;
    int joint_backward;
  };
  // (a)-(c) have no node with two trainable inputs: joint feedback sends the same calls.
  // (d)'s solver call has two (its prompt and the plan): one joint call instead of two.
  for (const Row& row : std::vector<Row>{{"a", 3, 1, 3, 1},
                                         {"b", 10, 6, 10, 6},
                                         {"b-judge", 13, 6, 13, 6},
                                         {"c", 9, 4, 9, 4},
                                         {"d", 9, 4, 8, 3}}) {
    for (const char* optimizer : {"tgd", "revolve"}) {
      Counts c = calls_per_step(row.workload, optimizer);
      EXPECT_EQ(c.total, row.total) << row.workload << " " << optimizer;
      EXPECT_EQ(c.backward, row.backward) << row.workload << " " << optimizer;
    }
    Counts joint = calls_per_step(row.workload, "semantic");
    EXPECT_EQ(joint.total, row.joint_total) << row.workload;
    EXPECT_EQ(joint.backward, row.joint_backward) << row.workload;
  }
}

TEST(OptimizerWorkloads, RequestsAreByteIdenticalAtConcurrencyOneAndSixteen) {
  auto run = [](const std::string& optimizer, int concurrency) {
    auto engine = testing::scripted_engine(/*delay_ms=*/2);
    testing::WorkloadOptions options{
        .steps = 2, .concurrency = concurrency, .optimizer = optimizer};
    std::string result = testing::run_pipeline_workload(engine, options);
    options.llm_judge = true;
    result += testing::run_prompt_workload(engine, options);
    std::vector<std::string> requests;
    for (const Request& r : engine->requests()) {
      requests.push_back(std::string(to_string(r.phase)) + "|" + r.system_prompt + "|" +
                         r.user_text());
    }
    std::sort(requests.begin(), requests.end());
    requests.push_back(result);
    return requests;
  };
  for (const char* optimizer : {"tgd", "revolve", "semantic"}) {
    EXPECT_EQ(run(optimizer, 1), run(optimizer, 16)) << optimizer;
  }
}

}  // namespace
}  // namespace tg
