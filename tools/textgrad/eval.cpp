// `textgrad eval`: accuracy of a system prompt on a dataset split, all items concurrently.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "endpoint_flags.h"
#include "evaluate.h"
#include "textgrad/errors.h"
#include "util/text.h"

namespace tg::cli {

std::string text_or_file(const std::string& value) {
  if (!value.starts_with("@")) return value;
  std::string text = util::read_file(value.substr(1));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void add_eval(CLI::App& app, EvalFlags& f) {
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a system prompt on a dataset split");
  cmd->add_option("--task", f.task, "object_counting, word_sorting, gsm8k, or a .jsonl/.csv file")
      ->required();
  add_engine_flags(*cmd, f.engines, /*with_backward_engine=*/true);
  cmd->add_option("--prompt", f.prompt,
                  "The system prompt: TEXT or @FILE (default: the starting prompt)")
      ->check(text_or_input_file());
  cmd->add_option("--split", f.split, "train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--size", f.size, "Evaluate only the first N items of the split")
      ->check(at_least(0));
  cmd->add_option("--metric", f.metric, "auto, numeric, exact, judge, or command:CMD")
      ->capture_default_str();
  cmd->add_option("--input-field", f.input_field, "Input field of a JSONL/CSV task");
  cmd->add_option("--target-field", f.target_field, "Target field of a JSONL/CSV task");
  cmd->add_flag("--quiet", f.output.quiet, "No progress output");
  cmd->add_flag("--json", f.output.json, "Print the result as JSON");
  add_shard_flags(*cmd, f.shard);
}

int run_eval(const EvalFlags& f) {
  Task task = load_task(f.task, f.engines.data_dir, {}, f.input_field, f.target_field);
  task.metric = parse_metric(f.metric, task);
  std::vector<Example> examples = f.split == "train" ? task.splits.train
                                  : f.split == "val" ? task.splits.val
                                                     : task.splits.test;
  if (f.size >= 0 && static_cast<size_t>(f.size) < examples.size()) examples.resize(f.size);
  if (examples.empty())
    throw InvalidArgument(fmt::format("the {} split of '{}' is empty", f.split, f.task));
  if (!f.shard.spec.empty()) return run_eval_shard(f, task, examples);
  Engines engines = build_engines(f.engines);
  Progress progress(f.output.quiet, engines.ledger);
  int warnings = 0;
  Scorer scorer(task.metric, engines.backward, [&](const std::string& message) {
    if (++warnings <= 3) progress.note("warning: " + message);
  });
  const std::string prompt = f.prompt.empty() ? default_prompt() : text_or_file(f.prompt);
  Evaluation result = evaluate_prompt(engines.forward, prompt, examples, scorer, progress, f.split);
  int correct = 0;
  for (int s : result.scores) correct += s;
  ConfidenceInterval ci = wilson_interval(correct, result.scores.size());
  Totals totals = engines.ledger->total();
  if (f.output.json) {
    nlohmann::json out = {{"task", f.task},
                          {"split", f.split},
                          {"items", result.scores.size()},
                          {"correct", correct},
                          {"accuracy", result.accuracy},
                          {"ci95", {ci.low, ci.high}},
                          {"scores", result.scores},
                          {"calls", totals.calls},
                          {"cache_hits", totals.cache_hits},
                          {"cost_usd", totals.cost_usd},
                          {"unscorable", warnings}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "{} {}: {}/{} correct, accuracy {:.1f}% (95% CI {:.1f}–{:.1f}%), "
        "{} calls ({} cached), ${:.4f}\n",
        f.task, f.split, correct, result.scores.size(), result.accuracy * 100, ci.low * 100,
        ci.high * 100, totals.calls, totals.cache_hits, totals.cost_usd);
  }
  if (engines.pool) print_endpoint_usage(std::cerr, *engines.pool, *engines.ledger);
  return kOk;
}

}  // namespace tg::cli
