#include "task.h"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/functions.h"
#include "textgrad/loss.h"
#include "trace.h"
#include "util/clip.h"
#include "util/suggest.h"
#include "util/text.h"

namespace tg::cli {
namespace {

constexpr const char* kJudgeInstruction =
    "Below are a question from a task, its reference answer, and a language model's reasoning "
    "with its final prediction. Decide whether the final prediction matches the reference "
    "answer. Reply with 1 if it matches and 0 if it does not, between <ACCURACY> and "
    "</ACCURACY>.";

std::vector<Example> take(std::vector<Example> items, int size) {
  if (size >= 0 && static_cast<size_t>(size) < items.size()) items.resize(size);
  return items;
}

Splits split_file(std::vector<Example> all, const SplitSizes& sizes) {
  const int n = static_cast<int>(all.size());
  const int train = sizes.train >= 0 ? std::min(sizes.train, n) : std::min(50, n / 5);
  const int rest = n - train;
  const int val = sizes.val >= 0 ? std::min(sizes.val, rest) : std::min(100, rest / 2);
  Splits splits;
  splits.train.assign(all.begin(), all.begin() + train);
  splits.val.assign(all.begin() + train, all.begin() + train + val);
  splits.test.assign(all.begin() + train + val, all.end());
  splits.test = take(std::move(splits.test), sizes.test);
  return splits;
}

bool is_integer(const std::string& text) {
  std::string t = util::trim(text);
  if (!t.empty() && t[0] == '-') t.erase(0, 1);
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int run_command_metric(const std::string& command, const std::string& prediction,
                       const std::string& target) {
  // The values reach the shell as positional arguments, never spliced into the script, so an
  // answer cannot inject commands. Exit status 0 means correct.
  std::string script =
      fmt::format("export TEXTGRAD_PREDICTION=\"$1\" TEXTGRAD_TARGET=\"$2\"\n{}", command);
  pid_t pid = fork();
  if (pid < 0) throw Error("cannot start the metric command: fork failed");
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", script.c_str(), "textgrad-metric", prediction.c_str(),
          target.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 1 : 0;
}

// A user's JSONL/CSV file; errors name the flag that gave it and the flags that fix them.
std::vector<Example> read_user_file(const std::string& path, const char* flag,
                                    const FieldNames& fields) {
  if (path.empty()) return {};
  if (!std::filesystem::exists(path)) {
    throw InvalidArgument(
        fmt::format("{} {}: the file does not exist: check the path", flag, path));
  }
  if (std::filesystem::is_directory(path)) {
    throw InvalidArgument(
        fmt::format("{} {}: this is a folder; give a .jsonl or .csv file", flag, path));
  }
  try {
    return load_examples(path, fields);
  } catch (const ParseError& e) {
    std::string message = e.what();
    const std::string type_hint = "pass its name in FieldNames";
    if (auto at = message.find(type_hint); at != std::string::npos) {
      message.replace(at, type_hint.size(), "name it with --input-field / --target-field");
    }
    throw ParseError(message);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("{} {}: {}", flag, path, e.what()));
  }
}

}  // namespace

std::string default_prompt() {
  return "You will answer a reasoning question. Think it through step by step, and end your "
         "response with a final line of the form 'Answer: $VALUE', where VALUE is a number.";
}

std::string default_prompt_role() {
  return "structured system prompt that steers a moderately capable language model's behavior "
         "and strategy on this question-answering task";
}

bool DataFlags::user_files() const {
  const auto builtin = builtin_task_names();
  return std::find(builtin.begin(), builtin.end(), task) == builtin.end();
}

Task load_task(const DataFlags& flags) {
  const SplitSizes& sizes = flags.sizes;
  Task result;
  if (!flags.task.empty() && !flags.user_files()) {
    if (!flags.train_file.empty() || !flags.val_file.empty() || !flags.test_file.empty()) {
      throw InvalidArgument(fmt::format(
          "--task {} has its own splits: drop --train/--val/--test, or drop --task", flags.task));
    }
    result.name = flags.task;
    Splits splits = load_builtin_task(flags.task, flags.data_dir);
    result.splits.train = take(std::move(splits.train), sizes.train);
    result.splits.val = take(std::move(splits.val), sizes.val);
    result.splits.test = take(std::move(splits.test), sizes.test);
    return result;
  }
  FieldNames fields;
  if (!flags.input_field.empty()) fields.input = {flags.input_field};
  if (!flags.target_field.empty()) fields.target = {flags.target_field};
  if (flags.task.empty()) {
    if (flags.train_file.empty() && flags.val_file.empty() && flags.test_file.empty()) {
      throw InvalidArgument(
          "no data: give --task (object_counting, word_sorting, gsm8k or a .jsonl/.csv file) or "
          "--train/--val/--test FILE");
    }
    result.name = std::filesystem::path(!flags.train_file.empty()  ? flags.train_file
                                        : !flags.test_file.empty() ? flags.test_file
                                                                   : flags.val_file)
                      .stem()
                      .string();
    result.splits.train = take(read_user_file(flags.train_file, "--train", fields), sizes.train);
    result.splits.val = take(read_user_file(flags.val_file, "--val", fields), sizes.val);
    result.splits.test = take(read_user_file(flags.test_file, "--test", fields), sizes.test);
    return result;
  }
  if (!flags.train_file.empty() || !flags.val_file.empty() || !flags.test_file.empty()) {
    throw InvalidArgument(
        "give either --task FILE (split for you) or --train/--val/--test FILE, not both");
  }
  const std::vector<std::string> builtin = builtin_task_names();
  if (std::filesystem::is_directory(flags.task)) {
    throw InvalidArgument(
        fmt::format("--task '{}' is a folder: give a .jsonl or .csv file, or one of {}", flags.task,
                    util::join(builtin, ", ")));
  }
  if (flags.task.find('.') == std::string::npos && flags.task.find('/') == std::string::npos) {
    const std::optional<std::string> near = util::closest_name(flags.task, builtin);
    throw InvalidArgument(fmt::format(
        "unknown task '{}'{}: use {}, or a .jsonl/.csv file", flags.task,
        near ? fmt::format(" (did you mean {}?)", *near) : "", util::join(builtin, ", ")));
  }
  result.name = flags.task;
  std::vector<Example> all = read_user_file(flags.task, "--task", fields);
  if (flags.shuffle_seed >= 0) {
    PythonRandom(static_cast<std::uint64_t>(flags.shuffle_seed)).shuffle(all);
  }
  result.splits = split_file(std::move(all), sizes);
  return result;
}

std::string describe_splits(const Task& task) {
  return fmt::format("Data: {}: {} train, {} validation, {} test", task.name,
                     task.splits.train.size(), task.splits.val.size(), task.splits.test.size());
}

Metric parse_metric(const std::string& flag, const Task& task) {
  if (flag.starts_with("command:")) return {MetricKind::kCommand, flag.substr(8)};
  if (flag == "numeric") return {MetricKind::kNumeric, {}};
  if (flag == "exact") return {MetricKind::kExact, {}};
  if (flag == "judge") return {MetricKind::kJudge, {}};
  if (flag != "auto") {
    const std::optional<std::string> near =
        util::closest_name(flag, {"auto", "numeric", "exact", "judge"});
    throw InvalidArgument(
        fmt::format("unknown metric '{}'{}: use auto, numeric, exact, judge or command:CMD", flag,
                    near ? fmt::format(" (did you mean {}?)", *near) : ""));
  }
  if (task.name == "word_sorting") return {MetricKind::kJudge, {}};
  for (const auto* split : {&task.splits.train, &task.splits.val, &task.splits.test}) {
    for (const Example& e : *split) {
      if (!is_integer(e.target)) return {MetricKind::kExact, {}};
    }
  }
  return {MetricKind::kNumeric, {}};
}

Scorer::Scorer(Metric metric, EnginePtr judge_engine, Warn warn)
    : metric_(std::move(metric)), judge_engine_(std::move(judge_engine)), warn_(std::move(warn)) {}

Variable Scorer::judge(const Variable& question, const Variable& answer, const Variable& response,
                       Phase phase, const std::string& item_id) const {
  MultiFieldTokenParsedEvaluation evaluation(
      tagger_ ? tagger_->tag(judge_engine_, {item_id, ""}) : judge_engine_,
      Variable(kJudgeInstruction, "evaluation instruction", false),
      {"Question for the task", "Ground truth answer",
       "Reasoning and prediction from the language model"},
      {"<ACCURACY>", "</ACCURACY>"});
  evaluation.set_phase(phase);
  return evaluation({question, answer, response});
}

Variable Scorer::loss(const Variable& question, const Variable& answer, const Variable& response,
                      const std::string& item_id) const {
  if (metric_.kind == MetricKind::kJudge) {
    return judge(question, answer, response, Phase::kLoss, item_id);
  }
  StringBasedFunction metric(
      [this](const Fields& inputs) {
        Example example;
        example.target = inputs.at("ground_truth_answer").value();
        return std::to_string(score_text(example, inputs.at("prediction").value()));
      },
      "The runtime of a string-based function that checks whether the prediction is correct.",
      metric_.kind == MetricKind::kCommand ? StringBasedFunction::Runs::kOnWorker
                                           : StringBasedFunction::Runs::kInline);
  return metric({{"prediction", response}, {"ground_truth_answer", answer}});
}

int Scorer::score_text(const Example& example, const std::string& response) const {
  switch (metric_.kind) {
    case MetricKind::kNumeric:
      if (!parse_integer_answer(response)) {
        warn_(fmt::format("{}: no number in the answer, scored as the reference does (as 0): '{}'",
                          example.id, util::clip(util::short_value(response, 8), 400)));
      }
      return string_metric(response, example.target);
    case MetricKind::kExact:
      return exact_match(response, example.target);
    case MetricKind::kCommand:
      return run_command_metric(metric_.command, response, example.target);
    case MetricKind::kJudge:
      break;
  }
  throw Error("score_text cannot score judge metrics");
}

std::vector<int> Scorer::score(const std::vector<Example>& examples,
                               const std::vector<Variable>& responses) const {
  std::vector<int> scores(examples.size(), 0);
  if (metric_.kind != MetricKind::kJudge) {
    for (size_t i = 0; i < examples.size(); ++i)
      scores[i] = score_text(examples[i], responses[i].value());
    return scores;
  }
  std::vector<Variable> verdicts;
  for (size_t i = 0; i < examples.size(); ++i) {
    verdicts.push_back(judge(Variable(examples[i].input, "question for the task", false),
                             Variable(examples[i].target, "ground truth answer", false),
                             responses[i], Phase::kEvaluation, examples[i].id));
  }
  for (size_t i = 0; i < examples.size(); ++i) {
    const std::string verdict = verdicts[i].value();
    std::optional<std::string> inside = util::extract_tagged(verdict, "<ACCURACY>", "</ACCURACY>");
    if (!inside || (*inside != "0" && *inside != "1")) {
      warn_(fmt::format(
          "{}: the judge's answer has no <ACCURACY>0/1</ACCURACY>, scored as wrong: '{}'",
          examples[i].id, util::clip(util::short_value(verdict, 8), 400)));
      continue;
    }
    scores[i] = *inside == "1";
  }
  return scores;
}

}  // namespace tg::cli
