// `textgrad solve`: solution optimization (test-time refinement), following the reference
// protocol (docs/reference-defects.md#solve-protocol): a zero-shot answer, N rounds of
// test-time loss -> backward -> update, and a majority vote over the snapshots for
// multiple-choice answers.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "stop_on_signal.h"
#include "textgrad/data.h"
#include "textgrad/textgrad.h"
#include "util/clip.h"
#include "util/image.h"
#include "util/task_group.h"
#include "util/text.h"

namespace tg::cli {
namespace {

using nlohmann::json;

constexpr const char* kSolverSystem =
    "You are a knowledgeable, careful assistant. Reason step by step and be precise.";
constexpr const char* kDefaultInstruction =
    "You are an expert in the subject of this question. Check the reasoning of the answer step "
    "by step for critical mistakes, and say concisely what is wrong.";
constexpr const char* kChoiceFormat =
    "Answer the following multiple-choice question. Think step by step, and make the last line "
    "of your response exactly 'Answer: $LETTER' where LETTER is one of ABCD.";
constexpr const char* kChoiceConstraint =
    "The last line of the response must be exactly 'Answer: $LETTER' where LETTER is one of ABCD.";

struct Question {
  std::string id;
  std::string text;  // as sent to the model (with the choices, if any)
  bool multiple_choice = false;
  std::optional<char> answer;  // the correct letter, when known
  std::string image_path;      // the image the question is about, if any
};

struct Solution {
  std::vector<std::string> snapshots;  // zero-shot, then one per iteration
  std::string final_answer;
  std::optional<std::string> majority;
  std::string error;
};

Question make_question(std::string id, const std::string& text,
                       const std::vector<std::string>& choices, std::optional<char> answer) {
  Question q{std::move(id), text, !choices.empty(), answer};
  if (q.multiple_choice) {
    q.text = std::string(kChoiceFormat) + "\n\n" + text + "\n";
    for (size_t i = 0; i < choices.size() && i < 4; ++i) {
      q.text += fmt::format("\n{}) {}", static_cast<char>('A' + i), choices[i]);
    }
  }
  return q;
}

std::vector<Question> read_questions(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InvalidArgument(fmt::format("cannot open '{}': check the path", path));
  std::vector<Question> questions;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (util::trim(line).empty()) continue;
    json item = json::parse(line, nullptr, false);
    if (item.is_discarded() || !item.is_object() || !item.contains("question") ||
        !item["question"].is_string()) {
      throw ParseError(
          fmt::format("{}:{}: expected a JSON object with a \"question\" string", path, number));
    }
    std::vector<std::string> choices;
    if (item.contains("choices")) {
      if (!item["choices"].is_array())
        throw ParseError(fmt::format("{}:{}: \"choices\" must be a list", path, number));
      for (const auto& c : item["choices"])
        choices.push_back(c.is_string() ? c.get<std::string>() : c.dump());
    }
    std::optional<char> answer;
    if (item.contains("answer") && item["answer"].is_string() &&
        item["answer"].get<std::string>().size() == 1) {
      answer = item["answer"].get<std::string>()[0];
    }
    std::string image;
    if (item.contains("image")) {
      if (!item["image"].is_string())
        throw ParseError(fmt::format("{}:{}: \"image\" must be a file path", path, number));
      std::filesystem::path image_path = item["image"].get<std::string>();
      if (image_path.is_relative())
        image_path = std::filesystem::path(path).parent_path() / image_path;
      image = image_path.string();
    }
    std::string id = item.contains("id") ? (item["id"].is_string() ? item["id"].get<std::string>()
                                                                   : item["id"].dump())
                                         : fmt::format("{}#{}", path, number);
    questions.push_back(make_question(std::move(id), item["question"], choices, answer));
    questions.back().image_path = image;
  }
  return questions;
}

// The zero-shot answer: a plain call, or a multimodal one when the question is about an image.
std::string first_answer(const Variable& question, const Variable& image, const Engines& engines) {
  Variable system(kSolverSystem, roles::kSystemPrompt, false);
  if (!image.defined()) return LLMCall(engines.forward, system)(question).value();
  return MultimodalLLMCall(engines.forward, system)({image, question}).value();
}

Solution solve_one(const Question& q, const Engines& engines, const SolveFlags& flags) {
  Solution s;
  Variable question(q.text, "question to the language model", false);
  Variable image = q.image_path.empty()
                       ? Variable()
                       : Variable::image_file(q.image_path, "image the question is about");
  Variable solution(first_answer(question, image, engines),
                    "a creative and precise worked solution to the question, ending with its "
                    "final answer",
                    true);
  s.snapshots.push_back(solution.value());
  const std::string instruction =
      flags.instruction.empty() ? kDefaultInstruction : flags.instruction;
  TGDOptions options;
  if (q.multiple_choice) options.constraints = {kChoiceConstraint};
  TGD optimizer({solution}, engines.backward, options);
  MultiChoiceTestTime choice_loss(engines.backward, instruction);
  TextLoss text_loss(engines.backward, instruction + "\n\nThe question: " + q.text);
  ImageQALoss image_loss(engines.backward, instruction);
  auto loss_of = [&] {
    if (image.defined()) return image_loss(question, image, solution);
    return q.multiple_choice ? choice_loss(q.text, solution) : text_loss(solution);
  };
  for (int i = 0; i < flags.iterations; ++i) {
    optimizer.zero_grad();
    Variable loss = loss_of();
    loss.backward(engines.backward);
    optimizer.step();
    s.snapshots.push_back(solution.value());
  }
  s.final_answer = s.snapshots.back();
  if (q.multiple_choice) {
    std::vector<std::optional<std::string>> letters;
    for (const auto& snapshot : s.snapshots) {
      auto letter = extract_choice_letter(snapshot);
      letters.push_back(letter ? std::optional<std::string>(std::string(1, *letter))
                               : std::nullopt);
    }
    s.majority = majority_vote(letters);
  }
  return s;
}

json to_json(const Question& q, const Solution& s) {
  json out = {
      {"id", q.id}, {"question", q.text}, {"snapshots", s.snapshots}, {"final", s.final_answer}};
  if (!s.error.empty()) out["error"] = util::clip(s.error);
  if (q.multiple_choice) {
    out["majority"] = s.majority ? json(*s.majority) : json(nullptr);
    if (q.answer) out["correct"] = s.majority && (*s.majority)[0] == *q.answer;
  }
  return out;
}

// Every image is checked before the first call (Note [Check input before spending]): that it
// is a file, within the providers' size limits (Note [Image size limits]), of a known type and
// complete.
void check_images(const std::vector<Question>& questions, const Engines& engines) {
  for (const Question& q : questions) {
    if (q.image_path.empty()) continue;
    if (auto problem = input_file_problem(q.image_path))
      throw InvalidArgument(fmt::format("{}: the image {}", q.id, *problem));
    const std::uintmax_t size = std::filesystem::file_size(q.image_path);
    for (const EnginePtr& engine : {engines.forward, engines.backward}) {
      const std::string name = engine->info().name;
      if (auto problem = util::image_size_problem(size, name.substr(0, name.find('/'))))
        throw InvalidArgument(fmt::format("'{}': {}", q.image_path, *problem));
    }
    Variable::image_file(q.image_path, "image");
  }
}

}  // namespace

