// The run's event log (events.jsonl): every LLM call with its step, phase, tokens, latency,
// cost and cache hit, plus warnings, step summaries and one line per session. Never an API
// key: engines redact keys from every message before it gets here. Report totals are summed
// from this log, so they cover every session of a resumed run.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "progress.h"
#include "run_dir.h"
#include "task.h"
#include "textgrad/usage.h"
#include "trace.h"
#include "util/batch_writer.h"

namespace tg::cli {

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

// Thread-safe. Lines are queued and appended by a writer thread, in the order they were
// logged, a batch at a time (Note [Writes off the I/O thread] in src/util/batch_writer.h).
class EventLog {
 public:
  // Calls are priced with `prices`. `on_write_failure` runs (on the writer thread) after a
  // batch could not be written.
  EventLog(const RunDir& dir, PriceTable prices,
           std::function<void(const std::string&)> on_write_failure);
  ~EventLog();  // writes what was logged

  // One line for a finished call, with the step it was tagged with (the step of its
  // submission: see Note [Pipelined protocol] in optimize_run.cpp).
  void call(const TracedCall& call);
  void warning(const std::string& message);
  void step(int step, std::optional<double> val_accuracy, std::optional<double> test_accuracy,
            bool reverted);
  // One line per session: how it ended and how long it ran.
  void session(const std::string& started_at, double wall_seconds, const std::string& outcome);
  // A Warn for scorers: logs every warning and shows the first few on the terminal.
  Warn warner(Progress& progress);
  // Returns once every line logged before is written.
  void flush();
  // What read_event_totals() of events.jsonl would give for the lines written so far: the
  // file as it was when this log opened, plus what this log appended (Note [Reports from what
  // the run holds] in run_summary.cpp). Call flush() first to include every line logged.
  LoggedTotals totals() const;

  // A line, or a call whose line the writer formats.
  struct Entry {
    std::string line;
    int step = 0;
    std::optional<CallRecord> call;
    std::optional<double> session_seconds;  // a session line: the session's wall time
  };

 private:
  void write(std::vector<Entry>& entries);  // the writer thread

  RunDir dir_;  // a copy: the event stream is shared, so late answers can still be logged
  const PriceTable prices_;
  std::function<void(const std::string&)> on_write_failure_;
  std::shared_ptr<std::atomic<int>> shown_ = std::make_shared<std::atomic<int>>(0);
  mutable std::mutex totals_mu_;
  LoggedTotals totals_;                               // of the lines written
  std::unique_ptr<util::BatchWriter<Entry>> writer_;  // last: its thread uses the above
};

}  // namespace tg::cli
