// Note [Pool identity and the cache key]
// Endpoints of a pool serve the same model, so which one answered must not change the answer
// a run sees, nor the cache key under which it is stored: otherwise a re-run would miss the
// cache whenever the balancer chose differently. The pool therefore reports one EngineInfo for
// all its endpoints, and whatever names "where the request went" in a key must name the pool
// (identity(): a user-given name, or the sorted endpoint URLs) rather than the endpoint that
// served. Per-endpoint facts (requests, failures, usage) live in stats() only.
#include "textgrad/endpoint_pool.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include "textgrad/errors.h"

namespace tg {

using Clock = PoolOptions::Clock;

namespace {

// Failures that say something about the endpoint rather than the request: worth another
// endpoint, and counted towards taking this one out.
bool is_endpoint_failure(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const EngineError& e) {
    return e.kind() == EngineErrorKind::kConnection || e.kind() == EngineErrorKind::kTimeout ||
           e.kind() == EngineErrorKind::kServer;
  } catch (...) {
    return false;
  }
}

std::string pool_identity(const std::vector<PoolEndpoint>& endpoints, const std::string& name) {
  if (!name.empty()) return name;
  std::vector<std::string> urls;
  for (const PoolEndpoint& endpoint : endpoints) urls.push_back(endpoint.url);
  std::sort(urls.begin(), urls.end());
  std::string identity = "pool:";
  for (size_t i = 0; i < urls.size(); ++i) identity += (i ? " " : "") + urls[i];
  return identity;
}

}  // namespace

struct EndpointPool::Core : std::enable_shared_from_this<Core> {
  struct Endpoint {
    PoolEndpoint config;
    EndpointStats stats;
    int consecutive_failures = 0;
    Clock::time_point out_until{};
    std::chrono::milliseconds next_backoff{};
  };
  // One request across its attempts.
  struct Attempt {
    Request request;
    std::function<void(Outcome)> done;
    std::vector<bool> tried;
    std::exception_ptr last_error;
  };

  Core(std::vector<PoolEndpoint> configs, PoolOptions opts)
      : options(std::move(opts)), identity(pool_identity(configs, options.name)) {
    if (!options.clock) options.clock = [] { return Clock::now(); };
    options.failures_to_eject = std::max(1, options.failures_to_eject);
    for (PoolEndpoint& config : configs) {
      Endpoint endpoint;
      endpoint.stats.url = config.url;
      endpoint.next_backoff = options.backoff;
      endpoint.config = std::move(config);
      endpoints.push_back(std::move(endpoint));
    }
    info = endpoints.front().config.engine->info();
    info.endpoint = identity;  // see Note [Pool identity and the cache key]
  }

  void dispatch(std::shared_ptr<Attempt> attempt) {
    std::optional<size_t> pick;
    {
      std::lock_guard lock(mu);
      pick = choose(attempt->tried);
      if (pick) {
        Endpoint& endpoint = endpoints[*pick];
        attempt->tried[*pick] = true;
        ++endpoint.stats.requests;
        ++endpoint.stats.in_flight;
      }
    }
    if (!pick) {  // every endpoint failed this request: the last failure is the answer
      attempt->done(Outcome{attempt->last_error, {}});
      return;
    }
    size_t chosen = *pick;
    auto callback = [self = shared_from_this(), attempt, chosen](Outcome outcome) {
      self->complete(attempt, chosen, std::move(outcome));
    };
    try {
      endpoints[chosen].config.engine->submit(attempt->request, callback);
    } catch (...) {
      complete(attempt, chosen, Outcome{std::current_exception(), {}});
    }
  }

  void complete(const std::shared_ptr<Attempt>& attempt, size_t index, Outcome outcome) {
    bool fail_over = false;
    {
      std::lock_guard lock(mu);
      Endpoint& endpoint = endpoints[index];
      --endpoint.stats.in_flight;
      if (outcome.ok()) {
        ++endpoint.stats.succeeded;
        endpoint.stats.usage += outcome.response.usage;
        endpoint.consecutive_failures = 0;
        endpoint.next_backoff = options.backoff;
      } else {
        ++endpoint.stats.failed;
        fail_over = is_endpoint_failure(outcome.error);
        if (fail_over) count_failure(endpoint);
      }
    }
    if (fail_over) {
      attempt->last_error = outcome.error;
      dispatch(attempt);
      return;
    }
    attempt->done(std::move(outcome));
  }

