// End-to-end tests of the textgrad tool's handling of bad input: every mistake is reported with
// exit 2 and a message naming the flag, before the first LLM call; names get did-you-mean
// suggestions; huge values stay out of messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>

#include "support/fake_llm_server.h"
#include "support/mock_model.h"
#include "support/process.h"
#include "test_paths.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;
using testing::TempDir;

std::string tool() { return std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad"; }
std::string fixture(const std::string& name) {
  return std::string(TEXTGRAD_TEST_DIR) + "/data/" + name;
}

class CliInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<fake::FakeLlmServer>(testing::MockModel(TEXTGRAD_TEST_DATA_DIR));
    fs::create_directory(folder_);
  }

  ProcessResult run(std::vector<std::string> args,
                    std::map<std::string, std::string> extra = {}) const {
    args.insert(args.begin(), tool());
    std::map<std::string, std::string> vars = {
        {"OPENAI_API_KEY", "fake-test-key-cli-input-0123456789"},
        {"OPENAI_BASE_URL", server_->base_url() + "/v1"},
        {"TEXTGRAD_CACHE_DIR", dir_.file("cache")},
        {"TEXTGRAD_DATA_DIR", TEXTGRAD_TEST_DATA_DIR}};
    for (auto& [k, v] : extra) vars[k] = v;
    return testing::run_process(args, vars);
  }

  // Runs a command that must be refused: exit 2, every `expected` text in the message, and
  // not one request sent.
  void expect_refused(const std::vector<std::string>& args,
                      const std::vector<std::string>& expected,
                      std::map<std::string, std::string> extra = {}) const {
    std::string command;
    for (const auto& arg : args) command += arg + " ";
    ProcessResult r = run(args, std::move(extra));
    EXPECT_EQ(r.exit_code, 2) << command << "\n" << r.err;
    for (const std::string& text : expected) {
      EXPECT_NE(r.err.find(text), std::string::npos) << command << "\nwanted: " << text << "\n"
                                                     << r.err;
    }
    EXPECT_EQ(server_->request_count(), 0u) << command;
  }

  std::vector<std::string> eval(std::vector<std::string> more) const {
    std::vector<std::string> args = {
        "eval",   "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
        "--size", "2",      "--quiet"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  std::vector<std::string> solve(std::vector<std::string> more) const {
    std::vector<std::string> args = {"solve",        "--engine", "openai/gpt-4o",
                                     "--iterations", "1",        "--quiet"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  }

  TempDir dir_;
  const std::string folder_ = dir_.file("a-folder");
  std::unique_ptr<fake::FakeLlmServer> server_;
};

TEST_F(CliInputTest, AFolderWhereAFileBelongsIsRefused) {
  expect_refused(eval({"--prompt", "@" + folder_}), {"--prompt", "is a folder"});
  expect_refused(solve({"--instruction", "@" + folder_, "2+2?"}), {"--instruction", "is a folder"});
  expect_refused(solve({"--input", folder_}), {"--input", "is a folder"});
  expect_refused(solve({"--image", folder_, "What is it?"}), {"--image", "is a folder"});
  expect_refused(eval({"--prices", folder_}), {"--prices", "is a folder"});
  expect_refused(eval({"--cache", folder_}), {"--cache", "is a folder"});
  expect_refused({"--config", folder_, "eval"}, {"--config", "is a folder"});
  expect_refused({"eval", "--task", folder_, "--engine", "openai/gpt-4o-mini"},
                 {"--task", "is a folder"});
  // An image line of an --input file that names a folder.
  testing::write_text(
      dir_.file("q.jsonl"),
      "{\"id\": \"q1\", \"question\": \"What?\", \"image\": \"" + folder_ + "\"}\n");
  expect_refused(solve({"--input", dir_.file("q.jsonl")}), {"q1", "is a folder"});
}

TEST_F(CliInputTest, OutputsAreCheckedBeforeTheFirstCall) {
  expect_refused(solve({"--output", dir_.file("missing/out.jsonl"), "2+2?"}),
                 {"--output", "does not exist"});
  expect_refused(solve({"--output", folder_, "2+2?"}), {"--output", "is a folder"});
  testing::write_text(dir_.file("a-file"), "x");
  const std::string run_dir = dir_.file("a-file/run");
  expect_refused({"optimize", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                  "--run-dir", run_dir, "--quiet"},
                 {"--run-dir", "is a file"});
  expect_refused({"optimize", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                  "--run-dir", dir_.file("a-file"), "--quiet"},
                 {"--run-dir", "is a file"});

  ProcessResult ok = run(solve({"--output", dir_.file("out.jsonl"), "2+2?"}));
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_FALSE(testing::read_text(dir_.file("out.jsonl")).empty());
}

TEST_F(CliInputTest, NumbersOutsideTheirRangeAreRefusedNamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
    std::string range;
  };
  const std::vector<Case> cases = {
      {eval({"--timeout", "-1"}), "--timeout", "> 0"},
      {eval({"--timeout", "0"}), "--timeout", "> 0"},
      {eval({"--timeout", "nan"}), "--timeout", "> 0"},
      {eval({"--max-retries", "-3"}), "--max-retries", ">= 0"},
      {eval({"--max-in-flight", "0"}), "--max-in-flight", ">= 1"},
      {eval({"--rpm", "-5"}), "--rpm", ">= 0"},
      {eval({"--tpm", "-5"}), "--tpm", ">= 0"},
      {eval({"--budget-usd", "-0.5"}), "--budget-usd", ">= 0"},
      {eval({"--budget-tokens", "-10"}), "--budget-tokens", ">= 0"},
      {eval({"--size", "-2"}), "--size", ">= 0"},
      {solve({"--concurrency", "0", "2+2?"}), "--concurrency", ">= 1"},
      {solve({"--iterations", "-1", "2+2?"}), "--iterations", ">= 0"},
  };
  for (const Case& c : cases) expect_refused(c.args, {c.flag, c.range});
  for (const auto& [flag, value, range] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"--concurrency", "0", ">= 1"},
           {"--steps", "-1", ">= 0"},
           {"--batch-size", "0", ">= 1"},
           {"--steps-per-epoch", "-1", ">= 0"},
           {"--train-size", "-1", ">= 0"},
           {"--val-size", "-4", ">= 0"},
           {"--test-size", "-4", ">= 0"},
           {"--seed", "-1", ">= 0"}}) {
    expect_refused({"optimize", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                    "--run-dir", dir_.file("run"), flag, value},
                   {flag, range});
    EXPECT_FALSE(fs::exists(dir_.file("run"))) << flag;
  }
}

