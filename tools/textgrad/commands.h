// The subcommands of the textgrad tool. Each add_* registers its flags; each run_* returns the
// process exit code.
#pragma once

#include <string>
#include <vector>

#include "engine_setup.h"
#include "optimizer_options.h"
#include "shard.h"
#include "task.h"

namespace CLI {
class App;
}

namespace tg::cli {

enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2, kBudget = 3 };

struct OutputFlags {
  bool quiet = false;
  bool json = false;
};

struct OptimizeFlags {
  DataFlags data;
  EngineFlags engines;
  int steps = 12;
  int steps_per_epoch = 4;
  int batch_size = 3;
  unsigned seed = 42;
  int concurrency = 8;
  std::string metric = "auto";
  std::string prompt;  // TEXT or @FILE; empty: the default starting prompt
  std::string run_dir;
  std::string resume;
  std::string trace = "full";
  std::string label;  // e.g. "offline demonstration (mock model)"
  bool yes = false;   // start even when the estimate exceeds the budget
  // --eval-workers redis://...: evaluations by `textgrad worker`s (worker_dispatch.h)
  std::string eval_workers;
  OutputFlags output;
  OptimizerFlags optimizer;
  std::vector<std::string> given;  // the options given on the command line, e.g. "--engine"
};
void add_optimize(CLI::App& app, OptimizeFlags& flags);
int run_optimize(OptimizeFlags flags);

struct EvalFlags {
  DataFlags data;
  EngineFlags engines;
  std::string prompt;
  std::string split;  // empty: test for built-in tasks, all for the user's files
  int size = -1;
  std::string metric = "auto";
  std::string output_path;  // JSONL of predictions
  OutputFlags output;
  ShardFlags shard;
};
void add_eval(CLI::App& app, EvalFlags& flags);
int run_eval(const EvalFlags& flags);

struct ReportFlags {
  std::string run_dir;
};
void add_report(CLI::App& app, ReportFlags& flags);
int run_report(const ReportFlags& flags);

struct SolveFlags {
  std::string question;
  std::string input;   // JSONL of questions
  std::string output;  // JSONL of results (default: stdout)
  std::string image;
  EngineFlags engines;
  int iterations = 3;
  int concurrency = 16;
  std::string instruction;
  OutputFlags out;
};
void add_solve(CLI::App& app, SolveFlags& flags);
int run_solve(const SolveFlags& flags);

struct CacheFlags {
  std::string action;  // stats | clear
  std::string path;
  bool json = false;
};
void add_cache(CLI::App& app, CacheFlags& flags);
int run_cache(const CacheFlags& flags);

// `textgrad code` (code_cmd.cpp). Exit codes beyond the common ones: docs/code.md.
enum CodeExitCode { kTestsFailing = 4, kSandboxUnavailable = 5 };
struct CodeFlags {
  std::string file;
  std::string test;
  std::string problems;
  std::string language;
  std::string problem;
  EngineFlags engines;
  int iterations = 5;
  double timeout = 10;
  int memory_mb = 512;
  int max_processes = 64;
  std::string files_dir;
  bool in_place = false;
  std::string run_dir;
  int concurrency = 4;
  bool no_sandbox = false;
  OutputFlags output;
};
void add_code(CLI::App& app, CodeFlags& flags);
int run_code(const CodeFlags& flags);

// TEXT, or @FILE for the contents of FILE.
std::string text_or_file(const std::string& value);

// Adds --task, --train/--val/--test, --input-field/--target-field and --shuffle-seed.
void add_data_flags(CLI::App& command, DataFlags& flags);

}  // namespace tg::cli
