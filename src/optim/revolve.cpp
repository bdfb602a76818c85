// REVOLVE: TGD with the parameter's trajectory in the update request (and optionally in the
// feedback requests). See docs/optimizers.md for which prompt carries what.
#include <limits>

#include <fmt/format.h>

#include "textgrad/budget.h"
#include "textgrad/errors.h"
#include "textgrad/optimizer.h"
#include "util/text.h"

namespace tg {

Revolve::Revolve(std::vector<Variable> parameters, EnginePtr engine, RevolveOptions options)
    : TextualGradientDescent(std::move(parameters), std::move(engine), std::move(options.tgd)),
      history_(options.history) {
  if (history_.mode == HistoryOptions::Mode::kLastK && history_.last_k < 1) {
    throw InvalidArgument(fmt::format("REVOLVE's history of the last K values needs K >= 1, got {}",
                                      history_.last_k));
  }
  if (history_.budget_tokens < 0) {
    throw InvalidArgument(
        "REVOLVE's history budget must be 0 (no limit) or a positive number "
        "of tokens");
  }
}

size_t Revolve::values_kept() const { return std::numeric_limits<size_t>::max(); }

// Note [History budget]
// The newest values matter most for reading the trajectory, so the oldest are left out first;
// the current value is always shown, shortened (see Note [Shortening]) if it alone exceeds
// the budget. Steps keep their absolute numbers, so a gap shows where values were left out.
std::vector<std::string> Revolve::shown_history(size_t index, const Variable& parameter,
                                                std::vector<std::string>& notes) const {
  if (history_.mode == HistoryOptions::Mode::kNone) return {};
  std::vector<std::string> values = past_values(index);
  values.push_back(parameter.value());
  size_t first = 0;
  if (history_.mode == HistoryOptions::Mode::kLastK &&
      values.size() > static_cast<size_t>(history_.last_k) + 1) {
    first = values.size() - static_cast<size_t>(history_.last_k) - 1;
  }
  std::vector<std::string> shown;
  for (size_t i = 0; i < values.size(); ++i) {
    shown.push_back(i < first ? std::string() : values[i]);
  }
  if (history_.budget_tokens > 0) {
    const size_t limit = chars_for_tokens(history_.budget_tokens);
    size_t used = shown.back().size();
    size_t kept_from = values.size() - 1;
    while (kept_from > first && used + values[kept_from - 1].size() <= limit) {
      used += values[--kept_from].size();
    }
    if (kept_from > first) {
      notes.push_back(fmt::format(
          "REVOLVE history: the {} oldest of {} values left out to fit its {}-token budget",
          kept_from - first, values.size() - first, history_.budget_tokens));
      for (size_t i = first; i < kept_from; ++i) shown[i].clear();
    }
    if (shown.back().size() > limit) {
      shown.back() = fit_text(shown.back(), limit);
      notes.push_back("REVOLVE history: the current value shortened to fit the history budget");
    }
  }
  return shown;
}

std::string Revolve::history_sections(size_t index, const Variable& parameter,
                                      const std::string& role,
                                      std::vector<std::string>& notes) const {
  std::vector<std::string> shown = shown_history(index, parameter, notes);
  std::string out;
  std::vector<std::string> lines;
  for (size_t i = 0; i < shown.size(); ++i) {
    if (shown[i].empty() && i + 1 < shown.size()) continue;  // left out
    lines.push_back(prompts().render(
        "past_value_line", {{"role", role}, {"step", std::to_string(i + 1)}, {"value", shown[i]}}));
  }
  if (lines.size() > 1) {  // a trajectory needs at least one earlier value
    out += prompts().render("revolve_past_iterations",
                            {{"role", role}, {"past_values", util::join(lines, "\n\n")}});
  }
  out += prompts().render("revolve_closing", {});
  return out;
}

std::function<std::vector<std::string>(const Variable&)> Revolve::feedback_history() const {
  if (!history_.in_feedback) return {};
  return [this](const Variable& v) -> std::vector<std::string> {
    for (size_t i = 0; i < parameters().size(); ++i) {
      if (parameters()[i] == v) {
        std::vector<std::string> notes;
        std::vector<std::string> shown = shown_history(i, v, notes);
        std::vector<std::string> out;
        for (size_t k = 0; k < shown.size(); ++k) {
          if (!shown[k].empty() || k + 1 == shown.size()) out.push_back(shown[k]);
        }
        return out.size() > 1 ? out : std::vector<std::string>{};
      }
    }
    return {};
  };
}

}  // namespace tg
