// `textgrad optimize` with the optimizer flags: every optimizer runs, the run directory
// records the optimizer, its state and the gate's decision, kill-and-resume mid REVOLVE or
// gated run ends identically, and bad flags exit 2.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

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

std::string tool() { return std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad"; }

class CliOptimizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<fake::FakeLlmServer>(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
  }
  std::map<std::string, std::string> env(const std::string& cache = "cache") const {
    return {{"OPENAI_API_KEY", "fake-test-key-optim-0123456789abcdef"},
            {"OPENAI_BASE_URL", server_->base_url() + "/v1"},
            {"TEXTGRAD_CACHE_DIR", dir_.file(cache)},
            {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}};
  }
  std::vector<std::string> args(const std::string& run_dir, std::vector<std::string> extra,
                                int steps = 3) const {
    std::vector<std::string> a{tool(),        "optimize",
                               "--task",      "object_counting",
                               "--engine",    "openai/gpt-4o-mini",
                               "--steps",     std::to_string(steps),
                               "--val-size",  "10",
                               "--test-size", "10",
                               "--run-dir",   run_dir,
                               "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  ProcessResult run(const std::string& run_dir, std::vector<std::string> extra,
                    int steps = 3) const {
    return testing::run_process(args(run_dir, std::move(extra), steps), env());
  }
  TempDir dir_;
  std::unique_ptr<fake::FakeLlmServer> server_;
};

json step_file(const std::string& run_dir, int step) {
  return json::parse(
      testing::read_text(run_dir + "/steps/step_000" + std::to_string(step) + ".json"));
}

TEST_F(CliOptimizerTest, EveryOptimizerAndGateRunsAndIsRecorded) {
  for (const auto& [optimizer, gate] : std::vector<std::pair<std::string, std::string>>{
           {"tgd", "none"}, {"revolve", "strict"}, {"semantic", "significant"}}) {
    const std::string run_dir = dir_.file(optimizer);
    ProcessResult r =
        run(run_dir, {"--optimizer", optimizer, "--gate", gate, "--keep-best", "--feedback-budget",
                      "3000", "--update-budget", "6000", "--constraint", "Keep it short.", "--role",
                      "system prompt of a counting assistant"});
    ASSERT_EQ(r.exit_code, 0) << optimizer << ": " << r.err;
    json config = json::parse(testing::read_text(run_dir + "/config.json"));
    EXPECT_EQ(config["optimizer"]["optimizer"], optimizer);
    EXPECT_EQ(config["optimizer"]["constraints"], json::array({"Keep it short."}));
    json step = step_file(run_dir, 1);
    EXPECT_EQ(step["optimizer"]["name"], optimizer == "revolve" ? "revolve" : "tgd");
    EXPECT_EQ(step["optimizer"]["gate"]["gate"], gate);
    EXPECT_TRUE(step["optimizer"]["gate"].contains("reason"));
    EXPECT_EQ(step["optimizer"]["state"]["optimizer"], "gated");
    EXPECT_TRUE(step["optimizer"]["state"].contains("best"));
  }
}

TEST_F(CliOptimizerTest, DefaultGateIsTheRevert) {
  const std::string run_dir = dir_.file("default");
  ASSERT_EQ(run(run_dir, {}).exit_code, 0);
  EXPECT_EQ(step_file(run_dir, 1)["optimizer"]["gate"]["gate"], "revert");
  EXPECT_EQ(json::parse(testing::read_text(run_dir + "/config.json"))["optimizer"]["gate"],
            "revert");
}

// Kill a REVOLVE run with the significance gate and keep-best after step 2 of 4, resume it: the
// final prompt and every step file (prompt, scores, optimizer state, gate decision) match an
// uninterrupted run.
TEST_F(CliOptimizerTest, KilledRevolveGatedRunResumesToTheSameResult) {
  server_->set_script(testing::MockModel(TEXTGRAD_TEST_DATA_DIR, /*delay_ms=*/15));
  const std::vector<std::string> flags{"--optimizer", "revolve",    "--gate",
                                       "significant", "--alpha",    "0.3",
                                       "--keep-best", "--momentum", "2"};
  const std::string whole = dir_.file("whole");
  ProcessResult full = testing::run_process(args(whole, flags, 4), env());
  ASSERT_EQ(full.exit_code, 0) << full.err;

  const std::string killed = dir_.file("killed");
  testing::Process process(args(killed, flags, 4), env("cache2"));
  for (int i = 0; i < 3000 && !fs::exists(killed + "/steps/step_0002.json"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  process.kill_now();
  process.wait();
  ASSERT_TRUE(fs::exists(killed + "/steps/step_0002.json"));
  ASSERT_FALSE(fs::exists(killed + "/final_prompt.txt"));
  ProcessResult resumed =
      testing::run_process({tool(), "optimize", "--resume", killed, "--quiet"}, env("cache2"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::read_text(killed + "/final_prompt.txt"),
            testing::read_text(whole + "/final_prompt.txt"));
  for (int step = 0; step <= 4; ++step) {
    json a = step_file(whole, step);
    json b = step_file(killed, step);
    for (const char* key : {"prompt", "test_scores", "val_accuracy", "reverted", "optimizer"}) {
      EXPECT_EQ(a.value(key, json()), b.value(key, json())) << "step " << step << " " << key;
    }
  }
}

// A run stopped after step 2 and resumed with more steps continues from the optimizer state
// its last step file saved: TGD's momentum window carries the values of steps before the
// resume, so steps 3 and 4 (prompts and optimizer states) match an uninterrupted run's.
TEST_F(CliOptimizerTest, AResumedRunRestoresTheOptimizerStateOfItsLastStep) {
  const std::vector<std::string> flags{"--momentum", "3"};
  const std::string whole = dir_.file("whole");
  ASSERT_EQ(run(whole, flags, 4).exit_code, 0);
  const std::string split = dir_.file("split");
  ASSERT_EQ(run(split, flags, 2).exit_code, 0);
  ProcessResult resumed = testing::run_process(
      {tool(), "optimize", "--resume", split, "--steps", "4", "--quiet"}, env());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  for (int step = 3; step <= 4; ++step) {
    const json a = step_file(whole, step);
    const json b = step_file(split, step);
    EXPECT_EQ(a["prompt"], b["prompt"]) << "step " << step;
    EXPECT_EQ(a["optimizer"]["state"], b["optimizer"]["state"]) << "step " << step;
  }
}

TEST_F(CliOptimizerTest, BadOptimizerFlagsExitTwoWithAClearMessage) {
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {{"--optimizer", "adam"}, "unknown optimizer 'adam'"},
           {{"--gate", "maybe"}, "unknown gate 'maybe'"},
           {{"--gate", "significant", "--alpha", "1.5"}, "alpha must be between 0 and 1"},
           {{"--alpha", "0"}, "alpha must be between 0 and 1"},
           {{"--feedback-budget", "-5"}, "--feedback-budget"},
           {{"--update-budget", "-1"}, "--update-budget"},
           {{"--momentum", "-2"}, "--momentum"}}) {
    const std::string run_dir = dir_.file("bad");
    ProcessResult r = run(run_dir, c.flags);
    EXPECT_EQ(r.exit_code, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(run_dir + "/config.json")) << "validated before the run starts";
  }
}

}  // namespace
}  // namespace tg
