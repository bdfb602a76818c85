#include "search_run.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/modules.h"
#include "textgrad/search.h"

namespace tg::cli {
namespace {

using nlohmann::json;

constexpr const char* kParameter = "system";
constexpr const char* kStateFile = "search_state.json";

// One run of the system prompt on one example: its 0/1 score and, when wrong, the loss graph.
class PromptTask : public SearchTask {
 public:
  PromptTask(const Task& task, const Scorer& scorer, EnginePtr forward)
      : task_(task), scorer_(scorer), forward_(std::move(forward)) {}

  std::size_t train_size() const override { return task_.splits.train.size(); }
  std::size_t val_size() const override { return task_.splits.val.size(); }

  Rollout run(const std::map<std::string, Variable>& parameters, Split split,
              std::size_t index) const override {
    const Example& example =
        (split == Split::kTrain ? task_.splits.train : task_.splits.val).at(index);
    BlackboxLLM model(forward_, parameters.at(kParameter));
    Variable x(example.input, roles::kLlmInput, false);
    Variable response = model(x);
    const int score = scorer_.score({example}, {response}).at(0);
    if (score == 1) return {1.0, Variable()};
    Variable y(example.target, "correct answer for the query", false);
    return {0.0, scorer_.loss(x, y, response)};
  }

 private:
  const Task& task_;
  const Scorer& scorer_;
  EnginePtr forward_;
};

json proposal_json(const Proposal& p) {
  json j = {{"index", p.index},
            {"kind", to_string(p.kind)},
            {"outcome", to_string(p.outcome)},
            {"parents", p.parents},
            {"changed", p.changed},
            {"items", p.items},
            {"parent_scores", p.parent_scores},
            {"child_scores", p.child_scores},
            {"feedback", p.feedback},
            {"child", p.child},
            {"metric_calls", p.metric_calls}};
  if (p.ancestor) j["ancestor"] = *p.ancestor;
  if (p.child_index) {
    j["child_index"] = *p.child_index;
    j["child_val_accuracy"] = p.child_aggregate;
  }
  return j;
}

}  // namespace

SearchOutcome run_search(const OptimizerFlags& flags, const std::string& initial_prompt,
                         const std::string& role, const Task& task, const Scorer& scorer,
                         const EnginePtr& forward, const EnginePtr& backward, RunDir& dir,
                         int concurrency, unsigned seed) {
  SearchOptions options;
  options.selection = selection_from_string(flags.selection);
  options.minibatch = flags.minibatch;
  options.max_merges = flags.merge;
  options.seed = seed;
  options.concurrency = concurrency;
  options.roles[kParameter] = role;
  options.stop.max_metric_calls = flags.max_metric_calls;
  options.stop.stop_file = (dir.path() / "stop").string();
  options.backward.concurrency = concurrency;
  options.backward.budget.request_tokens = flags.feedback_budget;
  options.update.constraints = flags.constraints;
  options.update.budget.request_tokens = flags.update_budget;
  Search search(std::make_shared<PromptTask>(task, scorer, forward), {{kParameter, initial_prompt}},
                backward, options);
  std::filesystem::create_directories(dir.path() / "proposals");
  // A damaged state is refused by load_state itself ("search state: not a saved search").
  if (dir.has_file(kStateFile)) search.load_state(dir.read_file(kStateFile));
  search.on_proposal = [&dir](const Proposal& p, const std::string& state) {
    dir.write_file(fmt::format("proposals/proposal_{:04d}.json", p.index),
                   proposal_json(p).dump(2));
    dir.write_file(kStateFile, state);
  };
  const std::size_t best = search.run();
  dir.write_file(kStateFile, search.state());
  const PoolEntry& entry = search.pool()[best];
  return {entry.candidate.at(kParameter), entry.aggregate, search.proposals(),
          search.metric_calls(), static_cast<int>(search.pool().size())};
}

}  // namespace tg::cli
