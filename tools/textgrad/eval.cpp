// `textgrad eval`: accuracy of a system prompt on a dataset split, all items concurrently.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "endpoint_flags.h"
#include "evaluate.h"
#include "stop_on_signal.h"
#include "textgrad/errors.h"
#include "util/text.h"

namespace tg::cli {

std::string text_or_file(const std::string& value) {
  if (!value.starts_with("@")) return value;
  std::string text = util::read_file(value.substr(1));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void add_data_flags(CLI::App& cmd, DataFlags& f) {
  cmd.add_option("--task", f.task, "object_counting, word_sorting, gsm8k, or a .jsonl/.csv file");
  cmd.add_option("--train", f.train_file, "Your own training split (.jsonl/.csv)");
  cmd.add_option("--val", f.val_file, "Your own validation split (.jsonl/.csv)");
  cmd.add_option("--test", f.test_file, "Your own test split (.jsonl/.csv)");
  cmd.add_option("--shuffle-seed", f.shuffle_seed,
                 "Shuffle a --task file with this seed before splitting it (default: file order)");
  cmd.add_option("--input-field", f.input_field, "Input field of a JSONL/CSV task");
  cmd.add_option("--target-field", f.target_field, "Target field of a JSONL/CSV task");
}

void add_eval(CLI::App& app, EvalFlags& f) {
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a system prompt on a dataset split");
  add_data_flags(*cmd, f.data);
  add_engine_flags(*cmd, f.engines, /*with_backward_engine=*/true);
  cmd->add_option("--prompt", f.prompt,
                  "The system prompt: TEXT or @FILE (default: the starting prompt)")
      ->check(text_or_input_file());
  cmd->add_option("--split", f.split,
                  "train, val, test or all (default: test for built-in tasks, all for your files)")
      ->check(CLI::IsMember({"train", "val", "test", "all"}));
  cmd->add_option("--size", f.size, "Evaluate only the first N items of the split")
      ->check(at_least(0));
  cmd->add_option("--metric", f.metric, "auto, numeric, exact, judge, or command:CMD")
      ->capture_default_str();
  cmd->add_option("--output", f.output_path,
                  "Write every item's id, input, prediction, target and score to this JSONL file");
  cmd->add_flag("--quiet", f.output.quiet, "No progress output");
  cmd->add_flag("--json", f.output.json, "Print the result as JSON");
  add_shard_flags(*cmd, f.shard);
}

namespace {

std::vector<Example> select_split(const Task& task, const std::string& split) {
  if (split == "train") return task.splits.train;
  if (split == "val") return task.splits.val;
  if (split == "test") return task.splits.test;
  std::vector<Example> all = task.splits.train;
  all.insert(all.end(), task.splits.val.begin(), task.splits.val.end());
  all.insert(all.end(), task.splits.test.begin(), task.splits.test.end());
  return all;
}

// Refuses an output path that cannot be written before any call is paid for.
void check_writable(const std::string& path) {
  if (path.empty()) return;
  if (std::filesystem::is_directory(path)) {
    throw InvalidArgument(fmt::format("--output {}: this is a folder; give a file name", path));
  }
  std::ofstream probe(path, std::ios::app);
  if (!probe) throw InvalidArgument(fmt::format("--output {}: cannot write this file", path));
}

void write_predictions(const std::string& path, const std::vector<ItemRecord>& items) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << predictions_jsonl(items);
    out.flush();
    if (!out) throw Error(fmt::format("cannot write '{}': is the disk full?", path));
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace

int run_eval(const EvalFlags& f) {
  DataFlags data = f.data;
  data.data_dir = f.engines.data_dir;
  Task task = load_task(data);
  task.metric = parse_metric(f.metric, task);
  const std::string split = !f.split.empty() ? f.split : data.user_files() ? "all" : "test";
  std::vector<Example> examples = select_split(task, split);
  if (f.size >= 0 && static_cast<size_t>(f.size) < examples.size()) examples.resize(f.size);
  if (examples.empty()) {
    throw InvalidArgument(fmt::format("the {} split of '{}' is empty: choose another with --split",
                                      split, task.name));
  }
  check_writable(f.output_path);
  const std::string prompt = f.prompt.empty() ? default_prompt() : text_or_file(f.prompt);
  if (!f.shard.spec.empty()) return run_eval_shard(f, task, split, examples);
  Engines engines = build_engines(f.engines);
  Progress progress(f.output.quiet, engines.ledger);
  progress.note(
      fmt::format("{}; evaluating {} items ({})", describe_splits(task), examples.size(), split));
  int warnings = 0;
  Scorer scorer(task.metric, engines.backward, [&](const std::string& message) {
    if (++warnings <= 3) progress.note("warning: " + message);
  });
  StopOnSignal stop(engines);
  Evaluation result;
  try {
    result = evaluate_prompt(engines.forward, prompt, examples, scorer, progress, split);
  } catch (...) {
    if (const int code = stop.finish(f.engines, "eval")) return code;
    throw;
  }
  stop.note_completed("eval");
  if (!f.output_path.empty()) write_predictions(f.output_path, result.items);
  int correct = 0;
  for (int s : result.scores) correct += s;
  ConfidenceInterval ci = wilson_interval(correct, result.scores.size());
  Totals totals = engines.ledger->total();
  const std::string cost = format_cost(totals);
  if (f.output.json) {
    nlohmann::json out = {{"task", task.name},
                          {"split", split},
                          {"items", result.scores.size()},
                          {"correct", correct},
                          {"accuracy", result.accuracy},
                          {"ci95", {ci.low, ci.high}},
                          {"scores", result.scores},
                          {"calls", totals.calls},
                          {"cache_hits", totals.cache_hits},
                          {"cost_usd", totals.cost_usd},
                          {"cost", cost},
                          {"unscorable", warnings}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << fmt::format(
        "{} {}: {}/{} correct, accuracy {:.1f}% (95% CI {:.1f}–{:.1f}%), "
        "{} calls ({} cached), {}\n",
        task.name, split, correct, result.scores.size(), result.accuracy * 100, ci.low * 100,
        ci.high * 100, totals.calls, totals.cache_hits, cost);
  }
  if (engines.pool) print_endpoint_usage(std::cerr, *engines.pool, *engines.ledger);
  return kOk;
}

}  // namespace tg::cli
