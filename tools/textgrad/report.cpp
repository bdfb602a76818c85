#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace tg::cli {
namespace {

// ---------------------------------------------------------------------------------------------
// Word diff

struct Word {
  std::string_view text;
  // Newlines in the whitespace before the word, capped at 2, so the diff keeps line and
  // paragraph breaks instead of running a multi-paragraph prompt into one line.
  int newlines_before = 0;
};

std::vector<Word> split_words(std::string_view text) {
  std::vector<Word> words;
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  size_t i = 0;
  while (i < text.size()) {
    int newlines = 0;
    while (i < text.size() && is_space(text[i])) {
      if (text[i] == '\n') newlines = std::min(newlines + 1, 2);
      ++i;
    }
    size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.push_back({text.substr(start, i - start), newlines});
  }
  return words;
}

enum class Op { kKeep, kRemove, kAdd };

struct Edit {
  Op op;
  Word word;
};

// Above this many DP cells (about 5,000 x 5,000 words) the table would take too much memory;
// the middle part is then shown as removed and re-added.
constexpr size_t kMaxLcsCells = 25'000'000;

// LCS of a[lo_a, hi_a) and b[lo_b, hi_b) as a sequence of edits. The table holds suffix LCS
// lengths so the edits come out front to back; ties prefer removal, which puts each removed
// run before the added run that replaces it.
void lcs_edits(const std::vector<Word>& a, size_t lo_a, size_t hi_a, const std::vector<Word>& b,
               size_t lo_b, size_t hi_b, std::vector<Edit>& out) {
  const size_t n = hi_a - lo_a;
  const size_t m = hi_b - lo_b;
  if (n == 0 || m == 0 || (n + 1) * (m + 1) > kMaxLcsCells) {
    for (size_t i = lo_a; i < hi_a; ++i) out.push_back({Op::kRemove, a[i]});
    for (size_t j = lo_b; j < hi_b; ++j) out.push_back({Op::kAdd, b[j]});
    return;
  }
  // An LCS is at most min(n, m) <= 5,000 words under the cell bound, so 16 bits suffice.
  const size_t width = m + 1;
  std::vector<std::uint16_t> dp((n + 1) * width, 0);
  auto at = [&](size_t i, size_t j) -> std::uint16_t& { return dp[i * width + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      at(i, j) = a[lo_a + i].text == b[lo_b + j].text
                     ? static_cast<std::uint16_t>(at(i + 1, j + 1) + 1)
                     : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  size_t i = 0;
  size_t j = 0;
  while (i < n && j < m) {
    if (a[lo_a + i].text == b[lo_b + j].text) {
      out.push_back({Op::kKeep, b[lo_b + j]});
      ++i;
      ++j;
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      out.push_back({Op::kRemove, a[lo_a + i++]});
    } else {
      out.push_back({Op::kAdd, b[lo_b + j++]});
    }
  }
  for (; i < n; ++i) out.push_back({Op::kRemove, a[lo_a + i]});
  for (; j < m; ++j) out.push_back({Op::kAdd, b[lo_b + j]});
}

std::vector<Edit> diff_words(const std::vector<Word>& a, const std::vector<Word>& b) {
  // Edits of a prompt usually touch the middle; trimming the common ends keeps the table small.
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix].text == b[prefix].text) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix].text == b[b.size() - 1 - suffix].text) {
    ++suffix;
  }
  std::vector<Edit> edits;
  for (size_t k = 0; k < prefix; ++k) edits.push_back({Op::kKeep, b[k]});
  lcs_edits(a, prefix, a.size() - suffix, b, prefix, b.size() - suffix, edits);
  for (size_t k = b.size() - suffix; k < b.size(); ++k) edits.push_back({Op::kKeep, b[k]});
  return edits;
}

struct DiffMarkup {
  std::string_view remove_open, remove_close, add_open, add_close;
  std::string (*escape)(std::string_view);
};

std::string whitespace(int newlines) {
  return newlines == 0 ? " " : std::string(static_cast<size_t>(newlines), '\n');
}

// The whitespace before edits[k] (k > 0). A removed run and the added run that replaces it
// stand at the same place: the line break before either goes before the pair, once, and a
// space separates them.
std::string separator_before(const std::vector<Edit>& edits, size_t k) {
  const Edit& edit = edits[k];
  if (edit.op == Op::kAdd && edits[k - 1].op == Op::kRemove) return " ";
  int newlines = edit.word.newlines_before;
  if (edit.op == Op::kRemove && edits[k - 1].op != Op::kRemove) {
    size_t next = k;
    while (next < edits.size() && edits[next].op == Op::kRemove) ++next;
    if (next < edits.size() && edits[next].op == Op::kAdd)
      newlines = std::max(newlines, edits[next].word.newlines_before);
  }
  return whitespace(newlines);
}

