// The run's event log (events.jsonl): every LLM call with its phase, tokens, latency, cost and
// cache hit, plus warnings and step summaries. Never an API key: engines redact keys from
// every message before it gets here.
#pragma once

#include <atomic>
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
  // Records every call the ledger sees from now on.
  EventLog(const RunDir& dir, const std::shared_ptr<Ledger>& ledger);

  void warning(const std::string& message);
  void step(int step, std::optional<double> val_accuracy, std::optional<double> test_accuracy,
            bool reverted);
  // A Warn for scorers: logs every warning and shows the first few on the terminal.
  Warn warner(Progress& progress);

 private:
  RunDir dir_;  // a copy: the event stream is shared, so late answers can still be logged
  std::shared_ptr<std::atomic<int>> shown_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace tg::cli
