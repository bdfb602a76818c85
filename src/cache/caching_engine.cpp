// CachingEngine: lookups on the caller's thread (a hit costs one indexed SELECT) unless that
// is a thread that must not block (an HTTP I/O thread), where they go to the executor; writes
// on a background thread so neither submit() nor the inner engine's completion thread waits
// for the disk. Answers not yet written are kept in memory and served from there, so an
// answer is never requested twice just because it is still on its way to the file.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cache/redis_caching_engine.h"
#include "cache/store.h"
#include "textgrad/cache.h"
#include "textgrad/errors.h"
#include "textgrad/redis_cache.h"
#include "util/executor.h"

namespace tg {

using cache::Clock;
using cache::Entry;
using cache::StoreFailure;

namespace {

// Lookups run in submit(), which must not block: they give up on a locked file much sooner
// than writes, which run on their own thread.
constexpr std::chrono::milliseconds kMaxLookupWait{200};

void warn_on_stderr(const std::string& message) {
  std::fprintf(stderr, "textgrad: warning: %s\n", message.c_str());
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Calls every callback even if one throws, then rethrows the first exception, so one
// misbehaving caller cannot leave the others without an answer.
void deliver_all(std::vector<std::pair<std::function<void(Outcome)>, Outcome>> deliveries) {
  std::exception_ptr first;
  for (auto& [done, outcome] : deliveries) {
    try {
      done(std::move(outcome));
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace

const char* to_string(CacheMode mode) {
  switch (mode) {
    case CacheMode::kReadWrite:
      return "read_write";
    case CacheMode::kReplay:
      return "replay";
    case CacheMode::kRefresh:
      return "refresh";
    case CacheMode::kOff:
      return "off";
  }
  return "read_write";
}

struct CachingEngine::Core {
  // What submit() should do with a request.
  struct Decision {
    enum Kind { kHit, kJoined, kCall, kBypass, kOffline } kind = kCall;
    Response response;   // kHit
    std::string reason;  // kOffline
  };

  Core(CacheOptions options, EngineInfo inner_info);
  ~Core();

  Decision decide(const std::string& key, std::function<void(Outcome)>& done);
  void finish(const std::string& key, Outcome outcome, std::function<void(Outcome)> leader);
  void flush();
  CacheCounters counters() const;
  void count(std::int64_t CacheCounters::*counter, const Usage& saved = {});

  const CacheOptions options;
  const EngineInfo info;

 private:
  struct Follower {
    std::function<void(Outcome)> done;
    Clock::time_point since;
  };
  struct Unwritten {
    std::uint64_t seq;
    Response response;
  };
  enum class Lookup { kHit, kMiss, kUnavailable };
  enum class Activity { kOpening, kReading, kWriting };

  void open();
  Decision decide_cached(const std::string& key, std::function<void(Outcome)>& done);
  Decision start_or_join(const std::string& key, std::function<void(Outcome)>& done);
  Lookup look_up(const std::string& key, Response& found);
  void enqueue(const std::string& key, const Response& response, std::uint64_t seq);
  void write_loop();
  void write_batch(const std::vector<Entry>& batch);
  void forget_written(const std::vector<Entry>& batch, const std::vector<std::uint64_t>& seqs);
  void handle_failure(const StoreFailure& failure, Activity activity);
  void warn_once(const std::string& category, const std::string& message);
  bool writes_enabled() const { return writer_ && !broken_.load(); }
  std::string offline_message(const std::string& key, const std::string& note = {}) const;

  // Requests in flight and answers not yet written, keyed by cache key.
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Follower>> flights_;
  std::unordered_map<std::string, Unwritten> unwritten_;
  std::uint64_t commits_ = 0;  // bumped after each written batch leaves unwritten_
  std::uint64_t next_seq_ = 0;

  std::mutex read_mu_;
  std::unique_ptr<cache::Reader> reader_;
  std::unique_ptr<cache::Writer> writer_;  // used by the write thread only, once started
  std::atomic<bool> broken_{false};
  std::string broken_reason_;  // set once, before broken_ becomes true

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable flushed_cv_;
  std::vector<Entry> queue_;
  std::vector<std::uint64_t> queue_seqs_;  // queue_[i] answers unwritten_ entry queue_seqs_[i]
  std::uint64_t enqueued_ = 0;
  std::uint64_t processed_ = 0;
  bool stopping_ = false;
  std::thread write_thread_;

  std::mutex warn_mu_;
  std::set<std::string> warned_;

  mutable std::mutex counters_mu_;
  CacheCounters counters_;
};

CachingEngine::Core::Core(CacheOptions opts, EngineInfo inner_info)
    : options(std::move(opts)), info(std::move(inner_info)) {
  if (options.mode == CacheMode::kOff) return;
  open();
  if (writer_) write_thread_ = std::thread([this] { write_loop(); });
}

CachingEngine::Core::~Core() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (write_thread_.joinable()) write_thread_.join();
}

void CachingEngine::Core::open() {
  const bool read_only = cache::is_read_only(options.path);
  if (read_only && options.mode != CacheMode::kReplay) {
    warn_once("read-only",
              "response cache " + options.path +
                  " is read-only (the file or its directory cannot be written): "
                  "answers are looked up in it but new ones are not stored. Point "
                  "TEXTGRAD_CACHE_DIR (or --cache) at a writable place to store them.");
  }
  try {
    // The writer creates the file and the table, so it opens first.
    if (options.mode != CacheMode::kReplay && !read_only) {
      writer_ = std::make_unique<cache::Writer>(options.path, options.busy_timeout);
    }
    if (options.mode != CacheMode::kRefresh) {
      reader_ = std::make_unique<cache::Reader>(options.path, options.busy_timeout,
                                                std::min(options.busy_timeout, kMaxLookupWait),
                                                read_only);
    }
  } catch (const StoreFailure& failure) {
    writer_.reset();
    reader_.reset();
    handle_failure(failure, Activity::kOpening);
  }
}

CachingEngine::Core::Decision CachingEngine::Core::decide(const std::string& key,
                                                          std::function<void(Outcome)>& done) {
  if (broken_.load()) {
    if (options.mode == CacheMode::kReplay) return {Decision::kOffline, {}, offline_message(key)};
    return {Decision::kBypass, {}, {}};
  }
  if (options.mode == CacheMode::kRefresh) return start_or_join(key, done);
  return decide_cached(key, done);
}

// Memory first, then the file, then memory again: an identical request that started, or
// was written, while we read the file is found on the second pass. `commits_` tells whether
// a write landed after our read began, in which case the file is read again.
CachingEngine::Core::Decision CachingEngine::Core::decide_cached(
    const std::string& key, std::function<void(Outcome)>& done) {
  bool file_checked = false;
  std::uint64_t commits_seen = 0;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (auto flight = flights_.find(key); flight != flights_.end()) {
        flight->second.push_back({std::move(done), Clock::now()});
        return {Decision::kJoined, {}, {}};
      }
      if (auto pending = unwritten_.find(key); pending != unwritten_.end()) {
        return {Decision::kHit, pending->second.response, {}};
      }
      if (file_checked && commits_seen == commits_) {
        if (options.mode == CacheMode::kReplay) {
          return {Decision::kOffline, {}, offline_message(key)};
        }
        flights_.emplace(key, std::vector<Follower>{});
        return {Decision::kCall, {}, {}};
      }
      commits_seen = commits_;
    }
    Response found;
    Lookup lookup = look_up(key, found);
    if (lookup == Lookup::kHit) return {Decision::kHit, std::move(found), {}};
    if (lookup == Lookup::kUnavailable) {
      if (options.mode == CacheMode::kReplay) {
        return {Decision::kOffline, {}, offline_message(key, "The cache file was locked")};
      }
      if (broken_.load()) return {Decision::kBypass, {}, {}};
      // Locked for now: call the engine as for a miss; the write may still succeed.
      return start_or_join(key, done);
    }
    file_checked = true;
  }
}

CachingEngine::Core::Decision CachingEngine::Core::start_or_join(
    const std::string& key, std::function<void(Outcome)>& done) {
  std::lock_guard lock(mu_);
  auto [flight, started] = flights_.try_emplace(key);
  if (started) return {Decision::kCall, {}, {}};
  flight->second.push_back({std::move(done), Clock::now()});
  return {Decision::kJoined, {}, {}};
}

CachingEngine::Core::Lookup CachingEngine::Core::look_up(const std::string& key, Response& found) {
  if (!reader_) return Lookup::kUnavailable;
  try {
    std::lock_guard lock(read_mu_);
    std::optional<Response> response = reader_->find(key);
    if (!response) return Lookup::kMiss;
    found = std::move(*response);
    return Lookup::kHit;
  } catch (const StoreFailure& failure) {
    handle_failure(failure, Activity::kReading);
    return Lookup::kUnavailable;
  }
}

void CachingEngine::Core::finish(const std::string& key, Outcome outcome,
                                 std::function<void(Outcome)> leader) {
  std::vector<Follower> followers;
  bool store = outcome.ok() && writes_enabled();
  std::uint64_t seq = 0;
  {
    // Leaving the flight and entering unwritten_ in one step: a new identical request
    // finds one or the other, never neither.
    std::lock_guard lock(mu_);
    if (auto node = flights_.extract(key)) followers = std::move(node.mapped());
    if (store) {
      seq = ++next_seq_;
      unwritten_[key] = {seq, outcome.response};
    }
  }
  if (store) enqueue(key, outcome.response, seq);

  std::vector<std::pair<std::function<void(Outcome)>, Outcome>> deliveries;
  for (Follower& follower : followers) {
    Outcome copy{outcome.error, outcome.response};
    if (copy.ok()) {
      copy.response.from_cache = true;  // no call was paid for this one
      copy.response.latency_ms = ms_since(follower.since);
    }
    count(&CacheCounters::coalesced, copy.ok() ? copy.response.usage : Usage{});
    deliveries.emplace_back(std::move(follower.done), std::move(copy));
  }
  deliveries.emplace_back(std::move(leader), std::move(outcome));
  deliver_all(std::move(deliveries));
}

void CachingEngine::Core::enqueue(const std::string& key, const Response& response,
                                  std::uint64_t seq) {
  Entry entry{key, response, info.name, unix_now()};
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(entry));
    queue_seqs_.push_back(seq);
    ++enqueued_;
  }
  queue_cv_.notify_one();
}

void CachingEngine::Core::write_loop() {
  for (;;) {
    std::vector<Entry> batch;
    std::vector<std::uint64_t> seqs;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is written
      batch.swap(queue_);
      seqs.swap(queue_seqs_);
    }
    write_batch(batch);
    forget_written(batch, seqs);
    {
      std::lock_guard lock(queue_mu_);
      processed_ += batch.size();
    }
    flushed_cv_.notify_all();
  }
}

