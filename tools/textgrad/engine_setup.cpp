#include "engine_setup.h"

#include "endpoint_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "checks.h"
#include "textgrad/budget_guard.h"
#include "textgrad/cache.h"
#include "textgrad/data.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "textgrad/limits.h"
#include "util/suggest.h"
#include "util/text.h"

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
      ->check(at_least(1))
      ->capture_default_str();
  command
      .add_option("--rpm", flags.requests_per_minute,
                  "Requests per minute per engine (0: no limit)")
      ->check(at_least(0));
  command
      .add_option("--tpm", flags.tokens_per_minute, "Tokens per minute per engine (0: no limit)")
      ->check(at_least(0));
  command.add_option("--timeout", flags.timeout_s, "Seconds per request attempt")
      ->check(greater_than(0))
      ->capture_default_str();
  command.add_option("--max-retries", flags.max_retries, "Retries of transient failures")
      ->check(at_least(0))
      ->capture_default_str();
  command
      .add_option("--cache", flags.cache_path, "Response cache file (default: ~/.cache/textgrad)")
      ->check(not_a_folder());
  command.add_flag("--no-cache", flags.no_cache, "Do not read or write the response cache");
  command.add_flag("--replay", flags.replay,
                   "Serve answers only from the cache; fail on a miss (exact offline re-runs)");
  command.add_option("--prices", flags.prices_path, "JSON price table overriding the shipped one")
      ->check(input_file());
  command
      .add_option("--budget-usd", flags.budget_usd,
                  "Spend at most this many dollars (checked before every call)")
      ->check(at_least(0));
  command
      .add_option("--budget-tokens", flags.budget_tokens,
                  "Spend at most this many tokens (checked before every call)")
      ->check(at_least(0));
  command
      .add_option("--data-dir", flags.data_dir,
                  "Folder holding the datasets; a prices.json or models.json in it overrides "
                  "the shipped table entry by entry")
      ->check(input_folder());
  command.add_option("--temperature", flags.temperature, "Sampling temperature (default 0)")
      ->check(CLI::Range(0.0, 2.0));
  command.add_option("--top-p", flags.top_p, "Nucleus sampling top_p (default 0.99)")
      ->check(CLI::Range(0.0, 1.0));
  command
      .add_option("--max-tokens", flags.max_tokens, "Output token limit per call (default 2000)")
      ->check(CLI::PositiveNumber);
  add_endpoint_flags(command, flags.endpoints);
}

