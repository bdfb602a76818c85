// The hooks by which with_cache() and cache_counters() reach the Redis backend.
#pragma once

#include <optional>

#include "textgrad/cache.h"

namespace tg::cache {

// with_cache() for a redis:// path: the same mode and warning callback.
EnginePtr make_redis_cache(EnginePtr inner, const CacheOptions& options);

// The counters of an engine made by with_redis_cache; nullopt for other engines.
std::optional<CacheCounters> redis_cache_counters(const Engine& engine);

}  // namespace tg::cache
