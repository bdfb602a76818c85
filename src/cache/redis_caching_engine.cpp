// Note [Leases in Redis]
// Within a process, identical requests in flight are coalesced in memory, as in the SQLite
// cache. Across processes, the process whose lookup misses takes a lease in the same atomic
// step (one Lua script: the answer if stored, else SET lease NX PX) and is the only one to
// call the engine. The others park the request ("remote" waits) and the cache thread polls
// for the answer; each poll is the same script, so when the lease disappears without an
// answer (the holder's call failed, or the holder died and stopped renewing), the first
// poller to notice takes the lease over and makes the call. The holder stores the answer and
// drops its lease in one script, so a poller sees either the lease or the answer, never
// neither. Leases are renewed every lease/3 by the cache thread while the call runs, so a
// slow call is not mistaken for a dead holder; only a lease that outlives a stalled holder
// can cause one duplicate request, never a lost or wrong answer. Errors are never stored:
// remote waiters of a failed call make their own attempt.
#include "cache/redis_caching_engine.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "cache/redis_store.h"
#include "textgrad/errors.h"
#include "textgrad/redis_cache.h"

namespace tg {
namespace {

using cache::Claim;
using cache::RedisFailure;
using cache::RedisStore;
using Clock = std::chrono::steady_clock;
using Done = std::function<void(Outcome)>;

struct Waiter {
  Done done;
  Clock::time_point since;
};

// Unique per engine, so two engines in one process are as distinct as two processes.
std::string make_token() {
  static std::atomic<int> counter{0};
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return std::string(host) + "/" + std::to_string(getpid()) + "/" + std::to_string(++counter) +
         "/" + std::to_string(random());
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

EngineError offline_error(const std::string& engine, const std::string& url,
                          const std::string& key) {
  return EngineError(EngineErrorKind::kOffline,
                     "replay mode: this request to " + engine + " is not cached (key " +
                         key.substr(0, 12) + "..., cache " + url +
                         "). Record it first by running once with the cache in read_write mode, "
                         "or check that the prompt, engine, sampling parameters and sample "
                         "index match the recorded run.");
}

}  // namespace

struct RedisCore : std::enable_shared_from_this<RedisCore> {
  RedisCore(EnginePtr inner_engine, RedisCacheOptions opts, std::unique_ptr<RedisStore> redis)
      : inner(std::move(inner_engine)),
        options(std::move(opts)),
        info(inner->info()),
        store(std::move(redis)),
        token(make_token()) {}

  void start() {
    worker = std::thread([self = shared_from_this()] { self->work(); });
  }

  void submit(Request request, Done done);
  void shutdown();
  void flush();
  CacheCounters counters_snapshot() const {
    std::lock_guard lock(mu);
    return counters;
  }

  const EnginePtr inner;
  const RedisCacheOptions options;
  const EngineInfo info;

 private:
  struct Remote {
    Request request;
    std::vector<Waiter> waiters;  // the first becomes the leader if we take the lease over
    Clock::time_point since;
  };
  struct Write {
    std::string key;
    Response response;
  };

  void lookup_and_claim(const std::string& key, Request request, Done done);
  void call_inner(const std::string& key, Request request, Done leader);
  void finish(const std::string& key, Outcome outcome, Done leader);
  void take_over(const std::string& key, bool leased);
  void work();
  void write(const Write& entry);
  void poll(const std::string& key);
  void fail(const RedisFailure& failure);
  void warn_once(const std::string& category, const std::string& message);
  void deliver_hit(std::vector<Waiter> waiters, const Response& response, bool count_as_hit);
  void count(std::int64_t CacheCounters::*counter, const Usage& saved = {}) {
    std::lock_guard lock(mu);
    ++(counters.*counter);
    counters.saved += saved;
  }

  std::unique_ptr<RedisStore> store;
  const std::string token;
  std::atomic<bool> broken{false};

