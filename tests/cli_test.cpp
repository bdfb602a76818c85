// End-to-end tests of the textgrad tool against a local OpenAI-shaped server with scripted
// answers, including malformed ones, kill-and-resume, bad input and the cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include <fmt/format.h>

#include "support/cli_fixture.h"
#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "support/workloads.h"
#include "test_paths.h"
#include "textgrad/data.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;
using testing::TempDir;

constexpr const char* kKey = "fake-test-key-cli-0123456789abcdefghij";

class CliTest : public testing::CliFixture {
 protected:
  CliTest() : CliFixture(kKey) {}
};

TEST_F(CliTest, OptimizeRunsEndToEndAndWritesTheRunDirectory) {
  const std::string run_dir = dir_.file("run");
  ProcessResult r = run(optimize_args(run_dir));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Test accuracy:"), std::string::npos) << r.out;
  for (const char* file :
       {"config.json", "events.jsonl", "final_prompt.txt", "report.md", "report.html", "graph.dot",
        "steps/step_0000.json", "steps/step_0003.json"}) {
    EXPECT_TRUE(fs::exists(run_dir + "/" + file)) << file;
  }
  json step3 = json::parse(testing::read_text(run_dir + "/steps/step_0003.json"));
  json step0 = json::parse(testing::read_text(run_dir + "/steps/step_0000.json"));
  EXPECT_EQ(step3["test_scores"].size(), 10u);
  EXPECT_GE(step3["test_accuracy"].get<double>(), step0["test_accuracy"].get<double>());
  const std::string events = testing::read_text(run_dir + "/events.jsonl");
  EXPECT_NE(events.find("\"phase\":\"backward\""), std::string::npos);
  EXPECT_NE(events.find("\"phase\":\"update\""), std::string::npos);
  EXPECT_NE(events.find("\"phase\":\"evaluation\""), std::string::npos);
  EXPECT_NE(events.find("no number in the answer"), std::string::npos);  // logged, not fatal
  for (const auto& entry : fs::recursive_directory_iterator(run_dir)) {
    if (entry.is_regular_file()) {
      EXPECT_EQ(testing::read_text(entry.path()).find(kKey), std::string::npos) << entry.path();
    }
  }
  EXPECT_NE(testing::read_text(run_dir + "/report.html").find("<svg"), std::string::npos);
}

