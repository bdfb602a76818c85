// The response cache on Redis, shared by processes on many machines.
//
//   EnginePtr engine = with_cache(inner, {.path = "redis://cache-host:6379/0"});
//   EnginePtr tuned = with_redis_cache(inner, {.url = "redis://cache-host:6379/0",
//                                              .ttl = std::chrono::hours(24 * 30)});
//
// Same key (cache_key()), modes and semantics as the SQLite cache (textgrad/cache.h): hits
// are answered before submit() returns, identical requests in flight are sent once, errors
// are never stored, replay fails a miss with kOffline. Across processes, single flight is a
// lease in Redis; see Note [Leases in Redis] in src/cache/redis_caching_engine.cpp:
//  - the first process to miss takes the lease (SET NX PX) and calls the engine; it renews
//    the lease every lease/3 while the call runs, stores the answer, then drops the lease;
//  - other processes wait for the answer, polling every poll_interval, for at most max_wait;
//  - a holder that crashed stops renewing: its lease expires after `lease` and a waiter
//    takes it over and makes the call itself.
//
// Keys: "<prefix>resp:<cache key>" holds the answer (JSON: text, finish reason, model, usage,
// engine name, time), "<prefix>lease:<cache key>" the lease. API keys are never stored.
// TTL and size: answers are kept forever unless `ttl` is set; bound the memory with Redis
// itself (maxmemory and maxmemory-policy allkeys-lru evict the least-used answers, which are
// then asked again). Leases always expire.
//
// Redis unreachable when the engine is made: the constructor throws tg::Error naming the URL,
// after at most connect_timeout (never hangs). Redis failing later: on_warning is told once
// and calls go to the inner engine uncached (replay mode: they fail with kOffline), as with
// an unusable SQLite file.
//
// Thread safety: like every Engine. Waiting requests are answered on the cache's own thread.
// Destroying the engine writes every answer received so far; requests still waiting for
// another process's answer fail with kCancelled.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "textgrad/cache.h"
#include "textgrad/engine.h"

namespace tg {

struct RedisCacheOptions {
  // redis://[:password@]host[:port][/db][?lease_ms=N&ttl_s=N&prefix=P]; port 6379 and db 0
  // by default; parameters given in the URL override the fields below. The password is never
  // shown in messages.
  std::string url;
  CacheMode mode = CacheMode::kReadWrite;
  // Told once per problem; may be called on any thread. Empty: one line on stderr.
  std::function<void(const std::string&)> on_warning;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::chrono::milliseconds lease{10'000};
  std::chrono::milliseconds poll_interval{20};
  // Waiting longer for another process's answer than this, the request is sent anyway.
  std::chrono::milliseconds max_wait{600'000};
  // 0 = answers never expire.
  std::chrono::milliseconds ttl{0};
  std::string key_prefix = "textgrad:";
};

// True for "redis://..." (what with_cache() sends here).
bool is_redis_url(std::string_view path);

// Throws tg::Error naming the URL when Redis cannot be reached or the URL is malformed
// (InvalidArgument).
EnginePtr with_redis_cache(EnginePtr inner, RedisCacheOptions options);

}  // namespace tg
