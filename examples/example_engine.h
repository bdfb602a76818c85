// Picks the engine for an example: the name given on the command line (e.g.
// "openai/gpt-4o"), or, with no argument, a scripted engine that answers plausibly offline.
#pragma once

#include <iostream>
#include <string>

#include "textgrad/engines.h"
#include "textgrad/textgrad.h"

namespace examples {

inline std::string offline_answer(const tg::Request& request) {
  const std::string user = request.user_text();
  switch (request.phase) {
    case tg::Phase::kForward:
      if (request.has_images()) return "This image shows a bee.";
      if (user.find("shirts") != std::string::npos) {
        return "Drying time is proportional: 25 shirts take 1 hour, so 30 shirts take 1.2 hours.";
      }
      return "Reasoning step by step... Answer: 7";
    case tg::Phase::kLoss:
      if (request.has_images()) {
        return "The answer names the insect but says nothing about the flowers, the pollen on "
               "its legs, or the setting.";
      }
      return "The reasoning assumes drying time grows with the number of shirts. Shirts dry in "
             "parallel under the sun, so the time does not depend on how many there are.";
    case tg::Phase::kBackward:
      return "The answer treats drying as sequential. State that shirts dry in parallel, so 30 "
             "shirts still take about 1 hour, given enough space in the sun.";
    case tg::Phase::kReduce:
      return "All sources agree: account for parallel drying.";
    case tg::Phase::kUpdate:
      if (user.find("<ROLE>code") != std::string::npos || user.find("code") != std::string::npos) {
        return "<IMPROVED_VARIABLE>def longest_increasing_subsequence(nums):\n"
               "    import bisect\n    tails = []\n    for x in nums:\n"
               "        i = bisect.bisect_left(tails, x)\n"
               "        tails[i:i + 1] = [x]\n    return len(tails)</IMPROVED_VARIABLE>";
      }
      if (request.has_images()) {
        return "<IMPROVED_VARIABLE>A honeybee gathers pollen on a cluster of small flowers; "
               "pollen is packed on its hind legs.</IMPROVED_VARIABLE>";
      }
      return "<IMPROVED_VARIABLE>It still takes about 1 hour: the shirts dry in parallel, as "
             "long as all 30 fit in the sun.</IMPROVED_VARIABLE>";
    default:
      return "ok";
  }
}

// With an engine name (and its API key in the environment), the example talks to that model;
// without one it runs offline.
inline tg::EnginePtr example_engine(int argc, char** argv) {
  if (argc > 1) return tg::make_engine(argv[1]);
  std::cerr << "(offline: scripted answers; pass an engine name such as openai/gpt-4o to use a "
               "real model)\n";
  return std::make_shared<tg::ScriptedEngine>(offline_answer);
}

}  // namespace examples