// Not on a terminal, each phase prints one status line when it ends.
TEST_F(CliTest, ProgressPrintsOneLinePerPhase) {
  std::vector<std::string> args = optimize_args(dir_.file("run"), 2);
  args.erase(std::find(args.begin(), args.end(), "--quiet"));
  ProcessResult r = run(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto count = [&](const std::string& prefix) {
    int n = 0;
    std::istringstream lines(r.err);
    for (std::string line; std::getline(lines, line);) n += line.starts_with(prefix);
    return n;
  };
  for (int step = 1; step <= 2; ++step) {
    EXPECT_EQ(count(fmt::format("[step {}/2 training]", step)), 1) << r.err;
    // An unchanged prompt is not validated again.
    EXPECT_LE(count(fmt::format("[step {} validation]", step)), 1) << r.err;
  }
  EXPECT_EQ(count("[step 1 validation]"), 1) << r.err;
}

TEST_F(CliTest, JsonOutputAndJudgeWithMalformedAnswers) {
  ProcessResult r = run({"optimize", "--task", "word_sorting", "--engine", "openai/gpt-4o-mini",
                         "--steps", "2", "--val-size", "6", "--test-size", "6", "--run-dir",
                         dir_.file("ws"), "--quiet", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["steps"], 2);
  EXPECT_TRUE(out["final_test_accuracy"].is_number());
  const std::string events = testing::read_text(dir_.file("ws/events.jsonl"));
  EXPECT_NE(events.find("no <ACCURACY>"), std::string::npos);
}

TEST_F(CliTest, KilledRunResumesToTheSameResult) {
  const std::string whole = dir_.file("whole");
  ASSERT_EQ(run(optimize_args(whole, 4)).exit_code, 0);

  // Killed (SIGKILL, nothing cleaned up) after its 75th call: in the middle of step 2.
  const std::string killed = dir_.file("killed");
  const std::map<std::string, std::string> fresh_cache = {
      {"TEXTGRAD_CACHE_DIR", dir_.file("cache2")}};  // no answer reused from the first run
  auto kill_env = fresh_cache;
  kill_env["TEXTGRAD_TEST_SIGNAL_AFTER_CALLS"] = "75:KILL";
  ProcessResult cut = run(optimize_args(killed, 4), kill_env);
  ASSERT_EQ(cut.exit_code, -1) << cut.err;  // killed by the signal
  ASSERT_TRUE(fs::exists(killed + "/steps/step_0001.json"));
  ASSERT_FALSE(fs::exists(killed + "/final_prompt.txt"));  // it really was cut short

  ProcessResult resumed = run({"optimize", "--resume", killed, "--quiet"}, fresh_cache);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::read_text(killed + "/final_prompt.txt"),
            testing::read_text(whole + "/final_prompt.txt"));
  for (int step = 0; step <= 4; ++step) {
    const std::string name = "/steps/step_000" + std::to_string(step) + ".json";
    json a = json::parse(testing::read_text(whole + name));
    json b = json::parse(testing::read_text(killed + name));
    EXPECT_EQ(a["prompt"], b["prompt"]) << step;
    EXPECT_EQ(a["test_scores"], b["test_scores"]) << step;
  }
}

TEST_F(CliTest, BadInputGetsAClearMessageAndANonZeroExit) {
  ProcessResult missing =
      run({"eval", "--task", dir_.file("nope.jsonl"), "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.jsonl"), std::string::npos) << missing.err;

  testing::write_text(dir_.file("bad.jsonl"), "{\"input\": \"a\", \"target\": \"1\"}\n{broken\n");
  ProcessResult malformed =
      run({"eval", "--task", dir_.file("bad.jsonl"), "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(malformed.exit_code, 2);
  EXPECT_NE(malformed.err.find("bad.jsonl:2"), std::string::npos) << malformed.err;

  ProcessResult task = run({"eval", "--task", "object_countin", "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(task.exit_code, 2);
  EXPECT_NE(task.err.find("unknown task"), std::string::npos) << task.err;

  ProcessResult engine = run({"eval", "--task", "object_counting", "--engine", "nosuch/model"});
  EXPECT_EQ(engine.exit_code, 2);
  EXPECT_NE(engine.err.find("nosuch"), std::string::npos) << engine.err;

  ProcessResult key = run({"eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini"},
                          {{"OPENAI_API_KEY", ""}, {"OPENAI_BASE_URL", ""}});
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_NE(key.err.find("OPENAI_API_KEY"), std::string::npos) << key.err;

  ProcessResult usage = run({"optimize", "--steps", "x"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(CliTest, BudgetStopsAtAStepBoundaryAndKeepsTheRun) {
  const std::string run_dir = dir_.file("budget");
  std::vector<std::string> args = optimize_args(run_dir, 5);
  // The mock bills 50 tokens a call: step 0 (20 evaluations) spends the budget exactly.
  args.insert(args.end(), {"--budget-tokens", "1000", "--yes"});
  ProcessResult r = run(args);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("budget"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(run_dir + "/steps/step_0000.json"));
  EXPECT_FALSE(fs::exists(run_dir + "/steps/step_0001.json"));
  EXPECT_TRUE(fs::exists(run_dir + "/report.md"));
}

TEST_F(CliTest, EvalReportsAccuracyAndASecondRunIsServedFromTheCache) {
  std::vector<std::string> args = {
      "eval",   "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
      "--size", "12",     "--json",          "--quiet"};
  ProcessResult first = run(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const size_t requests = server_->request_count();
  EXPECT_EQ(requests, 12u);
  json a = json::parse(first.out);
  EXPECT_EQ(a["items"], 12);
  EXPECT_GE(a["accuracy"].get<double>(), 0.0);
  EXPECT_LE(a["ci95"][0].get<double>(), a["accuracy"].get<double>());

  ProcessResult second = run(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(server_->request_count(), requests);  // zero HTTP requests the second time
  json b = json::parse(second.out);
  EXPECT_EQ(a["scores"], b["scores"]);
  EXPECT_EQ(b["cache_hits"], 12);

  ProcessResult stats = run({"cache", "stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(json::parse(stats.out)["entries"], 12);
  ProcessResult clear = run({"cache", "clear"});
  EXPECT_EQ(clear.exit_code, 0);
  ProcessResult replay = run({"eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                              "--size", "2", "--replay", "--quiet"});
  EXPECT_EQ(replay.exit_code, 1);
  EXPECT_NE(replay.err.find("cache"), std::string::npos) << replay.err;
}

TEST_F(CliTest, SolveRefinesAQuestionAndVotesOnMultipleChoice) {
  ProcessResult single = run({"solve", "--engine", "openai/gpt-4o-mini", "--iterations", "2",
                              "--quiet", "How many legs do 3 spiders have?"});
  ASSERT_EQ(single.exit_code, 0) << single.err;
  EXPECT_FALSE(single.out.empty());

  testing::write_text(dir_.file("q.jsonl"),
                      "{\"id\": \"q1\", \"question\": \"2+2?\", \"choices\": [\"3\", \"4\", \"5\", "
                      "\"6\"], \"answer\": \"B\"}\n"
                      "{\"id\": \"q2\", \"question\": \"Capital of France?\"}\n");
  const size_t before = server_->request_count();
  ProcessResult batch = run({"solve", "--engine", "openai/gpt-4o-mini", "--input",
                             dir_.file("q.jsonl"), "--iterations", "3", "--quiet", "--no-cache"});
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  // 1 + 3 x 3 calls per question, plus a repair request whenever the optimizer forgot its tags.
  EXPECT_GE(server_->request_count() - before, 2u * 10u);
  EXPECT_LE(server_->request_count() - before, 2u * 13u);
  std::istringstream lines(batch.out);
  std::string line;
  std::getline(lines, line);
  json q1 = json::parse(line);
  EXPECT_EQ(q1["id"], "q1");
  EXPECT_EQ(q1["snapshots"].size(), 4u);
  EXPECT_TRUE(q1.contains("majority"));
  EXPECT_NE(q1["question"].get<std::string>().find("B) 4"), std::string::npos);
}

}  // namespace
}  // namespace tg

namespace tg {
namespace {

TEST_F(CliTest, SolveAnswersAQuestionAboutAnImage) {
  const std::string image = std::string(TEXTGRAD_TEST_DIR) + "/data/bee.png";
  ProcessResult r = run({"solve", "--engine", "openai/gpt-4o", "--iterations", "1", "--quiet",
                         "--no-cache", "--image", image, "What do you see in this image?"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto requests = server_->requests();
  ASSERT_GE(requests.size(), 4u);  // zero-shot, loss, backward, update
  for (const auto& request : requests) {
    EXPECT_NE(request.body.find("data:image/png;base64,"), std::string::npos)
        << request.body.substr(0, 200);
  }
  ProcessResult bad =
      run({"solve", "--engine", "openai/gpt-4o", "--image",
           std::string(TEXTGRAD_TEST_DIR) + "/data/not_an_image.txt", "What is it?"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("PNG, JPEG, GIF or WebP"), std::string::npos) << bad.err;

  testing::write_text(dir_.file("images.jsonl"),
                      "{\"question\": \"What insect is this?\", \"image\": \"" + image + "\"}\n");
  ProcessResult batch =
      run({"solve", "--engine", "openai/gpt-4o", "--input", dir_.file("images.jsonl"),
           "--iterations", "1", "--quiet", "--no-cache"});
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  EXPECT_EQ(json::parse(batch.out)["snapshots"].size(), 2u);
}

}  // namespace
}  // namespace tg

namespace tg {
namespace {

TEST_F(CliTest, OptionsComeFromAJsonOrTomlConfigFile) {
  testing::write_text(
      dir_.file("config.json"),
      R"({"eval": {"task": "object_counting", "engine": "openai/gpt-4o-mini", "size": 3, "json": true, "quiet": true}})");
  ProcessResult from_json = run({"--config", dir_.file("config.json"), "eval"});
  ASSERT_EQ(from_json.exit_code, 0) << from_json.err;
  EXPECT_EQ(json::parse(from_json.out)["items"], 3);

  testing::write_text(dir_.file("config.toml"),
                      "[eval]\ntask = \"object_counting\"\nengine = \"openai/gpt-4o-mini\"\nsize = "
                      "4\njson = true\nquiet = true\n");
  ProcessResult from_toml = run({"--config", dir_.file("config.toml"), "eval"});
  ASSERT_EQ(from_toml.exit_code, 0) << from_toml.err;
  EXPECT_EQ(json::parse(from_toml.out)["items"], 4);
}

TEST_F(CliTest, UserCommandMetricDecidesCorrectness) {
  // Correct when the last word of the prediction is the target.
  const std::string metric = "command:[ \"${TEXTGRAD_PREDICTION##* }\" = \"$TEXTGRAD_TARGET\" ]";
  std::vector<std::string> args = {
      "eval",   "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
      "--size", "20",     "--json",          "--quiet"};
  ProcessResult numeric = run(args);
  args.insert(args.end(), {"--metric", metric});
  ProcessResult command = run(args);
  ASSERT_EQ(numeric.exit_code, 0) << numeric.err;
  ASSERT_EQ(command.exit_code, 0) << command.err;
  // The mock answers "Answer: <target>", "Answer: 999" or no number: both metrics agree.
  EXPECT_EQ(json::parse(command.out)["scores"], json::parse(numeric.out)["scores"]);
  EXPECT_GT(json::parse(command.out)["correct"].get<int>(), 0);
}

}  // namespace
}  // namespace tg
