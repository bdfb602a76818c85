#include "engine_setup.h"

#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include "textgrad/budget.h"
#include "textgrad/cache.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "textgrad/limits.h"

namespace tg::cli {

void add_engine_flags(CLI::App& command, EngineFlags& flags, bool with_backward_engine) {
  command
      .add_option("--engine", flags.engine,
                  "Model to run, e.g. openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, "
                  "gemini/gemini-2.5-flash, ollama/qwen2.5")
      ->required();
  if (with_backward_engine) {
    command.add_option("--backward-engine", flags.backward_engine,
                       "Model for feedback, updates and judges (default: --engine)");
  }
  command.add_option("--max-in-flight", flags.max_in_flight, "Requests in flight per engine")
      ->capture_default_str();
  command.add_option("--rpm", flags.requests_per_minute,
                     "Requests per minute per engine (0: no limit)");
  command.add_option("--tpm", flags.tokens_per_minute,
                     "Tokens per minute per engine (0: no limit)");
  command.add_option("--timeout", flags.timeout_s, "Seconds per request attempt")
      ->capture_default_str();
  command.add_option("--max-retries", flags.max_retries, "Retries of transient failures")
      ->capture_default_str();
  command.add_option("--cache", flags.cache_path,
                     "Response cache file (default: ~/.cache/textgrad)");
  command.add_flag("--no-cache", flags.no_cache, "Do not read or write the response cache");
  command.add_flag("--replay", flags.replay,
                   "Serve answers only from the cache; fail on a miss (exact offline re-runs)");
  command.add_option("--prices", flags.prices_path, "JSON price table overriding the shipped one");
  command.add_option("--budget-usd", flags.budget_usd,
                     "Spend at most this many dollars (checked before every call)");
  command.add_option("--budget-tokens", flags.budget_tokens,
                     "Spend at most this many tokens (checked before every call)");
  command.add_option("--data-dir", flags.data_dir, "Folder holding the datasets and prices.json");
}

namespace {

EnginePtr build_one(const std::string& name, const EngineFlags& flags,
                    const std::shared_ptr<Ledger>& ledger,
                    const std::shared_ptr<BudgetGuard>& guard) {
  EngineOptions options;
  options.timeout_s = flags.timeout_s;
  options.max_retries = flags.max_retries;
  EnginePtr engine = make_engine(name, options);
  engine = with_limits(engine,
                       {flags.max_in_flight, flags.requests_per_minute, flags.tokens_per_minute});
  if (!flags.no_cache) {
    CacheOptions cache;
    if (!flags.cache_path.empty()) cache.path = flags.cache_path;
    if (flags.replay) cache.mode = CacheMode::kReplay;
    engine = with_cache(engine, cache);
  } else if (flags.replay) {
    throw InvalidArgument("--replay needs the cache: drop --no-cache");
  }
  engine = with_ledger(engine, ledger);
  if (flags.budget_usd > 0 && !is_priced(ledger->prices(), engine->info())) {
    throw InvalidArgument(fmt::format(
        "--budget-usd cannot be enforced: {} is unpriced (not in the price table). Give its "
        "price with --prices FILE ({{\"{}\": {{\"input\": 0.15, \"output\": 0.6}}}}, dollars per "
        "million tokens) or use --budget-tokens N",
        name, engine->info().model));
  }
  return with_budget(engine, guard);
}

}  // namespace

Engines build_engines(const EngineFlags& flags) {
  PriceTable prices;
  try {
    prices = PriceTable::builtin(flags.data_dir);
  } catch (const Error&) {
    // No shipped table found: costs show as unpriced rather than failing the run.
  }
  if (!flags.prices_path.empty()) prices.merge(PriceTable::load(flags.prices_path));
  Engines engines;
  engines.ledger = std::make_shared<Ledger>(std::move(prices));
  Budget budget;
  if (flags.budget_usd > 0) budget.max_usd = flags.budget_usd;
  if (flags.budget_tokens > 0) budget.max_tokens = flags.budget_tokens;
  engines.ledger->set_budget(budget);
  engines.guard = std::make_shared<BudgetGuard>(engines.ledger, budget);
  engines.forward = build_one(flags.engine, flags, engines.ledger, engines.guard);
  engines.backward = flags.backward_engine.empty() || flags.backward_engine == flags.engine
                         ? engines.forward
                         : build_one(flags.backward_engine, flags, engines.ledger, engines.guard);
  return engines;
}

}  // namespace tg::cli
