#include "search_run.h"

#include <algorithm>
#include <filesystem>
#include <functional>

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

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// search.md: the candidate tree, the Pareto front, and the best prompt with its line diff
// against the starting prompt (lines only in one of them, marked - and +).
std::string search_report(const Search& search) {
  const auto& pool = search.pool();
  const std::size_t best = search.best();
  const auto front = non_dominated(pool);
  std::string out = fmt::format(
      "# Search\n\n{} proposals, {} metric calls, {} candidates.\n\n## Candidate tree\n\n",
      search.proposals(), search.metric_calls(), pool.size());
  std::function<void(std::size_t, int)> tree = [&](std::size_t c, int depth) {
    auto on_front = front.find(c);
    out += fmt::format(
        "{}- #{}: validation {:.1f}%{}{}{}\n", std::string(2 * depth, ' '), c,
        100 * pool[c].aggregate,
        pool[c].proposal >= 0 ? fmt::format(", proposal {}", pool[c].proposal) : "",
        pool[c].parents.size() > 1 ? " (merge)" : "",
        on_front != front.end() ? fmt::format(", on the front of {} items", on_front->second) : "");
    for (std::size_t child = c + 1; child < pool.size(); ++child) {
      if (!pool[child].parents.empty() && pool[child].parents[0] == c) tree(child, depth + 1);
    }
  };
  tree(0, 0);
  out += "\n## Pareto front\n\n";
  for (const auto& [c, items] : front) out += fmt::format("- #{}: best on {} items\n", c, items);
  const std::string& seed = pool[0].candidate.at(kParameter);
  const std::string& text = pool[best].candidate.at(kParameter);
  out += fmt::format(
      "\n## Best candidate: #{}\n\n```\n{}\n```\n\nChanges from the start:\n\n```diff\n", best,
      text);
  const auto before = lines_of(seed), after = lines_of(text);
  for (const auto& line : before) {
    if (std::find(after.begin(), after.end(), line) == after.end()) out += "- " + line + "\n";
  }
  for (const auto& line : after) {
    if (std::find(before.begin(), before.end(), line) == before.end()) out += "+ " + line + "\n";
  }
  return out + "```\n";
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
  if (dir.has_file(kStateFile)) search.load_state(dir.read_file(kStateFile));
  search.on_proposal = [&dir](const Proposal& p, const std::string& state) {
    dir.write_file(fmt::format("proposals/proposal_{:04d}.json", p.index),
                   proposal_json(p).dump(2));
    dir.write_file(kStateFile, state);
  };
  const std::size_t best = search.run();
  dir.write_file(kStateFile, search.state());
  dir.write_file("search.md", search_report(search));
  const PoolEntry& entry = search.pool()[best];
  return {entry.candidate.at(kParameter), entry.aggregate, search.proposals(),
          search.metric_calls(), static_cast<int>(search.pool().size())};
}

}  // namespace tg::cli
