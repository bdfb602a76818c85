#include "run_summary.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "commands.h"
#include "events.h"

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

}  // namespace

RunSummary load_summary(const RunDir& dir) {
  const json config = json::parse(dir.read_file("config.json"));
  RunSummary summary;
  summary.task = config.value("task", "");
  if (summary.task.empty()) summary.task = config.value("train", "");
  summary.title = "Prompt optimization: " + summary.task;
  summary.engine = config.value("engine", "");
  summary.backward_engine = config.value("backward_engine", "");
  if (summary.backward_engine.empty()) summary.backward_engine = summary.engine;
  summary.label = config.value("label", "");
  summary.started_at = config.value("created", "");
  for (const std::string& text : dir.read_steps()) {
    summary.steps.push_back(step_from_json(json::parse(text)));
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
  const std::string events = dir.has_file("events.jsonl") ? dir.read_file("events.jsonl") : "";
  const LoggedTotals logged = read_event_totals(events);
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
  const std::string outcome = last_outcome(events);
  summary.stopped_by_budget = outcome == "budget";
  summary.interrupted = outcome == "interrupted";
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
