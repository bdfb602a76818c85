// `textgrad code` end to end: the tool against a local OpenAI-shaped server whose answers are
// scripted code versions, with the tests really run in the sandbox.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "support/fake_llm_server.h"
#include "support/process.h"
#include "support/sandbox_lock.h"
#include "test_paths.h"
#include "textgrad/code.h"

namespace tg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ProcessResult;
using testing::TempDir;

constexpr const char* kKey = "fake-test-key-code-0123456789abcdefghij";

constexpr const char* kTests = R"(from solution import mul, neg

def test_mul():
    assert mul(2, 3) == 6

def test_neg():
    assert neg(4) == -4
)";
constexpr const char* kInput = "def mul(a, b):\n    return a + b\n\ndef neg(a):\n    return a\n";
constexpr const char* kHalf = "def mul(a, b):\n    return a * b\n\ndef neg(a):\n    return a\n";
constexpr const char* kFixed = "def mul(a, b):\n    return a * b\n\ndef neg(a):\n    return -a\n";
constexpr const char* kWorse = "def mul(a, b):\n    return 0\n\ndef neg(a):\n    return a\n";

enum class Kind { kSolve, kCritique, kFeedback, kUpdate, kOther };

Kind kind_of(const fake::RecordedRequest& request) {
  const json body = request.json();
  const json& first = body["messages"][0];
  const std::string system = first["role"] == "system" ? first["content"].get<std::string>() : "";
  if (system.find("expert python programmer") != std::string::npos) return Kind::kSolve;
  if (system.find("You review a program") != std::string::npos) return Kind::kCritique;
  if (system.find("feedback engine") != std::string::npos) return Kind::kFeedback;
  if (system.find("optimization system") != std::string::npos) return Kind::kUpdate;
  return Kind::kOther;
}

std::string user_text(const fake::RecordedRequest& request) {
  const json body = request.json();
  const json& last = body["messages"].back();
  return last["content"].is_string() ? last["content"].get<std::string>() : last["content"].dump();
}

std::string tagged(const std::string& code) {
  return "<IMPROVED_VARIABLE>\n" + code + "</IMPROVED_VARIABLE>";
}

class CodeCliTest : public ::testing::Test {
 protected:
  testing::SandboxLock sandbox_lock_;  // Note [Sandbox tests and the process limit]
  void SetUp() override {
    server_ = std::make_unique<fake::FakeLlmServer>(
        [this](const fake::RecordedRequest& r) { return fake::reply_for(r, answer(r)); }, 8);
    testing::write_text(dir_.file("solution.py"), kInput);
    testing::write_text(dir_.file("test_solution.py"), kTests);
  }
  // The script calls answer() and reads the members below: the server's threads must be
  // joined before the fixture's destructor tears those down (Note [Script lifetime]).
  void TearDown() override { server_.reset(); }

  // Update calls get `updates_` in order; the last one repeats.
  virtual std::string answer(const fake::RecordedRequest& r) {
    switch (kind_of(r)) {
      case Kind::kCritique:
        return "neg returns its argument unchanged.";
      case Kind::kFeedback:
        return "Negate in neg; multiply in mul.";
      case Kind::kUpdate: {
        std::lock_guard lock(updates_mu_);
        const size_t i = std::min<size_t>(update_calls_++, updates_.size() - 1);
        return updates_[i];
      }
      default:
        return "unexpected request";
    }
  }

  ProcessResult code(std::vector<std::string> args) const {
    args.insert(args.begin(), {std::string(TEXTGRAD_BINARY_DIR) + "/tools/textgrad/textgrad",
                               "code", "--engine", "openai/gpt-4o-mini", "--no-cache", "--quiet"});
    return testing::run_process(
        args, {{"OPENAI_API_KEY", kKey}, {"OPENAI_BASE_URL", server_->base_url() + "/v1"}});
  }

  std::vector<std::string> file_args() const {
    return {"--file",    dir_.file("solution.py"),
            "--test",    "python3 -m pytest -q test_solution.py",
            "--timeout", "60",
            "--run-dir", dir_.file("run")};
  }

  TempDir dir_;
  std::unique_ptr<fake::FakeLlmServer> server_;
  // The server's threads read the answers while the test sets them: the tool process in
  // between orders the two for us, but not in a way ThreadSanitizer can see.
  void set_updates(std::vector<std::string> updates) {
    std::lock_guard lock(updates_mu_);
    updates_ = std::move(updates);
  }
  std::mutex updates_mu_;
  std::vector<std::string> updates_ = {tagged(kFixed)};
  std::atomic<size_t> update_calls_{0};
};

