// The end-of-run report: report.md and a self-contained report.html.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint_usage.h"
#include "run_records.h"
#include "textgrad/usage.h"

namespace tg::cli {

// Calls, tokens, dollars and time of one phase (forward, loss, backward, reduce, update,
// evaluation).
struct PhaseCost {
  std::string phase;
  std::int64_t calls = 0;
  std::int64_t cache_hits = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;            // summed over calls
  std::int64_t unpriced_calls = 0;  // billed calls whose model has no price
};

// A gepa run's search, from search_state.json and proposals/ (search_run.h).
struct SearchCandidate {
  std::size_t index = 0;
  std::vector<std::size_t> parents;  // empty for the starting prompt, two for a merge
  double val_accuracy = 0;
  int proposal = -1;  // the proposal that created it (-1: the starting prompt)
  int fronts = 0;     // validation items it holds on the Pareto front (0: dominated)
  std::string text;   // the prompt ("name: text" blocks when there are several parameters)
};

struct SearchProposalRow {
  int index = 0;
  std::string kind;     // mutation | merge
  std::string outcome;  // accepted | rejected | skipped | unchanged | out-of-budget
  std::vector<std::size_t> parents;
  std::optional<std::size_t> child;   // the pool index, when accepted
  double parent_score = 0;            // sums over the proposal's items
  std::optional<double> child_score;  // unset when the child was not evaluated
  std::int64_t metric_calls = 0;
};

struct SearchSummary {
  int proposals = 0;
  std::int64_t metric_calls = 0;
  std::vector<SearchCandidate> pool;  // in pool order, parents before children
  std::size_t best = 0;               // highest validation accuracy, the oldest on ties
  std::vector<SearchProposalRow> archive;
};

struct RunSummary {
  std::string title;  // e.g. "Prompt optimization: object_counting"
  std::string task;
  std::string engine;
  std::string backward_engine;
  std::string variable_name = "prompt";  // what was optimized: "prompt", "solution", ...
  std::string initial_value;
  std::string final_value;
  std::vector<StepRecord> steps;
  std::vector<PhaseCost> phases;
  double wall_seconds = 0;
  bool stopped_by_budget = false;
  bool interrupted = false;
  std::string started_at;  // ISO 8601
  std::string label;       // e.g. "offline demonstration (mock model)"; shown prominently
  Totals totals;           // every call of every session
  std::map<int, PhaseCost> step_costs;   // calls, tokens and dollars by step
  std::vector<ItemRecord> failing;       // test items still wrong at the end
  std::vector<EndpointUsage> endpoints;  // the forward engine's pool (--endpoint), if any
  int sessions = 1;
  std::optional<SearchSummary> search;  // gepa runs
  std::string outcome;  // of the last session: "finished", "budget", "interrupted"; "" if none
};

std::string render_markdown(const RunSummary& summary);
// One HTML file with inline CSS and an inline SVG plot; no scripts, no external resources.
std::string render_html(const RunSummary& summary);

// A word-level diff of two texts: unchanged words as they are, removed words as [-...-] and
// added words as {+...+} (the markdown form); the HTML form uses <del>/<ins>.
std::string word_diff_markdown(const std::string& before, const std::string& after);
std::string word_diff_html(const std::string& before, const std::string& after);

// Text made safe for HTML element content and attribute values.
std::string escape_html(std::string_view text);

}  // namespace tg::cli
