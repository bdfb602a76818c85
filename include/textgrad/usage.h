// Usage and cost accounting: tokens and dollars per call, per phase, per model and per run,
// from a price table that ships as data (data/prices.json) and that users can override; a hard
// budget in tokens or dollars.
//
// Thread safety: Ledger and PriceTable are safe to use from many threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/engine.h"
#include "textgrad/errors.h"

namespace tg {

// Dollars per million tokens.
struct Price {
  double input = 0;
  double output = 0;
  double cached_input = 0;  // input tokens served from the provider's prompt cache
};

class PriceTable {
 public:
  PriceTable() = default;
  // data/prices.json from the data directory (see find_data_dir); throws if it is missing.
  static PriceTable builtin(const std::string& data_dir = "");
  // A JSON object {"<provider>/<model prefix>" or "<model prefix>": {"input": ..,
  // "output": .., "cached_input": ..}}; keys starting with '_' are comments.
  static PriceTable load(const std::string& path);
  static PriceTable parse(const std::string& json_text, const std::string& origin);

  void set(const std::string& key, Price price);
  // Entries of `overrides` replace or add to this table's.
  void merge(const PriceTable& overrides);
  // The longest key that prefixes "<provider>/<model>" or "<model>".
  std::optional<Price> find(const std::string& provider, const std::string& model) const;
  // Dollars for one answer; nullopt when the model has no price.
  std::optional<double> cost(const std::string& provider, const std::string& model,
                             const Usage& usage) const;
  size_t size() const { return prices_.size(); }

 private:
  std::map<std::string, Price> prices_;
};

// One LLM call as the ledger saw it.
struct CallRecord {
  std::string engine;  // engine name, e.g. "openai/gpt-4o"
  std::string model;
  Phase phase = Phase::kOther;
  Usage usage;
  double cost_usd = 0;  // 0 for cache hits and unpriced models
  bool priced = false;
  bool from_cache = false;
  bool ok = true;
  std::string error;  // the error message when !ok
  double latency_ms = 0;
};

struct Totals {
  std::int64_t calls = 0;
  std::int64_t cache_hits = 0;
  std::int64_t errors = 0;
  std::int64_t unpriced_calls = 0;
  Usage usage;  // tokens actually billed (cache hits excluded)
  double cost_usd = 0;
  double latency_ms = 0;  // summed over calls
  void add(const CallRecord& record);
};

struct Budget {
  std::optional<std::int64_t> max_tokens;  // input + output tokens billed
  std::optional<double> max_usd;
};

// Thrown by Ledger::check_budget once a budget is used up.
class BudgetExceeded : public Error {
 public:
  using Error::Error;
};

class Ledger {
 public:
  explicit Ledger(PriceTable prices = PriceTable());

  void record(CallRecord record);
  Totals total() const;
  Totals phase(Phase phase) const;
  std::map<Phase, Totals> by_phase() const;
  std::map<std::string, Totals> by_model() const;

  void set_budget(Budget budget);
  bool over_budget() const;
  // Throws BudgetExceeded saying what was spent against which limit. Call it at step
  // boundaries so a run stops cleanly with everything done so far kept.
  void check_budget() const;

  // Called for every record, on the thread that records it (e.g. to write an event log).
  void on_record(std::function<void(const CallRecord&)> observer);

  const PriceTable& prices() const { return prices_; }

 private:
  const PriceTable prices_;
  mutable std::mutex mu_;
  Totals total_;
  std::map<Phase, Totals> by_phase_;
  std::map<std::string, Totals> by_model_;
  Budget budget_;
  std::vector<std::function<void(const CallRecord&)>> observers_;
};

// Wraps `inner` so every answer (and error) is recorded in `ledger` with its phase, tokens,
// cost and latency.
EnginePtr with_ledger(EnginePtr inner, std::shared_ptr<Ledger> ledger);

}  // namespace tg