// One transaction per batch: answers that arrive together cost one commit.
void CachingEngine::Core::write_batch(const std::vector<Entry>& batch) {
  if (broken_.load()) return;
  try {
    writer_->write(batch);
    std::lock_guard lock(counters_mu_);
    counters_.stored += static_cast<std::int64_t>(batch.size());
  } catch (const StoreFailure& failure) {
    handle_failure(failure, Activity::kWriting);
  }
}

// Written (or dropped after a failure): lookups go to the file from now on.
void CachingEngine::Core::forget_written(const std::vector<Entry>& batch,
                                         const std::vector<std::uint64_t>& seqs) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < batch.size(); ++i) {
    auto pending = unwritten_.find(batch[i].key);
    // A newer answer for the same key (refresh mode) stays until its own write.
    if (pending != unwritten_.end() && pending->second.seq == seqs[i]) unwritten_.erase(pending);
  }
  ++commits_;
}

void CachingEngine::Core::flush() {
  std::unique_lock lock(queue_mu_);
  std::uint64_t target = enqueued_;
  flushed_cv_.wait(lock, [&] { return processed_ >= target; });
}

// A locked file is reported once and retried on later calls; anything else (corrupt file,
// unwritable directory, full disk), or a lock that outlasts opening, turns the cache off
// for this engine.
void CachingEngine::Core::handle_failure(const StoreFailure& failure, Activity activity) {
  const std::string& path = options.path;
  if (failure.busy() && activity != Activity::kOpening) {
    bool writing = activity == Activity::kWriting;
    auto waited = writing ? options.busy_timeout : std::min(options.busy_timeout, kMaxLookupWait);
    warn_once(writing ? "busy-write" : "busy-read",
              "response cache " + path + ": " + failure.what() + " (waited " +
                  std::to_string(waited.count()) + " ms); " +
                  (writing ? "answers were not stored" : "a lookup was skipped") +
                  ", calls went on. " + failure.advice(path));
    return;
  }
  std::string reason = std::string(failure.what()) + ". " + failure.advice(path);
  {
    std::lock_guard lock(mu_);
    if (broken_.load()) return;
    broken_reason_ = reason;
    broken_.store(true);
  }
  std::string consequence = options.mode == CacheMode::kReplay
                                ? "requests the cache cannot answer fail"
                                : "calls go to the engine uncached";
  warn_once("broken", "response cache " + path + " is disabled: " + reason + " Until then " +
                          consequence + ".");
}

