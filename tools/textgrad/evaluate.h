// Evaluating a system prompt on a split, all items concurrently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "progress.h"
#include "task.h"
#include "textgrad/engine.h"

namespace tg::cli {

struct Evaluation {
  std::vector<int> scores;
  double accuracy = 0;
};

// Sends every item at once (the engine's limits bound what is in flight), then scores.
Evaluation evaluate_prompt(const EnginePtr& engine, const std::string& system_prompt,
                           const std::vector<Example>& examples, const Scorer& scorer,
                           Progress& progress, const std::string& label);

}  // namespace tg::cli
