#include "evaluate.h"

#include "textgrad/functions.h"
#include "trace.h"
#include "worker_dispatch.h"

namespace tg::cli {

Variable evaluation_prompt(const std::string& system_prompt) {
  return Variable(system_prompt, default_prompt_role(), false);
}

Variable ask_item(const EnginePtr& engine, const Variable& prompt, const Example& example) {
  LLMCall call(engine, prompt, Phase::kEvaluation);
  return call(Variable(example.input, roles::kLlmInput, false));
}

std::vector<Variable> ask_items(const EnginePtr& engine, const std::string& system_prompt,
                                const std::vector<Example>& examples, const CallTagger* tagger) {
  const Variable prompt = evaluation_prompt(system_prompt);
  std::vector<Variable> responses;
  responses.reserve(examples.size());
  for (const Example& example : examples) {
    responses.push_back(
        ask_item(tagger ? tagger->tag(engine, {example.id, ""}) : engine, prompt, example));
  }
  return responses;
}

Evaluation evaluate_prompt(const EnginePtr& engine, const std::string& system_prompt,
                           const std::vector<Example>& examples, const Scorer& scorer,
                           Progress& progress, const std::string& label, const CallTagger* tagger) {
  Evaluation result;
  if (examples.empty()) return result;
  progress.begin(label, static_cast<int>(examples.size()));
  EvalWorkers* workers = eval_workers_of(*engine);
  const std::vector<Variable> responses = workers
                                              ? workers->ask_items(system_prompt, examples, tagger)
                                              : ask_items(engine, system_prompt, examples, tagger);
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
