#include "compare_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>

#include <fmt/format.h>

#include "textgrad/gate.h"

namespace tg::cli {
namespace {

using nlohmann::json;

// The run's final prompt's per-item test scores: those of the last step that has them.
const std::vector<int>* final_test_scores(const RunSummary& s) {
  for (auto it = s.steps.rbegin(); it != s.steps.rend(); ++it) {
    if (!it->test_scores.empty()) return &it->test_scores;
  }
  return nullptr;
}

std::optional<double> last_of(const std::vector<StepRecord>& steps,
                              std::optional<double> StepRecord::*field) {
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if ((*it).*field) return (*it).*field;
  }
  return std::nullopt;
}

std::optional<double> best_test_of(const std::vector<StepRecord>& steps) {
  std::optional<double> best;
  for (const StepRecord& s : steps) {
    if (s.test_accuracy && (!best || *s.test_accuracy > *best)) best = s.test_accuracy;
  }
  return best;
}

struct RunFigures {
  std::optional<double> final_test, best_test, final_val;
  double calls, billed_calls, tokens, cost_usd, wall_seconds;
};

RunFigures figures_of(const RunSummary& s) {
  const Totals& t = s.totals;
  return {last_of(s.steps, &StepRecord::test_accuracy),
          best_test_of(s.steps),
          last_of(s.steps, &StepRecord::val_accuracy),
          static_cast<double>(t.calls),
          static_cast<double>(t.calls - t.cache_hits),
          static_cast<double>(t.usage.input_tokens + t.usage.output_tokens),
          t.cost_usd,
          s.wall_seconds};
}

std::vector<CurvePoint> curve_of(const std::vector<const CompareRun*>& runs) {
  std::map<int, std::pair<std::vector<double>, std::vector<double>>> by_step;
  for (const CompareRun* run : runs) {
    for (const StepRecord& s : run->summary.steps) {
      auto& [val, test] = by_step[s.step];
      if (s.val_accuracy) val.push_back(*s.val_accuracy);
      if (s.test_accuracy) test.push_back(*s.test_accuracy);
    }
  }
  std::vector<CurvePoint> curve;
  for (const auto& [step, values] : by_step) {
    curve.push_back({step, spread_of(values.first), spread_of(values.second)});
  }
  return curve;
}

OptimizerResult result_of(const std::string& optimizer, const std::vector<CompareRun>& all) {
  OptimizerResult r;
  r.optimizer = optimizer;
  std::vector<const CompareRun*> runs;
  std::vector<double> final_test, best_test, final_val, calls, billed, tokens, cost, wall;
  for (const CompareRun& run : all) {
    if (run.optimizer != optimizer) continue;
    runs.push_back(&run);
    r.finished += run.summary.outcome == "finished";
    const RunFigures f = figures_of(run.summary);
    if (f.final_test) final_test.push_back(*f.final_test);
    if (f.best_test) best_test.push_back(*f.best_test);
    if (f.final_val) final_val.push_back(*f.final_val);
    calls.push_back(f.calls);
    billed.push_back(f.billed_calls);
    tokens.push_back(f.tokens);
    cost.push_back(f.cost_usd);
    wall.push_back(f.wall_seconds);
  }
  r.runs = runs.size();
  r.final_test = spread_of(final_test);
  r.best_test = spread_of(best_test);
  r.final_val = spread_of(final_val);
  r.calls = spread_of(calls);
  r.billed_calls = spread_of(billed);
  r.tokens = spread_of(tokens);
  r.cost_usd = spread_of(cost);
  r.wall_seconds = spread_of(wall);
  r.curve = curve_of(runs);
  return r;
}

const CompareRun* find_run(const std::vector<CompareRun>& runs, const std::string& optimizer,
                           int seed) {
  for (const CompareRun& run : runs) {
    if (run.optimizer == optimizer && run.seed == seed) return &run;
  }
  return nullptr;
}

// See Note [Paired test of final prompts].
PairedTest paired_test(const std::string& a, const std::string& b,
                       const std::vector<CompareRun>& runs, int seeds) {
  PairedTest t;
  t.a = a;
  t.b = b;
  for (int seed = 1; seed <= seeds; ++seed) {
    const CompareRun* x = find_run(runs, a, seed);
    const CompareRun* y = find_run(runs, b, seed);
    const std::vector<int>* xs = x ? final_test_scores(x->summary) : nullptr;
    const std::vector<int>* ys = y ? final_test_scores(y->summary) : nullptr;
    if (!xs || !ys || xs->size() != ys->size()) continue;
    for (std::size_t i = 0; i < xs->size(); ++i) {
      t.a_only += (*xs)[i] > 0 && (*ys)[i] <= 0;
      t.b_only += (*ys)[i] > 0 && (*xs)[i] <= 0;
    }
    t.pairs += xs->size();
  }
  t.p_value = mcnemar_p_value(t.a_only, t.b_only);
  return t;
}

// Holm's step-down adjustment: the k-th smallest of m p-values is multiplied by m - k, and the
// adjusted values are made non-decreasing in that order.
void holm_adjust(std::vector<PairedTest>& tests, double alpha) {
  std::vector<std::size_t> order(tests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    return tests[x].p_value < tests[y].p_value;
  });
  double running = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    PairedTest& t = tests[order[k]];
    running = std::max(running, std::min(1.0, t.p_value * static_cast<double>(order.size() - k)));
    t.adjusted = running;
    t.significant = t.adjusted <= alpha;
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting

std::string percent(const std::optional<double>& value) {
  return value ? fmt::format("{:.1f}%", *value * 100) : std::string("–");
}

// "72.0% ± 3.1" (percentage points), or the one value for a single run.
std::string percent_spread(const Spread& s) {
  if (!s.mean) return "–";
  if (s.n < 2) return percent(s.mean);
  return fmt::format("{:.1f}% ± {:.1f}", *s.mean * 100, s.sd * 100);
}

std::string number(const Spread& s) {
  return s.mean ? fmt::format("{:.0f}", *s.mean) : std::string("–");
}

std::string dollars(const Spread& s) {
  return s.mean ? fmt::format("${:.4f}", *s.mean) : std::string("–");
}

std::string seconds(const Spread& s) {
  return s.mean ? fmt::format("{:.1f} s", *s.mean) : std::string("–");
}

std::string p_text(double p) { return p < 0.0001 ? "< 0.0001" : fmt::format("{:.4f}", p); }

// "72.0% [70.0–74.0]" of one curve point: mean and the range over seeds.
std::string point_text(const Spread& s) {
  if (!s.mean) return "–";
  if (s.n < 2) return percent(s.mean);
  return fmt::format("{:.1f}% [{:.1f}–{:.1f}]", *s.mean * 100, s.min * 100, s.max * 100);
}

std::string run_outcome(const RunSummary& s) {
  return s.outcome.empty() ? "unfinished" : s.outcome;
}

std::string escape(std::string_view text) { return escape_html(text); }

std::string method_text(const Comparison& c) {
  return fmt::format(
      "Each pair of optimizers is compared on the per-item test scores of their final prompts, "
      "paired by seed and test item. Exact two-sided McNemar test (a binomial test on the "
      "discordant pairs), p-values adjusted for the {} comparisons by Holm's method; significant "
      "when the adjusted p-value is at most {}. Seeds are pooled: an item counts once per seed.",
      c.tests.size(), c.alpha);
}

const char* kMeaning =
    "Final test: the test accuracy of the last recorded step (for gepa, the best validation "
    "candidate). Best test: the best test accuracy over a run's steps. Mean ± sample standard "
    "deviation over seeds. Calls include cache hits (the work done, whatever the run order); "
    "billed calls, tokens and dollars exclude them, so runs later in the order pay less for the "
    "calls they share with earlier ones (every step-0 evaluation, for one). Per run.";

// ---------------------------------------------------------------------------------------------
// Markdown

std::string md_optimizers(const Comparison& c) {
  std::string out =
      "| Optimizer | Runs | Final test | Best test | Final validation | Calls | Billed calls | "
      "Tokens | Cost | Wall time |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const OptimizerResult& r : c.optimizers) {
    out +=
        fmt::format("| {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.optimizer,
                    r.finished, c.seeds, percent_spread(r.final_test), percent_spread(r.best_test),
                    percent_spread(r.final_val), number(r.calls), number(r.billed_calls),
                    number(r.tokens), dollars(r.cost_usd), seconds(r.wall_seconds));
  }
  return out;
}