std::string render_diff(const std::string& before, const std::string& after,
                        const DiffMarkup& markup) {
  const std::vector<Edit> edits = diff_words(split_words(before), split_words(after));
  std::string out;
  for (size_t k = 0; k < edits.size(); ++k) {
    const Edit& edit = edits[k];
    if (k > 0) out += separator_before(edits, k);
    const bool opens = edit.op != Op::kKeep && (k == 0 || edits[k - 1].op != edit.op);
    const bool closes =
        edit.op != Op::kKeep && (k + 1 == edits.size() || edits[k + 1].op != edit.op);
    if (opens) out += edit.op == Op::kRemove ? markup.remove_open : markup.add_open;
    out += markup.escape(edit.word.text);
    if (closes) out += edit.op == Op::kRemove ? markup.remove_close : markup.add_close;
  }
  return out;
}

std::string verbatim(std::string_view text) { return std::string(text); }

// ---------------------------------------------------------------------------------------------
// Shared formatting

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string percent(const std::optional<double>& accuracy) {
  if (!accuracy) return "–";
  return fmt::format("{:.1f}%", *accuracy * 100);
}

std::string or_dash(const std::string& text) { return text.empty() ? "–" : text; }

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  auto total = static_cast<long long>(std::llround(seconds));
  const long long h = total / 3600;
  const long long min = total / 60 % 60;
  const long long s = total % 60;
  if (h == 0) return fmt::format("{} min {:02} s", min, s);
  return fmt::format("{} h {:02} min {:02} s", h, min, s);
}

std::optional<double> first_test_accuracy(const std::vector<StepRecord>& steps) {
  for (const StepRecord& step : steps) {
    if (step.test_accuracy) return step.test_accuracy;
  }
  return std::nullopt;
}

std::optional<double> last_test_accuracy(const std::vector<StepRecord>& steps) {
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->test_accuracy) return it->test_accuracy;
  }
  return std::nullopt;
}

std::string accuracy_change(const std::vector<StepRecord>& steps) {
  auto initial = first_test_accuracy(steps);
  auto final = last_test_accuracy(steps);
  if (!initial || !final) return "–";
  return fmt::format("{:+.1f} pp", (*final - *initial) * 100);
}

PhaseCost total_cost(const std::vector<PhaseCost>& phases) {
  PhaseCost total;
  total.phase = "total";
  for (const PhaseCost& p : phases) {
    total.calls += p.calls;
    total.cache_hits += p.cache_hits;
    total.input_tokens += p.input_tokens;
    total.output_tokens += p.output_tokens;
    total.cost_usd += p.cost_usd;
    total.latency_ms += p.latency_ms;
    total.unpriced_calls += p.unpriced_calls;
  }
  return total;
}

std::string mean_latency(const PhaseCost& phase) {
  if (phase.calls <= 0) return "–";
  return fmt::format("{:.1f}", phase.latency_ms / static_cast<double>(phase.calls));
}

std::string dollars(double usd) { return fmt::format("${:.4f}", usd); }

// "unpriced" when no billed call of the row had a price.
std::string cost_of(const PhaseCost& p) {
  const std::int64_t billed = p.calls - p.cache_hits;
  if (p.unpriced_calls > 0 && p.unpriced_calls >= billed) return "unpriced";
  if (p.unpriced_calls > 0) return dollars(p.cost_usd) + " + unpriced";
  return dollars(p.cost_usd);
}

const PhaseCost* step_cost(const RunSummary& s, int step) {
  auto it = s.step_costs.find(step);
  return it == s.step_costs.end() ? nullptr : &it->second;
}

std::string short_text(std::string_view text, size_t limit) {
  if (text.size() <= limit) return std::string(text);
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "…";
}

std::string decision_of(const StepRecord& step) {
  if (step.parameters.empty()) return step.reverted ? "reverted" : "";
  return step.parameters.front().gate.decision;
}

std::string title_of(const RunSummary& summary) {
  return summary.title.empty() ? "TextGrad run" : summary.title;
}

std::string variable_name_of(const RunSummary& summary) {
  return summary.variable_name.empty() ? "value" : summary.variable_name;
}

const char* kBudgetNote = "The run was stopped by budget before all steps completed.";
const char* kInterruptedNote =
    "The run was interrupted before all steps completed; it can be resumed.";

// ---------------------------------------------------------------------------------------------
// Markdown

// A table cell must stay on one line and must not end the cell early.
std::string md_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

