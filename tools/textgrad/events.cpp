#include "events.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "textgrad/errors.h"

namespace tg::cli {

using nlohmann::json;

namespace {

std::string dump(const json& event) {
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

// What the ledger records for the same call (LedgerEngine), rebuilt from the tagged call so the
// line carries the call's own step.
CallRecord call_record(const TracedCall& call, const PriceTable& prices) {
  const Outcome& outcome = call.outcome;
  CallRecord record;
  record.engine = call.info.name;
  record.model =
      outcome.ok() && !outcome.response.model.empty() ? outcome.response.model : call.info.model;
  record.phase = call.request.phase;
  record.latency_ms = call.latency_ms;
  if (!outcome.ok()) {
    record.ok = false;
    try {
      std::rethrow_exception(outcome.error);
    } catch (const EngineError& e) {
      record.error = e.what();
      record.usage = e.billed();
    } catch (const std::exception& e) {
      record.error = e.what();
    } catch (...) {
      record.error = "unknown error";
    }
  } else {
    record.usage = outcome.response.usage;
    record.from_cache = outcome.response.from_cache;
  }
  const std::optional<double> cost = prices.cost(call.info.provider, record.model, record.usage);
  record.priced = cost.has_value();
  record.cost_usd = record.from_cache ? 0 : cost.value_or(0);
  return record;
}

// A JSON string, escaped as the rest of the log is (invalid UTF-8 replaced).
std::string quoted(const std::string& text) { return dump(json(text)); }

// The most frequent line: written with fmt rather than built as a json object and dumped
// (16 % of the CLI's instructions per call went there). Keys in the order json sorts them.
std::string call_line(int step, const CallRecord& r) {
  std::string line =
      fmt::format(R"({{"cache_hit":{},"cached_tokens":{},"cost_usd":{},"engine":{},)", r.from_cache,
                  r.usage.cached_input_tokens, r.cost_usd, quoted(r.engine));
  if (!r.ok) line += fmt::format(R"("error":{},)", quoted(r.error));
  line += fmt::format(
      R"("input_tokens":{},"latency_ms":{},"model":{},"ok":{},"output_tokens":{},"phase":"{}",)"
      R"("priced":{},"step":{},"time":"{}","type":"call"}})",
      r.usage.input_tokens, r.latency_ms, quoted(r.model), r.ok, r.usage.output_tokens,
      to_string(r.phase), r.priced, step, iso_time_now());
  return line;
}

}  // namespace

EventLog::EventLog(const RunDir& dir, PriceTable prices,
                   std::function<void(const std::string&)> on_write_failure)
    : dir_(dir),
      prices_(std::move(prices)),
      on_write_failure_(std::move(on_write_failure)),
      writer_(std::make_unique<util::BatchWriter<Entry>>(
          [this](std::vector<Entry>& entries) { write(entries); })) {}

EventLog::~EventLog() = default;

void EventLog::call(const TracedCall& call) {
  writer_->push({{}, call.step, call_record(call, prices_)});
}

// One append per batch.
void EventLog::write(std::vector<Entry>& entries) {
  std::string lines;
  for (const Entry& entry : entries) {
    if (!lines.empty()) lines += '\n';
    lines += entry.call ? call_line(entry.step, *entry.call) : entry.line;
  }
  dir_.append_event(lines);
  try {
    dir_.check_writes();
  } catch (const std::exception& e) {
    on_write_failure_(e.what());
  }
}

void EventLog::flush() { writer_->flush(); }

void EventLog::warning(const std::string& message) {
  writer_->push({dump({{"type", "warning"}, {"time", iso_time_now()}, {"message", message}})});
}

void EventLog::step(int step, std::optional<double> val_accuracy,
                    std::optional<double> test_accuracy, bool reverted) {
  json event = {{"type", "step"}, {"time", iso_time_now()}, {"step", step}, {"reverted", reverted}};
  event["val_accuracy"] = val_accuracy ? json(*val_accuracy) : json(nullptr);
  event["test_accuracy"] = test_accuracy ? json(*test_accuracy) : json(nullptr);
  writer_->push({dump(event)});
}

void EventLog::session(const std::string& started_at, double wall_seconds,
                       const std::string& outcome) {
  writer_->push({dump({{"type", "session"},
                       {"time", iso_time_now()},
                       {"started", started_at},
                       {"wall_seconds", wall_seconds},
                       {"outcome", outcome}})});
}

Warn EventLog::warner(Progress& progress) {
  return [this, &progress, shown = shown_](const std::string& message) {
    warning(message);
    const int count = ++*shown;
    if (count <= 3) progress.note("warning: " + message);
    if (count == 3) progress.note("(further warnings go to events.jsonl only)");
  };
}

LoggedTotals read_event_totals(const std::string& events_jsonl) {
  LoggedTotals totals;
  std::istringstream lines(events_jsonl);
  std::string line;
  while (std::getline(lines, line)) {
    const json event = json::parse(line, nullptr, false);
    if (!event.is_object()) continue;
    const std::string type = event.value("type", "");
    if (type == "session") {
      totals.wall_seconds += event.value("wall_seconds", 0.0);
      ++totals.sessions;
      continue;
    }
    if (type != "call") continue;
    CallRecord record;
    record.usage = {event.value("input_tokens", std::int64_t{0}),
                    event.value("output_tokens", std::int64_t{0}),
                    event.value("cached_tokens", std::int64_t{0})};
    record.cost_usd = event.value("cost_usd", 0.0);
    record.priced = event.value("priced", false);
    record.from_cache = event.value("cache_hit", false);
    record.ok = event.value("ok", true);
    record.latency_ms = event.value("latency_ms", 0.0);
    totals.total.add(record);
    totals.by_phase[event.value("phase", "other")].add(record);
    totals.by_step[event.value("step", 0)].add(record);
  }
  return totals;
}

}  // namespace tg::cli