std::string md_curves(const Comparison& c) {
  std::string out = "| Step |";
  std::string rule = "|---:|";
  for (const OptimizerResult& r : c.optimizers) {
    out += fmt::format(" {0} validation | {0} test |", r.optimizer);
    rule += "---:|---:|";
  }
  out += "\n" + rule + "\n";
  std::map<int, std::vector<std::string>> rows;
  for (std::size_t k = 0; k < c.optimizers.size(); ++k) {
    for (const CurvePoint& p : c.optimizers[k].curve) {
      auto& row = rows[p.step];
      row.resize(2 * c.optimizers.size(), "–");
      row[2 * k] = point_text(p.val);
      row[2 * k + 1] = point_text(p.test);
    }
  }
  for (const auto& [step, cells] : rows) {
    out += fmt::format("| {} |", step);
    for (const std::string& cell : cells) out += " " + cell + " |";
    out += "\n";
  }
  return out;
}

std::string md_tests(const Comparison& c) {
  if (c.tests.empty()) return "One optimizer: nothing to compare.\n";
  std::string out = method_text(c) +
                    "\n\n| A | B | A right, B wrong | B right, A wrong | Pairs | p | Holm p | "
                    "Significant |\n|---|---|---:|---:|---:|---:|---:|---|\n";
  for (const PairedTest& t : c.tests) {
    out += fmt::format(
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n", t.a, t.b, t.a_only, t.b_only, t.pairs,
        p_text(t.p_value), p_text(t.adjusted),
        t.significant ? (t.a_only > t.b_only ? "yes, A better" : "yes, B better") : "no");
  }
  return out;
}