void add_solve(CLI::App& app, SolveFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "solve",
      "Refine an answer with test-time feedback (zero-shot, then N rounds of critique and "
      "update; majority vote for multiple-choice questions)");
  cmd->add_option("question", f.question, "The question (or use --input)");
  cmd->add_option("--input", f.input,
                  "JSONL of questions: {\"question\", \"choices\"?, \"answer\"?, \"id\"?}")
      ->check(input_file());
  cmd->add_option("--output", f.output, "Write results as JSONL here (default: stdout)")
      ->check(output_file());
  cmd->add_option("--image", f.image, "An image the question is about")->check(input_file());
  add_engine_flags(*cmd, f.engines, /*with_backward_engine=*/true);
  cmd->add_option("--iterations", f.iterations, "Rounds of critique and update")
      ->check(at_least(0))
      ->capture_default_str();
  cmd->add_option("--concurrency", f.concurrency, "Questions solved at once")
      ->check(at_least(1))
      ->capture_default_str();
  cmd->add_option("--instruction", f.instruction,
                  "The test-time evaluation instruction: TEXT or @FILE")
      ->check(text_or_input_file());
  cmd->add_flag("--quiet", f.out.quiet, "No progress output");
  cmd->add_flag("--json", f.out.json, "Print results as JSON");
}

int run_solve(const SolveFlags& flags_in) {
  SolveFlags flags = flags_in;
  if (!flags.instruction.empty()) flags.instruction = text_or_file(flags.instruction);
  if (flags.question.empty() == flags.input.empty()) {
    throw InvalidArgument("solve needs either a QUESTION argument or --input FILE.jsonl, not both");
  }
  if (!flags.image.empty() && !flags.input.empty()) {
    throw InvalidArgument(
        "--image goes with a single QUESTION; in an --input file give each line an \"image\"");
  }
  std::vector<Question> questions;
  if (flags.input.empty()) {
    questions.push_back(make_question("question", flags.question, {}, {}));
    questions.back().image_path = flags.image;
  } else {
    questions = read_questions(flags.input);
  }
  Engines engines = build_engines(flags.engines);
  check_images(questions, engines);
  std::vector<Solution> solutions(questions.size());
  StopOnSignal stop(engines);
  {
    util::TaskGroup pool(flags.concurrency);
    for (size_t i = 0; i < questions.size(); ++i) {
      pool.run([&, i] {
        try {
          solutions[i] = solve_one(questions[i], engines, flags);
        } catch (const std::exception& e) {
          solutions[i].error = e.what();
        }
      });
    }
    pool.wait();
  }
  if (const int code = stop.finish(flags.engines, "solve")) return code;
  std::ofstream file;
  if (!flags.output.empty()) {
    file.open(flags.output);
    if (!file) throw InvalidArgument(fmt::format("cannot write '{}'", flags.output));
  }
  std::ostream& out = flags.output.empty() ? std::cout : file;
  int failures = 0;
  for (size_t i = 0; i < questions.size(); ++i) {
    failures += !solutions[i].error.empty();
    if (flags.out.json || !flags.input.empty()) {
      out << to_json(questions[i], solutions[i]).dump() << "\n";
    } else if (solutions[i].error.empty()) {
      out << solutions[i].final_answer << "\n";
    }
    if (!solutions[i].error.empty())
      std::cerr << questions[i].id << ": " << util::clip(solutions[i].error) << "\n";
  }
  Totals totals = engines.ledger->total();
  if (!flags.out.quiet) {
    std::cerr << fmt::format("{} question(s), {} calls ({} cached), ${:.4f}\n", questions.size(),
                             totals.calls, totals.cache_hits, totals.cost_usd);
  }
  return failures == 0 ? kOk : kFailure;
}

}  // namespace tg::cli
