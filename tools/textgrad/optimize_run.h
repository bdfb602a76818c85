// One session of `textgrad optimize`: a fresh run or the continuation of one, following the
// paper's protocol (batches of 3 from a seeded shuffle, a sum of per-item losses, one TGD step,
// validation-gated revert, a test evaluation after each step).
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "evaluate.h"
#include "events.h"
#include "interrupt.h"
#include "optimizer_options.h"
#include "progress.h"
#include "run_dir.h"
#include "run_records.h"
#include "run_summary.h"
#include "task.h"
#include "trace.h"

namespace tg {
class Variable;
}  // namespace tg

namespace tg::cli {

class OptimizeRun {
 public:
  // Everything is validated before: the task loaded, the engines built, the directory locked.
  OptimizeRun(OptimizeFlags flags, Task task, Engines engines, RunDir dir, std::string initial);
  ~OptimizeRun();

  // Runs the remaining steps; returns the exit code (0, 3 for a budget stop, 128 + the signal
  // for an interrupt). Rethrows other failures after the calls in flight have finished.
  int run();

 private:
  // records.back() waits for its test evaluation (Note [Pipelined protocol]).
  struct PendingTest {
    std::future<Evaluation> result;
    std::function<void(const StepRecord&)> announce;  // after its files are written
  };

  std::vector<StepRecord> load_records();
  void evaluate_step0(std::vector<StepRecord>& records);
  void train(Variable& prompt, std::vector<StepRecord>& records);
  void train_search(Variable& prompt, std::vector<StepRecord>& records);
  StepRecord train_step(int step, int epoch, const std::vector<size_t>& batch, Variable& prompt,
                        RunOptimizer& optimizer, const StepRecord& previous);
  // Starts records.back()'s test evaluation (and, sequentially, waits for it and writes it).
  void start_test(std::vector<StepRecord>& records, const std::string& label,
                  std::function<void(const StepRecord&)> announce);
  // Waits for the test in flight, if any, and writes its step; pops it if the test failed.
  void complete_test(std::vector<StepRecord>& records);
  // complete_test() on a stop: the run's own error is the one to report.
  void settle_test(std::vector<StepRecord>& records) noexcept;
  void write_step(const StepRecord& record, const std::vector<ItemRecord>& test_items);
  void observe(const TracedCall& call);
  std::string take_update_answers();
  void write_graph();
  int finish(const std::vector<StepRecord>& records, const std::string& outcome, int signal,
             double wall_seconds);

  OptimizeFlags flags_;
  Task task_;
  Engines engines_;
  RunDir dir_;
  std::string initial_;
  std::string last_graph_;                  // graph.dot of the last training step
  RunSoFar held_;                           // the steps this session read or wrote
  std::vector<double> step0_val_scores_;    // spares the gate its first validation
  std::optional<std::string> best_prompt_;  // --keep-best: the final prompt
  Progress progress_;
  Progress overlapped_progress_;  // quiet: an overlapped test must not redraw the status line
  const bool sequential_;         // TEXTGRAD_SEQUENTIAL_PROTOCOL=1
  EnginePtr test_engine_;         // Note [Room for the chain]
  std::optional<PendingTest> pending_test_;
  Trace trace_;
  SelfSignalHook hook_;
  CallTagger tagger_;
  EventLog events_;
  Scorer scorer_;
  std::string started_at_;
  std::mutex answers_mu_;
  std::vector<std::string> update_answers_;
};

}  // namespace tg::cli
