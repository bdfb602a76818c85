// Builds the engines a command uses: the provider engine by name, wrapped in the rate limits,
// the response cache and the ledger (outermost, so cache hits are recorded as such).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/budget_guard.h"
#include "textgrad/endpoint_pool.h"
#include "textgrad/engine.h"
#include "textgrad/usage.h"

namespace CLI {
class App;
}

namespace tg::cli {

struct EngineFlags {
  std::string engine;
  std::string backward_engine;  // empty: same as engine
  int max_in_flight = 64;
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  double timeout_s = 120;
  int max_retries = 4;
  std::string cache_path;  // empty: the default cache file
  bool no_cache = false;
  bool replay = false;  // serve only from the cache
  std::string prices_path;
  double budget_usd = 0;
  long long budget_tokens = 0;
  std::string data_dir;
  // Sampling defaults (unset: the library's). Models that reject one never get it (see the
  // capability table, data/models.json).
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> max_tokens;
  std::vector<std::string> endpoints;  // --endpoint: a pool when given (endpoint_flags.h)
};

// Adds the engine, cache, limit and budget flags to a subcommand.
void add_engine_flags(CLI::App& command, EngineFlags& flags, bool with_backward_engine);

struct Engines {
  EnginePtr forward;
  EnginePtr backward;
  std::shared_ptr<Ledger> ledger;
  std::shared_ptr<EndpointPool> pool;  // the forward engine's pool, with --endpoint
  // Every call of both engines passes it first: budgets, and cancellation on Ctrl-C.
  std::shared_ptr<BudgetGuard> guard;
};

// Throws InvalidArgument with a clear message for unknown engines or missing keys.
Engines build_engines(const EngineFlags& flags);

}  // namespace tg::cli
