#include "events.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

namespace tg::cli {

using nlohmann::json;

namespace {

std::string dump(const json& event) {
  return event.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

EventLog::EventLog(const RunDir& dir, const std::shared_ptr<Ledger>& ledger,
                   std::function<int()> step,
                   std::function<void(const std::string&)> on_write_failure)
    : dir_(dir) {
  ledger->on_record([dir = dir_, step = std::move(step),
                     failed = std::move(on_write_failure)](const CallRecord& r) {
    json event = {{"type", "call"},
                  {"time", iso_time_now()},
                  {"step", step()},
                  {"engine", r.engine},
                  {"model", r.model},
                  {"phase", to_string(r.phase)},
                  {"input_tokens", r.usage.input_tokens},
                  {"output_tokens", r.usage.output_tokens},
                  {"cached_tokens", r.usage.cached_input_tokens},
                  {"cost_usd", r.cost_usd},
                  {"priced", r.priced},
                  {"latency_ms", r.latency_ms},
                  {"cache_hit", r.from_cache},
                  {"ok", r.ok}};
    if (!r.ok) event["error"] = r.error;
    dir.append_event(dump(event));
    try {
      dir.check_writes();
    } catch (const std::exception& e) {
      failed(e.what());
    }
  });
}

void EventLog::warning(const std::string& message) {
  dir_.append_event(dump({{"type", "warning"}, {"time", iso_time_now()}, {"message", message}}));
}

void EventLog::step(int step, std::optional<double> val_accuracy,
                    std::optional<double> test_accuracy, bool reverted) {
  json event = {{"type", "step"}, {"time", iso_time_now()}, {"step", step}, {"reverted", reverted}};
  event["val_accuracy"] = val_accuracy ? json(*val_accuracy) : json(nullptr);
  event["test_accuracy"] = test_accuracy ? json(*test_accuracy) : json(nullptr);
  dir_.append_event(dump(event));
}

void EventLog::session(const std::string& started_at, double wall_seconds,
                       const std::string& outcome) {
  dir_.append_event(dump({{"type", "session"},
                          {"time", iso_time_now()},
                          {"started", started_at},
                          {"wall_seconds", wall_seconds},
                          {"outcome", outcome}}));
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
