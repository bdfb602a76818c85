#include "evaluate.h"

#include "textgrad/functions.h"
#include "trace.h"

namespace tg::cli {

Evaluation evaluate_prompt(const EnginePtr& engine, const std::string& system_prompt,
                           const std::vector<Example>& examples, const Scorer& scorer,
                           Progress& progress, const std::string& label, const CallTagger* tagger) {
  Evaluation result;
  if (examples.empty()) return result;
  progress.begin(label, static_cast<int>(examples.size()));
  const Variable prompt(system_prompt, default_prompt_role(), false);
  std::vector<Variable> responses;
  responses.reserve(examples.size());
  for (const Example& example : examples) {
    LLMCall call(tagger ? tagger->tag(engine, {example.id, ""}) : engine, prompt,
                 Phase::kEvaluation);
    responses.push_back(call(Variable(example.input, roles::kLlmInput, false)));
  }
  for (const Variable& response : responses) {
    response.wait();
    progress.advance();
  }
  result.scores = scorer.score(examples, responses);
  progress.end();
  int correct = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    correct += result.scores[i];
    result.items.push_back({examples[i].id,
                            examples[i].input,
                            responses[i].value(),
                            examples[i].target,
                            result.scores[i],
                            {},
                            {}});
  }
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.scores.size());
  return result;
}

}  // namespace tg::cli