namespace {

// "provider/model" for a key of the price table ("gpt-4o" -> "openai/gpt-4o"); keys of other
// bare model families are kept as they are (make_engine accepts them too).
std::string engine_name_of_price_key(const std::string& key) {
  if (key.find('/') != std::string::npos) return key;
  const bool o_series =
      key.size() >= 2 && key[0] == 'o' && std::isdigit(static_cast<unsigned char>(key[1]));
  if (o_series || key.starts_with("gpt-")) return "openai/" + key;
  if (key.starts_with("claude-")) return "anthropic/" + key;
  if (key.starts_with("gemini-")) return "gemini/" + key;
  return key;
}

// Every priced model, as an engine name: the names a typo most likely meant.
std::vector<std::string> priced_engine_names(const std::string& data_dir) {
  std::vector<std::string> names;
  try {
    const auto path = std::filesystem::path(find_data_dir(data_dir)) / "prices.json";
    const nlohmann::json table = nlohmann::json::parse(util::read_file(path.string()));
    for (const auto& [key, price] : table.items()) {
      if (!key.starts_with("_") && !key.ends_with("/")) {
        names.push_back(engine_name_of_price_key(key));
      }
    }
  } catch (const std::exception&) {
    // No table, no suggestions: the error itself still says what is accepted.
  }
  return names;
}

std::string model_part(const std::string& name) {
  const size_t slash = name.find('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

// The priced engine `name` most likely meant. A name without a provider is compared with the
// model parts ("gpt4o" -> "openai/gpt-4o"), a qualified one with whole names ("opneai/gpt-4o").
std::optional<std::string> suggest_engine(const std::string& name,
                                          const std::vector<std::string>& known) {
  const bool qualified = name.find('/') != std::string::npos;
  std::vector<std::string> keys;
  for (const std::string& engine : known) keys.push_back(qualified ? engine : model_part(engine));
  const std::optional<std::string> key = util::closest_name(name, keys);
  if (!key) return std::nullopt;
  return known[std::find(keys.begin(), keys.end(), *key) - keys.begin()];
}

EnginePtr make_named_engine(const std::string& name, const EngineOptions& options,
                            const std::string& data_dir) {
  try {
    return make_engine(name, options);
  } catch (const InvalidArgument& e) {
    const std::string message = e.what();
    if (!message.starts_with("unknown engine name")) throw;
    const auto suggestion = suggest_engine(name, priced_engine_names(data_dir));
    if (!suggestion) throw;
    throw InvalidArgument(fmt::format("unknown engine name \"{}\": did you mean {}?\n{}", name,
                                      *suggestion, message));
  }
}

// A model of a known provider that the price table does not know is most often a typo
// ("openai/gpt4o"): it is accepted, since providers add models faster than the table, but its
// cost would silently read $0, so the user is told at the start.
void warn_if_unpriced(const Engine& engine, const PriceTable& prices, const std::string& data_dir) {
  const EngineInfo info = engine.info();
  if (prices.is_priced(info.provider, info.model)) return;
  const std::string provider = info.name.substr(0, info.name.find('/'));
  std::vector<std::string> same_provider;
  for (const std::string& known : priced_engine_names(data_dir)) {
    if (known.starts_with(provider + "/")) same_provider.push_back(known);
  }
  const auto suggestion = suggest_engine(info.model, same_provider);
  std::cerr << fmt::format(
      "textgrad: warning: {} is not in the price table, so its calls show as unpriced and "
      "cost limits cannot count them. {}Otherwise give its price with --prices FILE.\n",
      info.name, suggestion ? fmt::format("Did you mean {}? ", *suggestion) : std::string());
}

EnginePtr build_one(const std::string& name, const EngineFlags& flags,
                    const std::shared_ptr<Ledger>& ledger,
                    const std::shared_ptr<BudgetGuard>& guard,
                    std::shared_ptr<EndpointPool>* pool = nullptr) {
  EngineOptions options;
  options.timeout_s = flags.timeout_s;
  options.max_retries = flags.max_retries;
  if (flags.temperature) options.sampling.temperature = flags.temperature;
  if (flags.top_p) options.sampling.top_p = flags.top_p;
  if (flags.max_tokens) options.sampling.max_tokens = flags.max_tokens;
  const std::string user_models = flags.data_dir + "/models.json";
  if (!flags.data_dir.empty() && std::filesystem::is_regular_file(user_models)) {
    options.model_table_path = user_models;
  }
  EnginePtr engine;
  if (pool && !flags.endpoints.empty()) {
    engine = *pool = make_pool_engine(name, options, flags.endpoints);
  } else {
    engine = make_named_engine(name, options, flags.data_dir);
  }
  warn_if_unpriced(*engine, ledger->prices(), flags.data_dir);
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
  if (flags.budget_usd > 0 &&
      !ledger->prices().is_priced(engine->info().provider, engine->info().model)) {
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
  // The shipped table is compiled in; a prices.json in --data-dir and --prices override it.
  PriceTable prices = PriceTable::builtin(flags.data_dir);
  if (!flags.prices_path.empty()) prices.merge(PriceTable::load(flags.prices_path));
  Engines engines;
  engines.ledger = std::make_shared<Ledger>(std::move(prices));
  Budget budget;
  if (flags.budget_usd > 0) budget.max_usd = flags.budget_usd;
  if (flags.budget_tokens > 0) budget.max_tokens = flags.budget_tokens;
  engines.ledger->set_budget(budget);
  engines.guard = std::make_shared<BudgetGuard>(engines.ledger, budget);
  engines.forward = build_one(flags.engine, flags, engines.ledger, engines.guard, &engines.pool);
  engines.backward = flags.backward_engine.empty() || flags.backward_engine == flags.engine
                         ? engines.forward
                         : build_one(flags.backward_engine, flags, engines.ledger, engines.guard);
  return engines;
}

}  // namespace tg::cli
