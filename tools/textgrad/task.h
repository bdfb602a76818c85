// Tasks for prompt optimization and evaluation: the data, the starting prompt and the metric.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "textgrad/data.h"
#include "textgrad/engine.h"
#include "textgrad/variable.h"

namespace tg::cli {

enum class MetricKind { kNumeric, kExact, kJudge, kCommand };

struct Metric {
  MetricKind kind = MetricKind::kNumeric;
  std::string command;  // kCommand: run with TEXTGRAD_PREDICTION and TEXTGRAD_TARGET set
};

struct SplitSizes {
  int train = -1;  // -1: the task's default
  int val = -1;
  int test = -1;
};

struct Task {
  std::string name;
  Splits splits;
  Metric metric;
};

// A built-in task name or a JSONL/CSV path. Built-in tasks use the reference's splits;
// a file is split in order into train (default 20% up to 50), validation (default half of the
// rest up to 100) and test (the rest). Sizes cap each split; 0 empties it.
Task load_task(const std::string& task, const std::string& data_dir, const SplitSizes& sizes,
               const std::string& input_field = "", const std::string& target_field = "");

// "auto", "numeric", "exact", "judge" or "command:CMD". auto: judge for word_sorting, numeric
// when every target is an integer, exact otherwise.
Metric parse_metric(const std::string& flag, const Task& task);

std::string default_prompt();
std::string default_prompt_role();

// Called with a message whenever an answer cannot be scored normally (scored as wrong).
using Warn = std::function<void(const std::string&)>;

class Scorer {
 public:
  Scorer(Metric metric, EnginePtr judge_engine, Warn warn);

  // The training loss of one example (a string function, or an LLM judge).
  Variable loss(const Variable& question, const Variable& answer, const Variable& response) const;

  // 0/1 scores of settled or pending responses; waits for them. Unscorable answers count as
  // wrong and are reported through `warn`; engine errors propagate.
  std::vector<int> score(const std::vector<Example>& examples,
                         const std::vector<Variable>& responses) const;

 private:
  int score_text(const Example& example, const std::string& response) const;
  Variable judge(const Variable& question, const Variable& answer, const Variable& response,
                 Phase phase) const;

  Metric metric_;
  EnginePtr judge_engine_;
  Warn warn_;
};

}  // namespace tg::cli
