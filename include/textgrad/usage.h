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

// Prices by provider and model (see docs/engines.md, "Prices"). Keys are
// "<provider>/<model prefix>" or a bare "<model prefix>": a provider-qualified key beats a bare
// one, and among keys of one kind the longest matching prefix wins. Local servers (ollama,
// vllm, lmstudio, llamacpp) are free unless a "<provider>/" key prices them; bare keys never
// apply to them.
class PriceTable {
 public:
  PriceTable() = default;
  // The table shipped as data/prices.json, compiled into the library: always available.
  static PriceTable shipped();
  // shipped(), overridden entry by entry by <data_dir>/prices.json when data_dir is given and
  // holds one. Throws ParseError when that file is not a valid price table.
  static PriceTable builtin(const std::string& data_dir = "");
  // A JSON object {"<provider>/<model prefix>" or "<model prefix>": {"input": ..,
  // "output": .., "cached_input": ..}} (dollars per million tokens; cached_input defaults to
  // input); keys starting with '_' are comments.
  static PriceTable load(const std::string& path);
  static PriceTable parse(const std::string& json_text, const std::string& origin);

  void set(const std::string& key, Price price);
  // Entries of `overrides` replace or add to this table's.
  void merge(const PriceTable& overrides);
  // The price of `model` served by `provider` (the canonical provider, EngineInfo::provider).
  // Thread-safe; answers are remembered per provider and model (every call is priced).
  std::optional<Price> find(const std::string& provider, const std::string& model) const;
  // True when find() has a price (local servers count as priced: they are free). A dollar
  // budget means nothing for an unpriced model.
  bool is_priced(const std::string& provider, const std::string& model) const;
  // Dollars for one answer; nullopt when the model has no price.
  std::optional<double> cost(const std::string& provider, const std::string& model,
                             const Usage& usage) const;
  size_t size() const { return prices_.size(); }

 private:
  struct Found {
    std::mutex mu;
    std::map<std::string, std::optional<Price>> by_model;  // "provider/model"
  };
  std::optional<Price> look_up(const std::string& provider, const std::string& model) const;

  std::map<std::string, Price> prices_;
  // Shared by copies until one of them changes its entries.
  std::shared_ptr<Found> found_ = std::make_shared<Found>();
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
