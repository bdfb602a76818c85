// `textgrad compare`: flags, validation, the loop over optimize runs (Note [Compare is a loop
// over optimize runs]) and the comparison report.
#include "compare_cmd.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "checks.h"
#include "compare_report.h"
#include "run_dir.h"
#include "run_summary.h"
#include "textgrad/errors.h"

namespace tg::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kOptimizers[] = {"tgd", "revolve", "semantic", "gepa"};

std::string run_name(const std::string& optimizer, int seed) {
  return fmt::format("{}-seed{}", optimizer, seed);
}

enum class RunState { kAbsent, kUnfinished, kFinished };

RunState state_of(const fs::path& run) {
  if (!fs::exists(run / "config.json")) return RunState::kAbsent;
  return load_summary(RunDir::read_only(run)).outcome == "finished" ? RunState::kFinished
                                                                    : RunState::kUnfinished;
}

// run_optimize prints each run's result and final prompt on stdout; a comparison prints its
// own summary instead, so stdout is set aside while a run goes.
class SetAsideStdout {
 public:
  SetAsideStdout() : saved_(std::cout.rdbuf(sink_.rdbuf())) {}
  ~SetAsideStdout() { std::cout.rdbuf(saved_); }
  SetAsideStdout(const SetAsideStdout&) = delete;
  SetAsideStdout& operator=(const SetAsideStdout&) = delete;

 private:
  std::ostringstream sink_;
  std::streambuf* saved_;
};

// Everything a run can be refused for that is known before the first run starts, so a bad
// flag does not surface only when the last optimizer's turn comes.
void validate(const CompareFlags& f, const std::vector<std::string>& optimizers) {
  if (f.seeds < 1) {
    throw InvalidArgument(fmt::format("--seeds must be 1 or more (got {})", f.seeds));
  }
  if (f.run.data.task.empty() && f.run.data.train_file.empty()) {
    throw InvalidArgument("compare needs --task or --train FILE");
  }
  for (const std::string& name : optimizers) {
    OptimizerFlags flags = f.run.optimizer;
    flags.optimizer = name;
    validate(flags);
  }
  if (std::find(optimizers.begin(), optimizers.end(), "gepa") == optimizers.end()) return;
  DataFlags data = f.run.data;
  data.data_dir = f.run.engines.data_dir;
  const Task task = load_task(data);
  if (static_cast<std::size_t>(f.run.optimizer.minibatch) > task.splits.train.size()) {
    throw InvalidArgument(fmt::format(
        "gepa: --minibatch {} is larger than the training set ({} items); use a smaller "
        "--minibatch or a larger --train-size",
        f.run.optimizer.minibatch, task.splits.train.size()));
  }
  if (task.splits.val.empty()) {
    throw InvalidArgument(
        "gepa scores its candidates on the validation set: give --val-size 1 "
        "or more");
  }
}

// The flags of one run: the comparison's, with its optimizer and seed; an unfinished run is
// resumed with the flags given on the command line (optimize's rules for --resume apply).
OptimizeFlags run_flags(const CompareFlags& f, const std::string& optimizer, int seed,
                        const fs::path& dir, RunState state) {
  OptimizeFlags run = f.run;
  run.optimizer.optimizer = optimizer;
  run.seed = static_cast<unsigned>(seed);
  run.output.json = false;
  if (state == RunState::kUnfinished) {
    run.resume = dir.string();
  } else {
    run.run_dir = dir.string();
  }
  return run;
}

Comparison load_comparison(const CompareFlags& f, const std::vector<std::string>& optimizers) {
  std::vector<CompareRun> runs;
  for (const std::string& optimizer : optimizers) {
    for (int seed = 1; seed <= f.seeds; ++seed) {
      const std::string name = run_name(optimizer, seed);
      const fs::path dir = fs::path(f.run_dir) / name;
      if (!fs::exists(dir / "config.json")) continue;
      runs.push_back({optimizer, seed, name, load_summary(RunDir::read_only(dir))});
    }
  }
  return compare_runs(std::move(runs), optimizers, f.seeds);
}

void write_comparison(const fs::path& dir, const Comparison& c) {
  fs::create_directories(dir);
  // The comparison's own files: not a run directory, so RunDir's writer does not apply.
  for (const auto& [name, text] : {std::pair{"report.md", render_compare_markdown(c)},
                                   std::pair{"report.html", render_compare_html(c)},
                                   std::pair{"summary.json", render_compare_json(c)}}) {
    const fs::path temporary = dir / (std::string(name) + ".tmp");
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      out << text;
      if (!out.flush()) throw Error(fmt::format("cannot write {}", temporary.string()));
    }
    fs::rename(temporary, dir / name);
  }
}

std::string percent(const Spread& s) {
  return s.mean ? fmt::format("{:.1f}%", *s.mean * 100) : std::string("–");
}

}  // namespace

