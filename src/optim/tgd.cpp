#include <exception>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "textgrad/budget.h"
#include "textgrad/errors.h"
#include "textgrad/optimizer.h"
#include "util/json_dump.h"
#include "util/json_parse.h"
#include "util/task_group.h"
#include "util/text.h"

namespace tg {
namespace {

using nlohmann::json;

template <typename T>
std::vector<T> last_n(const std::vector<T>& items, int n) {
  if (n <= 0 || items.empty()) return {};
  size_t count = std::min(items.size(), static_cast<size_t>(n));
  return std::vector<T>(items.end() - count, items.end());
}

void keep_last(std::vector<std::string>& items, size_t n) {
  if (items.size() > n) items.erase(items.begin(), items.end() - static_cast<std::ptrdiff_t>(n));
}

// Pieces of feedback shorter than this are not worth sending: leave the piece out instead.
constexpr size_t kMinFeedbackChars = 100;

// The shortenable texts of a piece of feedback: its conversations, then its text.
std::vector<std::string> texts_of(const Gradient& g) {
  std::vector<std::string> texts;
  for (const GradientContext& c : g.contexts) texts.push_back(c.conversation);
  texts.push_back(g.text);
  return texts;
}

void set_texts(Gradient& g, std::vector<std::string> texts) {
  for (size_t i = 0; i < g.contexts.size(); ++i) g.contexts[i].conversation = std::move(texts[i]);
  g.text = std::move(texts.back());
}

size_t total_size(const std::vector<std::string>& texts) {
  size_t n = 0;
  for (const auto& t : texts) n += t.size();
  return n;
}

}  // namespace

const char* to_string(UpdateOutcome::Status status) {
  switch (status) {
    case UpdateOutcome::Status::kUpdated:
      return "updated";
    case UpdateOutcome::Status::kKept:
      return "kept";
    case UpdateOutcome::Status::kSkipped:
      return "skipped";
    case UpdateOutcome::Status::kFailed:
      return "failed";
  }
  return "?";
}

int StepReport::updated() const {
  int count = 0;
  for (const auto& outcome : outcomes) count += outcome.status == UpdateOutcome::Status::kUpdated;
  return count;
}

void Optimizer::zero_grad() {
  for (Variable p : parameters()) p.zero_grad();
}

TextualGradientDescent::TextualGradientDescent(std::vector<Variable> parameters, EnginePtr engine,
                                               TGDOptions options)
    : parameters_(std::move(parameters)), engine_(std::move(engine)), options_(std::move(options)) {
  if (!engine_) throw InvalidArgument("TGD needs an engine for the update calls");
  if (options_.start_tag.empty() || options_.end_tag.empty() ||
      options_.start_tag == options_.end_tag) {
    throw InvalidArgument("TGD needs two different, non-empty tags around the new value");
  }
  if (options_.budget.feedback_tokens < 0 || options_.budget.request_tokens < 0) {
    throw InvalidArgument("update budgets must be 0 (no limit) or a positive number of tokens");
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
  history_.resize(parameters_.size());
}

size_t TextualGradientDescent::index_of(const Variable& parameter) const {
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (parameters_[i] == parameter) return i;
  }
  throw InvalidArgument(
      fmt::format("{} is not a parameter of this optimizer", parameter.describe()));
}

size_t TextualGradientDescent::values_kept() const {
  return static_cast<size_t>(std::max(0, options_.momentum - 1));
}

std::vector<std::string> TextualGradientDescent::past_values(size_t index) const {
  std::lock_guard lock(history_mu_);
  return history_.at(index).values;
}

// Note [Multipart updates]
// Feedback produced from a multimodal call keeps that call's items (images included). Such
// feedback is sent with its items in place, just before the conversation text that refers to
// them, so the update request becomes a user turn of several parts; text-only feedback stays
// one text part.
namespace {

void append_text(std::vector<ContentPart>& parts, const std::string& text) {
  if (!parts.empty() && !parts.back().is_image()) {
    parts.back().text += text;
  } else {
    parts.push_back(ContentPart::Text(text));
  }
}

void append_feedback(const Prompts& prompts, const std::vector<Gradient>& gradients,
                     std::vector<ContentPart>& parts) {
  bool first = true;
  for (const Gradient& g : gradients) {
    if (!first) append_text(parts, "\n");
    first = false;
    if (g.contexts.empty()) {
      append_text(parts, g.text);
      continue;
    }
    for (const GradientContext& c : g.contexts) {
      for (const ContentPart& item : c.items) parts.push_back(item);
      append_text(parts,
                  prompts.render("update_gradient_context", {{"conversation", c.conversation},
                                                             {"response_role", c.response_role}}));
    }
    append_text(parts, prompts.render("update_gradient_feedback",
                                      {{"variable_role", g.contexts.front().variable_role},
                                       {"feedback", g.text}}));
  }
}

size_t text_size(const std::vector<ContentPart>& parts) {
  size_t n = 0;
  for (const ContentPart& p : parts) n += p.is_image() ? 0 : p.text.size();
  return n;
}

}  // namespace

std::string TextualGradientDescent::history_sections(size_t index, const Variable& parameter,
                                                     const std::string& role,
                                                     std::vector<std::string>&) const {
  History history;
  {
    std::lock_guard lock(history_mu_);
    history = history_.at(index);
  }
  std::string out;
  std::vector<std::string> values = last_n(history.values, options_.momentum - 1);
  if (!values.empty()) {
    values.push_back(parameter.value());
    std::vector<std::string> lines;
    for (size_t i = 0; i < values.size(); ++i) {
      lines.push_back(prompts_->render(
          "past_value_line",
          {{"role", role}, {"step", std::to_string(i + 1)}, {"value", values[i]}}));
    }
    out += prompts_->render("update_past_iterations",
                            {{"role", role}, {"past_values", util::join(lines, "\n\n")}});
  }
  std::vector<std::string> feedback = last_n(history.feedback, options_.gradient_memory);
  if (!feedback.empty()) {
    std::vector<std::string> blocks;
    for (size_t i = 0; i < feedback.size(); ++i) {
      blocks.push_back(
          prompts_->render("update_past_feedback_item",
                           {{"index", std::to_string(i + 1)}, {"feedback", feedback[i]}}));
    }
    out += prompts_->render("update_past_feedback", {{"past_feedback", util::join(blocks, "\n")}});
  }
  return out;
}

std::string TextualGradientDescent::closing_sections(size_t index, const Variable& parameter,
                                                     const std::string& role,
                                                     std::vector<std::string>& notes) const {
  std::string text = prompts_->render("update_instruction", {{"role", role}});
  text += history_sections(index, parameter, role, notes);
  if (!options_.constraints.empty()) {
    std::vector<std::string> lines;
    for (size_t i = 0; i < options_.constraints.size(); ++i) {
      lines.push_back(prompts_->render(
          "update_constraint_line",
          {{"index", std::to_string(i + 1)}, {"constraint", options_.constraints[i]}}));
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

// Note [Update budgets]
// Each piece of feedback (its conversations and text) is first fitted to the per-feedback
// budget. If the whole request is still over its budget, the pieces are fitted together into
// what the fixed text (system prompt, head with the full current value, closing sections)
// leaves; if that would leave a piece under kMinFeedbackChars, the last pieces are left out
// and the request says how many. Everything is recorded in the outcome's notes.
std::vector<Gradient> TextualGradientDescent::shown_gradients(
    const Variable& parameter, size_t fixed_chars, size_t& omitted,
    std::vector<std::string>& notes) const {
  std::vector<Gradient> gradients = parameter.gradients();
  omitted = 0;
  const UpdateBudget& budget = options_.budget;
  if (budget.feedback_tokens > 0) {
    const size_t limit = chars_for_tokens(budget.feedback_tokens);
    size_t shortened = 0;
    for (Gradient& g : gradients) {
      std::vector<std::string> texts = texts_of(g);
      if (total_size(texts) <= limit) continue;
      set_texts(g, fit_texts(std::move(texts), limit));
      ++shortened;
    }
    if (shortened > 0) {
      notes.push_back(fmt::format("{} of {} feedback items shortened to their {}-token budget",
                                  shortened, gradients.size(), budget.feedback_tokens));
    }
  }
  if (budget.request_tokens <= 0 || gradients.empty()) return gradients;
  const size_t limit = chars_for_tokens(budget.request_tokens);
  auto rendered_size = [&](const std::vector<Gradient>& shown) {
    std::vector<ContentPart> parts;
    append_feedback(*prompts_, shown, parts);
    return text_size(parts);
  };
  if (fixed_chars + rendered_size(gradients) <= limit) return gradients;
  // How many pieces fit with at least kMinFeedbackChars of text each.
  const size_t omitted_note =
      prompts_->render("update_feedback_omitted", {{"count", "000000"}}).size();
  size_t keep = gradients.size();
  while (keep > 1) {
    std::vector<Gradient> head(gradients.begin(), gradients.begin() + keep);
    size_t overhead = rendered_size(head);
    for (const Gradient& g : head) overhead -= total_size(texts_of(g));
    const size_t note = keep < gradients.size() ? omitted_note : 0;
    if (fixed_chars + overhead + note + keep * kMinFeedbackChars <= limit) break;
    --keep;
  }
  omitted = gradients.size() - keep;
  gradients.resize(keep);
  const size_t before = rendered_size(gradients);
  std::vector<std::string> all;
  std::vector<size_t> counts;
  for (const Gradient& g : gradients) {
    auto texts = texts_of(g);
    counts.push_back(texts.size());
    all.insert(all.end(), texts.begin(), texts.end());
  }
  const size_t texts_total = total_size(all);
  const size_t overhead = before - texts_total + (omitted > 0 ? omitted_note : 0);
  const size_t room = limit > fixed_chars + overhead ? limit - fixed_chars - overhead : 0;
  all = fit_texts(std::move(all), room);
  size_t next = 0;
  for (size_t i = 0; i < gradients.size(); ++i) {
    std::vector<std::string> texts(all.begin() + next, all.begin() + next + counts[i]);
    next += counts[i];
    set_texts(gradients[i], std::move(texts));
  }
  notes.push_back(fmt::format(
      "feedback shortened from {} to {} characters{} to fit the update request's {}-token budget",
      texts_total, total_size(all),
      omitted > 0
          ? fmt::format(", and the last {} of {} feedback items left out", omitted, omitted + keep)
          : std::string(),
      budget.request_tokens));
  return gradients;
}

Request TextualGradientDescent::build_request(size_t index, std::vector<std::string>& notes) const {
  const Variable& parameter = parameters_.at(index);
  const std::string role = parameter.role_description();
  Request request;
  request.system_prompt = prompts_->render(
      system_template(), {{"start_tag", options_.start_tag}, {"end_tag", options_.end_tag}});
  request.phase = Phase::kUpdate;
  request.sampling = options_.sampling;
  const std::string head =
      prompts_->render("update_head", {{"role", role}, {"value", parameter.value()}});
  std::string closing = closing_sections(index, parameter, role, notes);
  size_t omitted = 0;
  std::vector<Gradient> shown = shown_gradients(
      parameter, request.system_prompt.size() + head.size() + closing.size(), omitted, notes);
  request.content.push_back(ContentPart::Text(head));
  append_feedback(*prompts_, shown, request.content);
  if (omitted > 0) {
    append_text(request.content,
                prompts_->render("update_feedback_omitted", {{"count", std::to_string(omitted)}}));
  }
  if (request.content.back().is_image()) {
    request.content.push_back(ContentPart::Text(std::move(closing)));
  } else {
    request.content.back().text += closing;
  }
  const size_t total = request.system_prompt.size() + text_size(request.content);
  if (options_.budget.request_tokens > 0 &&
      total > chars_for_tokens(options_.budget.request_tokens)) {
    notes.push_back(fmt::format(
        "the update request is {} characters, over its {}-token budget: its fixed text (system "
        "prompt, current value, history, constraints) alone does not fit",
        total, options_.budget.request_tokens));
  }
  return request;
}

Request TextualGradientDescent::update_request(const Variable& parameter) const {
  std::vector<std::string> notes;
  return build_request(index_of(parameter), notes);
}

UpdateOutcome TextualGradientDescent::update(size_t index) {
  Variable parameter = parameters_[index];
  UpdateOutcome outcome;
  outcome.parameter = parameter;
  outcome.old_value = parameter.value();
  for (const Gradient& g : parameter.gradients()) {
    outcome.notes.insert(outcome.notes.end(), g.notes.begin(), g.notes.end());
  }
  if (util::trim(parameter.gradient_text()).empty()) {
    outcome.reason = "no feedback";
    return outcome;
  }
  auto parse = [&](const std::string& answer) {
    std::optional<std::string> value =
        util::extract_tagged(answer, options_.start_tag, options_.end_tag);
    return value && !value->empty() ? value : std::nullopt;
  };
  Request request = build_request(index, outcome.notes);
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
  {
    std::lock_guard lock(history_mu_);
    History& history = history_[index];
    history.values.push_back(outcome.old_value);
    history.feedback.push_back(parameter.gradient_text());
    keep_last(history.values, values_kept());
    keep_last(history.feedback, static_cast<size_t>(std::max(0, options_.gradient_memory)));
  }
  outcome.new_value = *value;
  parameter.set_value(*value);
  outcome.status = UpdateOutcome::Status::kUpdated;
  return outcome;
}

StepReport TextualGradientDescent::step() {
  StepReport report;
  report.optimizer = name();
  report.outcomes.resize(parameters_.size());
  std::vector<std::exception_ptr> errors(parameters_.size());
  auto update_task = [&](size_t i) {
    return [&, i] {
      try {
        report.outcomes[i] = update(i);
      } catch (const std::exception& e) {
        report.outcomes[i].parameter = parameters_[i];
        report.outcomes[i].status = UpdateOutcome::Status::kFailed;
        report.outcomes[i].reason = e.what();
        errors[i] = std::current_exception();
      }
    };
  };
  // The last update runs on this thread, which would only wait (a single parameter wakes no
  // worker); the group's limit leaves it its slot of the concurrency.
  const size_t count = parameters_.size();
  const int limit = std::min<int>(options_.concurrency, static_cast<int>(count));
  if (limit <= 1) {
    for (size_t i = 0; i < count; ++i) update_task(i)();
  } else {
    util::TaskGroup pool(limit - 1);
    for (size_t i = 0; i + 1 < count; ++i) pool.run(update_task(i));
    update_task(count - 1)();
    pool.wait();
  }
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return report;
}

std::string TextualGradientDescent::state() const {
  json params = json::array();
  std::lock_guard lock(history_mu_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    params.push_back({{"role", parameters_[i].role_description()},
                      {"past_values", history_[i].values},
                      {"past_feedback", history_[i].feedback}});
  }
  return util::dump_json(json{{"optimizer", name()}, {"parameters", params}});
}

void TextualGradientDescent::load_state(const std::string& state) {
  std::vector<History> loaded;
  try {
    const json j = util::parse_json(state);
    if (j.at("optimizer").get<std::string>() != name()) {
      throw InvalidArgument(fmt::format("the state is of optimizer '{}', not '{}'",
                                        j.at("optimizer").get<std::string>(), name()));
    }
    const json& params = j.at("parameters");
    if (params.size() != parameters_.size()) {
      throw InvalidArgument(fmt::format("the state has {} parameters, this optimizer {}",
                                        params.size(), parameters_.size()));
    }
    for (const json& p : params) {
      loaded.push_back({p.at("past_values").get<std::vector<std::string>>(),
                        p.at("past_feedback").get<std::vector<std::string>>()});
    }
  } catch (const json::exception& e) {
    throw InvalidArgument(
        fmt::format("not an optimizer state ({}); pass the text state() returned", e.what()));
  }
  std::lock_guard lock(history_mu_);
  history_ = std::move(loaded);
}

}  // namespace tg
