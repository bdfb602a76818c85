#include "trace.h"

#include <sqlite3.h>

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

// A statement prepared for one use.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw Error(fmt::format("trace: {}", sqlite3_errmsg(db)));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

void bind_text(sqlite3_stmt* stmt, int index, const std::string& text) {
  if (text.empty()) {
    sqlite3_bind_null(stmt, index);
  } else {
    sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
}

void bind_id(sqlite3_stmt* stmt, int index, std::int64_t id) {
  if (id > 0) {
    sqlite3_bind_int64(stmt, index, id);
  } else {
    sqlite3_bind_null(stmt, index);
  }
}

}  // namespace

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
}

Trace::~Trace() { sqlite3_close(db_); }

std::int64_t Trace::text_id(const std::string& text) {
  if (text.empty()) return 0;
  const auto hash = static_cast<std::int64_t>(std::hash<std::string>{}(text));
  Statement find(db_, "SELECT id, text FROM texts WHERE hash = ?");
  sqlite3_bind_int64(find.get(), 1, hash);
  while (sqlite3_step(find.get()) == SQLITE_ROW) {
    const auto* stored = reinterpret_cast<const char*>(sqlite3_column_text(find.get(), 1));
    const int size = sqlite3_column_bytes(find.get(), 1);
    if (text.compare(0, std::string::npos, stored, static_cast<size_t>(size)) == 0) {
      return sqlite3_column_int64(find.get(), 0);
    }
  }
  Statement insert(db_, "INSERT INTO texts (hash, text) VALUES (?, ?)");
  sqlite3_bind_int64(insert.get(), 1, hash);
  bind_text(insert.get(), 2, text);
  if (sqlite3_step(insert.get()) != SQLITE_DONE) throw Error(sqlite3_errmsg(db_));
  return sqlite3_last_insert_rowid(db_);
}

void Trace::record(const TracedCall& call) {
  if (level_ == TraceLevel::kNone) return;
  std::lock_guard lock(mu_);
  if (!error_.empty()) return;
  const std::string request = call.request.user_text();
  const std::string& answer = call.outcome.ok() ? call.outcome.response.text : std::string();
  try {
    sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
    const bool texts = level_ == TraceLevel::kFull;
    const std::int64_t system_id = texts ? text_id(call.request.system_prompt) : 0;
    const std::int64_t request_id = texts ? text_id(request) : 0;
    const std::int64_t answer_id = texts ? text_id(answer) : 0;
    Statement insert(db_,
                     "INSERT INTO calls (time, step, phase, item, parameter, engine, model, "
                     "system_id, request_id, answer_id, request_chars, answer_chars, "
                     "input_tokens, output_tokens, cache_hit, ok, error, latency_ms) VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    sqlite3_stmt* s = insert.get();
    const Response& response = call.outcome.response;
    bind_text(s, 1, iso_time_now());
    sqlite3_bind_int(s, 2, call.step);
    bind_text(s, 3, to_string(call.request.phase));
    bind_text(s, 4, call.tags.item);
    bind_text(s, 5, call.tags.parameter);
    bind_text(s, 6, call.info.name);
    bind_text(s, 7, response.model.empty() ? call.info.model : response.model);
    bind_id(s, 8, system_id);
    bind_id(s, 9, request_id);
    bind_id(s, 10, answer_id);
    sqlite3_bind_int64(s, 11, static_cast<std::int64_t>(request.size()));
    sqlite3_bind_int64(s, 12, static_cast<std::int64_t>(answer.size()));
    sqlite3_bind_int64(s, 13, response.usage.input_tokens);
    sqlite3_bind_int64(s, 14, response.usage.output_tokens);
    sqlite3_bind_int(s, 15, response.from_cache ? 1 : 0);
    sqlite3_bind_int(s, 16, call.outcome.ok() ? 1 : 0);
    bind_text(s, 17, error_text(call.outcome));
    sqlite3_bind_double(s, 18, response.latency_ms);
    if (sqlite3_step(s) != SQLITE_DONE) throw Error(sqlite3_errmsg(db_));
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw Error(sqlite3_errmsg(db_));
    }
  } catch (const std::exception& e) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    error_ = fmt::format("cannot write the trace: {}", e.what());
  }
}

void Trace::check_writes() const {
  std::lock_guard lock(mu_);
  if (!error_.empty()) throw Error(error_);
}

namespace {

class TaggedEngine : public Engine {
 public:
  TaggedEngine(EnginePtr inner, CallTags tags, CallTagger::Observer observer,
               std::shared_ptr<std::atomic<int>> step)
      : inner_(std::move(inner)),
        tags_(std::move(tags)),
        observer_(std::move(observer)),
        step_(std::move(step)),
        info_(inner_->info()) {}

  EngineInfo info() const override { return info_; }

  void submit(Request request, std::function<void(Outcome)> done) override {
    auto shared = std::make_shared<Request>(request);
    inner_->submit(std::move(request),
                   [shared, step = step_->load(), tags = tags_, info = info_, observer = observer_,
                    done = std::move(done)](Outcome outcome) {
                     observer({step, tags, info, *shared, outcome});
                     done(std::move(outcome));
                   });
  }

 private:
  EnginePtr inner_;
  CallTags tags_;
  CallTagger::Observer observer_;
  std::shared_ptr<std::atomic<int>> step_;
  const EngineInfo info_;
};

}  // namespace

EnginePtr CallTagger::tag(EnginePtr inner, CallTags tags) const {
  return std::make_shared<TaggedEngine>(std::move(inner), std::move(tags), observer_, step_);
}

}  // namespace tg::cli
