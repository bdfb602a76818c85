// Picks the engine for an example: the name given on the command line (e.g.
// "openai/gpt-4o"), or, with no argument, a scripted engine that plays the model offline with
// answers written for that example.
#pragma once

#include <iostream>
#include <string>

#include "textgrad/engines.h"
#include "textgrad/scripted_engine.h"
#include "textgrad/textgrad.h"

namespace examples {

// With an engine name (and its API key in the environment), the example talks to that model;
// without one it runs offline, answered by `offline`.
inline tg::EnginePtr example_engine(int argc, char** argv, tg::ScriptedEngine::Responder offline) {
  if (argc > 1) return tg::make_engine(argv[1]);
  std::cerr << "(offline: scripted answers; pass an engine name such as openai/gpt-4o to use a "
               "real model)\n";
  return std::make_shared<tg::ScriptedEngine>(std::move(offline));
}

// The code-optimization example's offline answers, for callers that pass none.
inline std::string code_review_answer(const tg::Request& request) {
  switch (request.phase) {
    case tg::Phase::kLoss:
      return "The code is correct, but the nested loops are O(n^2): 10^5 elements take about "
             "5*10^9 comparisons, far over the time limit.";
    case tg::Phase::kBackward:
      return "Keep the smallest tail of every increasing subsequence length and place each "
             "number with a binary search (bisect): O(n log n) instead of O(n^2).";
    case tg::Phase::kUpdate:
      return "<IMPROVED_VARIABLE>def longest_increasing_subsequence(nums):\n"
             "    import bisect\n    tails = []\n    for x in nums:\n"
             "        i = bisect.bisect_left(tails, x)\n"
             "        tails[i:i + 1] = [x]\n    return len(tails)</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

inline tg::EnginePtr example_engine(int argc, char** argv) {
  return example_engine(argc, argv, code_review_answer);
}

}  // namespace examples
