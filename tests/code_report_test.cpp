// Test reports without running anything: pytest's output parsed, the evaluation text bounded,
// code taken out of answers, diffs, languages.
#include <gtest/gtest.h>
#include <signal.h>

#include "textgrad/code.h"

namespace tg {
namespace {

constexpr const char* kPytestOutput =
    R"(.FF                                                                      [100%]
=================================== FAILURES ===================================
___________________________________ test_mul ___________________________________

>   def test_mul(): assert mul(2,3)==6
E   assert 5 == 6
E    +  where 5 = mul(2, 3)

test_solution.py:3: AssertionError
==================================== PASSES ====================================
=========================== short test summary info ============================
PASSED test_solution.py::test_add
FAILED test_solution.py::test_mul - assert 5 == 6
FAILED test_solution.py::test_mul2 - AssertionError: three squared
2 failed, 1 passed in 0.07s
)";

TEST(CodeReportTest, ParsesPytestPerTestResultsAndCounts) {
  TestReport report;
  ASSERT_TRUE(parse_pytest_output(kPytestOutput, report));
  EXPECT_TRUE(report.per_test);
  EXPECT_EQ(report.passed, 1);
  EXPECT_EQ(report.failed, 2);
  ASSERT_EQ(report.tests.size(), 3u);
  EXPECT_EQ(report.tests[0].name, "test_solution.py::test_add");
  EXPECT_EQ(report.tests[0].status, TestOutcome::Status::kPassed);
  EXPECT_EQ(report.tests[2].name, "test_solution.py::test_mul2");
  EXPECT_EQ(report.tests[2].message, "AssertionError: three squared");
}

TEST(CodeReportTest, CollectionErrorsAndVerboseSummariesCount) {
  TestReport collection;
  ASSERT_TRUE(parse_pytest_output(
      "ERROR test_solution.py\n!!!! Interrupted: 1 error during collection !!!!\n1 error in "
      "0.17s\n",
      collection));
  EXPECT_EQ(collection.passed, 0);
  EXPECT_EQ(collection.failed, 1);
  EXPECT_FALSE(collection.all_passed());

  TestReport verbose;
  ASSERT_TRUE(parse_pytest_output("==== 3 passed, 1 skipped, 2 warnings in 1.20s ====\n", verbose));
  EXPECT_EQ(verbose.passed, 3);
  EXPECT_TRUE(verbose.all_passed());

  TestReport none;
  ASSERT_TRUE(parse_pytest_output("no tests ran in 0.01s\n", none));
  EXPECT_EQ(none.total(), 0);
  EXPECT_FALSE(none.all_passed());  // nothing passing is not success

  TestReport plain;
  EXPECT_FALSE(parse_pytest_output("FAILED to open\nall good in the end\n", plain));
}

TEST(CodeReportTest, EvaluationTextNamesFailuresLimitsAndStaysBounded) {
  TestReport report;
  ASSERT_TRUE(parse_pytest_output(kPytestOutput, report));
  RunResult run;
  run.exit_code = -1;
  run.signal = SIGKILL;
  run.timed_out = true;
  run.out = std::string(kPytestOutput) + std::string(50000, 'y');
  run.out_bytes = run.out.size();
  run.err = "Traceback...\nMemoryError\n";
  report.runs.push_back(run);
  SandboxLimits limits;
  limits.wall_seconds = 7;
  describe_report("python3 -m pytest -q", limits, 3000, report);
  EXPECT_LE(report.text.size(), 3000u);
  EXPECT_EQ(report.summary, "1 of 3 tests passed");
  for (const char* expected :
       {"Test command: python3 -m pytest -q", "Outcome: 1 of 3 tests passed",
        "TIMED OUT: still running after 7 s", "memory limit reached (512 MB",
        "- test_solution.py::test_mul: assert 5 == 6", "Passed tests: test_solution.py::test_add",
        "Standard error", "[...]"}) {
    EXPECT_NE(report.text.find(expected), std::string::npos) << expected << "\n" << report.text;
  }
}

TEST(CodeReportTest, ExtractsCodeFromFencesTagsOrTheWholeAnswer) {
  EXPECT_EQ(extract_code("Here:\n```python\ndef f():\n    return 1\n```\nDone."),
            "def f():\n    return 1\n");
  EXPECT_EQ(extract_code("<CODE>x = 1</CODE>"), "x = 1\n");
  EXPECT_EQ(extract_code("  y = 2  \n"), "y = 2\n");
}

TEST(CodeReportTest, UnifiedDiffShowsChangedLinesWithContext) {
  std::string before, after;
  for (int i = 1; i <= 20; ++i) {
    before += "line " + std::to_string(i) + "\n";
    after += (i == 10 ? std::string("changed 10") : "line " + std::to_string(i)) + "\n";
  }
  after += "line 21\n";
  EXPECT_EQ(unified_diff(before, after, "a/x.py", "b/x.py"),
            "--- a/x.py\n+++ b/x.py\n"
            "@@ -7,7 +7,7 @@\n line 7\n line 8\n line 9\n-line 10\n+changed 10\n line 11\n"
            " line 12\n line 13\n"
            "@@ -18,3 +18,4 @@\n line 18\n line 19\n line 20\n+line 21\n");
  EXPECT_EQ(unified_diff(before, before, "a", "b"), "");
  EXPECT_EQ(unified_diff("", "x\n", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+x\n");
}

TEST(CodeReportTest, LanguagesByNameAliasAndExtension) {
  EXPECT_EQ(language_named("py").name, "python");
  EXPECT_EQ(language_named("c++").extension, ".cpp");
  ASSERT_NE(language_for_file("sol.cpp"), nullptr);
  EXPECT_EQ(language_for_file("sol.cpp")->name, "cpp");
  EXPECT_EQ(language_for_file("sol.rs"), nullptr);
  try {
    language_named("cobol");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("python, cpp, c, shell"), std::string::npos);
  }
  CodeTestsOptions options;
  options.filename = "main.rs";
  options.command = "cargo test";
  EXPECT_THROW(CodeTests{options}, InvalidArgument);
}

}  // namespace
}  // namespace tg