std::string md_runs(const Comparison& c) {
  std::string out =
      "| Run | Outcome | Steps | Final test | Best test | Calls | Billed calls | Tokens | Cost | "
      "Wall time |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const CompareRun& run : c.runs) {
    const RunFigures f = figures_of(run.summary);
    out += fmt::format(
        "| {} | {} | {} | {} | {} | {:.0f} | {:.0f} | {:.0f} | ${:.4f} | {:.1f} s |\n", run.name,
        run_outcome(run.summary), run.summary.steps.empty() ? 0 : run.summary.steps.back().step,
        percent(f.final_test), percent(f.best_test), f.calls, f.billed_calls, f.tokens, f.cost_usd,
        f.wall_seconds);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// HTML

constexpr std::string_view kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto;
       max-width: 64rem; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; } td { white-space: nowrap; } td.text { text-align: left; }
tr.significant td { background: #eef7ee; }
p.note { color: #555; font-size: 0.9rem; }
svg text { font-size: 11px; fill: #444; } svg .grid { stroke: #e4e4e4; } svg .axis { stroke: #888; }
)";

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};

const char* color_of(std::size_t k) { return kColors[k % std::size(kColors)]; }

// A plot of accuracy (0-100%) against `x_label` from x_low to x_high, ticks at x_ticks.
struct Chart {
  double width = 720, height = 300, left = 52, right = 130, top = 20, bottom = 40;
  double x_low = 0, x_high = 1;
  std::vector<double> x_ticks;
  std::string x_label;
  double plot_width() const { return width - left - right; }
  double plot_height() const { return height - top - bottom; }
  double x(double value) const {
    return left + plot_width() * (value - x_low) / std::max(1e-9, x_high - x_low);
  }
  double y(double accuracy) const {
    return top + plot_height() * (1 - std::clamp(accuracy, 0.0, 1.0));
  }
};

// Steps first..last, at most about 20 labelled.
Chart step_chart(int first, int last) {
  Chart g;
  g.x_low = first;
  g.x_high = std::max(last, first + 1);
  const int stride = std::max(1, (last - first + 19) / 20);
  for (int step = first; step <= g.x_high; step += stride) g.x_ticks.push_back(step);
  g.x_label = "step";
  return g;
}

// 0..a round number at or above `most`, in 1, 2 or 5 times a power of ten per tick.
Chart count_chart(double most, std::string label) {
  Chart g;
  const double rough = std::max(1.0, most) / 5;
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  const double tick = power * (rough <= power       ? 1
                               : rough <= 2 * power ? 2
                               : rough <= 5 * power ? 5
                                                    : 10);
  g.x_high = tick * std::ceil(std::max(1.0, most) / tick);
  for (double t = 0; t <= g.x_high + tick / 2; t += tick) g.x_ticks.push_back(t);
  g.x_label = std::move(label);
  return g;
}

std::string svg_frame(const Chart& g) {
  std::string out;
  for (int tick = 0; tick <= 10; ++tick) {
    const double y = g.y(tick / 10.0);
    out += fmt::format(
        "<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}%</text>\n",
        g.left, y, g.left + g.plot_width(), y, g.left - 6, y + 4, tick * 10);
  }
  const double base = g.top + g.plot_height();
  out += fmt::format(
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>"
      "<line class=\"axis\" x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{3:.1f}\" y2=\"{2:.1f}\"/>\n",
      g.left, g.top, base, g.left + g.plot_width());
  for (double tick : g.x_ticks) {
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:g}</text>\n",
                       g.x(tick), base + 16, tick);
  }
  out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n",
                     g.left + g.plot_width() / 2, g.height - 6, g.x_label);
  return out;
}

