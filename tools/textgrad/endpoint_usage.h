// Per-endpoint usage of an endpoint pool in a run's records: one "endpoints" line per session
// in events.jsonl (what each endpoint of the pool did in that session), summed over the
// sessions for the reports' "Endpoints" table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "textgrad/endpoint_pool.h"
#include "textgrad/usage.h"

namespace tg::cli {

struct EndpointUsage {
  std::string url;
  std::int64_t requests = 0;  // attempts sent to it, fail-overs included
  std::int64_t failed = 0;
  std::int64_t ejections = 0;  // times it was taken out
  Usage usage;                 // of its successful answers
  double cost_usd = 0;
  bool priced = true;  // false when the model has no price
};

// {"type": "endpoints", "time": ..., "endpoints": [{"url", "requests", "failed", "ejections",
// "input_tokens", "output_tokens", "cost_usd", "priced"}, ...]}, priced with the ledger's table.
std::string endpoint_usage_event(const EndpointPool& pool, const Ledger& ledger);

// Summed over every "endpoints" line, endpoints in the order first seen; empty without a pool.
// Lines that do not parse are skipped.
std::vector<EndpointUsage> read_endpoint_usage(const std::string& events_jsonl);

}  // namespace tg::cli
