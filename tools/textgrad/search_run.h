// `textgrad optimize --optimizer gepa`: the task of a run as a tg::SearchTask, and a search
// whose every proposal is archived in the run directory (proposals/proposal_NNNN.json) with
// the state after it (search_state.json), so --resume continues the search exactly. The run's
// report shows the candidate tree, the Pareto front and the best prompt with its changes,
// read back from those files (run_summary.h).
#pragma once

#include <string>

#include "optimizer_options.h"
#include "run_dir.h"
#include "task.h"
#include "textgrad/engine.h"

namespace tg::cli {

struct SearchOutcome {
  std::string best_prompt;
  double best_val = 0;  // the best candidate's validation accuracy
  int proposals = 0;
  long long metric_calls = 0;
  int candidates = 0;
};

// Runs (or resumes) the search. InvalidArgument (exit 2) for bad settings, e.g. a minibatch
// larger than the training set or an empty validation split.
SearchOutcome run_search(const OptimizerFlags& flags, const std::string& initial_prompt,
                         const std::string& role, const Task& task, const Scorer& scorer,
                         const EnginePtr& forward, const EnginePtr& backward, RunDir& dir,
                         int concurrency, unsigned seed);

}  // namespace tg::cli
