#include <chrono>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/call_record.h"
#include "engine/model_keys.h"
#include "engine/shipped_tables.h"
#include "textgrad/usage.h"
#include "util/text.h"

namespace tg {

PriceTable PriceTable::shipped() {
  static const PriceTable table = parse(std::string(engine::kShippedPrices), "data/prices.json");
  return table;
}

PriceTable PriceTable::builtin(const std::string& data_dir) {
  PriceTable table = shipped();
  if (data_dir.empty()) return table;
  const std::filesystem::path user = std::filesystem::path(data_dir) / "prices.json";
  std::error_code error;
  if (std::filesystem::is_regular_file(user, error)) table.merge(load(user.string()));
  return table;
}

PriceTable PriceTable::load(const std::string& path) { return parse(util::read_file(path), path); }

PriceTable PriceTable::parse(const std::string& json_text, const std::string& origin) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    throw ParseError(
        fmt::format("{}: not a JSON object of prices; expected "
                    "{{\"gpt-4o\": {{\"input\": 2.5, \"output\": 10}}}}",
                    origin));
  }
  PriceTable table;
  for (const auto& [key, entry] : doc.items()) {
    if (key.starts_with("_")) continue;
    if (!entry.is_object() || !entry.contains("input") || !entry.contains("output") ||
        !entry["input"].is_number() || !entry["output"].is_number()) {
      throw ParseError(fmt::format(
          "{}: the price of '{}' needs numeric \"input\" and \"output\" (dollars per million "
          "tokens)",
          origin, key));
    }
    Price price{entry["input"].get<double>(), entry["output"].get<double>(),
                entry.value("cached_input", entry["input"].get<double>())};
    table.set(key, price);
  }
  return table;
}

void PriceTable::set(const std::string& key, Price price) {
  prices_[key] = price;
  found_ = std::make_shared<Found>();
}

void PriceTable::merge(const PriceTable& overrides) {
  for (const auto& [key, price] : overrides.prices_) prices_[key] = price;
  found_ = std::make_shared<Found>();
}

std::optional<Price> PriceTable::find(const std::string& provider, const std::string& model) const {
  const std::string key = provider + "/" + model;
  std::lock_guard lock(found_->mu);
  auto it = found_->by_model.find(key);
  if (it == found_->by_model.end())
    it = found_->by_model.emplace(key, look_up(provider, model)).first;
  return it->second;
}

// Note [Model table keys] (engine/model_keys.h) gives the matching rule: a scan of the table.
std::optional<Price> PriceTable::look_up(const std::string& provider,
                                         const std::string& model) const {
  const bool local = engine::is_local_provider(provider);
  if (const Price* price = engine::find_by_model_key(prices_, provider, model, !local)) {
    return *price;
  }
  if (local) return Price{};
  return std::nullopt;
}

bool PriceTable::is_priced(const std::string& provider, const std::string& model) const {
  return find(provider, model).has_value();
}

std::optional<double> PriceTable::cost(const std::string& provider, const std::string& model,
                                       const Usage& usage) const {
  std::optional<Price> price = find(provider, model);
  if (!price) return std::nullopt;
  const double fresh_input = static_cast<double>(usage.input_tokens - usage.cached_input_tokens);
  return (fresh_input * price->input +
          static_cast<double>(usage.cached_input_tokens) * price->cached_input +
          static_cast<double>(usage.output_tokens) * price->output) /
         1e6;
}

void Totals::add(const CallRecord& record) {
  ++calls;
  if (record.from_cache) ++cache_hits;
  if (!record.ok) ++errors;
  // A failed call counts when it was billed (an answer refused for length or by a filter).
  const bool billed = record.ok || record.usage != Usage{};
  if (billed && !record.from_cache) {
    usage += record.usage;
    if (!record.priced) ++unpriced_calls;
  }
  cost_usd += record.cost_usd;
  latency_ms += record.latency_ms;
}

Ledger::Ledger(PriceTable prices) : prices_(std::move(prices)) {}

