// The test-time code loop in the library, with scripted model answers and real tests run in
// the sandbox: it stops at the first all-pass, keeps the best version, repairs a malformed
// answer once, critiques with the test report as context, and makes the documented calls.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "support/sandbox_lock.h"
#include "textgrad/code.h"
#include "textgrad/scripted_engine.h"

namespace tg {
namespace {

constexpr const char* kTests = R"(from solution import add, mul, neg

def test_add():
    assert add(2, 3) == 5

def test_mul():
    assert mul(2, 3) == 6, "mul multiplies"

def test_neg():
    assert neg(4) == -4
)";

constexpr const char* kOnePasses =
    "def add(a, b): return a + b\ndef mul(a, b): return a + b\n"
    "def neg(a): return a\n";
constexpr const char* kTwoPass =
    "def add(a, b): return a + b\ndef mul(a, b): return a * b\n"
    "def neg(a): return a\n";
constexpr const char* kAllPass =
    "def add(a, b): return a + b\ndef mul(a, b): return a * b\n"
    "def neg(a): return -a\n";
constexpr const char* kBroken = "def add(a, b) return a + b\n";

// Answers the critique and the feedback calls; the update calls get the scripted versions in
// order (an entry without tags is answered as it is, to exercise the repair).
class Script {
 public:
  explicit Script(std::deque<std::string> updates) : updates_(std::move(updates)) {}

  std::shared_ptr<ScriptedEngine> engine() {
    return std::make_shared<ScriptedEngine>([this](const Request& r) -> std::string {
      switch (r.phase) {
        case Phase::kLoss:
          return "mul adds instead of multiplying.";
        case Phase::kBackward:
          return "Make mul multiply and neg negate.";
        case Phase::kUpdate: {
          std::lock_guard lock(mu_);
          if (updates_.empty())
            return "<IMPROVED_VARIABLE>" + std::string(kBroken) + "</IMPROVED_VARIABLE>";
          std::string next = updates_.front();
          updates_.pop_front();
          return next;
        }
        default:
          return "unexpected";
      }
    });
  }

 private:
  std::mutex mu_;
  std::deque<std::string> updates_;
};

std::string tagged(const std::string& code) {
  return "<IMPROVED_VARIABLE>\n" + code + "</IMPROVED_VARIABLE>";
}

class CodeLoopTest : public ::testing::Test {
 protected:
  testing::SandboxLock sandbox_lock_;  // Note [Sandbox tests and the process limit]
  void SetUp() override {
    CodeTestsOptions options;
    options.filename = "solution.py";
    options.command = "python3 -m pytest -q test_solution.py";
    options.files["test_solution.py"] = kTests;
    options.sandbox.limits.wall_seconds = 60;
    // Throws SandboxUnavailable where bubblewrap cannot run: scripts/setup.sh installs it.
    tests_ = std::make_unique<CodeTests>(options);
  }
  std::unique_ptr<CodeTests> tests_;
};

TEST_F(CodeLoopTest, StopsAtTheFirstVersionThatPassesEverything) {
  Script script({tagged(kTwoPass), tagged(kAllPass), tagged(kOnePasses)});
  auto engine = script.engine();
  CodeOptimizationOptions options;
  options.iterations = 5;
  CodeOptimizationResult r = optimize_code(kOnePasses, *tests_, engine, options);
  ASSERT_EQ(r.versions.size(), 3u);
  EXPECT_EQ(r.versions[0].tests.passed, 1);
  EXPECT_EQ(r.versions[1].tests.passed, 2);
  EXPECT_TRUE(r.versions[2].tests.all_passed());
  EXPECT_EQ(r.best, 2u);
  EXPECT_TRUE(r.solved());
  EXPECT_EQ(r.best_version().code, kAllPass);
  // Two rounds of critique, feedback and update.
  EXPECT_EQ(r.calls, 6);
  EXPECT_EQ(engine->calls(), 6);
}

TEST_F(CodeLoopTest, TheCritiqueSeesTheTestReport) {
  Script script({tagged(kAllPass)});
  auto engine = script.engine();
  optimize_code(kOnePasses, *tests_, engine);
  const std::vector<Request> requests = engine->requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].phase, Phase::kLoss);
  const std::string critique = requests[0].user_text();
  EXPECT_NE(critique.find("Outcome: 1 of 3 tests passed"), std::string::npos) << critique;
  EXPECT_NE(critique.find("test_solution.py::test_mul: AssertionError: mul multiplies"),
            std::string::npos)
      << critique;
  EXPECT_NE(critique.find("def mul(a, b): return a + b"), std::string::npos) << critique;
  EXPECT_EQ(requests[1].phase, Phase::kBackward);
  EXPECT_EQ(requests[2].phase, Phase::kUpdate);
  EXPECT_NE(requests[2].user_text().find("mul adds instead of multiplying."), std::string::npos);
}

