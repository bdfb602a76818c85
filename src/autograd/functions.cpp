#include "textgrad/functions.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "autograd/llm_function.h"
#include "textgrad/errors.h"
#include "textgrad/prompts.h"

namespace tg {

Fields::Fields(std::initializer_list<std::pair<std::string, Variable>> items) {
  for (const auto& [name, variable] : items) set(name, variable);
}

void Fields::set(std::string name, Variable variable) {
  for (auto& item : items_) {
    if (item.first == name) {
      item.second = std::move(variable);
      return;
    }
  }
  items_.emplace_back(std::move(name), std::move(variable));
}

const Variable& Fields::at(std::string_view name) const {
  for (const auto& item : items_) {
    if (item.first == name) return item.second;
  }
  std::vector<std::string> names;
  for (const auto& item : items_) names.push_back(item.first);
  throw InvalidArgument(
      fmt::format("no input named '{}'; the inputs are: {}", name, fmt::join(names, ", ")));
}

bool Fields::contains(std::string_view name) const {
  return std::any_of(items_.begin(), items_.end(),
                     [&](const auto& item) { return item.first == name; });
}

LLMCall::LLMCall(EnginePtr engine, Variable system_prompt, Phase phase)
    : engine_(std::move(engine)), system_prompt_(std::move(system_prompt)), phase_(phase) {
  if (!engine_) throw InvalidArgument("LLMCall needs an engine");
}

Variable LLMCall::operator()(const Variable& input, std::string response_role) const {
  return (*this)(std::vector<Variable>{input}, std::move(response_role));
}

namespace {

Variable call_on_parts(const EnginePtr& engine, const Variable& system_prompt,
                       const std::vector<Variable>& parts, std::string response_role, Phase phase,
                       const char* op_name, const std::optional<SamplingParams>& sampling) {
  if (parts.empty()) throw InvalidArgument(fmt::format("{} needs at least one input", op_name));
  auto build = [parts] {
    std::vector<ContentPart> content;
    for (const Variable& part : parts) {
      content.push_back(part.is_image() ? part.image_part() : ContentPart::Text(part.value()));
    }
    return content;
  };
  return detail::start_llm_call(engine, system_prompt, parts, build, std::move(response_role),
                                phase, op_name, sampling);
}

}  // namespace

Variable LLMCall::operator()(const std::vector<Variable>& parts, std::string response_role) const {
  return call_on_parts(engine_, system_prompt_, parts, std::move(response_role), phase_, "LLMCall",
                       sampling_);
}

MultimodalLLMCall::MultimodalLLMCall(EnginePtr engine, Variable system_prompt, Phase phase)
    : engine_(std::move(engine)), system_prompt_(std::move(system_prompt)), phase_(phase) {
  if (!engine_) throw InvalidArgument("MultimodalLLMCall needs an engine");
}

Variable MultimodalLLMCall::operator()(const std::vector<Variable>& parts,
                                       std::string response_role) const {
  return call_on_parts(engine_, system_prompt_, parts, std::move(response_role), phase_,
                       "MultimodalLLMCall", sampling_);
}

OrderedFieldsMultimodalLLMCall::OrderedFieldsMultimodalLLMCall(EnginePtr engine,
                                                               std::vector<std::string> fields,
                                                               Variable system_prompt, Phase phase)
    : engine_(std::move(engine)),
      fields_(std::move(fields)),
      system_prompt_(std::move(system_prompt)),
      phase_(phase) {
  if (!engine_) throw InvalidArgument("OrderedFieldsMultimodalLLMCall needs an engine");
}

Variable OrderedFieldsMultimodalLLMCall::operator()(const Fields& inputs,
                                                    std::string response_role) const {
  std::vector<Variable> ordered;
  for (const std::string& field : fields_) ordered.push_back(inputs.at(field));
  if (inputs.size() != fields_.size()) {
    throw InvalidArgument(fmt::format(
        "OrderedFieldsMultimodalLLMCall expects exactly the fields {}", fmt::join(fields_, ", ")));
  }
  auto build = [fields = fields_, ordered] {
    std::vector<ContentPart> content;
    for (size_t i = 0; i < fields.size(); ++i) {
      content.push_back(ordered[i].is_image()
                            ? ordered[i].image_part()
                            : ContentPart::Text(fields[i] + ": " + ordered[i].value()));
    }
    return content;
  };
  return detail::start_llm_call(engine_, system_prompt_, ordered, build, std::move(response_role),
                                phase_, "OrderedFieldsMultimodalLLMCall", sampling_);
}

FormattedLLMCall::FormattedLLMCall(EnginePtr engine, std::string format,
                                   std::vector<std::string> fields, Variable system_prompt,
                                   Phase phase)
    : engine_(std::move(engine)),
      format_(std::move(format)),
      fields_(std::move(fields)),
      system_prompt_(std::move(system_prompt)),
      phase_(phase) {
  if (!engine_) throw InvalidArgument("FormattedLLMCall needs an engine");
  for (const std::string& used : template_placeholders(format_)) {
    if (std::find(fields_.begin(), fields_.end(), used) == fields_.end()) {
      throw InvalidArgument(fmt::format(
          "the format uses {{{}}} but the fields are {}; add it to the fields or write literal "
          "braces as {{{{ and }}}}",
          used, fmt::join(fields_, ", ")));
    }
  }
}

Variable FormattedLLMCall::operator()(const Fields& inputs, std::string response_role) const {
  std::vector<std::string> given;
  for (const auto& [name, variable] : inputs) given.push_back(name);
  std::vector<std::string> expected = fields_;
  std::sort(given.begin(), given.end());
  std::sort(expected.begin(), expected.end());
  if (given != expected) {
    throw InvalidArgument(fmt::format("FormattedLLMCall expects the inputs {} but got {}",
                                      fmt::join(fields_, ", "), fmt::join(given, ", ")));
  }
  std::vector<Variable> ordered;
  for (const std::string& name : fields_) ordered.push_back(inputs.at(name));
  auto build = [format = format_, fields = fields_, ordered] {
    std::vector<std::string> values;
    for (const Variable& v : ordered) values.push_back(v.value());
    Prompts::Values pairs;
    for (size_t i = 0; i < fields.size(); ++i) pairs.emplace_back(fields[i], values[i]);
    return std::vector<ContentPart>{ContentPart::Text(render_template(format, pairs))};
  };
  return detail::start_llm_call(engine_, system_prompt_, ordered, build, std::move(response_role),
                                phase_, "FormattedLLMCall", sampling_);
}

}  // namespace tg
