// Endpoint pools: one Engine over several endpoints that serve the same model (vLLM or
// llama.cpp replicas, several API keys, several regions).
//
//   std::vector<PoolEndpoint> endpoints;
//   for (std::string url : {"http://gpu1:8000/v1", "http://gpu2:8000/v1"}) {
//     EngineOptions options;
//     options.base_url = url;
//     options.max_retries = 0;  // the pool fails over instead of waiting on a sick endpoint
//     endpoints.push_back({make_engine("vllm/qwen2.5", options), url, /*max_in_flight=*/16});
//   }
//   EnginePtr engine = with_cache(make_endpoint_pool(std::move(endpoints)));
//
// Each request goes to the least-loaded healthy endpoint (requests in flight relative to the
// endpoint's max_in_flight; ties go to the endpoint that has served the fewest requests, then
// to the first listed). An endpoint whose requests fail with a connection error, a timeout or
// a 5xx `failures_to_eject` times in a row is taken out for `backoff` (doubled on each
// repeated ejection, up to `max_backoff`); the request that failed is sent again to another
// endpoint it has not tried yet. When every endpoint is out, the one due back first is used:
// a pool never refuses a request just because its endpoints are sick.
//
// See Note [Pool identity and the cache key]: answers, and the cache key, must not depend on
// which endpoint served. The pool reports the first endpoint's EngineInfo, and identity()
// names the pool as a whole (its name, or its sorted endpoint URLs) for use in cache keys.
//
// Thread safety: safe to call from many threads at once, like every Engine. Callbacks run on
// the endpoints' delivery threads. Requests still in flight when the pool is destroyed
// complete normally (they keep what they need alive).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "textgrad/engine.h"

namespace tg {

struct PoolEndpoint {
  EnginePtr engine;       // serves the same model as the pool's other endpoints
  std::string url;        // for statistics, messages and the pool's identity (no credentials)
  int max_in_flight = 0;  // the endpoint's capacity for load balancing; 0 = unlimited
};

struct PoolOptions {
  using Clock = std::chrono::steady_clock;
  int failures_to_eject = 3;  // consecutive connection/timeout/5xx failures
  std::chrono::milliseconds backoff{30'000};
  std::chrono::milliseconds max_backoff{300'000};
  // Empty: the sorted endpoint URLs joined by spaces (see identity()).
  std::string name;
  // Empty: steady_clock::now. A seam so tests can move time on without sleeping.
  std::function<Clock::time_point()> clock;
};

// What one endpoint did since the pool was created.
struct EndpointStats {
  std::string url;
  std::int64_t requests = 0;  // attempts sent to this endpoint (fail-overs included)
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;     // every failure, endpoint failures or not
  std::int64_t ejections = 0;  // times it was taken out
  int in_flight = 0;
  bool healthy = true;  // false while taken out
  Usage usage;          // of its successful answers
};

class EndpointPool : public Engine {
 public:
  // Throws InvalidArgument for no endpoints, a null engine or endpoints serving different
  // models.
  EndpointPool(std::vector<PoolEndpoint> endpoints, PoolOptions options = {});
  ~EndpointPool() override;

  // The first endpoint's info: the same for every endpoint of the pool.
  EngineInfo info() const override;
  void submit(Request request, std::function<void(Outcome)> done) override;

  // In the order the endpoints were given.
  std::vector<EndpointStats> stats() const;
  // The pool's name, else "pool:" + the sorted endpoint URLs joined by spaces.
  const std::string& identity() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

EnginePtr make_endpoint_pool(std::vector<PoolEndpoint> endpoints, PoolOptions options = {});

// The per-endpoint statistics of a pool made by make_endpoint_pool; nullopt for other engines.
std::optional<std::vector<EndpointStats>> endpoint_pool_stats(const Engine& engine);

}  // namespace tg
