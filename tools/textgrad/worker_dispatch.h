// The optimizer's side of evaluation workers (`textgrad optimize --eval-workers URL`): each
// evaluation is cut into jobs of a few items, queued in Redis for `textgrad worker` processes
// (worker_cmd.cpp), and the answers are gathered back in item order.
//
// Note [Evaluation workers]
// Results are those of a single-process run: a job carries the prompt and the items' inputs,
// a worker makes exactly the request evaluate_prompt makes (ask_item), and the optimizer
// scores the answers itself, in item order. Each answer is then replayed through the
// optimizer's own recording stack (its trace tagger and its ledger) as if the call had been
// made here: trace.sqlite, events.jsonl, the report's totals and the budget count the workers'
// calls with their tokens, cache hits and latencies, priced with the optimizer's price table.
// (The budget is checked between evaluations, not inside the workers.)
//
// Robustness (see Note [Work queue: exactly once]): a job whose worker dies is requeued when
// its lease runs out and done by another worker, each job's answers are taken once. When no
// worker has been alive for `wait` (wait_s, 10 s) while jobs are pending, the optimizer takes
// the unclaimed jobs back and evaluates them itself, with one warning; later evaluations
// start here at once while no worker is alive, and go back to the workers when one appears.
// When Redis fails during the run, one warning, and evaluations are made here from then on.
//
// Thread safety: ask_items may run for several evaluations at once (each has its own batch).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine_setup.h"
#include "task.h"
#include "textgrad/engine.h"
#include "worker_protocol.h"

namespace tg::cli {

class CallTagger;

class EvalWorkers {
 public:
  // `local` answers what no worker takes; `ledger` records the workers' calls; evaluations
  // stop when `guard` is cancelled.
  EvalWorkers(WorkerQueueUrl url, std::shared_ptr<cache::RedisWorkQueue> queue, EnginePtr local,
              std::shared_ptr<Ledger> ledger, std::shared_ptr<BudgetGuard> guard);

  // The answers to `examples`, as evaluate_prompt's ask_items would give them.
  std::vector<Variable> ask_items(const std::string& system_prompt,
                                  const std::vector<Example>& examples, const CallTagger* tagger);

 private:
  struct Batch;
  void gather(Batch& batch, const CallTagger* tagger);
  void drop(const Batch& batch);
  Variable replay(const Outcome& answer, const Variable& prompt, const Example& example,
                  const CallTagger* tagger) const;
  void warn_no_workers();

  const WorkerQueueUrl url_;
  std::shared_ptr<cache::RedisWorkQueue> queue_;
  EnginePtr local_;
  std::shared_ptr<Ledger> ledger_;
  std::shared_ptr<BudgetGuard> guard_;
  const std::string batch_prefix_;  // unique to this process
  std::atomic<int> batches_{0};
  std::atomic<bool> workers_gone_{false};  // fell back for want of workers; none seen since
  std::atomic<bool> warned_{false};
  std::atomic<bool> queue_broken_{false};  // Redis failed: evaluations are made here
};

// `engines.forward`, carrying evaluation workers on the queue at `url` (the engine itself is
// unchanged: training calls still go to it). Throws InvalidArgument for a bad URL and
// tg::Error when Redis cannot be reached.
EnginePtr with_eval_workers(const std::string& url, const Engines& engines);

// The workers an engine made by with_eval_workers carries; nullptr for other engines.
EvalWorkers* eval_workers_of(const Engine& engine);

}  // namespace tg::cli
