#include "textgrad/loss.h"

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "util/text.h"

namespace tg {
namespace {

Variable frozen(std::string text, std::string role) {
  return Variable(std::move(text), std::move(role), /*requires_grad=*/false);
}

std::string role_template(const Prompts& prompts, const char* name) {
  return prompts.render(name, {});
}

std::string evaluation_role(const Variable& evaluated) {
  return default_prompts().render("evaluation_role", {{"role", evaluated.role_description()}});
}

}  // namespace

TextLoss::TextLoss(EnginePtr engine, std::string evaluation_instruction)
    : TextLoss(std::move(engine),
               frozen(std::move(evaluation_instruction),
                      role_template(default_prompts(), "loss_instruction_role"))) {}

TextLoss::TextLoss(EnginePtr engine, Variable evaluation_instruction)
    : call_(std::move(engine), std::move(evaluation_instruction), Phase::kLoss) {}

Variable TextLoss::operator()(const Variable& instance) const {
  return call_(instance, evaluation_role(instance));
}

MultiFieldEvaluation::MultiFieldEvaluation(EnginePtr engine, Variable evaluation_instruction,
                                           std::vector<std::string> role_descriptions,
                                           Variable system_prompt, const Prompts& prompts)
    : engine_(std::move(engine)),
      instruction_(std::move(evaluation_instruction)),
      labels_(std::move(role_descriptions)),
      system_prompt_(system_prompt.defined()
                         ? std::move(system_prompt)
                         : frozen(prompts.get("multifield_eval_system"),
                                  role_template(prompts, "multifield_eval_system_role"))),
      line_format_(prompts.get("multifield_eval_line")),
      output_role_(role_template(prompts, "multifield_eval_output_role")) {
  if (!engine_) throw InvalidArgument("MultiFieldEvaluation needs an engine");
  if (!instruction_.defined()) throw InvalidArgument("MultiFieldEvaluation needs an instruction");
}

Variable MultiFieldEvaluation::operator()(const std::vector<Variable>& inputs) const {
  if (inputs.size() != labels_.size()) {
    throw InvalidArgument(fmt::format(
        "MultiFieldEvaluation has {} role descriptions but got {} inputs; give one per input",
        labels_.size(), inputs.size()));
  }
  std::string format = "{instruction}";
  std::vector<std::string> fields{"instruction"};
  Fields values{{"instruction", instruction_}};
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string field = fmt::format("field_{}", i);
    const std::string placeholder = "{" + field + "}";
    format += render_template(line_format_,
                              {{"label", util::escape_braces(labels_[i])}, {"value", placeholder}});
    fields.push_back(field);
    values.set(field, inputs[i]);
  }
  FormattedLLMCall call(engine_, format, fields, system_prompt_, phase_);
  return call(values, output_role_);
}

MultiFieldTokenParsedEvaluation::MultiFieldTokenParsedEvaluation(
    EnginePtr engine, Variable evaluation_instruction, std::vector<std::string> role_descriptions,
    std::pair<std::string, std::string> parse_tags, Variable system_prompt, const Prompts& prompts)
    : MultiFieldEvaluation(std::move(engine), std::move(evaluation_instruction),
                           std::move(role_descriptions), std::move(system_prompt), prompts),
      tags_(std::move(parse_tags)) {}

std::string MultiFieldTokenParsedEvaluation::parse_output(const Variable& evaluation) const {
  const std::string text = evaluation.value();
  std::optional<std::string> inside = util::extract_tagged(text, tags_.first, tags_.second);
  if (!inside) {
    throw ParseError(
        fmt::format("the evaluation has no {} tag: '{}'", tags_.first, util::short_value(text)));
  }
  return *inside;
}

MultiChoiceTestTime::MultiChoiceTestTime(EnginePtr engine, std::string evaluation_instruction,
                                         Variable system_prompt, const Prompts& prompts)
    : engine_(std::move(engine)),
      instruction_(std::move(evaluation_instruction)),
      user_format_(prompts.get("multichoice_testtime_user")),
      system_prompt_(system_prompt.defined()
                         ? std::move(system_prompt)
                         : frozen(prompts.get("multichoice_testtime_system"),
                                  role_template(prompts, "multichoice_testtime_system_role"))),
      instruction_role_(role_template(prompts, "evaluation_instruction_role")),
      question_role_(role_template(prompts, "testtime_question_role")) {
  if (!engine_) throw InvalidArgument("MultiChoiceTestTime needs an engine");
}

Variable MultiChoiceTestTime::operator()(const std::string& question,
                                         const Variable& prediction) const {
  FormattedLLMCall call(engine_, user_format_, {"instruction", "question", "prediction"},
                        system_prompt_, Phase::kLoss);
  Fields inputs{{"instruction", frozen(instruction_, instruction_role_)},
                {"question", frozen(question, question_role_)},
                {"prediction", prediction}};
  return call(inputs, evaluation_role(prediction));
}

ImageQALoss::ImageQALoss(EnginePtr engine, std::string evaluation_instruction,
                         Variable system_prompt, const Prompts& prompts)
    : engine_(std::move(engine)),
      instruction_(frozen(std::move(evaluation_instruction),
                          role_template(prompts, "evaluation_instruction_role"))),
      system_prompt_(system_prompt.defined()
                         ? std::move(system_prompt)
                         : frozen(prompts.get("image_qa_system"),
                                  role_template(prompts, "image_qa_system_role"))),
      labels_{role_template(prompts, "image_qa_label_instruction"),
              role_template(prompts, "image_qa_label_question"),
              role_template(prompts, "image_qa_label_image"),
              role_template(prompts, "image_qa_label_answer")} {
  if (!engine_) throw InvalidArgument("ImageQALoss needs an engine");
}

Variable ImageQALoss::operator()(const Variable& question, const Variable& image,
                                 const Variable& response) const {
  if (!image.is_image()) throw InvalidArgument("ImageQALoss needs an image Variable as the image");
  OrderedFieldsMultimodalLLMCall call(engine_, labels_, system_prompt_, Phase::kLoss);
  return call({{labels_[0], instruction_},
               {labels_[1], question},
               {labels_[2], image},
               {labels_[3], response}},
              evaluation_role(response));
}

}  // namespace tg