TEST_F(CliInputTest, MessagesSayWhatIsWrongAndExit2) {
  expect_refused(eval({"--data-dir", dir_.file("no-such-folder")}),
                 {"--data-dir", "does not exist"});
  ProcessResult task = run({"eval", "--task", folder_, "--engine", "openai/gpt-4o-mini"});
  EXPECT_EQ(task.err.find("unknown task"), std::string::npos) << task.err;
  ProcessResult image = run(solve({"--image", folder_, "What is it?"}));
  EXPECT_EQ(image.err.find("empty"), std::string::npos) << image.err;

  // A data file without the expected fields: the message names the flags, not a C++ type.
  testing::write_text(dir_.file("data.jsonl"), "{\"q\": \"1+1?\", \"a\": \"2\"}\n");
  ProcessResult fields = run({"eval", "--task", dir_.file("data.jsonl"), "--engine",
                              "openai/gpt-4o-mini", "--split", "train"});
  EXPECT_EQ(fields.exit_code, 2);
  EXPECT_NE(fields.err.find("--input-field"), std::string::npos) << fields.err;
  EXPECT_EQ(fields.err.find("FieldNames"), std::string::npos) << fields.err;

  // A missing key: the message names the variable to set, not a C++ option struct.
  ProcessResult key = run(eval({}), {{"OPENAI_API_KEY", ""}});
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_NE(key.err.find("OPENAI_API_KEY"), std::string::npos) << key.err;
  EXPECT_EQ(key.err.find("EngineOptions"), std::string::npos) << key.err;
}

TEST_F(CliInputTest, TruncatedAndOversizedImagesAreRefusedBeforeSending) {
  for (const std::string name : {"bee.png", "bee.jpg", "bee.gif", "bee.webp"}) {
    const std::string whole = testing::read_text(fixture(name));
    const std::string cut = dir_.file("cut-" + name);
    testing::write_text(cut, whole.substr(0, whole.size() * 2 / 3));
    expect_refused(solve({"--image", cut, "What is it?"}), {"truncated"});
  }

  // Sizes are checked before the file is read: a sparse file with a PNG header will do.
  const std::string big = dir_.file("big.png");
  testing::write_text(big, testing::read_text(fixture("bee.png")));
  fs::resize_file(big, 20'000'001);
  expect_refused(solve({"--image", big, "What is it?"}), {"20.0 MB", "openai"});
  fs::resize_file(big, 4'000'000);
  expect_refused({"solve", "--engine", "anthropic/claude-sonnet-4-5", "--image", big, "What?"},
                 {"anthropic", "3.9 MB"},
                 {{"ANTHROPIC_API_KEY", "fake-anthropic-key-0123456789"},
                  {"ANTHROPIC_BASE_URL", server_->base_url()}});
}

