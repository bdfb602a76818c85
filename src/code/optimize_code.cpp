// The test-time code optimization loop and its critique (the loss).
#include <fmt/format.h>

#include "code/lines.h"
#include "textgrad/code.h"
#include "textgrad/functions.h"
#include "util/text.h"

namespace tg {
namespace {

// Note [Best version]
// Versions are ranked by passed tests (a version that passes everything ranks first); on a
// tie the earlier one stays, so the input is returned unless something beats it.
bool better(const TestReport& candidate, const TestReport& incumbent) {
  if (candidate.all_passed() != incumbent.all_passed()) return candidate.all_passed();
  return candidate.passed > incumbent.passed;
}

}  // namespace

CodeCritique::CodeCritique(EnginePtr engine, std::string problem, const Prompts& prompts)
    : engine_(std::move(engine)),
      problem_(problem.empty() ? "Make the program pass its tests." : std::move(problem)),
      system_prompt_(prompts.get("code_critique_system"), "system prompt of the code review",
                     /*requires_grad=*/false),
      user_format_(prompts.get("code_critique_user")) {
  if (!engine_) throw InvalidArgument("CodeCritique needs an engine");
}

Variable CodeCritique::operator()(const Variable& code, const Variable& test_results) const {
  FormattedLLMCall call(engine_, user_format_, {"problem", "code", "test_results"}, system_prompt_,
                        Phase::kLoss);
  Variable problem(problem_, "the problem the code solves", /*requires_grad=*/false);
  return call({{"problem", problem}, {"code", code}, {"test_results", test_results}},
              "review of the code and its test results");
}

CodeOptimizationResult optimize_code(const std::string& code, const CodeTests& tests,
                                     const EnginePtr& engine,
                                     const CodeOptimizationOptions& options) {
  if (options.iterations < 0) throw InvalidArgument("iterations must be 0 or more");
  auto prompts = options.prompts ? options.prompts : std::make_shared<const Prompts>();
  CodeOptimizationResult result;
  result.versions.push_back(
      {code, options.input_tests != nullptr ? *options.input_tests : tests.run(code)});

  Variable program(code,
                   prompts->render("code_role", {{"filename", tests.options().filename},
                                                 {"language", tests.language().name}}),
                   /*requires_grad=*/true);
  TGDOptions tgd_options;
  for (const std::string& line : code::split_lines(prompts->get("code_constraints"))) {
    if (!util::trim(line).empty()) tgd_options.constraints.push_back(util::trim(line));
  }
  tgd_options.constraints.insert(tgd_options.constraints.end(), options.constraints.begin(),
                                 options.constraints.end());
  tgd_options.prompts = prompts;
  TGD optimizer({program}, engine, tgd_options);
  CodeCritique critique(engine, options.problem, *prompts);

  for (int round = 1; round <= options.iterations && !result.versions.back().tests.all_passed();
       ++round) {
    CodeIteration iteration;
    iteration.index = round;
    optimizer.zero_grad();
    Variable results(result.versions.back().tests.text, "results of running the tests",
                     /*requires_grad=*/false);
    Variable loss = critique(program, results);
    iteration.critique = loss.value();
    loss.backward(engine);
    iteration.feedback = program.gradient_text();
    const UpdateOutcome outcome = optimizer.step().outcomes.front();
    iteration.update = outcome.status;
    iteration.update_note = outcome.reason;
    iteration.calls = 2 + outcome.calls;
    result.calls += iteration.calls;
    if (outcome.status == UpdateOutcome::Status::kUpdated) {
      // Models like to fence code even inside the tags; the tags' parser trims the file's
      // final newline.
      program.set_value(program.value().find("```") != std::string::npos
                            ? extract_code(program.value())
                            : program.value() + "\n");
      result.versions.push_back({program.value(), tests.run(program.value())});
    } else {
      // Same code, same results: no need to run the tests again.
      result.versions.push_back(result.versions.back());
    }
    iteration.version = static_cast<int>(result.versions.size()) - 1;
    if (better(result.versions.back().tests, result.versions[result.best].tests)) {
      result.best = result.versions.size() - 1;
    }
    result.iterations.push_back(iteration);
    if (options.on_iteration) options.on_iteration(iteration, result.versions.back());
  }
  return result;
}

}  // namespace tg
