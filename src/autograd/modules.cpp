#include "textgrad/modules.h"

#include "textgrad/errors.h"

namespace tg {

BlackboxLLM::BlackboxLLM(EnginePtr engine) : call_(std::move(engine)) {}

BlackboxLLM::BlackboxLLM(EnginePtr engine, Variable system_prompt)
    : call_(std::move(engine), std::move(system_prompt)) {}

BlackboxLLM::BlackboxLLM(EnginePtr engine, std::string system_prompt)
    : call_(std::move(engine), Variable(std::move(system_prompt), roles::kSystemPrompt, false)) {}

Variable BlackboxLLM::operator()(const Variable& input, std::string response_role) const {
  return call_(input, std::move(response_role));
}

std::vector<Variable> BlackboxLLM::parameters() const {
  if (!call_.system_prompt().defined()) return {};
  return {call_.system_prompt()};
}

}  // namespace tg