TEST_F(CodeCliTest, StopsAtTheFirstAllPassAndLeavesTheFileAlone) {
  set_updates({tagged(kHalf), tagged(kFixed), tagged(kWorse)});
  ProcessResult r = code(file_args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::read_text(dir_.file("solution.py")), kInput);
  EXPECT_EQ(server_->request_count(), 6u);  // 2 rounds x (critique, feedback, update)
  EXPECT_NE(r.out.find("-    return a + b\n+    return a * b"), std::string::npos) << r.out;
  const std::string run = dir_.file("run");
  for (const char* file :
       {"config.json", "versions/v0.py", "versions/v1.py", "versions/v2.py", "tests/v0.txt",
        "tests/v2.txt", "feedback/iteration_1.md", "diffs/iteration_2.diff", "report.md",
        "report.html", "result.json", "best.py"}) {
    EXPECT_TRUE(fs::exists(run + "/" + file)) << file;
  }
  EXPECT_FALSE(fs::exists(run + "/versions/v3.py"));
  EXPECT_EQ(testing::read_text(run + "/best.py"), kFixed);
  const json result = json::parse(testing::read_text(run + "/result.json"));
  EXPECT_EQ(result["best"], 2);
  EXPECT_EQ(result["calls"], 6);
  EXPECT_EQ(result["versions"][0]["passed"], 0);
  EXPECT_EQ(result["versions"][1]["passed"], 1);
  EXPECT_NE(testing::read_text(run + "/feedback/iteration_1.md").find("Negate in neg"),
            std::string::npos);
  EXPECT_NE(testing::read_text(run + "/diffs/iteration_2.diff").find("+    return -a"),
            std::string::npos);
}

TEST_F(CodeCliTest, InPlaceWritesTheBestVersionBack) {
  set_updates({tagged(kHalf), tagged(kWorse)});
  std::vector<std::string> args = file_args();
  args.insert(args.end(), {"--iterations", "2", "--in-place"});
  ProcessResult r = code(args);
  EXPECT_EQ(r.exit_code, 4) << r.err;  // tests still fail, but one passes more
  EXPECT_EQ(testing::read_text(dir_.file("solution.py")), kHalf);
  EXPECT_EQ(server_->request_count(), 6u);
}

TEST_F(CodeCliTest, WithoutInPlaceAFailedRunChangesNothing) {
  set_updates({tagged(kWorse)});
  std::vector<std::string> args = file_args();
  args.insert(args.end(), {"--iterations", "1"});
  ProcessResult r = code(args);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(testing::read_text(dir_.file("solution.py")), kInput);
  EXPECT_NE(r.out.find("No version did better than the input"), std::string::npos) << r.out;
}

TEST_F(CodeCliTest, TestsThatAlreadyPassMeanNothingToDo) {
  testing::write_text(dir_.file("solution.py"), kFixed);
  ProcessResult r = code(file_args());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("already pass"), std::string::npos) << r.out;
  EXPECT_EQ(server_->request_count(), 0u);
  EXPECT_FALSE(fs::exists(dir_.file("run")));
}

