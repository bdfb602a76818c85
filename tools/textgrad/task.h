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

// Where a command's examples come from (--task, --train/--val/--test, --shuffle-seed, ...).
struct DataFlags {
  std::string task;  // a built-in task name or a JSONL/CSV file
  std::string train_file;
  std::string val_file;
  std::string test_file;
  std::string input_field;
  std::string target_field;
  std::string data_dir;
  SplitSizes sizes;
  long long shuffle_seed = -1;  // -1: a user file is split in its own order
  bool user_files() const;      // not a built-in task
};

// A built-in task name or a JSONL/CSV path. Built-in tasks use the reference's splits;
// a file is shuffled if a seed is given, then split in order into train (default 20% up to
// 50), validation (default half of the rest up to 100) and test (the rest). --train, --val and
// --test files give the splits directly. Sizes cap each split; 0 empties it. Errors name the
// flag to fix.
Task load_task(const DataFlags& flags);

// "Data: object_counting: 50 train, 100 validation, 100 test".
std::string describe_splits(const Task& task);

// "auto", "numeric", "exact", "judge" or "command:CMD". auto: judge for word_sorting, numeric
// when every target is an integer, exact otherwise.
Metric parse_metric(const std::string& flag, const Task& task);

std::string default_prompt();
std::string default_prompt_role();

// Called with a message whenever an answer cannot be scored normally (scored as wrong).
using Warn = std::function<void(const std::string&)>;

class CallTagger;

class Scorer {
 public:
  Scorer(Metric metric, EnginePtr judge_engine, Warn warn);
  // Judge calls are then tagged with their item (the tagger must outlive the scorer).
  void set_tagger(const CallTagger* tagger) { tagger_ = tagger; }

  // The training loss of one example (a string function, or an LLM judge).
  Variable loss(const Variable& question, const Variable& answer, const Variable& response,
                const std::string& item_id = "") const;

  // 0/1 scores of settled or pending responses; waits for them. Unscorable answers count as
  // wrong and are reported through `warn`; engine errors propagate.
  std::vector<int> score(const std::vector<Example>& examples,
                         const std::vector<Variable>& responses) const;

 private:
  int score_text(const Example& example, const std::string& response) const;
  Variable judge(const Variable& question, const Variable& answer, const Variable& response,
                 Phase phase, const std::string& item_id) const;

  Metric metric_;
  EnginePtr judge_engine_;
  Warn warn_;
  const CallTagger* tagger_ = nullptr;
};

}  // namespace tg::cli