  // Called with mu held.
  void count_failure(Endpoint& endpoint) {
    ++endpoint.consecutive_failures;
    Clock::time_point now = options.clock();
    bool already_out = now < endpoint.out_until;
    if (endpoint.consecutive_failures < options.failures_to_eject || already_out) return;
    endpoint.out_until = now + endpoint.next_backoff;
    endpoint.next_backoff = std::min(endpoint.next_backoff * 2, options.max_backoff);
    ++endpoint.stats.ejections;
  }

  // The least-loaded healthy endpoint not tried yet; if none is healthy, the one due back
  // first. Called with mu held.
  std::optional<size_t> choose(const std::vector<bool>& tried) const {
    Clock::time_point now = options.clock();
    std::optional<size_t> best;
    auto better = [&](size_t a, size_t b) {
      const Endpoint& x = endpoints[a];
      const Endpoint& y = endpoints[b];
      bool x_out = now < x.out_until;
      bool y_out = now < y.out_until;
      if (x_out != y_out) return !x_out;
      if (x_out) return x.out_until < y.out_until;
      double x_load = load(x);
      double y_load = load(y);
      if (x_load != y_load) return x_load < y_load;
      return x.stats.requests < y.stats.requests;
    };
    for (size_t i = 0; i < endpoints.size(); ++i) {
      if (tried[i]) continue;
      if (!best || better(i, *best)) best = i;
    }
    return best;
  }

  static double load(const Endpoint& endpoint) {
    double capacity = std::max(1, endpoint.config.max_in_flight);
    return endpoint.stats.in_flight / capacity;
  }

  std::vector<EndpointStats> snapshot() const {
    std::lock_guard lock(mu);
    Clock::time_point now = options.clock();
    std::vector<EndpointStats> all;
    for (const Endpoint& endpoint : endpoints) {
      all.push_back(endpoint.stats);
      all.back().healthy = now >= endpoint.out_until;
    }
    return all;
  }

  PoolOptions options;
  const std::string identity;
  EngineInfo info;
  mutable std::mutex mu;
  std::vector<Endpoint> endpoints;  // the vector itself never changes after construction
};

EndpointPool::EndpointPool(std::vector<PoolEndpoint> endpoints, PoolOptions options) {
  if (endpoints.empty()) throw InvalidArgument("an endpoint pool needs at least one endpoint");
  std::string model;
  for (const PoolEndpoint& endpoint : endpoints) {
    if (!endpoint.engine) {
      throw InvalidArgument("endpoint pool: the endpoint '" + endpoint.url + "' has no engine");
    }
    std::string this_model = endpoint.engine->info().model;
    if (model.empty()) model = this_model;
    if (this_model != model) {
      throw InvalidArgument("endpoint pool: every endpoint must serve the same model, got '" +
                            model + "' and '" + this_model + "' (at " + endpoint.url + ")");
    }
  }
  core_ = std::make_shared<Core>(std::move(endpoints), std::move(options));
}

EndpointPool::~EndpointPool() = default;

EngineInfo EndpointPool::info() const { return core_->info; }

void EndpointPool::submit(Request request, std::function<void(Outcome)> done) {
  auto attempt = std::make_shared<Core::Attempt>();
  attempt->request = std::move(request);
  attempt->done = std::move(done);
  attempt->tried.assign(core_->endpoints.size(), false);
  core_->dispatch(std::move(attempt));
}

std::vector<EndpointStats> EndpointPool::stats() const { return core_->snapshot(); }

const std::string& EndpointPool::identity() const { return core_->identity; }

EnginePtr make_endpoint_pool(std::vector<PoolEndpoint> endpoints, PoolOptions options) {
  return std::make_shared<EndpointPool>(std::move(endpoints), std::move(options));
}

std::optional<std::vector<EndpointStats>> endpoint_pool_stats(const Engine& engine) {
  if (auto* pool = dynamic_cast<const EndpointPool*>(&engine)) return pool->stats();
  return std::nullopt;
}

}  // namespace tg