TEST_F(CodeCliTest, BadInputGetsClearErrorsAndExitCode2) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--file", dir_.file("missing.py"), "--test", "true"}, "no such file"},
      {{"--file", dir_.file("solution.py"), "--test", "no-such-program --check"},
       "the test command could not run"},
      {{"--file", dir_.file("solution.py"), "--test", "true", "--language", "cobol"},
       "no runner for the language 'cobol'"},
      {{"--file", dir_.file("solution.py")}, "--file needs --test"},
      {{"--problems", dir_.file("missing.jsonl")}, "cannot read"},
  };
  testing::write_text(dir_.file("prog.xyz"), "x");
  for (const Case& c : cases) {
    ProcessResult r = code(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  ProcessResult unknown = code({"--file", dir_.file("prog.xyz"), "--test", "true"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("cannot tell the language"), std::string::npos) << unknown.err;
  EXPECT_EQ(server_->request_count(), 0u);
  EXPECT_EQ(testing::read_text(dir_.file("solution.py")), kInput);
}

// A problem set of 20: problem i asks for f(x) = x + i. Even problems are solved zero-shot;
// of the odd ones, those with i % 4 == 1 are fixed by the first update, the others never.
class CodeProblemSetTest : public CodeCliTest {
 protected:
  static int problem_number(const std::string& text) {
    std::smatch m;
    static const std::regex kNumber(R"(returns x \+ (\d+))");
    return std::regex_search(text, m, kNumber) ? std::stoi(m[1]) : -1;
  }
  // The first --concurrency (4) zero-shot requests are answered only once all four are
  // in flight together, which happens only if the problems really run concurrently (a
  // serial run would wait out the timeout and fail the check).
  void await_concurrent_solves() {
    std::unique_lock lock(mu_);
    ++solves_;
    barrier_.notify_all();
    if (barrier_.wait_for(lock, std::chrono::seconds(30), [this] { return solves_ >= 4; })) {
      concurrent_ = true;
    }
  }

  std::mutex mu_;
  std::condition_variable barrier_;
  int solves_ = 0;
  bool concurrent_ = false;

  static std::string program(int k) {
    return "def f(x):\n    return x + " + std::to_string(k) + "\n";
  }

  std::string answer(const fake::RecordedRequest& r) override {
    const std::string user = user_text(r);
    const int i = problem_number(user);
    switch (kind_of(r)) {
      case Kind::kSolve:
        await_concurrent_solves();
        return "```python\n" + program(i % 2 == 0 ? i : i + 100) + "```";
      case Kind::kCritique:
        return "f adds the wrong number.";
      case Kind::kFeedback:
        return "Add the number the problem asks for.";
      case Kind::kUpdate:
        return tagged(program(i % 4 == 1 ? i : i + 200));
      default:
        return "unexpected";
    }
  }
};

TEST_F(CodeProblemSetTest, SolvesTwentyProblemsConcurrentlyAndReportsConsistentRates) {
  std::string lines;
  for (int i = 0; i < 20; ++i) {
    json problem = {{"id", "p" + std::to_string(i)},
                    {"prompt", "Write f(x) that returns x + " + std::to_string(i) + "."},
                    {"code", "def f(x):\n    pass\n"},
                    {"files",
                     {{"check.py", "from solution import f\nassert f(1) == " +
                                       std::to_string(1 + i) + "\nprint('ok')\n"}}},
                    {"test_command", "python3 check.py"}};
    lines += problem.dump() + "\n";
  }
  testing::write_text(dir_.file("set.jsonl"), lines);
  ProcessResult r =
      code({"--problems", dir_.file("set.jsonl"), "--iterations", "2", "--concurrency", "4",
            "--timeout", "60", "--run-dir", dir_.file("set-run")});
  ASSERT_EQ(r.exit_code, 0) << r.err << testing::read_text(dir_.file("set-run/results.jsonl"));
  EXPECT_NE(r.out.find("Zero-shot solve rate: 10/20 (0.50); after optimization: 15/20 (0.75)"),
            std::string::npos)
      << r.out;
  // Every problem's record agrees with the script, and the summary with the records.
  int zero = 0, solved = 0;
  std::istringstream records(testing::read_text(dir_.file("set-run/results.jsonl")));
  std::string line;
  int count = 0;
  for (; std::getline(records, line); ++count) {
    const json record = json::parse(line);
    const int i = std::stoi(record["id"].get<std::string>().substr(1));
    EXPECT_EQ(record["zero_shot"], i % 2 == 0) << line;
    EXPECT_EQ(record["solved"], i % 2 == 0 || i % 4 == 1) << line;
    EXPECT_EQ(record["iterations"], i % 2 == 0 ? 0 : i % 4 == 1 ? 1 : 2) << line;
    EXPECT_EQ(record["calls"], i % 2 == 0 ? 1 : i % 4 == 1 ? 4 : 7) << line;
    zero += record["zero_shot"].get<bool>();
    solved += record["solved"].get<bool>();
  }
  EXPECT_EQ(count, 20);
  const json summary = json::parse(testing::read_text(dir_.file("set-run/summary.json")));
  EXPECT_EQ(summary["zero_shot_solved"], zero);
  EXPECT_EQ(summary["solved"], solved);
  EXPECT_DOUBLE_EQ(summary["final_rate"].get<double>(), solved / 20.0);
  // 20 zero-shot calls + 3 per round: 5 problems x 1 round + 5 problems x 2 rounds.
  EXPECT_EQ(server_->request_count(), 20u + 3u * (5 + 10));
  std::lock_guard lock(mu_);
  EXPECT_TRUE(concurrent_);
}

// The shipped problems are well-formed: the reference solutions pass and the stubs do not.
TEST(CodeProblemDataTest, ShippedReferenceSolutionsPassAndStubsFail) {
  testing::SandboxLock lock;  // Note [Sandbox tests and the process limit]
  std::ifstream in(std::string(TEXTGRAD_TEST_DATA_DIR) + "/code/problems.jsonl");
  std::vector<json> problems;
  for (std::string line; std::getline(in, line);) problems.push_back(json::parse(line));
  ASSERT_GE(problems.size(), 10u);
  ASSERT_LE(problems.size(), 20u);
  CodeTestsOptions options;
  options.filename = "solution.py";
  options.command = "python3 -m pytest -q test_solution.py";
  options.sandbox.limits.wall_seconds = 90;
  options.sandbox.limits.cpu_seconds = 60;
  std::vector<std::future<std::pair<TestReport, TestReport>>> runs;
  for (const json& p : problems) {
    CodeTestsOptions mine = options;
    mine.files["test_solution.py"] = p["tests"];
    auto tests = std::make_shared<CodeTests>(mine);
    runs.push_back(std::async(std::launch::async, [tests, p] {
      return std::pair{tests->run(p["solution"]), tests->run(p["code"])};
    }));
  }
  for (size_t i = 0; i < problems.size(); ++i) {
    const auto [good, stub] = runs[i].get();
    EXPECT_TRUE(good.all_passed()) << problems[i]["id"] << "\n" << good.text;
    EXPECT_FALSE(stub.all_passed()) << problems[i]["id"];
  }
}

}  // namespace
}  // namespace tg
