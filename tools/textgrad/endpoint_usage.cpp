#include "endpoint_usage.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "run_dir.h"

namespace tg::cli {

using nlohmann::json;

std::string endpoint_usage_event(const EndpointPool& pool, const Ledger& ledger) {
  const EngineInfo info = pool.info();
  json endpoints = json::array();
  for (const EndpointStats& s : pool.stats()) {
    const std::optional<double> cost = ledger.prices().cost(info.provider, info.model, s.usage);
    endpoints.push_back({{"url", s.url},
                         {"requests", s.requests},
                         {"failed", s.failed},
                         {"ejections", s.ejections},
                         {"input_tokens", s.usage.input_tokens},
                         {"output_tokens", s.usage.output_tokens},
                         {"cost_usd", cost.value_or(0)},
                         {"priced", cost.has_value()}});
  }
  return json{{"type", "endpoints"}, {"time", iso_time_now()}, {"endpoints", endpoints}}.dump(
      -1, ' ', false, json::error_handler_t::replace);
}

std::vector<EndpointUsage> read_endpoint_usage(const std::string& events_jsonl) {
  std::vector<EndpointUsage> out;
  std::istringstream lines(events_jsonl);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("\"endpoints\"") == std::string::npos) continue;  // most lines are calls
    const json event = json::parse(line, nullptr, false);
    if (!event.is_object() || event.value("type", "") != "endpoints" ||
        !event.contains("endpoints") || !event["endpoints"].is_array()) {
      continue;
    }
    for (const json& e : event["endpoints"]) {
      if (!e.is_object()) continue;
      const std::string url = e.value("url", "");
      auto at = std::find_if(out.begin(), out.end(),
                             [&](const EndpointUsage& u) { return u.url == url; });
      if (at == out.end()) at = out.insert(out.end(), EndpointUsage{.url = url});
      at->requests += e.value("requests", std::int64_t{0});
      at->failed += e.value("failed", std::int64_t{0});
      at->ejections += e.value("ejections", std::int64_t{0});
      at->usage += Usage{e.value("input_tokens", std::int64_t{0}),
                         e.value("output_tokens", std::int64_t{0}), 0};
      at->cost_usd += e.value("cost_usd", 0.0);
      at->priced = at->priced && e.value("priced", true);
    }
  }
  return out;
}

}  // namespace tg::cli