void CachingEngine::Core::warn_once(const std::string& category, const std::string& message) {
  std::lock_guard lock(warn_mu_);
  if (!warned_.insert(category).second) return;
  if (options.on_warning) {
    options.on_warning(message);
  } else {
    warn_on_stderr(message);
  }
}

std::string CachingEngine::Core::offline_message(const std::string& key,
                                                 const std::string& note) const {
  std::string message = "replay mode: this request to " + info.name + " is not cached (key " +
                        key.substr(0, 12) + "..., cache " + options.path + "). ";
  if (broken_.load()) message += "The cache is unusable: " + broken_reason_ + " ";
  if (!note.empty()) message += note + ". ";
  message +=
      "Record it first by running once with the cache in read_write mode (the default), or "
      "check that the prompt, engine, sampling parameters and sample index match the "
      "recorded run.";
  return message;
}

void CachingEngine::Core::count(std::int64_t CacheCounters::*counter, const Usage& saved) {
  std::lock_guard lock(counters_mu_);
  ++(counters_.*counter);
  counters_.saved += saved;
}

CacheCounters CachingEngine::Core::counters() const {
  std::lock_guard lock(counters_mu_);
  return counters_;
}

// --- CachingEngine ---

CachingEngine::CachingEngine(EnginePtr inner, CacheOptions options) : inner_(std::move(inner)) {
  if (!inner_) throw InvalidArgument("with_cache needs an engine to wrap, got null");
  if (options.path.empty()) options.path = default_cache_path();
  EngineInfo info = inner_->info();
  core_ = std::make_shared<Core>(std::move(options), std::move(info));
}

