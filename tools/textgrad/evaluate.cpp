#include "evaluate.h"

#include <algorithm>

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

namespace {

// Waiting for each answer in turn wakes this thread once per answer, a thread switch per
// call. Answers come back roughly in the order they were sent, so waiting for the last of each
// tenth first finds the others mostly there: about ten wake-ups, and the progress still moves.
void wait_in_tenths(const std::vector<Variable>& responses, Progress& progress) {
  const size_t stride = std::max<size_t>(1, responses.size() / 10);
  for (size_t begin = 0; begin < responses.size();) {
    const size_t end = std::min(responses.size(), begin + stride);
    responses[end - 1].wait();
    for (size_t i = begin; i < end; ++i) responses[i].wait();
    progress.advance(static_cast<int>(end - begin));
    begin = end;
  }
}

}  // namespace

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
  wait_in_tenths(responses, progress);
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