// A fence longer than any backtick run inside, so LLM output cannot close the block early.
std::string md_fence(std::string_view text) {
  size_t longest = 0;
  size_t run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

std::string md_fenced(std::string_view text) {
  const std::string fence = md_fence(text);
  std::string body(text);
  if (body.empty() || body.back() != '\n') body += '\n';
  return fmt::format("{}text\n{}{}\n", fence, body, fence);
}

std::string md_steps(const RunSummary& summary) {
  const std::vector<StepRecord>& steps = summary.steps;
  if (steps.empty()) return "No steps were recorded.\n";
  std::string out =
      "| Step | Epoch | Validation accuracy | Test accuracy | Reverted | Note | Calls | Tokens | "
      "Cost |\n"
      "|---:|---:|---:|---:|:---:|---|---:|---:|---:|\n";
  for (const StepRecord& s : steps) {
    const PhaseCost* cost = step_cost(summary, s.step);
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", s.step, s.epoch,
                       percent(s.val_accuracy), percent(s.test_accuracy), s.reverted ? "yes" : "no",
                       md_cell(s.note), cost ? cost->calls : 0,
                       cost ? cost->input_tokens + cost->output_tokens : 0,
                       cost ? cost_of(*cost) : dollars(0));
  }
  return out;
}

std::string md_step_details(const RunSummary& summary) {
  std::string out;
  const std::vector<StepRecord>& steps = summary.steps;
  for (size_t k = 1; k < steps.size(); ++k) {
    const StepRecord& step = steps[k];
    if (step.parameters.empty()) continue;
    const ParameterRecord& p = step.parameters.front();
    out += fmt::format("### Step {}: {}\n\n", step.step, or_dash(p.gate.decision));
    out += fmt::format("- Gate ({}): {} before, {} with the proposal\n", p.gate.name,
                       percent(p.gate.before), percent(p.gate.after));
    if (!p.reason.empty()) out += fmt::format("- Optimizer: {}\n", md_cell(p.reason));
    out += "\nProposed change:\n\n" +
           md_fenced(word_diff_markdown(steps[k - 1].prompt,
                                        p.proposed.empty() ? steps[k - 1].prompt : p.proposed));
    out += "\nFeedback that produced it:\n\n" + md_fenced(p.feedback) + "\n";
  }
  return out;
}

std::string md_failing(const RunSummary& summary) {
  if (summary.failing.empty()) return "No test example fails at the end.\n";
  std::string out = "| Id | Input | Prediction | Target |\n|---|---|---|---|\n";
  for (const ItemRecord& item : summary.failing) {
    out += fmt::format("| {} | {} | {} | {} |\n", md_cell(item.id),
                       md_cell(short_text(item.input, 160)),
                       md_cell(short_text(item.prediction, 160)), md_cell(item.target));
  }
  return out;
}

std::string md_phase_row(const PhaseCost& p, bool bold) {
  const char* b = bold ? "**" : "";
  return fmt::format(
      "| {0}{1}{0} | {0}{2}{0} | {0}{3}{0} | {0}{4}{0} | {0}{5}{0} | {0}{6}{0} | "
      "{0}{7}{0} |\n",
      b, md_cell(p.phase), p.calls, p.cache_hits, p.input_tokens, p.output_tokens, cost_of(p),
      mean_latency(p));
}

std::string md_phases(const std::vector<PhaseCost>& phases) {
  std::string out =
      "| Phase | Calls | Cache hits | Input tokens | Output tokens | Cost (USD) | "
      "Mean latency (ms) |\n"
      "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const PhaseCost& p : phases) out += md_phase_row(p, false);
  out += md_phase_row(total_cost(phases), true);
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTML

constexpr std::string_view kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; } td.text { text-align: left; }
tr.reverted td { background: #fff4e5; } tr.total td { font-weight: 600; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 0.75rem; white-space: pre-wrap;
      word-wrap: break-word; }
