"""Improve a code snippet: the loss is an LLM review of the code together with its test results.
    python3 code_optimization.py [ENGINE]"""

import textgrad_cpp as tg
from offline_engine import example_engine

engine = example_engine()
problem = tg.Variable(
    "Given an integer array nums, return the length of the longest strictly increasing "
    "subsequence.",
    role_description="the coding problem",
    requires_grad=False,
)
code = tg.Variable(
    "def longest_increasing_subsequence(nums):\n"
    "    n = len(nums)\n    dp = [1] * n\n"
    "    for i in range(1, n):\n        for j in range(i):\n"
    "            if nums[i] > nums[j]:\n                dp[i] = max(dp[i], dp[j] + 1)\n"
    "    return max(dp)\n",
    role_description="code instance to optimize",
    requires_grad=True,
)
test_results = tg.Variable(
    "All 10 tests pass; the largest input takes 4.1 s (limit 1 s).",
    role_description="results of running the local tests",
    requires_grad=False,
)
review_system = tg.Variable(
    "You are a smart language model that evaluates code snippets. You do not solve problems or "
    "propose new code snippets, only evaluate existing solutions critically and give very "
    "concise feedback.",
    role_description="system prompt for the code review",
    requires_grad=False,
)
review = tg.FormattedLLMCall(
    engine,
    "Problem: {problem}\nCode: {code}\nTest results: {tests}\n\nEvaluate the code: is it "
    "correct, and is it fast enough for inputs of 10^5 elements?",
    ["problem", "code", "tests"],
    system_prompt=review_system,
    phase=tg.Phase.loss,
)
optimizer = tg.TGD([code], engine=engine,
                   constraints=["Do not use asserts.", "The code must contain its imports."])
loss = review(inputs=dict(problem=problem, code=code, tests=test_results),
              response_role_description="evaluation of the code")
print("Review:", loss.value, "\n")
loss.backward(engine)
optimizer.step()
print("Improved code:")
print(code.value)