CachingEngine::~CachingEngine() { core_->flush(); }

EngineInfo CachingEngine::info() const { return inner_->info(); }

namespace {

// This request leads its flight: its answer goes to everyone who joined, and to the file.
void call_inner_engine(const std::shared_ptr<CachingEngine::Core>& core, const EnginePtr& inner,
                       std::string key, Request request, std::function<void(Outcome)> done) {
  // If the inner engine throws instead of calling back, the followers still need an answer.
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto leader = std::make_shared<std::function<void(Outcome)>>(std::move(done));
  auto callback = [core, key, finished, leader](Outcome outcome) {
    if (!finished->exchange(true)) core->finish(key, std::move(outcome), std::move(*leader));
  };
  try {
    inner->submit(std::move(request), callback);
  } catch (...) {
    if (!finished->exchange(true)) {
      core->finish(key, Outcome{std::current_exception(), {}}, std::move(*leader));
    }
  }
}

void submit_through(const std::shared_ptr<CachingEngine::Core>& core, const EnginePtr& inner,
                    Request request, std::function<void(Outcome)> done) {
  using Decision = CachingEngine::Core::Decision;
  std::string key;
  Decision decision;
  try {
    key = cache_key(core->info, request);
    decision = core->decide(key, done);
  } catch (...) {
    done(Outcome{std::current_exception(), {}});
    return;
  }
  switch (decision.kind) {
    case Decision::kHit: {
      Response& response = decision.response;
      response.from_cache = true;
      response.latency_ms = 0;
      core->count(&CacheCounters::hits, response.usage);
      done(Outcome{nullptr, std::move(response)});
      return;
    }
    case Decision::kJoined:
      return;
    case Decision::kOffline:
      core->count(&CacheCounters::misses);
      done(Outcome{std::make_exception_ptr(EngineError(EngineErrorKind::kOffline, decision.reason)),
                   {}});
      return;
    case Decision::kBypass:
      core->count(&CacheCounters::bypasses);
      inner->submit(std::move(request), std::move(done));
      return;
    case Decision::kCall:
      core->count(&CacheCounters::misses);
      call_inner_engine(core, inner, std::move(key), std::move(request), std::move(done));
      return;
  }
}

}  // namespace

void CachingEngine::submit(Request request, std::function<void(Outcome)> done) {
  if (core_->options.mode == CacheMode::kOff) {
    core_->count(&CacheCounters::bypasses);
    inner_->submit(std::move(request), std::move(done));
    return;
  }
  if (util::must_not_block()) {
    // A lookup may read the file and wait for its lock: not on an I/O thread (Note [Threads
    // that must not block]). The decision is the same on any thread.
    util::Executor::shared().post([core = core_, inner = inner_, request = std::move(request),
                                   done = std::move(done)]() mutable {
      try {
        submit_through(core, inner, std::move(request), std::move(done));
      } catch (...) {  // a throwing callback: swallowed, as on the I/O thread
      }
    });
    return;
  }
  submit_through(core_, inner_, std::move(request), std::move(done));
}

void CachingEngine::call_inner(std::string key, Request request,
                               std::function<void(Outcome)> done) {
  call_inner_engine(core_, inner_, std::move(key), std::move(request), std::move(done));
}

CacheCounters CachingEngine::counters() const { return core_->counters(); }

void CachingEngine::flush() { core_->flush(); }

const std::string& CachingEngine::path() const { return core_->options.path; }

CacheMode CachingEngine::mode() const { return core_->options.mode; }

EnginePtr with_cache(EnginePtr inner, CacheOptions options) {
  if (is_redis_url(options.path)) return cache::make_redis_cache(std::move(inner), options);
  return std::make_shared<CachingEngine>(std::move(inner), std::move(options));
}

std::optional<CacheCounters> cache_counters(const Engine& engine) {
  if (auto* cached = dynamic_cast<const CachingEngine*>(&engine)) return cached->counters();
  return cache::redis_cache_counters(engine);
}

}  // namespace tg
