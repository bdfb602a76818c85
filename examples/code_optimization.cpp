// Improve a program against its tests: the tests really run (in the bubblewrap sandbox), the
// critique sees their results, and TGD rewrites the code until they pass.
//   example_code_optimization [ENGINE]
// Without an engine name the model's answers are scripted, so it runs offline; the tests run
// for real either way (bubblewrap and python3-pytest must be installed: scripts/setup.sh).
#include <iostream>

#include "textgrad/code.h"
#include "textgrad/engines.h"
#include "textgrad/textgrad.h"

namespace {

constexpr const char* kProblem =
    "Write lis_length(nums) returning the length of the longest strictly increasing "
    "subsequence of nums (0 for an empty list). Inputs have up to 50000 elements.";

constexpr const char* kStartingCode = R"(def lis_length(nums):
    best = [1] * len(nums)
    for i in range(len(nums)):
        for j in range(i):
            if nums[j] < nums[i]:
                best[i] = max(best[i], best[j] + 1)
    return max(best)
)";

constexpr const char* kTests = R"(from solution import lis_length

def test_example():
    assert lis_length([10, 9, 2, 5, 3, 7, 101, 18]) == 4

def test_empty():
    assert lis_length([]) == 0

def test_large():
    assert lis_length(list(range(50000))) == 50000
)";

// Offline answers: a critique, feedback, and an O(n log n) rewrite.
std::string offline_answer(const tg::Request& request) {
  switch (request.phase) {
    case tg::Phase::kLoss:
      return "test_empty fails: max() of an empty list raises ValueError. The double loop is "
             "O(n^2), far too slow for 50000 elements, which is why the run timed out.";
    case tg::Phase::kBackward:
      return "Return 0 for an empty list, and replace the double loop by patience sorting: keep "
             "the smallest tail of each subsequence length and place each number with binary "
             "search, which is O(n log n).";
    case tg::Phase::kUpdate:
      return "<IMPROVED_VARIABLE>\nimport bisect\n\n\ndef lis_length(nums):\n    tails = []\n"
             "    for x in nums:\n        i = bisect.bisect_left(tails, x)\n"
             "        if i == len(tails):\n            tails.append(x)\n        else:\n"
             "            tails[i] = x\n    return len(tails)\n</IMPROVED_VARIABLE>";
    default:
      return "";
  }
}

}  // namespace

int main(int argc, char** argv) {
  tg::EnginePtr engine;
  if (argc > 1) {
    engine = tg::make_engine(argv[1]);
  } else {
    std::cerr << "(offline: scripted answers; pass an engine name such as openai/gpt-4o to use a "
                 "real model)\n";
    engine = std::make_shared<tg::ScriptedEngine>(offline_answer);
  }

  tg::CodeTestsOptions options;
  options.filename = "solution.py";
  options.command = "python3 -m pytest -q test_solution.py";
  options.files["test_solution.py"] = kTests;
  options.sandbox.limits.wall_seconds = 10;  // the quadratic version cannot finish in time
  tg::CodeTests tests(options);

  tg::CodeOptimizationOptions loop;
  loop.problem = kProblem;
  loop.iterations = 3;
  loop.on_iteration = [](const tg::CodeIteration& it, const tg::CodeVersion& v) {
    std::cout << "Iteration " << it.index << ": " << v.tests.summary << "\n";
  };
  tg::CodeOptimizationResult result = tg::optimize_code(kStartingCode, tests, engine, loop);
  std::cout << "Starting code: " << result.versions.front().tests.summary << "\n\n"
            << result.versions.front().tests.text << "\n";
  std::cout << (result.solved() ? "Improved code (all tests pass):\n" : "Best code so far:\n")
            << result.best_version().code;
  return result.solved() ? 0 : 1;
}
