// Functions that build the computation graph as they run.
//
// Each call returns its output Variable at once. When the output comes from an LLM, the
// request is sent as soon as the inputs are ready and the value arrives later; reading it
// waits. So a plain loop over a batch sends its calls concurrently. Outputs always require
// grad (so an answer can be optimized directly); inputs are their predecessors, in order.
//
// Thread safety: function objects are immutable after construction and may be called from
// many threads at once.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/variable.h"

namespace tg {

// Default role descriptions.
namespace roles {
inline constexpr const char* kSystemPrompt =
    "system prompt that sets the language model's behavior and strategy, reused across queries";
inline constexpr const char* kLlmOutput = "response from the language model";
inline constexpr const char* kLlmInput = "query to the language model";
inline constexpr const char* kFunctionOutput = "output of the string-based function";
}  // namespace roles

// Named inputs, kept in the order given.
class Fields {
 public:
  Fields() = default;
  Fields(std::initializer_list<std::pair<std::string, Variable>> items);
  void set(std::string name, Variable variable);
  const Variable& at(std::string_view name) const;
  bool contains(std::string_view name) const;
  size_t size() const { return items_.size(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::pair<std::string, Variable>> items_;
};

// One LLM call: the system prompt (optional) and the input as the user message.
class LLMCall {
 public:
  explicit LLMCall(EnginePtr engine, Variable system_prompt = {}, Phase phase = Phase::kForward);

  Variable operator()(const Variable& input, std::string response_role = roles::kLlmOutput) const;
  // A user turn made of several parts (text and image Variables), sent in order.
  Variable operator()(const std::vector<Variable>& parts,
                      std::string response_role = roles::kLlmOutput) const;

  const Variable& system_prompt() const { return system_prompt_; }
  const EnginePtr& engine() const { return engine_; }

  // Sampling of this function's calls (temperature, max tokens, ...); unset = the engine's
  // defaults. Set it before the first call: not synchronized with concurrent calls.
  void set_sampling(SamplingParams sampling) { sampling_ = std::move(sampling); }

 private:
  EnginePtr engine_;
  Variable system_prompt_;
  Phase phase_;
  std::optional<SamplingParams> sampling_;
};

// An LLM call on a list of text and image Variables, sent in order as one user turn. Backward
// sends the images again to the feedback engine, which must accept images.
class MultimodalLLMCall {
 public:
  explicit MultimodalLLMCall(EnginePtr engine, Variable system_prompt = {},
                             Phase phase = Phase::kForward);
  Variable operator()(const std::vector<Variable>& parts,
                      std::string response_role = roles::kLlmOutput) const;

  // Sampling of this function's calls (temperature, max tokens, ...); unset = the engine's
  // defaults. Set it before the first call: not synchronized with concurrent calls.
  void set_sampling(SamplingParams sampling) { sampling_ = std::move(sampling); }

 private:
  EnginePtr engine_;
  Variable system_prompt_;
  Phase phase_;
  std::optional<SamplingParams> sampling_;
};

// A multimodal call on named fields, sent in the order of `fields`: images as they are, text
// as "<Field>: <value>".
class OrderedFieldsMultimodalLLMCall {
 public:
  OrderedFieldsMultimodalLLMCall(EnginePtr engine, std::vector<std::string> fields,
                                 Variable system_prompt = {}, Phase phase = Phase::kForward);
  Variable operator()(const Fields& inputs, std::string response_role = roles::kLlmOutput) const;

  // Sampling of this function's calls (temperature, max tokens, ...); unset = the engine's
  // defaults. Set it before the first call: not synchronized with concurrent calls.
  void set_sampling(SamplingParams sampling) { sampling_ = std::move(sampling); }

 private:
  EnginePtr engine_;
  std::vector<std::string> fields_;
  Variable system_prompt_;
  Phase phase_;
  std::optional<SamplingParams> sampling_;
};

// An LLM call whose user message is a template with named fields, e.g.
// "Question: {question}\nPrediction: {prediction}". The inputs' names must equal `fields`.
class FormattedLLMCall {
 public:
  FormattedLLMCall(EnginePtr engine, std::string format, std::vector<std::string> fields,
                   Variable system_prompt = {}, Phase phase = Phase::kForward);

  Variable operator()(const Fields& inputs, std::string response_role = roles::kLlmOutput) const;

  // Sampling of this function's calls (temperature, max tokens, ...); unset = the engine's
  // defaults. Set it before the first call: not synchronized with concurrent calls.
  void set_sampling(SamplingParams sampling) { sampling_ = std::move(sampling); }

 private:
  EnginePtr engine_;
  std::string format_;
  std::vector<std::string> fields_;
  Variable system_prompt_;
  Phase phase_;
  std::optional<SamplingParams> sampling_;
};

// Any C++ function of named inputs, e.g. an exact-match metric. No LLM call in forward;
// backward asks the feedback engine about each input that requires grad. The function runs
// once its inputs are ready: at once on the calling thread if they already are, otherwise on
// one of the library's shared worker threads (never on an engine's I/O thread unless it is
// declared Runs::kInline, and no thread is started per call). If the output Variable is gone by
// then, the function is skipped. The shared workers live until the process exits and exit does not
// wait for them: a function still queued or running at exit is abandoned. backward() and
// TGD::step() use the same workers and wait for their own work before returning.
class StringBasedFunction {
 public:
  using Fn = std::function<std::string(const Fields& inputs)>;

  // Where the function runs when its inputs settle later than the call.
  enum class Runs {
    kOnWorker,  // on a shared worker: for anything that may wait or take long
    // On the thread that settled the last input, often an engine's I/O thread, which serves
    // every request in flight meanwhile: only for a function that returns at once and never
    // waits, such as an exact-match metric. Saves a thread switch per call.
    kInline,
  };

  StringBasedFunction(Fn fn, std::string purpose, Runs runs = Runs::kOnWorker);

  Variable operator()(const Fields& inputs,
                      std::string response_role = roles::kFunctionOutput) const;

 private:
  Fn fn_;
  std::string purpose_;
  Runs runs_;
};

// The values joined by newlines. Backward passes the feedback on the sum to every part,
// once (no LLM call).
Variable sum(const std::vector<Variable>& variables);

// Like sum, but the feedback each part passes on is tagged with a group; wherever two or more
// pieces of one group meet, they are merged into one by an LLM call ("mean").
Variable aggregate(const std::vector<Variable>& variables);

// The values joined by `separator`; backward as for sum.
Variable concat(const std::vector<Variable>& variables, std::string separator = "\n");

// concat({a, b}) with a newline between them.
Variable operator+(const Variable& a, const Variable& b);

}  // namespace tg