// One optimizer: the range over seeds as a shaded band, the mean as a line with markers.
std::string svg_curve(const Chart& g, const OptimizerResult& r, Spread CurvePoint::*which,
                      const char* color) {
  std::string line, upper, lower, markers;
  for (const CurvePoint& p : r.curve) {
    const Spread& s = p.*which;
    if (!s.mean) continue;
    const double x = g.x(p.step);
    line += fmt::format("{:.1f},{:.1f} ", x, g.y(*s.mean));
    upper += fmt::format("{:.1f},{:.1f} ", x, g.y(s.max));
    lower = fmt::format("{:.1f},{:.1f} ", x, g.y(s.min)) + lower;
    markers += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{} step {}: {}</title>"
        "</circle>\n",
        x, g.y(*s.mean), color, escape(r.optimizer), p.step, point_text(s));
  }
  if (line.empty()) return "";
  return fmt::format(
      "<polygon points=\"{}{}\" fill=\"{}\" fill-opacity=\"0.15\" stroke=\"none\"/>\n"
      "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n{}",
      upper, lower, color, line, color, markers);
}

std::string svg_legend(const Chart& g, const Comparison& c) {
  std::string out;
  for (std::size_t k = 0; k < c.optimizers.size(); ++k) {
    const double x = g.width - g.right + 14;
    const double y = g.top + 10 + 18 * static_cast<double>(k);
    out += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"2\"/><text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        x, y, x + 20, y, color_of(k), x + 26, y + 4, escape(c.optimizers[k].optimizer));
  }
  return out;
}

std::string svg_chart(const Comparison& c, Spread CurvePoint::*which, std::string_view label) {
  int first = 0, last = 0;
  bool any = false;
  for (const OptimizerResult& r : c.optimizers) {
    for (const CurvePoint& p : r.curve) {
      first = any ? std::min(first, p.step) : p.step;
      last = any ? std::max(last, p.step) : p.step;
      any = true;
    }
  }
  const Chart g = step_chart(first, last);
  std::string body = svg_frame(g);
  for (std::size_t k = 0; k < c.optimizers.size(); ++k) {
    body += svg_curve(g, c.optimizers[k], which, color_of(k));
  }
  return fmt::format(
      "<svg width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" role=\"img\" "
      "aria-label=\"{2} accuracy per step: mean and range over seeds\">\n{3}{4}</svg>\n",
      g.width, g.height, label, body, svg_legend(g, c));
}

// Every run's final test accuracy against the calls it made (cache hits included): what each
// optimizer got for the work it did.
std::string svg_cost_chart(const Comparison& c) {
  double most = 0;
  for (const CompareRun& run : c.runs) most = std::max(most, figures_of(run.summary).calls);
  const Chart g = count_chart(most, "LLM calls of the run (cache hits included)");
  std::string body = svg_frame(g);
  for (const CompareRun& run : c.runs) {
    const RunFigures f = figures_of(run.summary);
    if (!f.final_test) continue;
    const auto k = static_cast<std::size_t>(
        std::find_if(c.optimizers.begin(), c.optimizers.end(),
                     [&](const OptimizerResult& r) { return r.optimizer == run.optimizer; }) -
        c.optimizers.begin());
    body += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\" fill-opacity=\"0.8\"><title>{}: "
        "{:.0f} calls, final test {}</title></circle>\n",
        g.x(f.calls), g.y(*f.final_test), color_of(k), escape(run.name), f.calls,
        percent(f.final_test));
  }
  return fmt::format(
      "<svg width=\"{0:.0f}\" height=\"{1:.0f}\" viewBox=\"0 0 {0:.0f} {1:.0f}\" role=\"img\" "
      "aria-label=\"Final test accuracy of each run against its calls\">\n{2}{3}</svg>\n",
      g.width, g.height, body, svg_legend(g, c));
}

