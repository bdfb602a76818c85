#include "events.h"

#include <sstream>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "engine/call_record.h"
#include "textgrad/errors.h"
#include "util/json_dump.h"

namespace tg::cli {

using nlohmann::json;

namespace {

std::string dump(const json& event) {
  return util::dump_json(event, -1, util::InvalidUtf8::kReplace);
}

// A JSON string, escaped as the rest of the log is (invalid UTF-8 replaced).
std::string quoted(const std::string& text) {
  std::string out;
  if (util::append_json_string(out, text)) return out;
  return dump(json(text));
}

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
      totals_(dir.has_file("events.jsonl") ? read_event_totals(dir.read_file("events.jsonl"))
                                           : LoggedTotals{}),
      writer_(std::make_unique<util::BatchWriter<Entry>>(
          [this](std::vector<Entry>& entries) { write(entries); })) {}

EventLog::~EventLog() = default;

void EventLog::call(const TracedCall& call) {
  // What the ledger records for the same call, rebuilt here so the line carries the call's
  // own step.
  writer_->push({{},
                 call.step,
                 engine::make_call_record(call.info, call.outcome, call.request.phase,
                                          call.latency_ms, prices_)});
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
    return;
  }
  // The same sums, in the same order, as read_event_totals() over these lines: the numbers
  // were printed in their shortest form that reads back exactly.
  std::lock_guard lock(totals_mu_);
  for (const Entry& entry : entries) {
    if (entry.session_seconds) {
      totals_.wall_seconds += *entry.session_seconds;
      ++totals_.sessions;
    }
    if (!entry.call) continue;
    totals_.total.add(*entry.call);
    totals_.by_phase[to_string(entry.call->phase)].add(*entry.call);
    totals_.by_step[entry.step].add(*entry.call);
  }
}

LoggedTotals EventLog::totals() const {
  std::lock_guard lock(totals_mu_);
  return totals_;
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
                       {"outcome", outcome}}),
                 0, std::nullopt, wall_seconds});
}

Warn EventLog::warner(Progress& progress) {
  return [this, &progress, shown = shown_](const std::string& message) {
    warning(message);
    const int count = ++*shown;
    if (count <= 3) progress.note("warning: " + message);
    if (count == 3) progress.note("(further warnings go to events.jsonl only)");
  };
}

namespace {

// What the totals need from one event line, read through nlohmann's SAX interface: a report
// reads every call line of the run, and building a DOM per line cost more than the rest of the
// report together. Fields missing or of another type keep their defaults, as json::value()
// gave them; nested values (none in call and session lines) are skipped.
struct EventLine : nlohmann::json_sax<json> {
  std::string type;
  std::string phase = "other";
  int step = 0;
  CallRecord record;
  double wall_seconds = 0;

  bool null() override { return true; }
  bool boolean(bool value) override {
    if (depth_ != 1) return true;
    if (key_ == "priced") record.priced = value;
    if (key_ == "cache_hit") record.from_cache = value;
    if (key_ == "ok") record.ok = value;
    return true;
  }
  bool number_integer(number_integer_t value) override { return number(value); }
  bool number_unsigned(number_unsigned_t value) override {
    return number(static_cast<double>(value));
  }
  bool number_float(number_float_t value, const string_t&) override { return number(value); }
  bool string(string_t& value) override {
    if (depth_ != 1) return true;
    if (key_ == "type") type = std::move(value);
    if (key_ == "phase") phase = std::move(value);
    return true;
  }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth_, true; }
  bool end_object() override { return --depth_, true; }
  bool start_array(std::size_t) override { return ++depth_, true; }
  bool end_array() override { return --depth_, true; }
  bool key(string_t& name) override {
    if (depth_ == 1) key_.swap(name);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool number(double value) {
    if (depth_ != 1) return true;
    const auto count = static_cast<std::int64_t>(value);
    if (key_ == "input_tokens") record.usage.input_tokens = count;
    if (key_ == "output_tokens") record.usage.output_tokens = count;
    if (key_ == "cached_tokens") record.usage.cached_input_tokens = count;
    if (key_ == "cost_usd") record.cost_usd = value;
    if (key_ == "latency_ms") record.latency_ms = value;
    if (key_ == "wall_seconds") wall_seconds = value;
    if (key_ == "step") step = static_cast<int>(count);
    return true;
  }
  int depth_ = 0;
  std::string key_;
};

}  // namespace

LoggedTotals read_event_totals(const std::string& events_jsonl) {
  LoggedTotals totals;
  std::istringstream lines(events_jsonl);
  std::string line;
  while (std::getline(lines, line)) {
    EventLine event;
    if (!json::sax_parse(line, &event)) continue;  // a torn line
    if (event.type == "session") {
      totals.wall_seconds += event.wall_seconds;
      ++totals.sessions;
      continue;
    }
    if (event.type != "call") continue;
    totals.total.add(event.record);
    totals.by_phase[event.phase].add(event.record);
    totals.by_step[event.step].add(event.record);
  }
  return totals;
}

}  // namespace tg::cli
