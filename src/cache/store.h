// The SQLite side of the response cache: connections, the schema, lookups and batched writes.
// Every failure is a StoreFailure carrying SQLite's result code, so the engine can tell a
// busy database (try again later) from an unusable one (stop using it).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "textgrad/engine.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tg::cache {

using Clock = std::chrono::steady_clock;

class StoreFailure : public std::runtime_error {
 public:
  StoreFailure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }  // SQLite extended result code
  // Another connection holds the lock: worth trying again later.
  bool busy() const;
  // What to do about it, for a warning ("delete the file", "check permissions", ...).
  std::string advice(const std::string& path) const;

 private:
  int code_;
};

// One stored answer.
struct Entry {
  std::string key;
  Response response;
  std::string engine;  // the engine name, for cache_stats
  std::int64_t created_unix_s = 0;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void bind(int index, std::string_view text);
  void bind(int index, std::int64_t value);
  // true: a row is ready. Retries SQLITE_BUSY until `deadline`, then throws.
  bool step(Clock::time_point deadline);
  std::string text(int column) const;
  std::int64_t integer(int column) const;
  // Ends the statement's implicit read transaction so it does not hold back checkpoints.
  void reset();

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// One connection with the cache's settings (WAL, busy timeout, synchronous=NORMAL).
// Not thread-safe: callers serialize access.
class Connection {
 public:
  struct Options {
    std::chrono::milliseconds busy_timeout{5000};
    bool create = false;  // create missing directories (0700), the file (0600) and the table
    // Read-only media: no WAL, no locks (the file is opened immutable); see is_read_only().
    bool read_only = false;
  };
  Connection(const std::string& path, Options options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }
  void set_busy_timeout(std::chrono::milliseconds timeout);
  Clock::time_point deadline() const { return Clock::now() + options_.busy_timeout; }
  // Runs statements that return no rows of interest.
  void exec(std::string_view sql);
  std::int64_t changes() const;

 private:
  void configure();
  void create_schema();
  void check_schema_version();

  std::string path_;
  Options options_;
  sqlite3* db_ = nullptr;
};

// True when the cache file exists but cannot be written: the file, or the directory that must
// hold its write-ahead log, is not writable (read-only media, a shared read-only copy).
bool is_read_only(const std::string& path);

// Looks answers up by key with a statement prepared once.
class Reader {
 public:
  // Opening may wait `open_timeout` for a lock; each lookup at most `lookup_timeout`.
  Reader(const std::string& path, std::chrono::milliseconds open_timeout,
         std::chrono::milliseconds lookup_timeout, bool read_only = false);
  std::optional<Response> find(const std::string& key);

 private:
  Connection connection_;
  Statement select_;
};

// Stores answers, many per transaction.
class Writer {
 public:
  Writer(const std::string& path, std::chrono::milliseconds busy_timeout);
  void write(const std::vector<Entry>& entries);

 private:
  Connection connection_;
  Statement begin_;
  Statement insert_;
  Statement commit_;
};

}  // namespace tg::cache
