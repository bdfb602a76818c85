// Evaluating a system prompt on a split, all items concurrently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "progress.h"
#include "run_records.h"
#include "task.h"
#include "textgrad/engine.h"

namespace tg::cli {

class CallTagger;

struct Evaluation {
  std::vector<int> scores;
  double accuracy = 0;
  std::vector<ItemRecord> items;  // id, input, prediction, target, score
};

// Sends every item at once (the engine's limits and budget bound what is in flight), then
// scores. With a tagger, every call is tagged with its item id.
Evaluation evaluate_prompt(const EnginePtr& engine, const std::string& system_prompt,
                           const std::vector<Example>& examples, const Scorer& scorer,
                           Progress& progress, const std::string& label,
                           const CallTagger* tagger = nullptr);

}  // namespace tg::cli