std::string html_optimizers(const Comparison& c) {
  std::string out =
      "<table class=\"optimizers\">\n<tr><th>Optimizer</th><th>Runs</th><th>Final test</th>"
      "<th>Best test</th><th>Final validation</th><th>Calls</th><th>Billed calls</th>"
      "<th>Tokens</th><th>Cost</th><th>Wall time</th></tr>\n";
  for (const OptimizerResult& r : c.optimizers) {
    out += fmt::format(
        "<tr><td class=\"text\">{}</td><td>{}/{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        escape(r.optimizer), r.finished, c.seeds, percent_spread(r.final_test),
        percent_spread(r.best_test), percent_spread(r.final_val), number(r.calls),
        number(r.billed_calls), number(r.tokens), dollars(r.cost_usd), seconds(r.wall_seconds));
  }
  return out + "</table>\n";
}

std::string html_tests(const Comparison& c) {
  if (c.tests.empty()) return "<p>One optimizer: nothing to compare.</p>\n";
  std::string out = fmt::format(
      "<p class=\"method\">{}</p>\n<table class=\"tests\">\n<tr><th>A</th><th>B</th>"
      "<th>A right, B wrong</th><th>B right, A wrong</th><th>Pairs</th><th>p</th><th>Holm p</th>"
      "<th>Significant</th></tr>\n",
      escape(method_text(c)));
  for (const PairedTest& t : c.tests) {
    out += fmt::format(
        "<tr{}><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>\n",
        t.significant ? " class=\"significant\"" : "", escape(t.a), escape(t.b), t.a_only, t.b_only,
        t.pairs, p_text(t.p_value), p_text(t.adjusted),
        t.significant ? (t.a_only > t.b_only ? "yes, A better" : "yes, B better") : "no");
  }
  return out + "</table>\n";
}

std::string html_runs(const Comparison& c) {
  std::string out =
      "<table class=\"runs\">\n<tr><th>Run</th><th>Outcome</th><th>Steps</th><th>Final test</th>"
      "<th>Best test</th><th>Calls</th><th>Billed calls</th><th>Tokens</th><th>Cost</th>"
      "<th>Wall time</th></tr>\n";
  for (const CompareRun& run : c.runs) {
    const RunFigures f = figures_of(run.summary);
    out += fmt::format(
        "<tr><td class=\"text\"><a href=\"{0}/report.html\">{0}</a></td><td class=\"text\">{1}"
        "</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5:.0f}</td><td>{6:.0f}</td><td>{7:.0f}"
        "</td><td>${8:.4f}</td><td>{9:.1f} s</td></tr>\n",
        escape(run.name), escape(run_outcome(run.summary)),
        run.summary.steps.empty() ? 0 : run.summary.steps.back().step, percent(f.final_test),
        percent(f.best_test), f.calls, f.billed_calls, f.tokens, f.cost_usd, f.wall_seconds);
  }
  return out + "</table>\n";
}

json spread_json(const Spread& s) {
  if (!s.mean) return nullptr;
  return {{"mean", *s.mean}, {"sd", s.sd}, {"min", s.min}, {"max", s.max}, {"n", s.n}};
}

std::string title_of(const Comparison& c) {
  return "Optimizer comparison: " + (c.task.empty() ? std::string("–") : c.task);
}

}  // namespace

Spread spread_of(const std::vector<double>& values) {
  Spread s;
  s.n = values.size();
  if (values.empty()) return s;
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  s.mean = mean;
  s.sd = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0;
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  return s;
}

double mcnemar_p_value(std::size_t a, std::size_t b) {
  if (a + b == 0) return 1;
  return std::min(1.0, 2 * sign_test_p_value(std::max(a, b), a + b));
}

Comparison compare_runs(std::vector<CompareRun> runs, const std::vector<std::string>& optimizers,
                        int seeds, double alpha) {
  Comparison c;
  c.seeds = seeds;
  c.alpha = alpha;
  if (!runs.empty()) {
    c.task = runs.front().summary.task;
    c.engine = runs.front().summary.engine;
  }
  for (const std::string& o : optimizers) c.optimizers.push_back(result_of(o, runs));
  for (std::size_t i = 0; i < optimizers.size(); ++i) {
    for (std::size_t j = i + 1; j < optimizers.size(); ++j) {
      c.tests.push_back(paired_test(optimizers[i], optimizers[j], runs, seeds));
    }
  }
  holm_adjust(c.tests, alpha);
  c.runs = std::move(runs);
  return c;
}

