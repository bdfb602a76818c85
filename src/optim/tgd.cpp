#include <exception>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/optimizer.h"
#include "util/task_group.h"
#include "util/text.h"

namespace tg {
namespace {

template <typename T>
std::vector<T> last_n(const std::vector<T>& items, int n) {
  if (n <= 0 || items.empty()) return {};
  size_t count = std::min(items.size(), static_cast<size_t>(n));
  return std::vector<T>(items.end() - count, items.end());
}

}  // namespace

int StepReport::updated() const {
  int count = 0;
  for (const auto& outcome : outcomes) count += outcome.status == UpdateOutcome::Status::kUpdated;
  return count;
}

TextualGradientDescent::TextualGradientDescent(std::vector<Variable> parameters, EnginePtr engine,
                                               TGDOptions options)
    : parameters_(std::move(parameters)), engine_(std::move(engine)), options_(std::move(options)) {
  if (!engine_) throw InvalidArgument("TGD needs an engine for the update calls");
  if (options_.start_tag.empty() || options_.end_tag.empty() ||
      options_.start_tag == options_.end_tag) {
    throw InvalidArgument("TGD needs two different, non-empty tags around the new value");
  }
  for (const Variable& p : parameters_) {
    if (!p.defined()) throw InvalidArgument("TGD got an empty Variable as a parameter");
    if (p.is_image()) {
      throw InvalidArgument(fmt::format("TGD cannot optimize {}: it is an image", p.describe()));
    }
    if (!p.requires_grad()) {
      throw InvalidArgument(fmt::format(
          "TGD parameter {} does not require grad: construct it with requires_grad = true",
          p.describe()));
    }
  }
  prompts_ = options_.prompts ? options_.prompts : std::make_shared<const Prompts>();
}

void TextualGradientDescent::zero_grad() {
  for (Variable& p : parameters_) p.zero_grad();
}

// Note [Multipart updates]
// Feedback produced from a multimodal call keeps that call's items (images included). Such
// feedback is sent with its items in place, just before the conversation text that refers to
// them, so the update request becomes a user turn of several parts; text-only feedback stays
// one text part.
void TextualGradientDescent::append_feedback(const Variable& parameter,
                                             std::vector<ContentPart>& parts) const {
  auto append_text = [&parts](const std::string& text) {
    if (!parts.empty() && !parts.back().is_image()) {
      parts.back().text += text;
    } else {
      parts.push_back(ContentPart::Text(text));
    }
  };
  bool first = true;
  for (const Gradient& g : parameter.gradients()) {
    if (!first) append_text("\n");
    first = false;
    if (g.contexts.empty()) {
      append_text(g.text);
      continue;
    }
    for (const GradientContext& c : g.contexts) {
      for (const ContentPart& item : c.items) parts.push_back(item);
      append_text(
          prompts_->render("update_gradient_context",
                           {{"conversation", c.conversation}, {"response_role", c.response_role}}));
    }
    append_text(prompts_->render(
        "update_gradient_feedback",
        {{"variable_role", g.contexts.front().variable_role}, {"feedback", g.text}}));
  }
}

std::string TextualGradientDescent::history_sections(const Variable& parameter,
                                                     const std::string& role) const {
  History history;
  {
    std::lock_guard lock(history_mu_);
    auto it = history_.find(parameter.id());
    if (it != history_.end()) history = it->second;
  }
  std::string out;
  std::vector<std::string> values = last_n(history.values, options_.momentum - 1);
  if (!values.empty()) {
    values.push_back(parameter.value());
    std::vector<std::string> lines;
    for (size_t i = 0; i < values.size(); ++i) {
      lines.push_back(fmt::format("{} at step {}: {}", role, i + 1, values[i]));
    }
    out += prompts_->render("update_past_iterations",
                            {{"role", role}, {"past_values", util::join(lines, "\n\n")}});
  }
  std::vector<std::string> feedback = last_n(history.feedback, options_.gradient_memory);
  if (!feedback.empty()) {
    std::vector<std::string> blocks;
    for (size_t i = 0; i < feedback.size(); ++i) {
      blocks.push_back(fmt::format("<FEEDBACK-{0}>{1}</FEEDBACK-{0}>", i + 1, feedback[i]));
    }
    out += prompts_->render("update_past_feedback", {{"past_feedback", util::join(blocks, "\n")}});
  }
  return out;
}

std::string TextualGradientDescent::closing_sections(const Variable& parameter,
                                                     const std::string& role) const {
  std::string text = prompts_->render("update_instruction", {{"role", role}});
  text += history_sections(parameter, role);
  if (!options_.constraints.empty()) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < options_.constraints.size(); ++i) {
      lines.push_back(fmt::format("Constraint {}: {}", i + 1, options_.constraints[i]));
    }
    text += prompts_->render("update_constraints", {{"constraints", util::join(lines, "\n")}});
  }
  if (!options_.in_context_examples.empty()) {
    text += prompts_->render("update_examples",
                             {{"examples", util::join(options_.in_context_examples, "\n")}});
  }
  text += prompts_->render("update_format",
                           {{"start_tag", options_.start_tag}, {"end_tag", options_.end_tag}});
  return text;
}

