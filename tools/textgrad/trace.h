// The run's trace: every LLM request and answer, tagged with phase, step, item and parameter.
//
// Note [Trace format]
// RUN_DIR/trace.sqlite, an SQLite database any sqlite3 shell reads. Texts are stored once in
// `texts` (plain TEXT, deduplicated by content: a 3,000-call run repeats the same system
// prompt thousands of times) and `calls` refers to them; the view `trace` joins them back into
// one row per call with plain-text columns:
//   sqlite3 RUN_DIR/trace.sqlite "select step, phase, item, answer from trace"
// Levels: full (every text), meta (the call rows without texts), none (no file). docs/runs.md
// has the schema. API keys never reach it: requests hold no key and error messages are
// redacted by the engines.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "textgrad/engine.h"
#include "util/batch_writer.h"

struct sqlite3;

namespace tg::cli {

enum class TraceLevel { kNone, kMeta, kFull };
// "none", "meta" or "full"; throws InvalidArgument naming --trace otherwise.
TraceLevel parse_trace_level(const std::string& flag);

// Where a call belongs. The step comes from the run (see CallTagger).
struct CallTags {
  std::string item;       // the example id, for forward, loss and evaluation calls
  std::string parameter;  // the parameter, for backward and update calls
};

struct TracedCall {
  int step = 0;
  const CallTags& tags;
  const EngineInfo& info;
  const Request& request;
  const Outcome& outcome;
  double latency_ms = 0;  // from the tagged submit to the answer
};

// Thread-safe. record() only copies the call; a writer thread stores what arrived together in
// one transaction (Note [Writes off the I/O thread] in src/util/batch_writer.h).
class Trace {
 public:
  // Opens or continues `file` (nothing is opened for kNone). Throws tg::Error if it cannot.
  Trace(const std::filesystem::path& file, TraceLevel level);
  ~Trace();  // writes what was recorded
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  void record(const TracedCall& call);
  // Returns once every call recorded before is written.
  void flush();
  // Writes what was recorded, then throws the first write failure, if any (recording never
  // throws: it runs on engine threads).
  void check_writes();
  // Throws the first write failure so far, if any, without waiting for what is queued.
  void check_failure();

  struct Row;
  struct Statements;

 private:
  void write(std::vector<Row>& rows);  // the writer thread
  // The writer thread. `hash` is std::hash of the text, computed once per text: it finds the
  // text both here and in the table's index.
  std::int64_t text_id(const std::string& text);
  std::int64_t stored_text_id(const std::string& text, std::size_t hash);
  void forget_known_texts();
  TraceLevel level_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> statements_;  // prepared once: preparing cost more than writing
  // Texts already in the table, with their ids, by hash (the writer thread only): prompts,
  // inputs and short answers repeat across steps. Cleared when it holds kKnownTextChars.
  struct KnownText {
    std::string text;
    std::int64_t id = 0;
  };
  std::unordered_multimap<std::size_t, KnownText> known_texts_;
  size_t known_chars_ = 0;
  // Whether known_texts_ holds every text in the table, so that one it lacks needs no lookup:
  // true from a new trace until the map is first cleared.
  bool known_texts_are_all_ = false;
  mutable std::mutex error_mu_;
  std::string error_;
  std::unique_ptr<util::BatchWriter<Row>> writer_;
};

// Tags calls and hands each finished one to an observer (the trace, the step recorder).
class CallTagger {
 public:
  using Observer = std::function<void(const TracedCall&)>;
  explicit CallTagger(Observer observer) : observer_(std::move(observer)) {}

  // Calls submitted from now on belong to `step`.
  void set_step(int step) { step_->store(step); }
  int step() const { return step_->load(); }
  // A tagger with the same observer whose calls all belong to `step`, whatever set_step()
  // says later: for work that overlaps the next step (Note [Pipelined protocol]).
  CallTagger at_step(int step) const;
  // `inner` with every call tagged; the observer runs before the caller's callback.
  EnginePtr tag(EnginePtr inner, CallTags tags) const;

 private:
  Observer observer_;
  std::shared_ptr<std::atomic<int>> step_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace tg::cli
