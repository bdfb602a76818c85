// The response cache: an Engine decorator that answers repeated requests from a SQLite file.
//
//   EnginePtr engine = with_cache(make_engine("openai/gpt-4o"));            // read_write
//   EnginePtr offline = with_cache(inner, {.mode = CacheMode::kReplay});    // no network
//
// The key is a SHA-256 of the whole request as the inner engine would send it: canonical
// provider (ollama, groq, openai, ...), wire format, endpoint (base URL without credentials,
// Azure deployment; never the key), model, system prompt, every content part (images by media type
// and bytes), the sampling parameters actually used (the engine's defaults when the request has
// none) and the sample index. The phase is not part of it (it is accounting only).
//
// Many threads and many processes may share one file. Identical requests in flight at the
// same time are sent once; the others wait for that answer. Errors are never stored.
// A cache that cannot be used (corrupt file, unwritable directory, database locked for
// longer than busy_timeout) never fails a call: on_warning is told once and calls go to the
// inner engine uncached, except in replay mode, where they fail with kOffline.
// An engine must not be used across fork(): make a new one in the child.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "textgrad/engine.h"

namespace tg {

enum class CacheMode {
  kReadWrite,  // answer from the cache; otherwise call the engine and store the answer
  kReplay,     // answer from the cache only; a miss fails with EngineErrorKind::kOffline
  kRefresh,    // always call the engine and overwrite the stored answer
  kOff,        // call the engine; the cache file is not even opened
};

const char* to_string(CacheMode mode);

struct CacheOptions {
  // The SQLite file; empty = default_cache_path(). Missing directories are created.
  std::string path;
  CacheMode mode = CacheMode::kReadWrite;
  // Told once per problem (what is wrong and what to do). Empty: one line on stderr.
  // May be called on any thread; must not call back into the engine.
  std::function<void(const std::string&)> on_warning;
  // How long a write waits for another process's write lock before the answer is dropped
  // (not stored). Lookups wait at most 200 ms of it, so submit() never stalls for long.
  std::chrono::milliseconds busy_timeout{5000};
};

// What one cached engine did since it was created.
struct CacheCounters {
  std::int64_t hits = 0;       // answered from the cache; the inner engine was not called
  std::int64_t misses = 0;     // not in the cache (or refresh mode): the inner engine was called
  std::int64_t coalesced = 0;  // answered by an identical request already in flight
  std::int64_t bypasses = 0;   // mode off or cache unusable: forwarded without the cache
  std::int64_t stored = 0;     // answers written to the file
  Usage saved;                 // usage of the answers served by hits and coalesced requests
};

// The Engine returned by with_cache(). Thread-safe like every Engine.
class CachingEngine : public Engine {
 public:
  // Opens (creating if needed) the file now; problems are reported through on_warning.
  // The inner engine's info() is read once, here: its provider, wire format, endpoint, model
  // and default sampling become part of every key.
  CachingEngine(EnginePtr inner, CacheOptions options);
  // Waits until every answer received so far is written.
  ~CachingEngine() override;

  // The inner engine's info.
  EngineInfo info() const override;
  // Hits are answered before submit() returns (from_cache = true, latency_ms = 0, usage as
  // recorded), except when submit() runs on a transport's I/O thread: the lookup (which may
  // read the file) then runs on the library's executor and the answer follows from there. Coalesced
  // requests get the shared answer with from_cache = true (no new call was paid for) and latency_ms
  // = how long they waited.
  void submit(Request request, std::function<void(Outcome)> done) override;

  CacheCounters counters() const;
  // Blocks until every answer received so far is written (or dropped after a failure).
  // Answers are also visible to this engine before they are written; flush() matters only
  // to other engines and processes.
  void flush();
  const std::string& path() const;
  CacheMode mode() const;

  struct Core;

 private:
  void call_inner(std::string key, Request request, std::function<void(Outcome)> done);

  EnginePtr inner_;
  std::shared_ptr<Core> core_;
};

EnginePtr with_cache(EnginePtr inner, CacheOptions options = {});

// The counters of an engine made by with_cache; nullopt for other engines.
std::optional<CacheCounters> cache_counters(const Engine& engine);

// The cache key (64 lowercase hex digits) of a request sent to an engine with this info.
std::string cache_key(const EngineInfo& info, const Request& request);

// $TEXTGRAD_CACHE_DIR, else $XDG_CACHE_HOME/textgrad, else $HOME/.cache/textgrad; the file
// is responses.sqlite3. Creates nothing.
std::string default_cache_path();

struct CacheStats {
  std::int64_t entries = 0;
  std::int64_t bytes = 0;  // the database file plus its write-ahead log
  std::map<std::string, std::int64_t> entries_by_engine;  // engine name -> entries
};

// Maintenance for the CLI. A missing file is an empty cache (and is not created); a file
// that is not a usable cache throws tg::Error saying what to do.
CacheStats cache_stats(const std::string& path);
// Removes every entry and returns how many there were.
std::size_t cache_clear(const std::string& path);

}  // namespace tg
