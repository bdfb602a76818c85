// Modules: reusable callables that own trainable parameters.
#pragma once

#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/functions.h"
#include "textgrad/variable.h"

namespace tg {

// A language model with a system prompt: forward(x) is one LLM call. parameters() is the
// system prompt, so an optimizer can improve it.
class BlackboxLLM {
 public:
  explicit BlackboxLLM(EnginePtr engine);
  // A Variable system prompt is used as given (optimizable if it requires grad).
  BlackboxLLM(EnginePtr engine, Variable system_prompt);
  // A string system prompt becomes a frozen Variable.
  BlackboxLLM(EnginePtr engine, std::string system_prompt);

  Variable operator()(const Variable& input, std::string response_role = roles::kLlmOutput) const;
  Variable forward(const Variable& input, std::string response_role = roles::kLlmOutput) const {
    return (*this)(input, std::move(response_role));
  }

  std::vector<Variable> parameters() const;
  const Variable& system_prompt() const { return call_.system_prompt(); }

 private:
  LLMCall call_;
};

}  // namespace tg
