// `--endpoint URL` (repeatable): one engine over several endpoints of the same model (an
// endpoint pool). In a JSON --config file each endpoint may be an object giving its own key
// variable and limits:
//   {"eval": {"endpoint": [{"url": "http://gpu1:8000/v1", "key_env": "GPU1_KEY",
//                           "max_in_flight": 16, "rpm": 600, "tpm": 0}, "http://gpu2:8000/v1"]}}
// (on the command line: --endpoint '{"url": ..., "key_env": ...}').
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "textgrad/endpoint_pool.h"
#include "textgrad/engines.h"
#include "textgrad/usage.h"

namespace CLI {
class App;
}

namespace tg::cli {

struct EndpointSpec {
  std::string url;
  std::string key_env;  // empty: the provider's usual variable
  int max_in_flight = 0;
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
};

// A URL, or a JSON object as above; throws InvalidArgument saying what is wrong.
EndpointSpec parse_endpoint(const std::string& value);

void add_endpoint_flags(CLI::App& command, std::vector<std::string>& endpoints);

// The pool of `name` over the endpoints; `base` gives timeouts and retries (at most one retry
// per endpoint: the pool fails over instead).
std::shared_ptr<EndpointPool> make_pool_engine(const std::string& name, const EngineOptions& base,
                                               const std::vector<std::string>& endpoints);

// One line per endpoint: requests, failures, ejections, tokens and dollars.
void print_endpoint_usage(std::ostream& out, const EndpointPool& pool, const Ledger& ledger);

}  // namespace tg::cli