void Ledger::record(CallRecord record) {
  std::vector<std::function<void(const CallRecord&)>> observers;
  {
    std::lock_guard lock(mu_);
    total_.add(record);
    by_phase_[record.phase].add(record);
    by_model_[record.model].add(record);
    observers = observers_;
  }
  for (const auto& observer : observers) observer(record);
}

Totals Ledger::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

Totals Ledger::phase(Phase phase) const {
  std::lock_guard lock(mu_);
  auto it = by_phase_.find(phase);
  return it == by_phase_.end() ? Totals{} : it->second;
}

std::map<Phase, Totals> Ledger::by_phase() const {
  std::lock_guard lock(mu_);
  return by_phase_;
}

std::map<std::string, Totals> Ledger::by_model() const {
  std::lock_guard lock(mu_);
  return by_model_;
}

void Ledger::set_budget(Budget budget) {
  std::lock_guard lock(mu_);
  budget_ = budget;
}

bool Ledger::over_budget() const {
  std::lock_guard lock(mu_);
  const std::int64_t tokens = total_.usage.input_tokens + total_.usage.output_tokens;
  return (budget_.max_tokens && tokens >= *budget_.max_tokens) ||
         (budget_.max_usd && total_.cost_usd >= *budget_.max_usd);
}

void Ledger::check_budget() const {
  if (!over_budget()) return;
  std::lock_guard lock(mu_);
  const std::int64_t tokens = total_.usage.input_tokens + total_.usage.output_tokens;
  std::string limit =
      budget_.max_usd && total_.cost_usd >= *budget_.max_usd
          ? fmt::format("${:.4f} of a ${:.4f} budget", total_.cost_usd, *budget_.max_usd)
          : fmt::format("{} of a {}-token budget", tokens, *budget_.max_tokens);
  throw BudgetExceeded(fmt::format(
      "budget reached: spent {} over {} calls; raise the budget to continue", limit, total_.calls));
}

void Ledger::on_record(std::function<void(const CallRecord&)> observer) {
  std::lock_guard lock(mu_);
  observers_.push_back(std::move(observer));
}

namespace {

class LedgerEngine : public Engine {
 public:
  LedgerEngine(EnginePtr inner, std::shared_ptr<Ledger> ledger)
      : inner_(std::move(inner)), ledger_(std::move(ledger)), info_(inner_->info()) {}

  EngineInfo info() const override { return inner_->info(); }

  void submit(Request request, std::function<void(Outcome)> done) override {
    const Phase phase = request.phase;
    const auto start = std::chrono::steady_clock::now();
    // Captures copies, not `this`: the answer may arrive after this engine is gone.
    inner_->submit(std::move(request), [info = info_, phase, start, ledger = ledger_,
                                        done = std::move(done)](Outcome outcome) {
      const double latency_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      ledger->record(engine::make_call_record(info, outcome, phase, latency_ms, ledger->prices()));
      done(std::move(outcome));
    });
  }

 private:
  EnginePtr inner_;
  std::shared_ptr<Ledger> ledger_;
  const EngineInfo info_;
};

}  // namespace

EnginePtr with_ledger(EnginePtr inner, std::shared_ptr<Ledger> ledger) {
  if (!inner || !ledger) throw InvalidArgument("with_ledger needs an engine and a ledger");
  return std::make_shared<LedgerEngine>(std::move(inner), std::move(ledger));
}

}  // namespace tg

namespace tg::engine {

CallRecord make_call_record(const EngineInfo& info, const Outcome& outcome, Phase phase,
                            double latency_ms, const PriceTable& prices) {
  CallRecord record;
  record.engine = info.name;
  record.model =
      outcome.ok() && !outcome.response.model.empty() ? outcome.response.model : info.model;
  record.phase = phase;
  record.latency_ms = latency_ms;
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
  const std::optional<double> cost = prices.cost(info.provider, record.model, record.usage);
  record.priced = cost.has_value();
  record.cost_usd = record.from_cache ? 0 : cost.value_or(0);
  return record;
}

}  // namespace tg::engine