TEST_F(CodeLoopTest, EvaluateGivesTheReportAsAFrozenVariable) {
  Variable results = tests_->evaluate(Variable(kTwoPass, "code"));
  EXPECT_FALSE(results.requires_grad());
  EXPECT_NE(results.value().find("Outcome: 2 of 3 tests passed"), std::string::npos)
      << results.value();
  EXPECT_NE(results.value().find("test_solution.py::test_neg: assert 4 == -4"), std::string::npos)
      << results.value();
}

TEST_F(CodeLoopTest, KeepsTheBestVersionWhenALaterOneRegresses) {
  Script script({tagged(kTwoPass), tagged(kBroken), tagged(kOnePasses)});
  auto engine = script.engine();
  CodeOptimizationOptions options;
  options.iterations = 3;
  CodeOptimizationResult r = optimize_code(kOnePasses, *tests_, engine, options);
  ASSERT_EQ(r.versions.size(), 4u);
  EXPECT_EQ(r.versions[2].tests.passed, 0);  // the broken one does not even import
  EXPECT_EQ(r.best, 1u);
  EXPECT_EQ(r.best_version().code, kTwoPass);
  EXPECT_FALSE(r.solved());
  EXPECT_EQ(r.calls, 9);
}

TEST_F(CodeLoopTest, NeverReturnsFewerPassesThanTheInput) {
  Script script({tagged(kOnePasses), tagged(kBroken)});
  auto engine = script.engine();
  CodeOptimizationOptions options;
  options.iterations = 2;
  CodeOptimizationResult r = optimize_code(kTwoPass, *tests_, engine, options);
  EXPECT_EQ(r.best, 0u);
  EXPECT_EQ(r.best_version().code, kTwoPass);
}

TEST_F(CodeLoopTest, RepairsAMalformedAnswerOnceAndStripsFences) {
  Script script(
      {"Here is the fix: mul should multiply.",
       "<IMPROVED_VARIABLE>\n```python\n" + std::string(kAllPass) + "```\n</IMPROVED_VARIABLE>"});
  auto engine = script.engine();
  CodeOptimizationResult r = optimize_code(kOnePasses, *tests_, engine);
  ASSERT_EQ(r.iterations.size(), 1u);
  EXPECT_EQ(r.iterations[0].calls, 4);  // critique, feedback, update, repair
  EXPECT_EQ(r.best_version().code, kAllPass);
  EXPECT_TRUE(r.solved());
}

TEST_F(CodeLoopTest, AnUnusableAnswerKeepsTheCodeWithoutRerunningTheTests) {
  Script script({"no tags", "still no tags"});
  auto engine = script.engine();
  CodeOptimizationOptions options;
  options.iterations = 1;
  CodeOptimizationResult r = optimize_code(kOnePasses, *tests_, engine, options);
  ASSERT_EQ(r.iterations.size(), 1u);
  EXPECT_EQ(r.iterations[0].update, UpdateOutcome::Status::kKept);
  EXPECT_EQ(r.versions[1].code, kOnePasses);
  EXPECT_EQ(r.versions[1].tests.runs.front().seconds, r.versions[0].tests.runs.front().seconds);
  EXPECT_EQ(r.best, 0u);
}

}  // namespace
}  // namespace tg