del { background: #fdd; color: #900; } ins { background: #dfd; color: #060; text-decoration: none; }
p.budget { background: #fff4e5; border-left: 4px solid #e69500; padding: 0.5rem 0.75rem; }
svg text { font-size: 11px; fill: #444; } svg .grid { stroke: #e4e4e4; }
svg .axis { stroke: #888; } svg .val { stroke: #1f77b4; fill: none; stroke-width: 2; }
svg .test { stroke: #d62728; fill: none; stroke-width: 2; }
svg circle.val { fill: #1f77b4; } svg circle.test { fill: #d62728; }
svg circle.accepted { fill: none; stroke: #2ca02c; stroke-width: 2; }
svg path.rejected { stroke: #ff7f0e; stroke-width: 2.5; fill: none; }
p.label { background: #e8f0fe; border-left: 4px solid #1a73e8; padding: 0.5rem 0.75rem;
          font-weight: 600; }
section.step { border-top: 1px solid #ddd; margin-top: 1rem; }
section.reverted .decision { color: #c45100; } section.accepted .decision { color: #1e7b1e; }
table.items td, table.failing td { font-size: 0.9rem; }
)";

struct PlotGeometry {
  double width = 640, height = 300;
  double left = 48, right = 16, top = 36, bottom = 44;  // the legend sits in the top margin
  double low = 0, high = 1;                             // the y range, fitted to the data
  double tick = 0.25;
  double plot_width() const { return width - left - right; }
  double plot_height() const { return height - top - bottom; }
};

// The y range: the data's range padded to whole ticks (1, 2, 5, 10, 20 or 25 points), at most
// about six ticks, within 0-100%.
void fit_y_axis(PlotGeometry& g, const std::vector<StepRecord>& steps) {
  double low = 1, high = 0;
  auto see = [&](const std::optional<double>& v) {
    if (!v) return;
    low = std::min(low, *v);
    high = std::max(high, *v);
  };
  for (const StepRecord& step : steps) {
    see(step.val_accuracy);
    see(step.test_accuracy);
    for (const ParameterRecord& p : step.parameters) see(p.gate.after);
  }
  if (low > high) return;  // no data: 0-100%
  low = std::max(0.0, low - 0.05);
  high = std::min(1.0, high + 0.05);
  for (double tick : {0.01, 0.02, 0.05, 0.1, 0.2, 0.25}) {
    g.tick = tick;
    if ((high - low) / tick <= 6) break;
  }
  g.low = std::max(0.0, std::floor(low / g.tick + 1e-9) * g.tick);
  g.high = std::min(1.0, std::ceil(high / g.tick - 1e-9) * g.tick);
  if (g.high - g.low < g.tick) g.high = std::min(1.0, g.low + g.tick);
  if (g.high - g.low < g.tick) g.low = std::max(0.0, g.high - g.tick);
}

// Points are placed by their index so duplicate or unordered step numbers cannot break the
// scale; a single step sits in the middle.
double x_of(const PlotGeometry& g, size_t index, size_t count) {
  if (count <= 1) return g.left + g.plot_width() / 2;
  return g.left + g.plot_width() * static_cast<double>(index) / static_cast<double>(count - 1);
}

double y_of(const PlotGeometry& g, double accuracy) {
  const double span = g.high - g.low;
  const double t = span > 0 ? (std::clamp(accuracy, g.low, g.high) - g.low) / span : 0.5;
  return g.top + g.plot_height() * (1 - t);
}

std::string tick_label(double value, double tick) {
  return tick < 0.01 - 1e-12 ? fmt::format("{:.1f}%", value * 100)
                             : fmt::format("{:.0f}%", value * 100);
}

std::string svg_axes(const PlotGeometry& g, const std::vector<StepRecord>& steps) {
  std::string out;
  const int ticks = static_cast<int>(std::lround((g.high - g.low) / g.tick));
  for (int k = 0; k <= ticks; ++k) {
    const double value = g.low + g.tick * k;
    const double y = y_of(g, value);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
        g.left, y, g.width - g.right, y, g.left - 6, y + 4, tick_label(value, g.tick));
  }
  const double x_axis_y = g.top + g.plot_height();
  out += fmt::format(
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>"
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{3:.1f}\" y2=\"{2:.1f}\"/>\n",
      g.left, g.top, x_axis_y, g.width - g.right);
  // At most about 20 labels, so long runs stay readable.
  const size_t stride = std::max<size_t>(1, (steps.size() + 19) / 20);
  for (size_t i = 0; i < steps.size(); i += stride) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                       x_of(g, i, steps.size()), x_axis_y + 16, steps[i].step);
  }
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">step</text>\n",
                     g.left + g.plot_width() / 2, g.height - 6);
  return out;
}

std::string svg_series(const PlotGeometry& g, const std::vector<StepRecord>& steps,
                       std::optional<double> StepRecord::*accuracy, std::string_view css_class) {
  std::string points;
  std::string markers;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::optional<double>& value = steps[i].*accuracy;
    if (!value) continue;
    const double x = x_of(g, i, steps.size());
    const double y = y_of(g, *value);
    if (!points.empty()) points += ' ';
    points += fmt::format("{:.1f},{:.1f}", x, y);
    markers += fmt::format("<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\"/>\n",
                           css_class, x, y);
  }
  // A polyline with one point draws nothing; the markers keep single points visible.
  return fmt::format("<polyline class=\"{}\" points=\"{}\"/>\n{}", css_class, points, markers);
}

// Each gated proposal: a cross at its validation score when it was reverted, a ring around
// the kept validation point when it was accepted.
std::string svg_decisions(const PlotGeometry& g, const std::vector<StepRecord>& steps) {
  std::string out;
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string decision = decision_of(steps[i]);
    const double x = x_of(g, i, steps.size());
    const std::optional<double> proposal =
        steps[i].parameters.empty() ? std::nullopt : steps[i].parameters.front().gate.after;
    if (decision == "reverted" && proposal) {
      const double y = y_of(g, *proposal);
      out += fmt::format(
          "<path class=\"rejected\" d=\"M{0:.1f},{1:.1f} l8,8 m0,-8 l-8,8\"><title>step {2}: "
          "proposal reverted ({3})</title></path>\n",
          x - 4, y - 4, steps[i].step, percent(proposal));
    } else if (decision == "accepted" && steps[i].val_accuracy) {
      out += fmt::format(
          "<circle class=\"accepted\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"7\"><title>step {}: "
          "proposal accepted</title></circle>\n",
          x, y_of(g, *steps[i].val_accuracy), steps[i].step);
    }
  }
  return out;
}

std::string svg_legend(const PlotGeometry& g) {
  std::string out;
  const double y = g.top - 20;
  const double x = g.width - g.right - 420;
  const std::pair<std::string_view, std::string_view> entries[] = {{"val", "Validation"},
                                                                   {"test", "Test"}};
  for (size_t k = 0; k < 2; ++k) {
    const double ex = x + 100 * static_cast<double>(k);
    out += fmt::format(
        "<line class=\"{0}\" x1=\"{1:.1f}\" y1=\"{2:.1f}\" x2=\"{3:.1f}\" y2=\"{2:.1f}\"/>"
        "<text x=\"{4:.1f}\" y=\"{5:.1f}\">{6}</text>\n",
        entries[k].first, ex, y, ex + 20, ex + 25, y + 4, entries[k].second);
  }
  out += fmt::format(
      "<circle class=\"accepted\" cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"6\"/>"
      "<text x=\"{2:.1f}\" y=\"{3:.1f}\">accepted</text>\n"
      "<path class=\"rejected\" d=\"M{4:.1f},{5:.1f} l8,8 m0,-8 l-8,8\"/>"
      "<text x=\"{6:.1f}\" y=\"{3:.1f}\">reverted proposal</text>\n",
      x + 210, y, x + 220, y + 4, x + 296, y - 4, x + 310);
  return out;
}

std::string html_plot(const std::vector<StepRecord>& steps) {
  PlotGeometry g;
  fit_y_axis(g, steps);
  return fmt::format(
      "<svg class=\"plot\" width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" "
      "role=\"img\" aria-label=\"Validation and test accuracy per step\">\n{2}{3}{4}{5}{6}</svg>\n",
      g.width, g.height, svg_axes(g, steps), svg_series(g, steps, &StepRecord::val_accuracy, "val"),
      svg_series(g, steps, &StepRecord::test_accuracy, "test"), svg_decisions(g, steps),
      svg_legend(g));
}

std::string html_meta(const RunSummary& s) {
  std::string out = "<dl class=\"meta\">\n";
  auto item = [&](std::string_view name, const std::string& value) {
    out += fmt::format("<dt>{}</dt><dd>{}</dd>\n", name, html_escape(or_dash(value)));
  };
  item("Task", s.task);
  item("Engine", s.engine);
  item("Backward engine", s.backward_engine);
  item("Started", s.started_at);
  item("Wall time", format_duration(s.wall_seconds));
  return out + "</dl>\n";
}

std::string html_steps(const RunSummary& summary) {
  const std::vector<StepRecord>& steps = summary.steps;
  if (steps.empty()) return "<p>No steps were recorded.</p>\n";
  std::string out =
      "<table class=\"steps\">\n<tr><th>Step</th><th>Epoch</th><th>Validation accuracy</th>"
      "<th>Test accuracy</th><th>Reverted</th><th>Note</th><th>Calls</th><th>Tokens</th>"
      "<th>Cost</th></tr>\n";
  for (const StepRecord& s : steps) {
    const PhaseCost* cost = step_cost(summary, s.step);
    out += fmt::format(
        "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
        s.reverted ? " class=\"reverted\"" : "", s.step, s.epoch, percent(s.val_accuracy),
        percent(s.test_accuracy), s.reverted ? "yes" : "no", html_escape(s.note),
        cost ? cost->calls : 0, cost ? cost->input_tokens + cost->output_tokens : 0,
        cost ? cost_of(*cost) : dollars(0));
  }
  return out + "</table>\n";
}

std::string html_items(const std::vector<ItemRecord>& items) {
  std::string out =
      "<table class=\"items\">\n<tr><th>Id</th><th>Prediction</th><th>Target</th><th>Score</th>"
      "<th>Feedback</th></tr>\n";
  for (const ItemRecord& item : items) {
    out += fmt::format(
        "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>"
        "<td>{}</td><td class=\"text\">{}</td></tr>\n",
        html_escape(item.id), html_escape(short_text(item.prediction, 200)),
        html_escape(item.target), item.score ? std::to_string(*item.score) : "–",
        html_escape(short_text(item.feedback, 300)));
  }
  return out + "</table>\n";
}

std::string html_step_details(const RunSummary& summary) {
  std::string out;
  const std::vector<StepRecord>& steps = summary.steps;
  for (size_t k = 1; k < steps.size(); ++k) {
    const StepRecord& step = steps[k];
    if (step.parameters.empty()) continue;
    const ParameterRecord& p = step.parameters.front();
    const std::string& before = steps[k - 1].prompt;
    out += fmt::format(
        "<section class=\"step {0}\">\n<h3>Step {1}: <span class=\"decision\">{0}</span></h3>\n"
        "<p>Gate ({2}): {3} before, {4} with the proposal.{5}</p>\n",
        html_escape(or_dash(p.gate.decision)), step.step, html_escape(p.gate.name),
        percent(p.gate.before), percent(p.gate.after),
        p.reason.empty() ? std::string() : " Optimizer: " + html_escape(p.reason));
    if (p.gate.decision == "reverted") {
      out +=
          fmt::format("<p>Rejected proposal (validation {}), the previous prompt was kept:</p>\n",
                      percent(p.gate.after));
    }
    out += fmt::format("<pre class=\"diff\">{}</pre>\n",
                       word_diff_html(before, p.proposed.empty() ? before : p.proposed));
    out += fmt::format("<h4>Feedback that produced it</h4>\n<pre class=\"feedback\">{}</pre>\n",
                       html_escape(p.feedback));
    out += fmt::format(
        "<details><summary>Optimizer answer and training batch</summary>\n<pre>{}</pre>\n{}"
        "</details>\n</section>\n",
        html_escape(p.update_answer), html_items(step.items));
  }
  return out;
}

std::string html_failing(const RunSummary& summary) {
  if (summary.failing.empty()) return "<p>No test example fails at the end.</p>\n";
  std::string out =
      "<table class=\"failing\">\n<tr><th>Id</th><th>Input</th><th>Prediction</th>"
      "<th>Target</th></tr>\n";
  for (const ItemRecord& item : summary.failing) {
    out += fmt::format(
        "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td>"
        "<td class=\"text\">{}</td></tr>\n",
        html_escape(item.id), html_escape(short_text(item.input, 300)),
        html_escape(short_text(item.prediction, 300)), html_escape(item.target));
  }
  return out + "</table>\n";
}

std::string html_phase_row(const PhaseCost& p, bool total) {
  return fmt::format(
      "<tr{}><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
      "<td>{}</td></tr>\n",
      total ? " class=\"total\"" : "", html_escape(p.phase), p.calls, p.cache_hits, p.input_tokens,
      p.output_tokens, cost_of(p), mean_latency(p));
}

std::string html_phases(const std::vector<PhaseCost>& phases) {
  std::string out =
      "<table class=\"phases\">\n<tr><th>Phase</th><th>Calls</th><th>Cache hits</th>"
      "<th>Input tokens</th><th>Output tokens</th><th>Cost (USD)</th>"
      "<th>Mean latency (ms)</th></tr>\n";
  for (const PhaseCost& p : phases) out += html_phase_row(p, false);
  out += html_phase_row(total_cost(phases), true);
  return out + "</table>\n";
}

// ---------------------------------------------------------------------------------------------
// A gepa run's search: the candidate tree, the Pareto front, the best candidate and its diff

std::string candidate_label(const SearchCandidate& c) {
  std::string label = fmt::format("#{}: validation {}", c.index, percent(c.val_accuracy));
  label += c.proposal < 0 ? ", the starting prompt" : fmt::format(", proposal {}", c.proposal);
  if (c.parents.size() > 1) {
    label += fmt::format(", merge of #{} and #{}", c.parents[0], c.parents[1]);
  }
  if (c.fronts > 0) label += fmt::format(", on the Pareto front ({} items)", c.fronts);
  return label;
}

// A merge sits under its first parent, so the pool reads as a tree from the starting prompt.
std::vector<std::size_t> children_of(const SearchSummary& s, std::size_t node) {
  std::vector<std::size_t> children;
  for (const SearchCandidate& c : s.pool) {
    if (!c.parents.empty() && c.parents[0] == node && c.index != node) children.push_back(c.index);
  }
  return children;
}

void md_tree(const SearchSummary& s, std::size_t node, std::size_t depth, std::string& out) {
  out +=
      fmt::format("{}- {}\n", std::string(2 * depth, ' '), md_cell(candidate_label(s.pool[node])));
  for (std::size_t child : children_of(s, node)) md_tree(s, child, depth + 1, out);
}

std::string html_tree(const SearchSummary& s, std::size_t node) {
  std::string out = fmt::format("<li{}>{}", node == s.best ? " class=\"best\"" : "",
                                html_escape(candidate_label(s.pool[node])));
  const std::vector<std::size_t> children = children_of(s, node);
  if (!children.empty()) {
    out += "\n<ul>\n";
    for (std::size_t child : children) out += html_tree(s, child);
    out += "</ul>\n";
  }
  return out + "</li>\n";
}

std::string parents_text(const std::vector<std::size_t>& parents) {
  std::string out;
  for (std::size_t p : parents) out += (out.empty() ? "#" : ", #") + std::to_string(p);
  return out.empty() ? "–" : out;
}

std::string score_text(const std::optional<double>& score) {
  return score ? fmt::format("{}", *score) : "–";
}

std::string md_search(const RunSummary& summary) {
  const SearchSummary& s = *summary.search;
  if (s.pool.empty()) return "";
  std::string out = fmt::format(
      "## Search\n\n{} proposals, {} metric calls, {} candidates; the best is #{}.\n\n"
      "### Candidate tree\n\n",
      s.proposals, s.metric_calls, s.pool.size(), s.best);
  md_tree(s, 0, 0, out);
  out +=
      "\n### Pareto front\n\n| Candidate | Validation | Items held | Parents |\n"
      "|---|---:|---:|---|\n";
  for (const SearchCandidate& c : s.pool) {
    if (c.fronts == 0) continue;
    out += fmt::format("| #{} | {} | {} | {} |\n", c.index, percent(c.val_accuracy), c.fronts,
                       parents_text(c.parents));
  }
  const SearchCandidate& best = s.pool[s.best];
  out +=
      fmt::format("\n### Best candidate: #{}\n\n{}\nAgainst the starting prompt:\n\n{}", best.index,
                  md_fenced(best.text), md_fenced(word_diff_markdown(s.pool[0].text, best.text)));
  if (s.archive.empty()) return out;
  out +=
      "\n### Proposals\n\n| # | Kind | Outcome | Parents | Child | Parent score | "
      "Child score | Metric calls |\n|---:|---|---|---|---|---:|---:|---:|\n";
  for (const SearchProposalRow& p : s.archive) {
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", p.index, p.kind, p.outcome,
                       parents_text(p.parents), p.child ? "#" + std::to_string(*p.child) : "–",
                       p.parent_score, score_text(p.child_score), p.metric_calls);
  }
  return out;
}

std::string html_search(const RunSummary& summary) {
  const SearchSummary& s = *summary.search;
  if (s.pool.empty()) return "";
  std::string out = fmt::format(
      "<h2>Search</h2>\n<p>{} proposals, {} metric calls, {} candidates; the best is #{}.</p>\n"
      "<h3>Candidate tree</h3>\n<ul class=\"tree\">\n",
      s.proposals, s.metric_calls, s.pool.size(), s.best);
  out += html_tree(s, 0);
  out +=
      "</ul>\n<h3>Pareto front</h3>\n<table class=\"front\">\n<tr><th>Candidate</th>"
      "<th>Validation</th><th>Items held</th><th>Parents</th></tr>\n";
  for (const SearchCandidate& c : s.pool) {
    if (c.fronts == 0) continue;
    out += fmt::format("<tr><td>#{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>\n",
                       c.index, percent(c.val_accuracy), c.fronts, parents_text(c.parents));
  }
  const SearchCandidate& best = s.pool[s.best];
  out += fmt::format(
      "</table>\n<h3>Best candidate: #{}</h3>\n<pre class=\"value\">{}</pre>\n"
      "<p>Against the starting prompt:</p>\n<pre class=\"diff\">{}</pre>\n",
      best.index, html_escape(best.text), word_diff_html(s.pool[0].text, best.text));
  if (s.archive.empty()) return out;
  out +=
      "<details><summary>Every proposal</summary>\n<table class=\"proposals\">\n<tr><th>#</th>"
      "<th>Kind</th><th>Outcome</th><th>Parents</th><th>Child</th><th>Parent score</th>"
      "<th>Child score</th><th>Metric calls</th></tr>\n";
  for (const SearchProposalRow& p : s.archive) {
    out += fmt::format(
        "<tr><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}"
        "</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        p.index, p.kind, p.outcome, parents_text(p.parents),
        p.child ? "#" + std::to_string(*p.child) : "–", p.parent_score, score_text(p.child_score),
        p.metric_calls);
  }
  return out + "</table>\n</details>\n";
}

// Per-endpoint usage of a pool (--endpoint); empty without one.
std::string endpoints_section(const std::vector<EndpointUsage>& endpoints, bool html) {
  if (endpoints.empty()) return {};
  const char* const kHeader[] = {"Endpoint",     "Requests",      "Failed",    "Taken out",
                                 "Input tokens", "Output tokens", "Cost (USD)"};
  std::string out =
      html ? "<h2>Endpoints</h2>\n<table class=\"phases\">\n<tr>" : "## Endpoints\n\n|";
  for (const char* title : kHeader)
    out += html ? fmt::format("<th>{}</th>", title) : fmt::format(" {} |", title);
  out += html ? "</tr>\n" : "\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const EndpointUsage& e : endpoints) {
    const std::string cost = e.priced ? dollars(e.cost_usd) : std::string("unpriced");
    out += html ? fmt::format(
                      "<tr><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td>"
                      "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
                      html_escape(e.url), e.requests, e.failed, e.ejections, e.usage.input_tokens,
                      e.usage.output_tokens, cost)
                : fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", md_cell(e.url), e.requests,
                              e.failed, e.ejections, e.usage.input_tokens, e.usage.output_tokens,
                              cost);
  }
  return html ? out + "</table>\n" : out;
}

}  // namespace

