// Improve a code snippet: the loss is an LLM review of the code together with its test results.
//   example_code_optimization [ENGINE]
#include <iostream>

#include "example_engine.h"
#include "textgrad/textgrad.h"

int main(int argc, char** argv) {
  tg::EnginePtr engine = examples::example_engine(argc, argv);
  tg::Variable problem(
      "Given an integer array nums, return the length of the longest strictly increasing "
      "subsequence.",
      "the coding problem", /*requires_grad=*/false);
  tg::Variable code(
      "def longest_increasing_subsequence(nums):\n"
      "    n = len(nums)\n    dp = [1] * n\n"
      "    for i in range(1, n):\n        for j in range(i):\n"
      "            if nums[i] > nums[j]:\n                dp[i] = max(dp[i], dp[j] + 1)\n"
      "    return max(dp)\n",
      "code instance to optimize", /*requires_grad=*/true);
  tg::Variable test_results("All 10 tests pass; the largest input takes 4.1 s (limit 1 s).",
                            "results of running the local tests", /*requires_grad=*/false);
  tg::Variable review_system(
      "You are a smart language model that evaluates code snippets. You do not solve problems "
      "or propose new code snippets, only evaluate existing solutions critically and give very "
      "concise feedback.",
      "system prompt for the code review", /*requires_grad=*/false);
  tg::FormattedLLMCall review(
      engine,
      "Problem: {problem}\nCode: {code}\nTest results: {tests}\n\nEvaluate the code: is it "
      "correct, and is it fast enough for inputs of 10^5 elements?",
      {"problem", "code", "tests"}, review_system, tg::Phase::kLoss);
  tg::TGDOptions options;
  options.constraints = {"Do not use asserts.", "The code must contain its imports."};
  tg::TGD optimizer({code}, engine, options);

  tg::Variable loss = review({{"problem", problem}, {"code", code}, {"tests", test_results}},
                             "evaluation of the code");
  std::cout << "Review: " << loss.value() << "\n\n";
  loss.backward(engine);
  optimizer.step();
  std::cout << "Improved code:\n" << code.value() << "\n";
}