std::string render_compare_markdown(const Comparison& c) {
  std::string out = fmt::format("# {}\n\n- Engine: {}\n- Seeds: 1–{} per optimizer\n\n",
                                title_of(c), c.engine.empty() ? "–" : c.engine, c.seeds);
  out += "## Results per optimizer\n\n" + md_optimizers(c) + "\n" + kMeaning + "\n\n";
  out += "## Accuracy per step\n\nMean over seeds, [lowest–highest] when there are several.\n\n" +
         md_curves(c) + "\n";
  out += "## Significance on the test items\n\n" + md_tests(c) + "\n";
  out +=
      "## Runs\n\nEach is a run directory; `textgrad report` and `textgrad optimize --resume` "
      "work on it.\n\n" +
      md_runs(c);
  return out;
}

std::string render_compare_html(const Comparison& c) {
  const std::string title = escape(title_of(c));
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{0}</title>\n<style>{1}</style>\n</head>\n<body>\n<h1>{0}</h1>\n"
      "<p>Engine: {2}. Seeds 1–{3} per optimizer.</p>\n",
      title, kStyle, escape(c.engine.empty() ? "–" : c.engine), c.seeds);
  out += "<h2>Results per optimizer</h2>\n" + html_optimizers(c);
  out += fmt::format("<p class=\"note\">{}</p>\n", escape(kMeaning));
  out += "<h2>Validation accuracy per step</h2>\n" + svg_chart(c, &CurvePoint::val, "Validation") +
         "<h2>Test accuracy per step</h2>\n" + svg_chart(c, &CurvePoint::test, "Test") +
         "<p class=\"note\">Lines: the mean over seeds; bands: the lowest to the highest seed. A "
         "gepa run records its whole search as step 1.</p>\n" +
         "<h2>Final test accuracy against calls</h2>\n" + svg_cost_chart(c) +
         "<p class=\"note\">One point per run.</p>\n";
  out += "<h2>Significance on the test items</h2>\n" + html_tests(c);
  out += "<h2>Runs</h2>\n" + html_runs(c);
  return out + "</body>\n</html>\n";
}

std::string render_compare_json(const Comparison& c) {
  json optimizers = json::array();
  for (const OptimizerResult& r : c.optimizers) {
    json curve = json::array();
    for (const CurvePoint& p : r.curve) {
      curve.push_back(
          {{"step", p.step}, {"val", spread_json(p.val)}, {"test", spread_json(p.test)}});
    }
    optimizers.push_back({{"optimizer", r.optimizer},
                          {"runs", r.runs},
                          {"finished", r.finished},
                          {"final_test", spread_json(r.final_test)},
                          {"best_test", spread_json(r.best_test)},
                          {"final_val", spread_json(r.final_val)},
                          {"calls", spread_json(r.calls)},
                          {"billed_calls", spread_json(r.billed_calls)},
                          {"tokens", spread_json(r.tokens)},
                          {"cost_usd", spread_json(r.cost_usd)},
                          {"wall_seconds", spread_json(r.wall_seconds)},
                          {"curve", curve}});
  }
  json runs = json::array();
  for (const CompareRun& run : c.runs) {
    const RunFigures f = figures_of(run.summary);
    auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
    runs.push_back({{"run", run.name},
                    {"optimizer", run.optimizer},
                    {"seed", run.seed},
                    {"outcome", run_outcome(run.summary)},
                    {"final_test", opt(f.final_test)},
                    {"best_test", opt(f.best_test)},
                    {"final_val", opt(f.final_val)},
                    {"calls", f.calls},
                    {"billed_calls", f.billed_calls},
                    {"tokens", f.tokens},
                    {"cost_usd", f.cost_usd},
                    {"wall_seconds", f.wall_seconds}});
  }
  json tests = json::array();
  for (const PairedTest& t : c.tests) {
    tests.push_back({{"a", t.a},
                     {"b", t.b},
                     {"a_only", t.a_only},
                     {"b_only", t.b_only},
                     {"pairs", t.pairs},
                     {"p_value", t.p_value},
                     {"holm_p_value", t.adjusted},
                     {"significant", t.significant}});
  }
  return json({{"task", c.task},
               {"engine", c.engine},
               {"seeds", c.seeds},
               {"alpha", c.alpha},
               {"method", method_text(c)},
               {"optimizers", optimizers},
               {"runs", runs},
               {"tests", tests}})
             .dump(2) +
         "\n";
}

}  // namespace tg::cli
