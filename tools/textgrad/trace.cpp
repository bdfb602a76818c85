#include "trace.h"

#include <sqlite3.h>

#include <chrono>

#include <fmt/format.h>

#include "run_dir.h"
#include "textgrad/errors.h"

namespace tg::cli {
namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS texts (
  id INTEGER PRIMARY KEY,
  hash INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS texts_by_hash ON texts (hash);
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  step INTEGER NOT NULL,
  phase TEXT NOT NULL,
  item TEXT,
  parameter TEXT,
  engine TEXT NOT NULL,
  model TEXT,
  system_id INTEGER REFERENCES texts (id),
  request_id INTEGER REFERENCES texts (id),
  answer_id INTEGER REFERENCES texts (id),
  request_chars INTEGER NOT NULL,
  answer_chars INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cache_hit INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT,
  latency_ms REAL NOT NULL
);
CREATE VIEW IF NOT EXISTS trace AS
  SELECT c.id, c.time, c.step, c.phase, c.item, c.parameter, c.engine, c.model,
         s.text AS system_prompt, r.text AS request, a.text AS answer, c.input_tokens,
         c.output_tokens, c.cache_hit, c.ok, c.error, c.latency_ms
  FROM calls c
  LEFT JOIN texts s ON s.id = c.system_id
  LEFT JOIN texts r ON r.id = c.request_id
  LEFT JOIN texts a ON a.id = c.answer_id;
)sql";

