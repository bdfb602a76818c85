// Rebuilding a run's summary and reports from its directory alone (config.json, steps/,
// events.jsonl), so the numbers are the same whether the run finished in one session, was
// resumed, or is re-reported later with `textgrad report RUN_DIR`.
#pragma once

#include "report.h"
#include "run_dir.h"

namespace tg::cli {

RunSummary load_summary(const RunDir& dir);
// report.md and report.html.
void write_reports(const RunDir& dir, const RunSummary& summary);

}  // namespace tg::cli
