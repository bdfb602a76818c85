// `textgrad optimize`: flags, validation, the run's config.json and --resume. The protocol
// itself is in optimize_run.cpp.
//
// Note [Validate before the run directory]
// Everything a start can get wrong (flags, the task file, the prompt file, engine names and
// keys, prices for a dollar budget, the estimate against the budget) is checked before the run
// directory is created, so a failed start leaves no config.json behind that would block the
// corrected command or poison --resume.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "optimize_run.h"
#include "progress.h"
#include "run_dir.h"
#include "textgrad/budget_guard.h"
#include "textgrad/usage.h"
#include "worker_dispatch.h"

namespace tg::cli {
namespace {

using nlohmann::json;

// Keys are the option names without "--" and with '_' for '-', so a flag given with --resume
// can be compared with what the run was started with.
json flags_to_json(const OptimizeFlags& f) {
  const EngineFlags& e = f.engines;
  const DataFlags& d = f.data;
  return {{"task", d.task},
          {"train", d.train_file},
          {"val", d.val_file},
          {"test", d.test_file},
          {"shuffle_seed", d.shuffle_seed},
          {"train_size", d.sizes.train},
          {"val_size", d.sizes.val},
          {"test_size", d.sizes.test},
          {"input_field", d.input_field},
          {"target_field", d.target_field},
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
          {"endpoint", e.endpoints},
          {"steps", f.steps},
          {"steps_per_epoch", f.steps_per_epoch},
          {"batch_size", f.batch_size},
          {"seed", f.seed},
          {"concurrency", f.concurrency},
          {"metric", f.metric},
          {"prompt", f.prompt},
          {"trace", f.trace},
          {"label", f.label},
          {"optimizer", to_json(f.optimizer)}};
}

// The optimizer's flags sit in their own object ("optimizer": {...}); compared with the
// command line, they count as top-level keys like every other flag.
json flattened(const json& config) {
  json flat = config;
  if (config.contains("optimizer") && config["optimizer"].is_object()) {
    flat.erase("optimizer");
    flat.update(config["optimizer"]);
  }
  return flat;
}

OptimizeFlags flags_from_json(const json& j) {
  OptimizeFlags f;
  EngineFlags& e = f.engines;
  DataFlags& d = f.data;
  d.task = j.value("task", "");
  d.train_file = j.value("train", "");
  d.val_file = j.value("val", "");
  d.test_file = j.value("test", "");
  d.shuffle_seed = j.value("shuffle_seed", -1LL);
  d.sizes = {j.value("train_size", -1), j.value("val_size", -1), j.value("test_size", -1)};
  d.input_field = j.value("input_field", "");
  d.target_field = j.value("target_field", "");
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
  e.endpoints = j.value("endpoint", std::vector<std::string>{});
  f.steps = j.value("steps", f.steps);
  f.steps_per_epoch = j.value("steps_per_epoch", f.steps_per_epoch);
  f.batch_size = j.value("batch_size", f.batch_size);
  f.seed = j.value("seed", 42u);
  f.concurrency = j.value("concurrency", f.concurrency);
  f.metric = j.value("metric", "auto");
  f.prompt = j.value("prompt", "");
  f.trace = j.value("trace", "full");
  f.label = j.value("label", "");
  f.optimizer = optimizer_flags_from_json(j.value("optimizer", json::object()));
  return f;
}

// Flags that may differ on --resume: they change limits and output, not the run's results.
bool may_change_on_resume(const std::string& key) {
  static const char* const kAllowed[] = {
      "resume",   "steps",         "budget_usd", "budget_tokens", "quiet",   "json",        "yes",
      "config",   "max_in_flight", "rpm",        "tpm",           "timeout", "max_retries", "cache",
      "no_cache", "replay",        "prices",     "data_dir",      "trace",   "endpoint"};
  return std::find(std::begin(kAllowed), std::end(kAllowed), key) != std::end(kAllowed);
}

std::string key_of(const std::string& option) {
  std::string key = option.substr(option.find_first_not_of('-'));
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

// Refuses a flag given with --resume that would change what the run computes.
void refuse_changed_flags(const OptimizeFlags& cli, const json& run_config) {
  const json given = flattened(flags_to_json(cli));
  const json config = flattened(run_config);
  for (const std::string& option : cli.given) {
    const std::string key = key_of(option);
    if (may_change_on_resume(key) || !given.contains(key)) continue;
    const json before = config.contains(key) ? config[key] : json(nullptr);
    if (before == given[key]) continue;
    throw InvalidArgument(fmt::format(
        "{} {} differs from the run's {}: a resumed run keeps the settings it started with "
        "(only --steps, budgets, limits and the cache may change). Drop {}, or start a new run "
        "with another --run-dir",
        option, given[key].dump(), before.dump(), option));
  }
}

// Limits, the cache and prices given with --resume replace the run's.
void apply_operational_flags(const OptimizeFlags& cli, OptimizeFlags& run) {
  const EngineFlags& from = cli.engines;
  EngineFlags& to = run.engines;
  for (const std::string& option : cli.given) {
    const std::string key = key_of(option);
    if (key == "max_in_flight") to.max_in_flight = from.max_in_flight;
    if (key == "rpm") to.requests_per_minute = from.requests_per_minute;
    if (key == "tpm") to.tokens_per_minute = from.tokens_per_minute;
    if (key == "timeout") to.timeout_s = from.timeout_s;
    if (key == "max_retries") to.max_retries = from.max_retries;
    if (key == "cache") to.cache_path = from.cache_path;
    if (key == "no_cache") to.no_cache = from.no_cache;
    if (key == "replay") to.replay = from.replay;
    if (key == "prices") to.prices_path = from.prices_path;
    if (key == "data_dir") to.data_dir = from.data_dir;
    if (key == "endpoint") to.endpoints = from.endpoints;
    if (key == "trace") run.trace = cli.trace;
  }
}

void validate_numbers(const OptimizeFlags& f) {
  if (f.steps < 0) throw InvalidArgument("--steps must be 0 or more");
  if (f.batch_size < 1) throw InvalidArgument("--batch-size must be 1 or more");
  if (f.steps_per_epoch < 0) throw InvalidArgument("--steps-per-epoch must be 0 or more");
  if (f.concurrency < 1) throw InvalidArgument("--concurrency must be 1 or more");
  if (f.engines.budget_usd < 0) throw InvalidArgument("--budget-usd must be 0 or more");
  if (f.engines.budget_tokens < 0) throw InvalidArgument("--budget-tokens must be 0 or more");
  validate(f.optimizer);
}

struct Estimate {
  long calls = 0;
  long tokens = 0;
  std::optional<double> usd;
};

// A rough upper bound before any cache hit: every evaluation and every training call of the
// steps still to run.
Estimate estimate_run(const OptimizeFlags& f, const Task& task, const Engines& engines,
                      int steps_done) {
  const bool judge = task.metric.kind == MetricKind::kJudge;
  const long steps = std::max(0, f.steps - steps_done);
  const long eval_items = static_cast<long>(task.splits.val.size() + task.splits.test.size());
  const long evaluations = steps + (steps_done == 0 ? 1 : 0);
  const long calls = eval_items * (judge ? 2 : 1) * evaluations + steps * (judge ? 13 : 10);
  const long tokens_per_call = 600;  // a typical question, prompt and answer
  const EngineInfo info = engines.forward->info();
  const Usage usage{calls * tokens_per_call * 2 / 3, calls * tokens_per_call / 3, 0};
  return {calls, calls * tokens_per_call,
          engines.ledger->prices().cost(info.provider, info.model, usage)};
}

// Prints the estimate; refuses to start when it exceeds a budget, unless --yes.
void check_estimate(const OptimizeFlags& f, const Task& task, const Engines& engines,
                    int steps_done, Progress& progress) {
  const Estimate e = estimate_run(f, task, engines, steps_done);
  const std::string model = engines.forward->info().name;
  const std::string cost = e.usd ? fmt::format("about ${:.2f} at {} prices", *e.usd, model)
                                 : fmt::format("cost unpriced ({} has no price)", model);
  progress.note(
      fmt::format("Estimate: about {} calls and {}k tokens, {} (an upper bound: cached and "
                  "unchanged-prompt evaluations cost nothing)",
                  e.calls, e.tokens / 1000, cost));
  if (f.yes) return;
  std::string over;
  if (f.engines.budget_usd > 0 && e.usd && *e.usd > f.engines.budget_usd) {
    over =
        fmt::format("the estimate (${:.2f}) exceeds --budget-usd {}", *e.usd, f.engines.budget_usd);
  } else if (f.engines.budget_tokens > 0 && e.tokens > f.engines.budget_tokens) {
    over = fmt::format("the estimate ({} tokens) exceeds --budget-tokens {}", e.tokens,
                       f.engines.budget_tokens);
  }
  if (over.empty()) return;
  throw BudgetExceeded(fmt::format(
      "not started: {}, so the run would stop early. Raise the budget, lower --steps, "
      "--val-size or --test-size, or pass --yes to start anyway (it stops at the budget and "
      "can be resumed)",
      over));
}

struct Prepared {
  Task task;
  Engines engines;
  std::string initial;
};

Prepared prepare(const OptimizeFlags& f, int steps_done) {
  validate_numbers(f);
  parse_trace_level(f.trace);
  DataFlags data = f.data;
  data.data_dir = f.engines.data_dir;
  Task task = load_task(data);
  task.metric = parse_metric(f.metric, task);
  if (task.splits.train.empty()) {
    throw InvalidArgument(fmt::format(
        "'{}' has no training examples: give a larger file, --train-size, or --train FILE",
        task.name));
  }
  std::string initial = f.prompt.empty() ? default_prompt() : text_or_file(f.prompt);
  Engines engines = build_engines(f.engines);
  if (!f.eval_workers.empty()) engines.forward = with_eval_workers(f.eval_workers, engines);
  Progress progress(f.output.quiet, engines.ledger);
  progress.note(describe_splits(task));
  check_estimate(f, task, engines, steps_done, progress);
  return {std::move(task), std::move(engines), std::move(initial)};
}

int last_step(const RunDir& dir) {
  int last = -1;
  for (const std::string& name : dir.step_files()) {
    dir.read_json(name, [&](const json& step) { last = step.at("step"); });
  }
  return last;
}

int resume(const OptimizeFlags& cli) {
  RunDir dir = RunDir::open(cli.resume);
  json config;
  OptimizeFlags flags;
  dir.read_json("config.json", [&](const json& document) {
    config = document;
    refuse_changed_flags(cli, config);
    flags = flags_from_json(config);
  });
  const int done = last_step(dir);
  const bool extend = std::find(cli.given.begin(), cli.given.end(), "--steps") != cli.given.end();
  if (extend) {
    if (cli.steps < done) {
      throw InvalidArgument(fmt::format(
          "--steps {}: the run already has {} steps; give at least {}", cli.steps, done, done));
    }
    flags.steps = cli.steps;
  }
  if (done >= flags.steps && dir.has_file("final_prompt.txt")) {
    std::cerr << fmt::format(
        "textgrad: the run in {} already finished all {} steps; nothing was changed. To run "
        "more steps: textgrad optimize --resume {} --steps N\n",
        dir.path().string(), flags.steps, dir.path().string());
    return kOk;
  }
  // A resumed run may raise its budget (the budget stop is meant to be resumable).
  if (cli.engines.budget_usd > 0) flags.engines.budget_usd = cli.engines.budget_usd;
  if (cli.engines.budget_tokens > 0) flags.engines.budget_tokens = cli.engines.budget_tokens;
  apply_operational_flags(cli, flags);
  flags.resume = cli.resume;
  flags.output = cli.output;
  flags.yes = cli.yes;
  flags.eval_workers = cli.eval_workers;  // where evaluations run never changes their results
  Prepared prepared = prepare(flags, std::max(done, 0));
  if (extend) {
    config["steps"] = flags.steps;
    dir.write_file("config.json", config.dump(2) + "\n");
  }
  return OptimizeRun(std::move(flags), std::move(prepared.task), std::move(prepared.engines),
                     std::move(dir), std::move(prepared.initial))
      .run();
}

}  // namespace

void add_optimize(CLI::App& app, OptimizeFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "optimize",
      "Prompt optimization on a dataset (the paper's protocol: batches of 3, 12 steps, "
      "validation revert, test evaluation after each step)");
  add_data_flags(*cmd, f.data);
  add_engine_flags(*cmd, f.engines, /*with_backward_engine=*/true);
  cmd->get_option("--engine")->required(false);
  cmd->add_option("--steps", f.steps, "Optimization steps (with --resume: extend the run to N)")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("--steps-per-epoch", f.steps_per_epoch, "Steps before the batches are reshuffled")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("--batch-size", f.batch_size, "Training examples per step")
      ->check(at_least(1))
      ->capture_default_str();
  cmd->add_option("--train-size", f.data.sizes.train, "Cap on training examples")
      ->check(at_least(0));
  cmd->add_option("--val-size", f.data.sizes.val, "Cap on validation examples (0 skips validation)")
      ->check(at_least(0));
  cmd->add_option("--test-size", f.data.sizes.test,
                  "Cap on test examples (0 skips test evaluation)")
      ->check(at_least(0));
  cmd->add_option("--seed", f.seed, "Seed of the batch shuffle")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("--concurrency", f.concurrency, "Feedback and update calls at once")
      ->check(at_least(1))
      ->capture_default_str();
  cmd->add_option("--metric", f.metric,
                  "auto, numeric, exact, judge, or command:CMD (exit 0 = correct)")
      ->capture_default_str();
  cmd->add_option("--prompt", f.prompt, "Starting system prompt: TEXT or @FILE")
      ->check(text_or_input_file());
  cmd->add_option("--run-dir", f.run_dir, "Where to write the run (default: runs/<task>-<time>)")
      ->check(output_folder());
  cmd->add_option("--resume", f.resume, "Continue the run in RUN_DIR from its last completed step")
      ->check(input_folder());
  cmd->add_option("--trace", f.trace,
                  "Record every LLM call in RUN_DIR/trace.sqlite: full (requests and answers), "
                  "meta (without texts) or none")
      ->capture_default_str();
  cmd->add_option("--label", f.label,
                  "A label shown in config.json and the reports, e.g. 'offline demonstration'");
  cmd->add_flag("--yes", f.yes, "Start even when the estimate exceeds the budget");
  cmd->add_option("--eval-workers", f.eval_workers,
                  "Hand validation and test evaluations to `textgrad worker` processes sharing "
                  "this Redis queue: redis://host[:port][/db][?wait_s=10&items=4] (docs/scale.md)");
  cmd->add_flag("--quiet", f.output.quiet, "No progress output");
  cmd->add_flag("--json", f.output.json, "Print the result as JSON");
  add_optimizer_flags(*cmd, f.optimizer);
  cmd->parse_complete_callback([cmd, &f] {
    f.given.clear();
    for (const CLI::Option* option : cmd->get_options()) {
      if (option->count() > 0) f.given.push_back(option->get_name());
    }
  });
}

int run_optimize(OptimizeFlags flags) {
  if (!flags.resume.empty()) return resume(flags);
  if (flags.data.task.empty() && flags.data.train_file.empty()) {
    throw InvalidArgument("optimize needs --task or --train FILE (or --resume RUN_DIR)");
  }
  if (flags.engines.engine.empty()) {
    throw InvalidArgument("optimize needs --engine, e.g. --engine openai/gpt-4o-mini");
  }
  Prepared prepared = prepare(flags, 0);  // see Note [Validate before the run directory]
  RunDir dir = RunDir::create(flags.run_dir.empty() ? default_run_dir(prepared.task.name)
                                                    : std::filesystem::path(flags.run_dir));
  json config = flags_to_json(flags);
  config["created"] = iso_time_now();
  dir.write_file("config.json", config.dump(2) + "\n");
  return OptimizeRun(std::move(flags), std::move(prepared.task), std::move(prepared.engines),
                     std::move(dir), std::move(prepared.initial))
      .run();
}

}  // namespace tg::cli
