// `textgrad optimize`: prompt optimization on a dataset, following the reference protocol
// (shared/reference/textgrad-behavior.md §5.1): batches of 3 from a seeded shuffle, a sum of
// per-item losses, one TGD step, validation-gated revert, a test evaluation after each step.
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "commands.h"
#include "evaluate.h"
#include "events.h"
#include "report.h"
#include "run_dir.h"
#include "search_run.h"
#include "textgrad/graph.h"
#include "textgrad/textgrad.h"
#include "textgrad/usage.h"

namespace tg::cli {
namespace {

using nlohmann::json;

json flags_to_json(const OptimizeFlags& f) {
  const EngineFlags& e = f.engines;
  return {{"task", f.task},
          {"engine", e.engine},
          {"backward_engine", e.backward_engine},
          {"max_in_flight", e.max_in_flight},
          {"rpm", e.requests_per_minute},
          {"tpm", e.tokens_per_minute},
          {"timeout", e.timeout_s},
          {"max_retries", e.max_retries},
          {"cache", e.cache_path},
          {"no_cache", e.no_cache},
          {"replay", e.replay},
          {"prices", e.prices_path},
          {"budget_usd", e.budget_usd},
          {"budget_tokens", e.budget_tokens},
          {"data_dir", e.data_dir},
          {"steps", f.steps},
          {"steps_per_epoch", f.steps_per_epoch},
          {"batch_size", f.batch_size},
          {"train_size", f.train_size},
          {"val_size", f.val_size},
          {"test_size", f.test_size},
          {"seed", f.seed},
          {"concurrency", f.concurrency},
          {"metric", f.metric},
          {"prompt", f.prompt},
          {"input_field", f.input_field},
          {"target_field", f.target_field},
          {"optimizer", to_json(f.optimizer)}};
}

OptimizeFlags flags_from_json(const json& j, const OptimizeFlags& cli) {
  OptimizeFlags f;
  EngineFlags& e = f.engines;
  f.task = j.at("task");
  e.engine = j.at("engine");
  e.backward_engine = j.value("backward_engine", "");
  e.max_in_flight = j.value("max_in_flight", e.max_in_flight);
  e.requests_per_minute = j.value("rpm", 0.0);
  e.tokens_per_minute = j.value("tpm", 0.0);
  e.timeout_s = j.value("timeout", e.timeout_s);
  e.max_retries = j.value("max_retries", e.max_retries);
  e.cache_path = j.value("cache", "");
  e.no_cache = j.value("no_cache", false);
  e.replay = j.value("replay", false);
  e.prices_path = j.value("prices", "");
  e.budget_usd = j.value("budget_usd", 0.0);
  e.budget_tokens = j.value("budget_tokens", 0LL);
  e.data_dir = j.value("data_dir", "");
  f.steps = j.value("steps", f.steps);
  f.steps_per_epoch = j.value("steps_per_epoch", f.steps_per_epoch);
  f.batch_size = j.value("batch_size", f.batch_size);
  f.train_size = j.value("train_size", -1);
  f.val_size = j.value("val_size", -1);
  f.test_size = j.value("test_size", -1);
  f.seed = j.value("seed", 42u);
  f.concurrency = j.value("concurrency", f.concurrency);
  f.metric = j.value("metric", "auto");
  f.prompt = j.value("prompt", "");
  f.input_field = j.value("input_field", "");
  f.target_field = j.value("target_field", "");
  f.optimizer = optimizer_flags_from_json(j.value("optimizer", json::object()));
  // A resumed run may raise its budget (the budget stop is meant to be resumable).
  if (cli.engines.budget_usd > 0) e.budget_usd = cli.engines.budget_usd;
  if (cli.engines.budget_tokens > 0) e.budget_tokens = cli.engines.budget_tokens;
  f.resume = cli.resume;
  f.output = cli.output;
  return f;
}

json record_to_json(const StepRecord& r, const std::vector<int>& test_scores) {
  json j = {{"step", r.step},
            {"epoch", r.epoch},
            {"prompt", r.prompt},
            {"reverted", r.reverted},
            {"note", r.note},
            {"time", iso_time_now()},
            {"test_scores", test_scores}};
  j["val_accuracy"] = r.val_accuracy ? json(*r.val_accuracy) : json(nullptr);
  j["test_accuracy"] = r.test_accuracy ? json(*r.test_accuracy) : json(nullptr);
  return j;
}

StepRecord record_from_json(const json& j) {
  StepRecord r;
  r.step = j.at("step");
  r.epoch = j.value("epoch", 0);
  r.prompt = j.at("prompt");
  r.reverted = j.value("reverted", false);
  r.note = j.value("note", "");
  if (j.contains("val_accuracy") && !j["val_accuracy"].is_null())
    r.val_accuracy = j["val_accuracy"];
  if (j.contains("test_accuracy") && !j["test_accuracy"].is_null())
    r.test_accuracy = j["test_accuracy"];
  return r;
}

std::string percent(const std::optional<double>& value) {
  return value ? fmt::format("{:.1f}%", *value * 100) : std::string("–");
}

// A rough upper bound before any cache hit: every evaluation and every training call.
void print_estimate(const OptimizeFlags& f, const Task& task, const Engines& engines,
                    Progress& progress) {
  const bool judge = task.metric.kind == MetricKind::kJudge;
  const long eval_items = static_cast<long>(task.splits.val.size() + task.splits.test.size());
  const long eval_calls = eval_items * (judge ? 2 : 1) * (f.steps + 1);
  const long train_calls = static_cast<long>(f.steps) * (judge ? 13 : 10);
  const long calls = eval_calls + train_calls;
  const long tokens_per_call = 600;  // a typical question, prompt and answer
  const EngineInfo info = engines.forward->info();
  Usage usage{calls * tokens_per_call * 2 / 3, calls * tokens_per_call / 3, 0};
  std::optional<double> cost = engines.ledger->prices().cost(info.provider, info.model, usage);
  progress.note(fmt::format(
      "Estimate: about {} calls and {}k tokens{} (an upper bound: cached and "
      "unchanged-prompt evaluations cost nothing)",
      calls, calls * tokens_per_call / 1000,
      cost ? fmt::format(", about ${:.2f} at {} prices", *cost, info.model) : std::string()));
}

Task load_task_with_metric(const OptimizeFlags& f) {
  Task task = load_task(f.task, f.engines.data_dir, {f.train_size, f.val_size, f.test_size},
                        f.input_field, f.target_field);
  task.metric = parse_metric(f.metric, task);
  return task;
}

class OptimizeRun {
 public:
  OptimizeRun(OptimizeFlags flags, RunDir dir)
      : flags_(std::move(flags)),
        dir_(std::move(dir)),
        task_(load_task_with_metric(flags_)),
        engines_(build_engines(flags_.engines)),
        progress_(flags_.output.quiet, engines_.ledger),
        events_(dir_, engines_.ledger),
        scorer_(task_.metric, engines_.backward, events_.warner(progress_)) {
    if (task_.splits.train.empty()) {
      throw InvalidArgument(fmt::format("task '{}' has no training examples", flags_.task));
    }
  }

