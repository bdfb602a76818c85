// The run's event log (events.jsonl): every LLM call with its step, phase, tokens, latency,
// cost and cache hit, plus warnings, step summaries and one line per session. Never an API
// key: engines redact keys from every message before it gets here. Report totals are summed
// from this log, so they cover every session of a resumed run.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "progress.h"
#include "run_dir.h"
#include "task.h"
#include "textgrad/usage.h"

namespace tg::cli {

class EventLog {
 public:
  // Records every call the ledger sees from now on, tagged with step(). `on_write_failure`
  // runs (once, on an engine thread) when a line cannot be written.
  EventLog(const RunDir& dir, const std::shared_ptr<Ledger>& ledger, std::function<int()> step,
           std::function<void(const std::string&)> on_write_failure);

  void warning(const std::string& message);
  void step(int step, std::optional<double> val_accuracy, std::optional<double> test_accuracy,
            bool reverted);
  // One line per session: how it ended and how long it ran.
  void session(const std::string& started_at, double wall_seconds, const std::string& outcome);
  // A Warn for scorers: logs every warning and shows the first few on the terminal.
  Warn warner(Progress& progress);

 private:
  RunDir dir_;  // a copy: the event stream is shared, so late answers can still be logged
  std::shared_ptr<std::atomic<int>> shown_ = std::make_shared<std::atomic<int>>(0);
};

// Totals read back from an event log: per phase, per step and overall, plus wall time.
struct LoggedTotals {
  std::map<std::string, Totals> by_phase;
  std::map<int, Totals> by_step;
  Totals total;
  double wall_seconds = 0;
  int sessions = 0;
};
// Lines that do not parse (a torn last line) are skipped.
LoggedTotals read_event_totals(const std::string& events_jsonl);

}  // namespace tg::cli
