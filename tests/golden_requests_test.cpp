// Pins the bytes of every request the three workloads send (and an update request with
// history, constraints and examples), so moving prompt text between files or adding
// optimizers cannot change what today's runs send. Regenerate the golden file only for a
// deliberate prompt change: TEXTGRAD_UPDATE_GOLDEN=1 ./textgrad_tests --gtest_filter='Golden*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "support/workloads.h"
#include "test_paths.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

std::string dump(const std::string& title, const ScriptedEngine& engine) {
  std::vector<std::string> entries;
  for (const Request& r : engine.requests()) {
    entries.push_back(std::string("=== ") + to_string(r.phase) + "\n--- system\n" +
                      r.system_prompt + "\n--- user\n" + r.user_text() + "\n");
  }
  // Completion order of concurrent calls is not part of the contract: sort.
  std::sort(entries.begin(), entries.end());
  std::string out = "##### " + title + "\n";
  for (const std::string& e : entries) out += e;
  return out;
}

std::string all_workloads() {
  std::string out;
  {
    auto engine = testing::scripted_engine();
    testing::run_solution_workload(engine, {.steps = 2});
    out += dump("solution", *engine);
  }
  {
    auto engine = testing::scripted_engine();
    testing::run_prompt_workload(engine, {.steps = 2});
    out += dump("prompt, string metric", *engine);
  }
  {
    auto engine = testing::scripted_engine();
    testing::run_prompt_workload(engine, {.steps = 2, .llm_judge = true});
    out += dump("prompt, judge", *engine);
  }
  {
    auto engine = testing::scripted_engine();
    testing::run_chain_workload(engine, {.steps = 2});
    out += dump("chain", *engine);
  }
  {
    auto engine = testing::scripted_engine();
    Variable answer("first draft", "answer");
    TGDOptions options;
    options.gradient_memory = 2;
    options.momentum = 3;
    options.constraints = {"Be brief.", "Be right."};
    options.in_context_examples = {"Example one."};
    TGD optimizer({answer}, engine, options);
    TextLoss loss_fn(engine, "Evaluate.");
    for (int step = 0; step < 3; ++step) {
      optimizer.zero_grad();
      loss_fn(answer).backward(engine);
      optimizer.step();
    }
    out += dump("history, constraints, examples", *engine);
  }
  {
    auto engine = testing::scripted_engine();
    MultiFieldEvaluation eval(engine, Variable("Compare.", "instruction", false),
                              {"first text", "second text"});
    Variable a("one", "first", true);
    Variable b("two", "second", true);
    eval({a, b}).backward(engine);
    sum({a, b}).value();
    Variable c = concat({a, b}, " ");
    out += dump("multifield", *engine) + "roles: " + sum({a, b}).role_description() + " | " +
           c.role_description() + " | " + a.gradients().at(0).role + "\n";
  }
  return out;
}

TEST(GoldenRequests, WorkloadRequestsAreByteIdenticalToTheGoldenFile) {
  const std::string path = std::string(TEXTGRAD_TEST_DIR) + "/data/golden_requests.txt";
  const std::string actual = all_workloads();
  if (std::getenv("TEXTGRAD_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    GTEST_SKIP() << "golden file rewritten";
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "missing " << path;
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(actual, expected.str());
}

}  // namespace
}  // namespace tg
