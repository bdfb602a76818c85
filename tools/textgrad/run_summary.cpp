#include "run_summary.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "commands.h"
#include "events.h"
#include "textgrad/search.h"

namespace tg::cli {
namespace {

using nlohmann::json;

PhaseCost phase_cost(const std::string& name, const Totals& t) {
  return {name,       t.calls,      t.cache_hits,    t.usage.input_tokens, t.usage.output_tokens,
          t.cost_usd, t.latency_ms, t.unpriced_calls};
}

// The outcome of the last session: "finished", "budget" or "interrupted".
std::string last_outcome(const std::string& events) {
  std::string outcome;
  size_t at = 0;
  while ((at = events.find("\"type\":\"session\"", at)) != std::string::npos) {
    const size_t line_start =
        events.rfind('\n', at) == std::string::npos ? 0 : events.rfind('\n', at) + 1;
    const size_t line_end = events.find('\n', at);
    const json event =
        json::parse(events.substr(line_start, line_end - line_start), nullptr, false);
    if (event.is_object()) outcome = event.value("outcome", "");
    at = line_end == std::string::npos ? events.size() : line_end;
  }
  return outcome;
}

std::string candidate_text(const Candidate& candidate) {
  if (candidate.size() == 1) return candidate.begin()->second;
  std::string text;
  for (const auto& [name, value] : candidate) {
    text += (text.empty() ? "" : "\n\n") + name + ": " + value;
  }
  return text;
}

double sum_of(const json& scores) {
  double sum = 0;
  for (const json& s : scores) sum += s.get<double>();
  return sum;
}

std::vector<SearchProposalRow> load_archive(const RunDir& dir) {
  std::vector<SearchProposalRow> rows;
  const std::filesystem::path proposals = dir.path() / "proposals";
  if (!std::filesystem::is_directory(proposals)) return rows;
  std::vector<std::string> names;
  for (const auto& file : std::filesystem::directory_iterator(proposals)) {
    if (file.path().extension() == ".json") names.push_back(file.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const json p = json::parse(dir.read_file("proposals/" + name), nullptr, false);
    if (!p.is_object()) continue;
    SearchProposalRow row;
    row.index = p.value("index", 0);
    row.kind = p.value("kind", "");
    row.outcome = p.value("outcome", "");
    row.parents = p.value("parents", std::vector<std::size_t>{});
    if (p.contains("child_index")) row.child = p["child_index"].get<std::size_t>();
    row.parent_score = sum_of(p.value("parent_scores", json::array()));
    const json child = p.value("child_scores", json::array());
    if (!child.empty()) row.child_score = sum_of(child);
    row.metric_calls = p.value("metric_calls", std::int64_t{0});
    rows.push_back(std::move(row));
  }
  return rows;
}

// The pool of search_state.json with each candidate's place on the Pareto front.
std::optional<SearchSummary> load_search(const RunDir& dir) {
  if (!dir.has_file("search_state.json")) return std::nullopt;
  const std::string text = dir.read_file("search_state.json");
  const std::vector<PoolEntry> pool = pool_from_state(text);  // refuses a damaged state
  const json state = json::parse(text);
  SearchSummary search;
  search.proposals = state.value("proposals", 0);
  search.metric_calls = state.value("metric_calls", std::int64_t{0});
  const std::map<std::size_t, int> front =
      pool.empty() ? std::map<std::size_t, int>{} : non_dominated(pool);
  for (std::size_t c = 0; c < pool.size(); ++c) {
    const auto on_front = front.find(c);
    search.pool.push_back({c, pool[c].parents, pool[c].aggregate, pool[c].proposal,
                           on_front == front.end() ? 0 : on_front->second,
                           candidate_text(pool[c].candidate)});
  }
  if (!pool.empty()) search.best = best_candidate(pool);
  search.archive = load_archive(dir);
  return search;
}

}  // namespace

// Note [Reports from what the run holds]
// A run's reports are rebuilt from its directory, so a resumed or re-reported run shows the
// same numbers. At the end of a run, reading its step files and events.jsonl back cost more
// than a tenth of the CLI's CPU on training steps (nlohmann's lexer, over every byte the run
// wrote). The finishing run passes what it holds instead: the step records it parsed when it
// resumed, a copy of each one it wrote (to_json() and step_from_json() carry every field of a
// StepRecord, so the copy is what parsing the document it wrote gives), and the totals its event
// log folded from the records it appended. Step files it does not hold are read, and
// `RunsTest.KillThenResumeThenReportGivesTheTotalsOfAnUninterruptedRun` and
// `RunsTest.TheReportAtTheEndIsTheOneReportRebuilds` check that `textgrad report` rebuilds the
// same report.
RunSummary load_summary(const RunDir& dir, const RunSoFar& known) {
  json config;
  dir.read_json("config.json", [&](const json& document) { config = document; });
  RunSummary summary;
  summary.task = config.value("task", "");
  if (summary.task.empty()) summary.task = config.value("train", "");
  summary.title = "Prompt optimization: " + summary.task;
  summary.engine = config.value("engine", "");
  summary.backward_engine = config.value("backward_engine", "");
  if (summary.backward_engine.empty()) summary.backward_engine = summary.engine;
  summary.label = config.value("label", "");
  summary.started_at = config.value("created", "");
  for (const std::string& name : dir.step_files()) {
    if (auto held = known.steps.find(name); held != known.steps.end()) {
      summary.steps.push_back(held->second);
      continue;
    }
    dir.read_json(name, [&](const json& step) { summary.steps.push_back(step_from_json(step)); });
  }
  if (!summary.steps.empty()) {
    summary.initial_value = summary.steps.front().prompt;
    summary.final_value = summary.steps.back().prompt;
    const std::string predictions =
        fmt::format("steps/test_{:04d}.jsonl", summary.steps.back().step);
    if (dir.has_file(predictions)) {
      for (ItemRecord& item : parse_predictions(dir.read_file(predictions))) {
        if (item.score.value_or(0) == 0) summary.failing.push_back(std::move(item));
      }
    }
  }
  summary.search = load_search(dir);
  const std::string events = dir.has_file("events.jsonl") ? dir.read_file("events.jsonl") : "";
  const LoggedTotals logged = known.events ? *known.events : read_event_totals(events);
  summary.totals = logged.total;
  summary.endpoints = read_endpoint_usage(events);
  summary.wall_seconds = logged.wall_seconds;
  summary.sessions = std::max(1, logged.sessions);
  for (const auto& [phase, totals] : logged.by_phase) {
    summary.phases.push_back(phase_cost(phase, totals));
  }
  for (const auto& [step, totals] : logged.by_step) {
    summary.step_costs[step] = phase_cost(fmt::format("step {}", step), totals);
  }
  summary.outcome = last_outcome(events);
  summary.stopped_by_budget = summary.outcome == "budget";
  summary.interrupted = summary.outcome == "interrupted";
  return summary;
}

void write_reports(const RunDir& dir, const RunSummary& summary) {
  dir.write_file("report.md", render_markdown(summary));
  dir.write_file("report.html", render_html(summary));
}

void add_report(CLI::App& app, ReportFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "report", "Rebuild report.md and report.html of a run from its directory alone");
  cmd->add_option("RUN_DIR", flags.run_dir, "A directory `textgrad optimize` wrote")->required();
}

int run_report(const ReportFlags& flags) {
  const RunDir dir = RunDir::read_only(flags.run_dir);
  write_reports(dir, load_summary(dir));
  std::cout << fmt::format("Wrote {0}/report.html and {0}/report.md\n", dir.path().string());
  return kOk;
}

}  // namespace tg::cli