  mutable std::mutex mu;
  std::condition_variable wake;
  std::condition_variable written_cv;
  std::unordered_map<std::string, std::vector<Waiter>> flights;  // we are calling
  std::unordered_map<std::string, Remote> remote;                // another process is
  std::unordered_map<std::string, Response> unwritten;
  std::set<std::string> held;  // leases we hold
  std::vector<Write> to_write;
  std::vector<std::string> to_release;
  std::uint64_t enqueued = 0;
  std::uint64_t written = 0;
  bool stopping = false;
  bool stopped = false;
  CacheCounters counters;
  std::set<std::string> warned;
  std::thread worker;
};

void RedisCore::submit(Request request, Done done) {
  if (options.mode == CacheMode::kOff) {
    count(&CacheCounters::bypasses);
    inner->submit(std::move(request), std::move(done));
    return;
  }
  std::string key;
  try {
    key = cache_key(info, request);
  } catch (...) {
    done(Outcome{std::current_exception(), {}});
    return;
  }
  if (broken.load()) {
    if (options.mode == CacheMode::kReplay) {
      count(&CacheCounters::misses);
      done(Outcome{std::make_exception_ptr(offline_error(info.name, store->display_url(), key)),
                   {}});
      return;
    }
    count(&CacheCounters::bypasses);
    inner->submit(std::move(request), std::move(done));
    return;
  }
  {
    std::unique_lock lock(mu);
    if (auto flight = flights.find(key); flight != flights.end()) {
      flight->second.push_back({std::move(done), Clock::now()});
      return;
    }
    if (auto parked = remote.find(key); parked != remote.end()) {
      parked->second.waiters.push_back({std::move(done), Clock::now()});
      return;
    }
    if (options.mode != CacheMode::kRefresh) {
      if (auto pending = unwritten.find(key); pending != unwritten.end()) {
        Response response = pending->second;
        lock.unlock();
        deliver_hit({{std::move(done), Clock::now()}}, response, true);
        return;
      }
    }
    if (options.mode != CacheMode::kReplay) flights.try_emplace(key);
  }
  lookup_and_claim(key, std::move(request), std::move(done));
}

// This request leads its key's flight (except in replay mode, which never calls).
void RedisCore::lookup_and_claim(const std::string& key, Request request, Done done) {
  if (options.mode == CacheMode::kRefresh) {
    count(&CacheCounters::misses);
    call_inner(key, std::move(request), std::move(done));
    return;
  }
  try {
    if (options.mode == CacheMode::kReplay) {
      std::optional<Response> found = store->get(key);
      if (!found) throw offline_error(info.name, store->display_url(), key);
      deliver_hit({{std::move(done), Clock::now()}}, *found, true);
      return;
    }
    Claim claim = store->claim(key, token, options.lease);
    if (claim.kind == Claim::kHit) {
      std::vector<Waiter> everyone{{std::move(done), Clock::now()}};
      {
        std::lock_guard lock(mu);
        auto node = flights.extract(key);
        for (Waiter& w : node.mapped()) everyone.push_back(std::move(w));
      }
      deliver_hit(std::move(everyone), claim.response, true);
      return;
    }
    std::unique_lock lock(mu);
    if (claim.kind == Claim::kLeased) {
      held.insert(key);
      ++counters.misses;
      lock.unlock();
      wake.notify_all();  // the cache thread renews the lease
      call_inner(key, std::move(request), std::move(done));
      return;
    }
    // Another process holds the lease: park everyone waiting on this key for the poller.
    auto node = flights.extract(key);
    Remote parked{std::move(request), {{std::move(done), Clock::now()}}, Clock::now()};
    for (Waiter& w : node.mapped()) parked.waiters.push_back(std::move(w));
    remote.emplace(key, std::move(parked));
    lock.unlock();
    wake.notify_all();
  } catch (const EngineError&) {
    count(&CacheCounters::misses);
    done(Outcome{std::current_exception(), {}});
  } catch (const RedisFailure& failure) {
    fail(failure);
    if (options.mode == CacheMode::kReplay) {
      count(&CacheCounters::misses);
      done(Outcome{std::make_exception_ptr(offline_error(info.name, store->display_url(), key)),
                   {}});
      return;
    }
    count(&CacheCounters::bypasses);
    call_inner(key, std::move(request), std::move(done));  // still one call for the flight
  }
}

void RedisCore::call_inner(const std::string& key, Request request, Done leader) {
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto leader_ptr = std::make_shared<Done>(std::move(leader));
  auto callback = [self = shared_from_this(), key, finished, leader_ptr](Outcome outcome) {
    if (!finished->exchange(true)) self->finish(key, std::move(outcome), std::move(*leader_ptr));
  };
  try {
    inner->submit(std::move(request), callback);
  } catch (...) {
    if (!finished->exchange(true)) {
      finish(key, Outcome{std::current_exception(), {}}, std::move(*leader_ptr));
    }
  }
}

void RedisCore::finish(const std::string& key, Outcome outcome, Done leader) {
  std::vector<Waiter> followers;
  bool write_now = false;
  {
    // Leaving the flight and entering `unwritten` in one step: a new identical request
    // finds one or the other, never neither.
    std::lock_guard lock(mu);
    if (auto node = flights.extract(key)) followers = std::move(node.mapped());
    if (outcome.ok() && !broken.load()) {
      unwritten[key] = outcome.response;
      ++enqueued;
      write_now = stopped;
      if (!stopped) to_write.push_back({key, outcome.response});
    } else if (held.count(key)) {
      to_release.push_back(key);
    }
  }
  if (write_now) write({key, outcome.response});
  wake.notify_all();
  for (Waiter& follower : followers) {
    Outcome copy{outcome.error, outcome.response};
    if (copy.ok()) {
      copy.response.from_cache = true;
      copy.response.latency_ms = ms_since(follower.since);
    }
    count(&CacheCounters::coalesced, copy.ok() ? copy.response.usage : Usage{});
    try {
      follower.done(std::move(copy));
    } catch (...) {
    }
  }
  leader(std::move(outcome));
}

void RedisCore::deliver_hit(std::vector<Waiter> waiters, const Response& response,
                            bool count_as_hit) {
  for (Waiter& waiter : waiters) {
    Response copy = response;
    copy.from_cache = true;
    copy.latency_ms = count_as_hit ? 0 : ms_since(waiter.since);
    count(count_as_hit ? &CacheCounters::hits : &CacheCounters::coalesced, copy.usage);
    try {
      waiter.done(Outcome{nullptr, std::move(copy)});
    } catch (...) {
    }
  }
}

// The cache thread: writes answers, drops and renews leases, polls for parked requests.
void RedisCore::work() {
  auto next_renew = Clock::now() + options.lease / 3;
  for (;;) {
    std::vector<Write> writes;
    std::vector<std::string> releases, renewals, polls;
    {
      std::unique_lock lock(mu);
      auto ready = [&] { return stopping || !to_write.empty() || !to_release.empty(); };
      if (!ready()) {
        if (!remote.empty()) {
          wake.wait_for(lock, options.poll_interval, ready);
        } else if (!held.empty()) {
          wake.wait_until(lock, next_renew, [&] { return ready() || !remote.empty(); });
        } else {
          wake.wait(lock, [&] { return ready() || !remote.empty() || !held.empty(); });
        }
      }
      writes.swap(to_write);
      releases.swap(to_release);
      for (const auto& [key, parked] : remote) polls.push_back(key);
      if (Clock::now() >= next_renew) {
        renewals.assign(held.begin(), held.end());
        next_renew = Clock::now() + options.lease / 3;
      }
      if (stopping && writes.empty() && releases.empty()) break;
    }
    for (const Write& entry : writes) write(entry);
    for (const std::string& key : releases) {
      try {
        if (!broken.load()) store->release(key, token);
      } catch (const RedisFailure& failure) {
        fail(failure);
      }
      std::lock_guard lock(mu);
      held.erase(key);
    }
    if (!renewals.empty() && !broken.load()) {
      try {
        store->renew(renewals, token, options.lease);
      } catch (const RedisFailure& failure) {
        fail(failure);
      }
    }
    for (const std::string& key : polls) poll(key);
  }
  // Nobody is left to poll for these: they fail rather than wait forever.
  std::unordered_map<std::string, Remote> abandoned;
  {
    std::lock_guard lock(mu);
    abandoned.swap(remote);
    stopped = true;
  }
  for (auto& [key, parked] : abandoned) {
    for (Waiter& waiter : parked.waiters) {
      waiter.done(Outcome{std::make_exception_ptr(EngineError(
                              EngineErrorKind::kCancelled,
                              "the Redis response cache was destroyed while this request "
                              "waited for another process's answer")),
                          {}});
    }
  }
}

void RedisCore::write(const Write& entry) {
  try {
    if (!broken.load()) {
      store->put(entry.key, entry.response, info.name, token, options.ttl);
      count(&CacheCounters::stored);
    }
  } catch (const RedisFailure& failure) {
    fail(failure);
  }
  {
    std::lock_guard lock(mu);
    held.erase(entry.key);
    if (auto pending = unwritten.find(entry.key);
        pending != unwritten.end() && !flights.count(entry.key)) {
      unwritten.erase(pending);
    }
    ++written;
  }
  written_cv.notify_all();
}

void RedisCore::poll(const std::string& key) {
  Clock::time_point since;
  {
    std::lock_guard lock(mu);
    auto parked = remote.find(key);
    if (parked == remote.end()) return;
    since = parked->second.since;
  }
  if (broken.load()) return take_over(key, false);
  try {
    Claim claim = store->claim(key, token, options.lease);
    if (claim.kind == Claim::kHit) {
      std::vector<Waiter> waiters;
      {
        std::lock_guard lock(mu);
        waiters = std::move(remote.extract(key).mapped().waiters);
      }
      deliver_hit(std::move(waiters), claim.response, false);
      return;
    }
    if (claim.kind == Claim::kLeased) return take_over(key, true);
    if (Clock::now() - since > options.max_wait) {
      warn_once("max-wait", "response cache " + store->display_url() +
                                ": waited longer than max_wait for another process's answer; "
                                "sending the request anyway");
      take_over(key, false);
    }
  } catch (const RedisFailure& failure) {
    fail(failure);
    take_over(key, false);
  }
}

// A parked request is called here after all: its first waiter leads, the others follow.
void RedisCore::take_over(const std::string& key, bool leased) {
  Request request;
  Done leader;
  {
    std::lock_guard lock(mu);
    Remote parked = std::move(remote.extract(key).mapped());
    request = std::move(parked.request);
    leader = std::move(parked.waiters.front().done);
    flights.emplace(key, std::vector<Waiter>(std::make_move_iterator(parked.waiters.begin() + 1),
                                             std::make_move_iterator(parked.waiters.end())));
    if (leased) held.insert(key);
    ++(leased ? counters.misses : counters.bypasses);
  }
  call_inner(key, std::move(request), std::move(leader));
}

void RedisCore::fail(const RedisFailure& failure) {
  if (broken.exchange(true)) return;
  std::string consequence = options.mode == CacheMode::kReplay ? "requests fail with kOffline"
                                                               : "calls go to the engine uncached";
  warn_once("broken", std::string("response cache ") + failure.what() + "; from now on " +
                          consequence + ". Check that Redis is running at " + store->display_url() +
                          ".");
}

void RedisCore::warn_once(const std::string& category, const std::string& message) {
  {
    std::lock_guard lock(mu);
    if (!warned.insert(category).second) return;
  }
  if (options.on_warning) {
    options.on_warning(message);
  } else {
    std::fprintf(stderr, "textgrad: warning: %s\n", message.c_str());
  }
}

void RedisCore::flush() {
  std::unique_lock lock(mu);
  std::uint64_t target = enqueued;
  written_cv.wait(lock, [&] { return written >= target || stopped; });
}

void RedisCore::shutdown() {
  {
    std::lock_guard lock(mu);
    stopping = true;
  }
  wake.notify_all();
  if (!worker.joinable()) return;
  // A callback run by the cache thread may drop the last reference to the engine.
  if (worker.get_id() == std::this_thread::get_id()) {
    worker.detach();
  } else {
    worker.join();
  }
}

// --- the engine ---

class RedisCachingEngine : public Engine {
 public:
  RedisCachingEngine(EnginePtr inner, RedisCacheOptions options) {
    if (!inner) throw InvalidArgument("with_redis_cache needs an engine to wrap, got null");
    cache::RedisUrl url = cache::parse_redis_url(options.url);
    if (url.lease_ms) options.lease = std::chrono::milliseconds(std::max(1L, *url.lease_ms));
    if (url.ttl_s) options.ttl = std::chrono::seconds(*url.ttl_s);
    if (url.prefix) options.key_prefix = *url.prefix;
    cache::RedisSettings settings{.url = std::move(url),
                                  .connect_timeout = options.connect_timeout,
                                  .command_timeout = options.command_timeout,
                                  .key_prefix = options.key_prefix};
    std::string shown = settings.url.display();
    std::unique_ptr<RedisStore> store;
    try {
      store = std::make_unique<RedisStore>(std::move(settings));
    } catch (const RedisFailure& failure) {
      throw Error("cannot use the Redis response cache at " + shown + ": " + failure.what() +
                  ". Start Redis there (redis-server --port N), fix the URL, or leave out "
                  "--cache (CacheOptions::path) to use the local SQLite cache.");
    }
    core_ = std::make_shared<RedisCore>(std::move(inner), std::move(options), std::move(store));
    core_->start();
  }
  ~RedisCachingEngine() override {
    core_->flush();
    core_->shutdown();
  }

  EngineInfo info() const override { return core_->info; }
  void submit(Request request, std::function<void(Outcome)> done) override {
    core_->submit(std::move(request), std::move(done));
  }
  CacheCounters counters() const { return core_->counters_snapshot(); }

 private:
  std::shared_ptr<RedisCore> core_;
};

bool is_redis_url(std::string_view path) { return path.starts_with("redis://"); }

EnginePtr with_redis_cache(EnginePtr inner, RedisCacheOptions options) {
  return std::make_shared<RedisCachingEngine>(std::move(inner), std::move(options));
}

namespace cache {

EnginePtr make_redis_cache(EnginePtr inner, const CacheOptions& options) {
  RedisCacheOptions redis{
      .url = options.path, .mode = options.mode, .on_warning = options.on_warning};
  return with_redis_cache(std::move(inner), std::move(redis));
}

std::optional<CacheCounters> redis_cache_counters(const Engine& engine) {
  if (auto* cached = dynamic_cast<const RedisCachingEngine*>(&engine)) return cached->counters();
  return std::nullopt;
}

}  // namespace cache
}  // namespace tg