std::string word_diff_markdown(const std::string& before, const std::string& after) {
  return render_diff(before, after, {"[-", "-]", "{+", "+}", &verbatim});
}

std::string word_diff_html(const std::string& before, const std::string& after) {
  return render_diff(before, after, {"<del>", "</del>", "<ins>", "</ins>", &html_escape});
}

std::string escape_html(std::string_view text) { return html_escape(text); }

std::string render_markdown(const RunSummary& s) {
  const std::string name = md_cell(variable_name_of(s));
  std::string out = fmt::format("# {}\n\n", md_cell(title_of(s)));
  out += fmt::format("- Task: {}\n", md_cell(or_dash(s.task)));
  out += fmt::format("- Engine: {}\n", md_cell(or_dash(s.engine)));
  out += fmt::format("- Backward engine: {}\n", md_cell(or_dash(s.backward_engine)));
  out += fmt::format("- Started: {}\n", md_cell(or_dash(s.started_at)));
  out += fmt::format("- Wall time: {}\n\n", format_duration(s.wall_seconds));
  if (!s.label.empty()) out += fmt::format("> **{}**\n\n", md_cell(s.label));
  if (s.stopped_by_budget) out += fmt::format("> **Note:** {}\n\n", kBudgetNote);
  if (s.interrupted) out += fmt::format("> **Note:** {}\n\n", kInterruptedNote);

  out += "## Steps\n\n" + md_steps(s) + "\n";
  out += "## Test accuracy\n\n";
  out += fmt::format("- Initial: {}\n", percent(first_test_accuracy(s.steps)));
  out += fmt::format("- Final: {}\n", percent(last_test_accuracy(s.steps)));
  out += fmt::format("- Change: {}\n\n", accuracy_change(s.steps));

  out += fmt::format("## Final {}\n\n{}\n", name, md_fenced(s.final_value));
  const std::string diff = word_diff_markdown(s.initial_value, s.final_value);
  out += fmt::format(
      "## Changes to the {}\n\nRemoved words as [-...-], added words as {{+...+}}."
      "\n\n{}\n",
      name, md_fenced(diff));
  out += "## Cost by phase\n\n" + md_phases(s.phases);
  if (!s.endpoints.empty()) out += "\n" + endpoints_section(s.endpoints, /*html=*/false);
  const std::string details = md_step_details(s);
  if (!details.empty()) out += "\n## Why the prompt changed\n\n" + details;
  if (s.search) out += "\n" + md_search(s);
  out += "\n## Test examples that still fail\n\n" + md_failing(s);
  return out;
}