  int run() {
    const auto start = std::chrono::steady_clock::now();
    started_at_ = iso_time_now();
    print_estimate(flags_, task_, engines_, progress_);
    const std::string initial =
        flags_.prompt.empty() ? default_prompt() : text_or_file(flags_.prompt);
    Variable prompt(initial,
                    flags_.optimizer.role.empty() ? default_prompt_role() : flags_.optimizer.role,
                    true);
    std::vector<StepRecord> records = load_records();
    if (records.empty()) {
      records.push_back(evaluate_step0(initial));
    } else {
      prompt.set_value(records.back().prompt);
      progress_.note(
          fmt::format("Resuming {} after step {}", dir_.path().string(), records.back().step));
    }
    bool budget_stop = false;
    try {
      train(prompt, records);
    } catch (const BudgetExceeded& e) {
      budget_stop = true;
      std::cerr << (std::string("textgrad: stopped: ") + e.what() +
                    fmt::format(". Everything up to step {} is saved; continue with: textgrad "
                                "optimize --resume {} "
                                "--budget-usd <more>",
                                records.back().step, dir_.path().string()))
                << "\n";
    }
    finish(initial, prompt.value(), records, budget_stop,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return budget_stop ? kBudget : kOk;
  }

 private:
  std::vector<StepRecord> load_records() {
    std::vector<StepRecord> records;
    for (const std::string& text : dir_.read_steps())
      records.push_back(record_from_json(json::parse(text)));
    return records;
  }

  StepRecord evaluate_step0(const std::string& initial) {
    StepRecord record;
    Evaluation test = evaluate_prompt(engines_.forward, initial, task_.splits.test, scorer_,
                                      progress_, "test, step 0");
    Evaluation val = evaluate_prompt(engines_.forward, initial, task_.splits.val, scorer_,
                                     progress_, "validation, step 0");
    record.prompt = initial;
    if (!task_.splits.test.empty()) record.test_accuracy = test.accuracy;
    if (!task_.splits.val.empty()) record.val_accuracy = val.accuracy;
    dir_.write_step(0, record_to_json(record, test.scores).dump(2));
    progress_.note(fmt::format("Step 0: validation {}, test {}", percent(record.val_accuracy),
                               percent(record.test_accuracy)));
    return record;
  }

  void train(Variable& prompt, std::vector<StepRecord>& records) {
    if (flags_.optimizer.optimizer == "gepa") return train_search(prompt, records);
    BlackboxLLM model(engines_.forward, prompt);
    // The optimizer and its gate (optimizer_options.h); the gate scores the validation set.
    RunOptimizer optimizer = build_optimizer(
        flags_.optimizer, prompt, engines_.backward, flags_.concurrency, [&, step = 0]() mutable {
          std::vector<int> s =
              evaluate_prompt(engines_.forward, prompt.value(), task_.splits.val, scorer_,
                              progress_, fmt::format("validation {}", ++step))
                  .scores;
          return std::vector<double>(s.begin(), s.end());
        });
    if (auto saved = dir_.read_steps(); !saved.empty()) {
      restore_optimizer(*optimizer.optimizer, json::parse(saved.back()));
    }
    BatchSampler sampler(task_.splits.train.size(), flags_.batch_size, flags_.steps_per_epoch,
                         flags_.seed);
    int step = 0;
    for (int epoch = 0; step < flags_.steps; ++epoch) {
      auto batches = sampler.next_epoch();  // always drawn, so a resumed run sees the same batches
      if (batches.empty()) break;
      for (const auto& batch : batches) {
        if (++step > flags_.steps) break;
        if (step <= records.back().step) continue;
        engines_.ledger->check_budget();
        records.push_back(train_step(step, epoch, batch, model, optimizer, prompt, records.back()));
      }
    }
    if (flags_.optimizer.keep_best) optimizer.optimizer->restore_best();
  }

  // --optimizer gepa: one search (search_run.h), recorded as step 1 with the best candidate.
  void train_search(Variable& prompt, std::vector<StepRecord>& records) {
    if (records.back().step > 0) return;  // the search already finished
    SearchOutcome s =
        run_search(flags_.optimizer, prompt.value(), prompt.role_description(), task_, scorer_,
                   engines_.forward, engines_.backward, dir_, flags_.concurrency, flags_.seed);
    prompt.set_value(s.best_prompt);
    StepRecord record;
    record.step = 1;
    record.epoch = 1;
    record.prompt = s.best_prompt;
    record.val_accuracy = s.best_val;
    record.note = fmt::format("gepa: {} proposals, {} candidates, {} metric calls", s.proposals,
                              s.candidates, s.metric_calls);
    Evaluation test = evaluate_prompt(engines_.forward, record.prompt, task_.splits.test, scorer_,
                                      progress_, "best candidate test");
    if (!task_.splits.test.empty()) record.test_accuracy = test.accuracy;
    dir_.write_step(1, record_to_json(record, test.scores).dump(2));
    progress_.note(fmt::format("Search: {}; best validation {}, test {}", record.note,
                               percent(record.val_accuracy), percent(record.test_accuracy)));
    records.push_back(record);
  }

  StepRecord train_step(int step, int epoch, const std::vector<size_t>& batch, BlackboxLLM& model,
                        RunOptimizer& run, Variable& prompt, const StepRecord& previous) {
    Optimizer& optimizer = *run.optimizer;
    progress_.begin(fmt::format("step {}/{} training", step, flags_.steps), 0);
    optimizer.zero_grad();
    std::vector<Variable> losses;
    for (size_t index : batch) {
      const Example& example = task_.splits.train[index];
      Variable x(example.input, roles::kLlmInput, false);
      Variable y(example.target, "correct answer for the query", false);
      losses.push_back(scorer_.loss(x, y, model(x)));
    }
    Variable total = sum(losses);
    total.backward(engines_.backward, run.backward);
    dir_.write_file("graph.dot", to_dot(total));
    StepReport report = optimizer.step();
    progress_.end();

    StepRecord record;
    record.step = step;
    record.epoch = epoch + 1;
    record.note = report.outcomes.at(0).reason;
    if (!record.note.empty()) events_.warning(record.note);
    if (!task_.splits.val.empty() && report.gate) {  // the gate scored the validation set
      record.reverted = !report.gate->accepted;
      record.val_accuracy = report.gate->accepted ? report.gate->new_mean : report.gate->old_mean;
    } else {
      record.val_accuracy = previous.val_accuracy;
    }
    record.prompt = prompt.value();
    Evaluation test = evaluate_prompt(engines_.forward, record.prompt, task_.splits.test, scorer_,
                                      progress_, fmt::format("step {} test", step));
    if (!task_.splits.test.empty()) record.test_accuracy = test.accuracy;
    json saved = record_to_json(record, test.scores);
    saved["optimizer"] = step_record(report, optimizer);
    dir_.write_step(step, saved.dump(2));
    events_.step(step, record.val_accuracy, record.test_accuracy, record.reverted);
    progress_.note(fmt::format("Step {}: validation {}{}, test {}", step,
                               percent(record.val_accuracy), record.reverted ? " (reverted)" : "",
                               percent(record.test_accuracy)));
    return record;
  }

  void finish(const std::string& initial, const std::string& final_prompt,
              const std::vector<StepRecord>& records, bool budget_stop, double wall_seconds) {
    dir_.write_file("final_prompt.txt", final_prompt + "\n");
    RunSummary summary = summarize(initial, final_prompt, records, budget_stop, wall_seconds);
    dir_.write_file("report.md", render_markdown(summary));
    dir_.write_file("report.html", render_html(summary));
    const StepRecord& first = records.front();
    const StepRecord& last = records.back();
    if (flags_.output.json) {
      json out = {
          {"run_dir", dir_.path().string()},
          {"steps", last.step},
          {"initial_test_accuracy",
           first.test_accuracy ? json(*first.test_accuracy) : json(nullptr)},
          {"final_test_accuracy", last.test_accuracy ? json(*last.test_accuracy) : json(nullptr)},
          {"final_val_accuracy", last.val_accuracy ? json(*last.val_accuracy) : json(nullptr)},
          {"final_prompt", final_prompt},
          {"calls", engines_.ledger->total().calls},
          {"cost_usd", engines_.ledger->total().cost_usd},
          {"stopped_by_budget", budget_stop}};
      std::cout << out.dump(2) << "\n";
      return;
    }
    std::cout << fmt::format("Test accuracy: {} before, {} after {} steps\n",
                             percent(first.test_accuracy), percent(last.test_accuracy), last.step)
              << "Final prompt:\n"
              << final_prompt << "\n"
              << fmt::format("Run directory: {} (report.html, report.md, events.jsonl)\n",
                             dir_.path().string());
  }

  RunSummary summarize(const std::string& initial, const std::string& final_prompt,
                       const std::vector<StepRecord>& records, bool budget_stop,
                       double wall_seconds) {
    RunSummary summary;
    summary.title = "Prompt optimization: " + task_.name;
    summary.task = task_.name;
    summary.engine = flags_.engines.engine;
    summary.backward_engine = flags_.engines.backward_engine.empty()
                                  ? flags_.engines.engine
                                  : flags_.engines.backward_engine;
    summary.initial_value = initial;
    summary.final_value = final_prompt;
    summary.steps = records;
    summary.wall_seconds = wall_seconds;
    summary.stopped_by_budget = budget_stop;
    summary.started_at = started_at_;
    for (const auto& [phase, totals] : engines_.ledger->by_phase()) {
      summary.phases.push_back({to_string(phase), totals.calls, totals.cache_hits,
                                totals.usage.input_tokens, totals.usage.output_tokens,
                                totals.cost_usd, totals.latency_ms});
    }
    return summary;
  }

  OptimizeFlags flags_;
  RunDir dir_;
  Task task_;
  Engines engines_;
  Progress progress_;
  EventLog events_;
  Scorer scorer_;
  std::string started_at_;
};

}  // namespace

void add_optimize(CLI::App& app, OptimizeFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "optimize",
      "Prompt optimization on a dataset (the paper's protocol: batches of 3, 12 steps, "
      "validation revert, test evaluation after each step)");
  cmd->add_option("--task", f.task, "object_counting, word_sorting, gsm8k, or a .jsonl/.csv file");
  add_engine_flags(*cmd, f.engines, /*with_backward_engine=*/true);
  cmd->get_option("--engine")->required(false);
  cmd->add_option("--steps", f.steps, "Optimization steps")->capture_default_str();
  cmd->add_option("--steps-per-epoch", f.steps_per_epoch, "Steps before the batches are reshuffled")
      ->capture_default_str();
  cmd->add_option("--batch-size", f.batch_size, "Training examples per step")
      ->capture_default_str();
  cmd->add_option("--train-size", f.train_size, "Cap on training examples");
  cmd->add_option("--val-size", f.val_size, "Cap on validation examples (0 skips validation)");
  cmd->add_option("--test-size", f.test_size, "Cap on test examples (0 skips test evaluation)");
  cmd->add_option("--seed", f.seed, "Seed of the batch shuffle")->capture_default_str();
  cmd->add_option("--concurrency", f.concurrency, "Feedback and update calls at once")
      ->capture_default_str();
  cmd->add_option("--metric", f.metric,
                  "auto, numeric, exact, judge, or command:CMD (exit 0 = correct)")
      ->capture_default_str();
  cmd->add_option("--prompt", f.prompt, "Starting system prompt: TEXT or @FILE");
  cmd->add_option("--input-field", f.input_field, "Input field of a JSONL/CSV task");
  cmd->add_option("--target-field", f.target_field, "Target field of a JSONL/CSV task");
  cmd->add_option("--run-dir", f.run_dir, "Where to write the run (default: runs/<task>-<time>)");
  cmd->add_option("--resume", f.resume, "Continue the run in RUN_DIR from its last completed step");
  cmd->add_flag("--quiet", f.output.quiet, "No progress output");
  cmd->add_flag("--json", f.output.json, "Print the result as JSON");
  add_optimizer_flags(*cmd, f.optimizer);
}

int run_optimize(OptimizeFlags flags) {
  if (!flags.resume.empty()) {
    RunDir dir = RunDir::open(flags.resume);
    OptimizeFlags resumed = flags_from_json(json::parse(dir.read_file("config.json")), flags);
    return OptimizeRun(std::move(resumed), std::move(dir)).run();
  }
  if (flags.task.empty()) throw InvalidArgument("optimize needs --task (or --resume RUN_DIR)");
  if (flags.engines.engine.empty())
    throw InvalidArgument("optimize needs --engine, e.g. --engine openai/gpt-4o-mini");
  if (flags.steps < 0 || flags.batch_size < 1 || flags.steps_per_epoch < 0) {
    throw InvalidArgument("--steps must be >= 0, --batch-size >= 1, --steps-per-epoch >= 0");
  }
  validate(flags.optimizer);
  const std::string label = std::filesystem::path(flags.task).stem().string();
  RunDir dir = RunDir::create(flags.run_dir.empty() ? default_run_dir(label)
                                                    : std::filesystem::path(flags.run_dir));
  dir.write_file("config.json", flags_to_json(flags).dump(2) + "\n");
  return OptimizeRun(std::move(flags), std::move(dir)).run();
}

}  // namespace tg::cli