std::vector<std::string> parse_optimizer_list(const std::string& list) {
  std::vector<std::string> names;
  std::stringstream in(list);
  std::string name;
  while (std::getline(in, name, ',')) {
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    if (std::find(std::begin(kOptimizers), std::end(kOptimizers), name) == std::end(kOptimizers)) {
      throw InvalidArgument(fmt::format(
          "--optimizers: unknown optimizer '{}'; choose from tgd, revolve, semantic, gepa "
          "(comma-separated, e.g. --optimizers tgd,gepa)",
          name));
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw InvalidArgument(fmt::format("--optimizers names '{}' twice", name));
    }
    names.push_back(name);
  }
  if (names.empty()) throw InvalidArgument("--optimizers needs at least one optimizer");
  return names;
}

void add_compare(CLI::App& app, CompareFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Run several optimizers over several seeds on one task with the same budget and compare "
      "them (RUN_DIR/report.html); re-running the same command resumes unfinished runs");
  OptimizeFlags& o = f.run;
  cmd->add_option("--optimizers", f.optimizers,
                  "Comma-separated optimizers: tgd, revolve, semantic, gepa")
      ->required();
  cmd->add_option("--seeds", f.seeds, "Runs per optimizer, with seeds 1..N")->capture_default_str();
  cmd->add_option("--run-dir", f.run_dir,
                  "Where the comparison and its runs (RUN_DIR/<optimizer>-seed<k>) go")
      ->required();
  add_data_flags(*cmd, o.data);
  add_engine_flags(*cmd, o.engines, /*with_backward_engine=*/true);
  cmd->add_option("--steps", o.steps, "Optimization steps of the tgd, revolve and semantic runs")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("--steps-per-epoch", o.steps_per_epoch, "Steps before the batches are reshuffled")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "Training examples per step")
      ->check(at_least(1))
      ->capture_default_str();
  cmd->add_option("--train-size", o.data.sizes.train, "Cap on training examples")
      ->check(at_least(0));
  cmd->add_option("--val-size", o.data.sizes.val, "Cap on validation examples")->check(at_least(0));
  cmd->add_option("--test-size", o.data.sizes.test, "Cap on test examples")->check(at_least(0));
  cmd->add_option("--concurrency", o.concurrency, "Feedback and update calls at once")
      ->check(at_least(1))
      ->capture_default_str();
  cmd->add_option("--metric", o.metric, "auto, numeric, exact, judge, or command:CMD")
      ->capture_default_str();
  cmd->add_option("--prompt", o.prompt, "Starting system prompt: TEXT or @FILE")
      ->check(text_or_input_file());
  cmd->add_option("--trace", o.trace, "full, meta or none (each run's trace.sqlite)")
      ->capture_default_str();
  cmd->add_option("--label", o.label, "A label shown in every run's reports");
  cmd->add_flag("--yes", o.yes, "Start runs even when the estimate exceeds the budget");
  cmd->add_flag("--quiet", o.output.quiet, "No progress output");
  add_optimizer_flags(*cmd, o.optimizer);
  cmd->remove_option(cmd->get_option("--optimizer"));  // --optimizers instead
  cmd->parse_complete_callback([cmd, &o] {
    o.given.clear();
    for (const CLI::Option* option : cmd->get_options()) {
      if (option->count() > 0) o.given.push_back(option->get_name());
    }
  });
}

int run_compare(const CompareFlags& f) {
  const std::vector<std::string> optimizers = parse_optimizer_list(f.optimizers);
  validate(f, optimizers);
  const fs::path dir(f.run_dir);  // made by its first run, so a refused start leaves nothing
  int code = kOk;
  for (const std::string& optimizer : optimizers) {
    for (int seed = 1; seed <= f.seeds; ++seed) {
      const std::string name = run_name(optimizer, seed);
      const RunState state = state_of(dir / name);
      if (state == RunState::kFinished) {
        if (!f.run.output.quiet) std::cerr << fmt::format("compare: {} finished before\n", name);
        continue;
      }
      if (!f.run.output.quiet) {
        std::cerr << fmt::format("compare: {} {}\n", name,
                                 state == RunState::kUnfinished ? "resumes" : "starts");
      }
      int rc = kOk;
      {
        SetAsideStdout quiet;
        rc = run_optimize(run_flags(f, optimizer, seed, dir / name, state));
      }
      if (rc == kBudget) code = kBudget;  // the others get the same budget; go on
      if (rc > 128) {
        write_comparison(dir, load_comparison(f, optimizers));
        std::cerr << fmt::format(
            "textgrad: compare interrupted during {}; run the same command again to continue "
            "(finished runs are kept)\n",
            name);
        return rc;
      }
    }
  }
  const Comparison comparison = load_comparison(f, optimizers);
  write_comparison(dir, comparison);
  for (const OptimizerResult& r : comparison.optimizers) {
    std::cout << fmt::format("{}: final test {}, best test {} ({} of {} runs finished)\n",
                             r.optimizer, percent(r.final_test), percent(r.best_test), r.finished,
                             f.seeds);
  }
  std::cout << fmt::format("Comparison: {0}/report.html ({0}/report.md, {0}/summary.json)\n",
                           dir.string());
  return code;
}

}  // namespace tg::cli
