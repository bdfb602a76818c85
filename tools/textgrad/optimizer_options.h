// The optimizer flags of `textgrad optimize`: registration, validation, building the
// optimizer and gate from them, and what a step record stores about the optimizer. The
// library does the work (textgrad/optimizer.h, gated_optimizer.h); this file only wires it.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "textgrad/gated_optimizer.h"
#include "textgrad/optimizer.h"
#include "textgrad/variable.h"

namespace CLI {
class App;
}

namespace tg::cli {

struct OptimizerFlags {
  std::string optimizer = "tgd";  // tgd | revolve | semantic | gepa
  std::string gate = "revert";    // none | revert | strict | significant
  double alpha = 0.05;
  bool keep_best = false;
  int momentum = 0;  // tgd: TextGrad momentum; revolve: history of the last K values (0 = all)
  int feedback_budget = 0;  // tokens per feedback request (0 = no limit)
  int update_budget = 0;    // tokens per update request (0 = no limit)
  std::vector<std::string> constraints;
  std::string role;  // role description of the optimized prompt (empty: the task's)
  // gepa (tg::Search, search_run.h):
  int merge = 0;  // merge attempts (0 = off)
  int minibatch = 3;
  std::string selection = "pareto";  // pareto | best | epsilon-greedy
  long long max_metric_calls = 0;    // required for gepa
};

void add_optimizer_flags(CLI::App& command, OptimizerFlags& flags);
// InvalidArgument (exit 2) for an unknown name, a negative number, alpha outside (0, 1).
void validate(const OptimizerFlags& flags);

nlohmann::json to_json(const OptimizerFlags& flags);
// Missing keys (a run directory written before these flags existed) take today's defaults.
OptimizerFlags optimizer_flags_from_json(const nlohmann::json& config);

// The optimizer of a run: the chosen method wrapped in the chosen gate, and the backward
// options that go with it.
struct RunOptimizer {
  std::shared_ptr<GatedOptimizer> optimizer;
  BackwardOptions backward;
};

RunOptimizer build_optimizer(const OptimizerFlags& flags, const Variable& prompt,
                             const EnginePtr& engine, int concurrency, GateScorer gate_scorer);

// What a step record keeps: the optimizer's name, the gate's decision with its figures, each
// parameter's outcome and notes, and the optimizer state after the step (for --resume).
nlohmann::json step_record(const StepReport& report, const Optimizer& optimizer);
// Restores the state in what step_record returned (nothing when it holds none).
void restore_optimizer(Optimizer& optimizer, const nlohmann::json& saved);

}  // namespace tg::cli