TEST_F(CliInputTest, MistypedNamesGetADidYouMean) {
  expect_refused({"eval", "--task", "object_counting", "--engine", "gpt4o"},
                 {"did you mean openai/gpt-4o?"});
  expect_refused({"eval", "--task", "object_counting", "--engine", "opneai/gpt-4o-mini"},
                 {"did you mean openai/gpt-4o-mini?"});
  expect_refused({"eval", "--task", "object_countin", "--engine", "openai/gpt-4o-mini"},
                 {"did you mean object_counting?"});
  expect_refused(eval({"--metric", "jugde"}), {"did you mean judge?"});
}

TEST_F(CliInputTest, AModelWithoutAPriceIsWarnedAboutAtTheStart) {
  ProcessResult unpriced =
      run({"eval", "--task", "object_counting", "--engine", "openai/gpt4o", "--size", "1"});
  EXPECT_EQ(unpriced.exit_code, 0) << unpriced.err;
  EXPECT_NE(unpriced.err.find("openai/gpt4o is not in the price table"), std::string::npos)
      << unpriced.err;
  EXPECT_NE(unpriced.err.find("Did you mean openai/gpt-4o?"), std::string::npos) << unpriced.err;

  ProcessResult priced = run(eval({}));
  EXPECT_EQ(priced.exit_code, 0) << priced.err;
  EXPECT_EQ(priced.err.find("price table"), std::string::npos) << priced.err;

  // A local server is free: nothing to warn about.
  ProcessResult local =
      run({"eval", "--task", "object_counting", "--engine", "ollama/llama3", "--size", "1"},
          {{"OLLAMA_BASE_URL", server_->base_url() + "/v1"}});
  EXPECT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(local.err.find("price table"), std::string::npos) << local.err;
}

TEST_F(CliInputTest, HugeAnswersAreCutInWarnings) {
  // The script owns what it reads (Note [Script lifetime]).
  server_->set_script([huge = std::string(1'000'000, 'x')](const fake::RecordedRequest& request) {
    return fake::reply_for(request, huge);  // no number, no spaces
  });
  ProcessResult r = run({"eval", "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
                         "--size", "1", "--metric", "numeric"});
  EXPECT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("no number in the answer"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("bytes cut"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_LT(r.err.size(), 5000u);
}

TEST_F(CliInputTest, AHugeUpdateAnswerStaysOutOfTheRunRecords) {
  // The optimizer's update answers a megabyte without its tags: the step is kept, and the
  // note quoting the answer is cut everywhere it is written.
  server_->set_script(
      [huge = std::string(1'000'000, 'y'),
       mock = testing::MockModel(TEXTGRAD_TEST_DATA_DIR)](const fake::RecordedRequest& request) {
        if (request.body.find("IMPROVED_VARIABLE") != std::string::npos)
          return fake::reply_for(request, huge);
        return mock(request);
      });
  const std::string run_dir = dir_.file("run");
  ProcessResult r =
      run({"optimize", "--task", "object_counting", "--engine", "openai/gpt-4o-mini", "--steps",
           "1", "--val-size", "2", "--test-size", "2", "--run-dir", run_dir, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  const std::string step = testing::read_text(run_dir + "/steps/step_0001.json");
  EXPECT_NE(step.find("bytes cut"), std::string::npos) << step.substr(0, 2000);
  for (const char* file : {"steps/step_0001.json", "events.jsonl", "report.md", "report.html"}) {
    EXPECT_LT(fs::file_size(run_dir + "/" + file), 100'000u) << file;
  }
  EXPECT_LT(r.err.size(), 5000u);
}

TEST_F(CliInputTest, VersionPrintsTheProjectVersion) {
  ProcessResult r = run({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(^textgrad \d+\.\d+\.\d+)"))) << r.out;
}

}  // namespace
}  // namespace tg
