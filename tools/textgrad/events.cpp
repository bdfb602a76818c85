#include "events.h"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

namespace tg::cli {

using nlohmann::json;

EventLog::EventLog(const RunDir& dir, const std::shared_ptr<Ledger>& ledger) : dir_(dir) {
  ledger->on_record([dir = dir_](const CallRecord& r) mutable {
    json event = {{"type", "call"},
                  {"time", iso_time_now()},
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
    dir.append_event(event.dump(-1, ' ', false, json::error_handler_t::replace));
  });
}

void EventLog::warning(const std::string& message) {
  json event = {{"type", "warning"}, {"time", iso_time_now()}, {"message", message}};
  dir_.append_event(event.dump(-1, ' ', false, json::error_handler_t::replace));
}

void EventLog::step(int step, std::optional<double> val_accuracy,
                    std::optional<double> test_accuracy, bool reverted) {
  json event = {{"type", "step"}, {"time", iso_time_now()}, {"step", step}, {"reverted", reverted}};
  event["val_accuracy"] = val_accuracy ? json(*val_accuracy) : json(nullptr);
  event["test_accuracy"] = test_accuracy ? json(*test_accuracy) : json(nullptr);
  dir_.append_event(event.dump());
}

Warn EventLog::warner(Progress& progress) {
  return [this, &progress, shown = shown_](const std::string& message) {
    warning(message);
    const int count = ++*shown;
    if (count <= 3) progress.note("warning: " + message);
    if (count == 3) progress.note("(further warnings go to events.jsonl only)");
  };
}

}  // namespace tg::cli
