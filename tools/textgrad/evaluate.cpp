#include "evaluate.h"

#include "textgrad/functions.h"

namespace tg::cli {

Evaluation evaluate_prompt(const EnginePtr& engine, const std::string& system_prompt,
                           const std::vector<Example>& examples, const Scorer& scorer,
                           Progress& progress, const std::string& label) {
  Evaluation result;
  if (examples.empty()) return result;
  progress.begin(label, static_cast<int>(examples.size()));
  LLMCall call(engine, Variable(system_prompt, default_prompt_role(), false), Phase::kEvaluation);
  std::vector<Variable> responses;
  responses.reserve(examples.size());
  for (const Example& example : examples) {
    responses.push_back(call(Variable(example.input, roles::kLlmInput, false)));
  }
  for (const Variable& response : responses) {
    response.wait();
    progress.advance();
  }
  result.scores = scorer.score(examples, responses);
  progress.end();
  int correct = 0;
  for (int s : result.scores) correct += s;
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.scores.size());
  return result;
}

}  // namespace tg::cli