std::string render_html(const RunSummary& s) {
  const std::string title = html_escape(title_of(s));
  const std::string name = html_escape(variable_name_of(s));
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{0}</title>\n<style>{1}</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      title, kStyle);
  out += html_meta(s);
  if (!s.label.empty()) out += fmt::format("<p class=\"label\">{}</p>\n", html_escape(s.label));
  if (s.stopped_by_budget) out += fmt::format("<p class=\"budget\">{}</p>\n", kBudgetNote);
  if (s.interrupted) out += fmt::format("<p class=\"budget\">{}</p>\n", kInterruptedNote);

  out += "<h2>Accuracy per step</h2>\n" + html_plot(s.steps);
  out += "<h2>Steps</h2>\n" + html_steps(s);
  out += fmt::format(
      "<h2>Test accuracy</h2>\n<dl class=\"meta\">\n<dt>Initial</dt><dd>{}</dd>\n"
      "<dt>Final</dt><dd>{}</dd>\n<dt>Change</dt><dd>{}</dd>\n</dl>\n",
      percent(first_test_accuracy(s.steps)), percent(last_test_accuracy(s.steps)),
      accuracy_change(s.steps));
  out += fmt::format("<h2>Final {}</h2>\n<pre class=\"value\">{}</pre>\n", name,
                     html_escape(s.final_value));
  out += fmt::format("<h2>Changes to the {}</h2>\n<pre class=\"diff\">{}</pre>\n", name,
                     word_diff_html(s.initial_value, s.final_value));
  out += "<h2>Cost by phase</h2>\n" + html_phases(s.phases);
  out += endpoints_section(s.endpoints, /*html=*/true);
  const std::string details = html_step_details(s);
  if (!details.empty()) out += "<h2>Why the prompt changed</h2>\n" + details;
  if (s.search) out += html_search(s);
  out += "<h2>Test examples that still fail</h2>\n" + html_failing(s);
  return out + "</body>\n</html>\n";
}

}  // namespace tg::cli
