#include "endpoint_flags.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "textgrad/errors.h"
#include "textgrad/limits.h"

namespace tg::cli {

EndpointSpec parse_endpoint(const std::string& value) {
  if (!value.starts_with("{")) {
    if (value.empty()) throw InvalidArgument("--endpoint needs a URL, e.g. http://gpu1:8000/v1");
    return {.url = value};
  }
  nlohmann::json doc = nlohmann::json::parse(value, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("url") || !doc["url"].is_string()) {
    throw InvalidArgument("--endpoint '" + value +
                          "' is neither a URL nor a JSON object with "
                          "a \"url\" (and optionally key_env, max_in_flight, rpm, tpm)");
  }
  EndpointSpec spec;
  try {
    for (const auto& [name, field] : doc.items()) {
      if (name == "url") {
        spec.url = field.get<std::string>();
      } else if (name == "key_env") {
        spec.key_env = field.get<std::string>();
      } else if (name == "max_in_flight") {
        spec.max_in_flight = field.get<int>();
      } else if (name == "rpm") {
        spec.requests_per_minute = field.get<double>();
      } else if (name == "tpm") {
        spec.tokens_per_minute = field.get<double>();
      } else {
        throw InvalidArgument("--endpoint '" + spec.url + "': unknown field '" + name +
                              "' (known: url, key_env, max_in_flight, rpm, tpm)");
      }
    }
  } catch (const nlohmann::json::exception&) {
    throw InvalidArgument("--endpoint '" + value +
                          "': key_env is a string; max_in_flight, rpm "
                          "and tpm are numbers");
  }
  if (spec.max_in_flight < 0 || spec.requests_per_minute < 0 || spec.tokens_per_minute < 0) {
    throw InvalidArgument("--endpoint '" + spec.url + "': limits cannot be negative");
  }
  return spec;
}

void add_endpoint_flags(CLI::App& command, std::vector<std::string>& endpoints) {
  command.add_option("--endpoint", endpoints,
                     "Base URL of one endpoint serving --engine's model; repeat it for a pool "
                     "(least-loaded healthy endpoint; failing ones are taken out for a while)");
}

std::shared_ptr<EndpointPool> make_pool_engine(const std::string& name, const EngineOptions& base,
                                               const std::vector<std::string>& endpoints) {
  std::vector<PoolEndpoint> members;
  for (const std::string& value : endpoints) {
    EndpointSpec spec = parse_endpoint(value);
    EngineOptions options = base;
    options.base_url = spec.url;
    options.max_retries = std::min(base.max_retries, 1);
    if (!spec.key_env.empty()) {
      const char* key = std::getenv(spec.key_env.c_str());
      if (!key || !*key) {
        throw InvalidArgument("the endpoint " + spec.url + " takes its key from $" + spec.key_env +
                              ", which is not set: export it, or drop key_env");
      }
      options.api_key = key;
    }
    EnginePtr engine = make_engine(name, options);
    if (spec.max_in_flight > 0 || spec.requests_per_minute > 0 || spec.tokens_per_minute > 0) {
      engine = with_limits(engine,
                           {spec.max_in_flight, spec.requests_per_minute, spec.tokens_per_minute});
    }
    members.push_back({std::move(engine), spec.url, spec.max_in_flight});
  }
  return std::make_shared<EndpointPool>(std::move(members));
}

void print_endpoint_usage(std::ostream& out, const EndpointPool& pool, const Ledger& ledger) {
  EngineInfo info = pool.info();
  for (const EndpointStats& s : pool.stats()) {
    std::optional<double> cost = ledger.prices().cost(info.provider, info.model, s.usage);
    out << fmt::format(
        "  endpoint {}: {} requests, {} failed, taken out {} times{}, {} input + {} output "
        "tokens, {}\n",
        s.url, s.requests, s.failed, s.ejections, s.healthy ? "" : " (out now)",
        s.usage.input_tokens, s.usage.output_tokens,
        cost ? fmt::format("${:.4f}", *cost) : std::string("unpriced"));
  }
}

}  // namespace tg::cli
