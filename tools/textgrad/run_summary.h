// Rebuilding a run's summary and reports from its directory alone (config.json, steps/,
// events.jsonl), so the numbers are the same whether the run finished in one session, was
// resumed, or is re-reported later with `textgrad report RUN_DIR`.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "events.h"
#include "report.h"
#include "run_dir.h"
#include "run_records.h"

namespace tg::cli {

// What the process that is finishing a run already holds of its directory, so its reports
// need not read back what it wrote (Note [Reports from what the run holds]). Each part must
// equal what reading the directory would give.
struct RunSoFar {
  std::map<std::string, StepRecord> steps;  // by step file name (steps/step_NNNN.json)
  std::optional<LoggedTotals> events;       // every call and session line of events.jsonl
};

RunSummary load_summary(const RunDir& dir, const RunSoFar& known = {});
// report.md and report.html.
void write_reports(const RunDir& dir, const RunSummary& summary);

}  // namespace tg::cli