std::string error_text(const Outcome& outcome) {
  if (outcome.ok()) return {};
  try {
    std::rethrow_exception(outcome.error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// A prepared statement, reused (reset) for every row.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw Error(fmt::format("trace: {}", sqlite3_errmsg(db)));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  // The statement, reset. Every use binds each of its parameters again.
  sqlite3_stmt* get() const {
    sqlite3_reset(stmt_);
    return stmt_;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Not copied: `text` must stay put until the statement has run (a batch's rows outlive their
// inserts; phase names are static).
void bind_text(sqlite3_stmt* stmt, int index, std::string_view text) {
  if (text.empty()) {
    sqlite3_bind_null(stmt, index);
  } else {
    sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  }
}

void bind_id(sqlite3_stmt* stmt, int index, std::int64_t id) {
  if (id > 0) {
    sqlite3_bind_int64(stmt, index, id);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

// Whether a trace (one a resumed run goes on writing) already holds texts.
bool has_texts(sqlite3* db) {
  Statement any(db, "SELECT 1 FROM texts LIMIT 1");
  return sqlite3_step(any.get()) == SQLITE_ROW;
}

}  // namespace

struct Trace::Statements {
  explicit Statements(sqlite3* db)
      : begin(db, "BEGIN"),
        commit(db, "COMMIT"),
        find_text(db, "SELECT id, text FROM texts WHERE hash = ?"),
        insert_text(db, "INSERT INTO texts (hash, text) VALUES (?, ?)"),
        insert_call(db,
                    "INSERT INTO calls (time, step, phase, item, parameter, engine, model, "
                    "system_id, request_id, answer_id, request_chars, answer_chars, "
                    "input_tokens, output_tokens, cache_hit, ok, error, latency_ms) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") {}
  Statement begin;  // prepared, as the inserts: sqlite3_exec() compiles its SQL every time
  Statement commit;
  Statement find_text;
  Statement insert_text;
  Statement insert_call;
};

TraceLevel parse_trace_level(const std::string& flag) {
  if (flag == "full") return TraceLevel::kFull;
  if (flag == "meta") return TraceLevel::kMeta;
  if (flag == "none") return TraceLevel::kNone;
  throw InvalidArgument(
      fmt::format("--trace {}: use full (every request and answer), meta (calls without their "
                  "texts) or none",
                  flag));
}

Trace::Trace(const std::filesystem::path& file, TraceLevel level) : level_(level) {
  if (level_ == TraceLevel::kNone) return;
  if (sqlite3_open_v2(file.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw Error(fmt::format("cannot open the trace '{}': {}", file.string(), message));
  }
  std::error_code ignored;  // prompts and answers are private, like the cache
  std::filesystem::permissions(
      file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ignored);
  char* message = nullptr;
  if (sqlite3_exec(db_, kSchema, nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    sqlite3_close(db_);
    throw Error(fmt::format("cannot write the trace '{}': {}", file.string(), text));
  }
  try {
    statements_ = std::make_unique<Statements>(db_);
    known_texts_are_all_ = !has_texts(db_);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
  writer_ =
      std::make_unique<util::BatchWriter<Row>>([this](std::vector<Row>& rows) { write(rows); });
}

Trace::~Trace() {
  writer_.reset();  // writes what is queued
  statements_.reset();
  sqlite3_close(db_);
}

std::int64_t Trace::text_id(const std::string& text) {
  if (text.empty()) return 0;
  const std::size_t hash = std::hash<std::string>{}(text);
  const auto [first, last] = known_texts_.equal_range(hash);
  for (auto known = first; known != last; ++known) {
    if (known->second.text == text) return known->second.id;
  }
  const std::int64_t id = stored_text_id(text, hash);
  constexpr size_t kKnownTextChars = size_t{8} << 20;
  if (known_chars_ + text.size() > kKnownTextChars) forget_known_texts();
  known_texts_.emplace(hash, KnownText{text, id});
  known_chars_ += text.size();
  return id;
}

void Trace::forget_known_texts() {
  known_texts_.clear();
  known_chars_ = 0;
  known_texts_are_all_ = false;
}

std::int64_t Trace::stored_text_id(const std::string& text, std::size_t hash) {
  if (!known_texts_are_all_) {  // otherwise the text is new: it is not among the known ones
    sqlite3_stmt* find = statements_->find_text.get();
    sqlite3_bind_int64(find, 1, static_cast<std::int64_t>(hash));
    while (sqlite3_step(find) == SQLITE_ROW) {
      const auto* stored = reinterpret_cast<const char*>(sqlite3_column_text(find, 1));
      const int size = sqlite3_column_bytes(find, 1);
      if (text.compare(0, std::string::npos, stored, static_cast<size_t>(size)) == 0) {
        const std::int64_t id = sqlite3_column_int64(find, 0);
        sqlite3_reset(find);  // an unfinished read would hold its snapshot
        return id;
      }
    }
  }
  sqlite3_stmt* insert = statements_->insert_text.get();
  sqlite3_bind_int64(insert, 1, static_cast<std::int64_t>(hash));
  bind_text(insert, 2, text);
  if (sqlite3_step(insert) != SQLITE_DONE) throw Error(sqlite3_errmsg(db_));
  return sqlite3_last_insert_rowid(db_);
}

struct Trace::Row {
  std::string time;
  int step = 0;
  Phase phase = Phase::kOther;
  CallTags tags;
  std::string engine;
  std::string model;
  std::string system_prompt;  // the texts are empty below TraceLevel::kFull
  std::string request;
  std::string answer;
  std::int64_t request_chars = 0;
  std::int64_t answer_chars = 0;
  Usage usage;
  bool cache_hit = false;
  bool ok = false;
  std::string error;
  double latency_ms = 0;
};

void Trace::record(const TracedCall& call) {
  if (level_ == TraceLevel::kNone) return;
  const Response& response = call.outcome.response;
  Row row;
  row.time = iso_time_now();
  row.step = call.step;
  row.phase = call.request.phase;
  row.tags = call.tags;
  row.engine = call.info.name;
  row.model = response.model.empty() ? call.info.model : response.model;
  row.request = call.request.user_text();
  row.request_chars = static_cast<std::int64_t>(row.request.size());
  row.ok = call.outcome.ok();
  if (row.ok) row.answer_chars = static_cast<std::int64_t>(response.text.size());
  if (level_ == TraceLevel::kFull) {
    row.system_prompt = call.request.system_prompt;
    if (row.ok) row.answer = response.text;
  } else {
    row.request.clear();
  }
  row.usage = response.usage;
  row.cache_hit = response.from_cache;
  row.error = error_text(call.outcome);
  row.latency_ms = response.latency_ms;
  writer_->push(std::move(row));
}

// One transaction per batch.
void Trace::write(std::vector<Row>& rows) {
  {
    std::lock_guard lock(error_mu_);
    if (!error_.empty()) return;
  }
  try {
    if (sqlite3_step(statements_->begin.get()) != SQLITE_DONE) throw Error(sqlite3_errmsg(db_));
    for (const Row& row : rows) {
      const std::int64_t system_id = text_id(row.system_prompt);
      const std::int64_t request_id = text_id(row.request);
      const std::int64_t answer_id = text_id(row.answer);
      sqlite3_stmt* s = statements_->insert_call.get();
      bind_text(s, 1, row.time);
      sqlite3_bind_int(s, 2, row.step);
      bind_text(s, 3, std::string_view(to_string(row.phase)));
      bind_text(s, 4, row.tags.item);
      bind_text(s, 5, row.tags.parameter);
      bind_text(s, 6, row.engine);
      bind_text(s, 7, row.model);
      bind_id(s, 8, system_id);
      bind_id(s, 9, request_id);
      bind_id(s, 10, answer_id);
      sqlite3_bind_int64(s, 11, row.request_chars);
      sqlite3_bind_int64(s, 12, row.answer_chars);
      sqlite3_bind_int64(s, 13, row.usage.input_tokens);
      sqlite3_bind_int64(s, 14, row.usage.output_tokens);
      sqlite3_bind_int(s, 15, row.cache_hit ? 1 : 0);
      sqlite3_bind_int(s, 16, row.ok ? 1 : 0);
      bind_text(s, 17, row.error);
      sqlite3_bind_double(s, 18, row.latency_ms);
      if (sqlite3_step(s) != SQLITE_DONE) throw Error(sqlite3_errmsg(db_));
    }
    if (sqlite3_step(statements_->commit.get()) != SQLITE_DONE) {
      throw Error(sqlite3_errmsg(db_));
    }
  } catch (const std::exception& e) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    forget_known_texts();  // some of their ids were rolled back
    std::lock_guard lock(error_mu_);
    error_ = fmt::format("cannot write the trace: {}", e.what());
  }
}

void Trace::flush() {
  if (writer_) writer_->flush();
}

void Trace::check_writes() {
  flush();
  check_failure();
}

void Trace::check_failure() {
  std::lock_guard lock(error_mu_);
  if (!error_.empty()) throw Error(error_);
}

namespace {

class TaggedEngine : public Engine {
 public:
  TaggedEngine(EnginePtr inner, CallTags tags, CallTagger::Observer observer,
               std::shared_ptr<std::atomic<int>> step)
      : inner_(std::move(inner)),
        fixed_(std::make_shared<const Fixed>(
            Fixed{std::move(tags), std::move(observer), inner_->info()})),
        step_(std::move(step)) {}

  EngineInfo info() const override { return fixed_->info; }

  void submit(Request request, std::function<void(Outcome)> done) override {
    auto shared = std::make_shared<Request>(request);
    // One pointer to what every call shares: copying the tags, the engine's description and
    // the observer into each callback cost a dozen allocations a call.
    inner_->submit(
        std::move(request), [shared, step = step_->load(), fixed = fixed_, done = std::move(done),
                             start = std::chrono::steady_clock::now()](Outcome outcome) {
          const double latency_ms =
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
          fixed->observer({step, fixed->tags, fixed->info, *shared, outcome, latency_ms});
          done(std::move(outcome));
        });
  }

 private:
  struct Fixed {
    CallTags tags;
    CallTagger::Observer observer;
    EngineInfo info;
  };

  EnginePtr inner_;
  std::shared_ptr<const Fixed> fixed_;
  std::shared_ptr<std::atomic<int>> step_;
};

}  // namespace

EnginePtr CallTagger::tag(EnginePtr inner, CallTags tags) const {
  return std::make_shared<TaggedEngine>(std::move(inner), std::move(tags), observer_, step_);
}

CallTagger CallTagger::at_step(int step) const {
  CallTagger fixed(observer_);
  fixed.set_step(step);
  return fixed;
}

}  // namespace tg::cli