Request TextualGradientDescent::update_request(const Variable& parameter) const {
  const std::string role = parameter.role_description();
  Request request;
  request.system_prompt = prompts_->render(
      "optimizer_system", {{"start_tag", options_.start_tag}, {"end_tag", options_.end_tag}});
  request.phase = Phase::kUpdate;
  request.content.push_back(ContentPart::Text(
      prompts_->render("update_head", {{"role", role}, {"value", parameter.value()}})));
  append_feedback(parameter, request.content);
  std::string closing = closing_sections(parameter, role);
  if (request.content.back().is_image()) {
    request.content.push_back(ContentPart::Text(std::move(closing)));
  } else {
    request.content.back().text += closing;
  }
  return request;
}

void TextualGradientDescent::remember(const Variable& parameter, const std::string& old_value) {
  std::lock_guard lock(history_mu_);
  History& history = history_[parameter.id()];
  history.values.push_back(old_value);
  history.feedback.push_back(parameter.gradient_text());
}

UpdateOutcome TextualGradientDescent::update(Variable parameter) {
  UpdateOutcome outcome;
  outcome.parameter = parameter;
  outcome.old_value = parameter.value();
  if (util::trim(parameter.gradient_text()).empty()) {
    outcome.reason = "no feedback";
    return outcome;
  }
  auto parse = [&](const std::string& answer) {
    std::optional<std::string> value =
        util::extract_tagged(answer, options_.start_tag, options_.end_tag);
    return value && !value->empty() ? value : std::nullopt;
  };
  Request request = update_request(parameter);
  std::string answer = engine_->generate(request).text;
  ++outcome.calls;
  std::optional<std::string> value = parse(answer);
  if (!value) {
    // Note [Repair once]: one re-ask with the bad answer quoted; its prompt differs from the
    // first, so a cached bad answer is never replayed (docs/reference-defects.md#repair-once).
    request.content.push_back(ContentPart::Text(prompts_->render(
        "update_repair",
        {{"answer", answer}, {"start_tag", options_.start_tag}, {"end_tag", options_.end_tag}})));
    answer = engine_->generate(request).text;
    ++outcome.calls;
    value = parse(answer);
  }
  if (!value) {
    outcome.status = UpdateOutcome::Status::kKept;
    outcome.reason = fmt::format(
        "the optimizer's answer had no non-empty {}...{} block, even after one repair request; "
        "the old value was kept. The answer began: '{}'",
        options_.start_tag, options_.end_tag, util::short_value(answer, 10));
    return outcome;
  }
  remember(parameter, outcome.old_value);
  outcome.new_value = *value;
  parameter.set_value(*value);
  outcome.status = UpdateOutcome::Status::kUpdated;
  return outcome;
}

StepReport TextualGradientDescent::step() {
  StepReport report;
  report.outcomes.resize(parameters_.size());
  std::vector<std::exception_ptr> errors(parameters_.size());
  {
    util::TaskGroup pool(
        std::min<int>(options_.concurrency, std::max<size_t>(1, parameters_.size())));
    for (size_t i = 0; i < parameters_.size(); ++i) {
      pool.run([&, i] {
        try {
          report.outcomes[i] = update(parameters_[i]);
        } catch (const std::exception& e) {
          report.outcomes[i].parameter = parameters_[i];
          report.outcomes[i].status = UpdateOutcome::Status::kFailed;
          report.outcomes[i].reason = e.what();
          errors[i] = std::current_exception();
        }
      });
    }
    pool.wait();
  }
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return report;
}

}  // namespace tg
