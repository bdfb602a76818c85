// Evaluating a system prompt on a split, all items concurrently: in this process, or by
// evaluation workers on other machines when the engine carries them (worker_dispatch.h).
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
// scores. With a tagger, every call is tagged with its item id. When `engine` hands its
// evaluations to workers (with_eval_workers), the answers come from them and the result is
// the same as this process would have computed.
Evaluation evaluate_prompt(const EnginePtr& engine, const std::string& system_prompt,
                           const std::vector<Example>& examples, const Scorer& scorer,
                           Progress& progress, const std::string& label,
                           const CallTagger* tagger = nullptr);

// The evaluation call of one item: the one request evaluate_prompt, the workers and the
// replayed worker answers all make, so they share cache entries and trace rows.
Variable evaluation_prompt(const std::string& system_prompt);
Variable ask_item(const EnginePtr& engine, const Variable& prompt, const Example& example);

// ask_item for every example, sent at once; calls tagged with the item id when tagger is set.
std::vector<Variable> ask_items(const EnginePtr& engine, const std::string& system_prompt,
                                const std::vector<Example>& examples, const CallTagger* tagger);

}  // namespace tg::cli
