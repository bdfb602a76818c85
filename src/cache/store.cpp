#include "cache/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <thread>

namespace tg::cache {
namespace {

// Bump with a migration when the table changes; a file from a newer version is refused
// rather than misread.
constexpr std::int64_t kSchemaVersion = 1;

constexpr std::string_view kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS responses (
  key TEXT PRIMARY KEY NOT NULL,
  text TEXT NOT NULL,
  finish_reason TEXT NOT NULL,
  model TEXT NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  engine TEXT NOT NULL
))sql";

constexpr std::string_view kSelect =
    "SELECT text, finish_reason, model, input_tokens, output_tokens, cached_input_tokens "
    "FROM responses WHERE key = ?1";

constexpr std::string_view kInsert =
    "INSERT OR REPLACE INTO responses (key, text, finish_reason, model, input_tokens, "
    "output_tokens, cached_input_tokens, created_at, engine) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

// SQLite's own words ("file is not a database", "database is locked") say it best.
StoreFailure failure(sqlite3* db, int code) {
  return StoreFailure(code, db ? sqlite3_errmsg(db) : sqlite3_errstr(code));
}

bool is_busy_code(int code) {
  int primary = code & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// Note [Private cache files]
// The cache holds every prompt and answer, so the directories it creates are 0700 and the
// file 0600 (SQLite gives the -wal and -shm files the database file's permissions).
// Directories that already exist (~/.cache) are left as they are.
void create_parent_directories(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  std::vector<std::filesystem::path> missing;
  std::error_code error;
  for (auto dir = parent; !dir.empty() && !std::filesystem::exists(dir, error);
       dir = dir.parent_path()) {
    missing.push_back(dir);
    if (dir == dir.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
      throw StoreFailure(SQLITE_CANTOPEN, "cannot create the directory " + it->string() + ": " +
                                              std::generic_category().message(errno));
    }
  }
}

// Creates the file 0600 before SQLite would create it with the umask's default (0644).
void create_private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);  // EEXIST: it is there already; other errors surface in open
}

std::string immutable_uri(const std::string& path) {
  std::string uri = "file:";
  for (char c : std::filesystem::absolute(path).string()) {
    if (c == '%' || c == '?' || c == '#') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[(static_cast<unsigned char>(c) >> 4) & 0xF];
      uri += kHex[static_cast<unsigned char>(c) & 0xF];
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

}  // namespace

bool is_read_only(const std::string& path) {
  if (::access(path.c_str(), F_OK) != 0) return false;  // missing: created when writing
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  return ::access(path.c_str(), W_OK) != 0 || ::access(dir.c_str(), W_OK) != 0;
}

bool StoreFailure::busy() const { return is_busy_code(code_); }

std::string StoreFailure::advice(const std::string& path) const {
  switch (code_ & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_ERROR:
    case SQLITE_SCHEMA:
      return "The file is damaged or is not a textgrad response cache: delete it (and " + path +
             "-wal, " + path + "-shm if present) to start a new cache.";
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return "Make sure the directory exists and is writable, or point TEXTGRAD_CACHE_DIR "
             "(or --cache, or the cache's path option) at a writable place.";
    case SQLITE_FORMAT:
      return "Use the newer textgrad-cpp, or give this one a cache file of its own "
             "(TEXTGRAD_CACHE_DIR, --cache, or the cache's path option).";
    case SQLITE_FULL:
      return "The disk is full: free some space.";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "Another process keeps it locked: wait for that process, or give this run a "
             "cache file of its own (TEXTGRAD_CACHE_DIR, --cache, or the cache's path option).";
    case SQLITE_NOTFOUND:
      return "Record the answers first (run once in read_write mode) or check the path.";
    default:
      return "If this persists, delete the file to start a new cache.";
  }
}

// --- Statement ---

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    StoreFailure error = failure(db_, rc);
    sqlite3_finalize(stmt_);
    throw error;
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK) throw failure(db_, rc);
}

void Statement::bind(int index, std::int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) throw failure(db_, rc);
}

bool Statement::step(Clock::time_point deadline) {
  for (;;) {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    // The busy handler already waited; this loop covers the cases where SQLite returns
    // SQLITE_BUSY without calling it (e.g. while another connection recovers the WAL).
    if (is_busy_code(rc) && Clock::now() < deadline) {
      sqlite3_reset(stmt_);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    StoreFailure error = failure(db_, rc);
    sqlite3_reset(stmt_);
    throw error;
  }
}

std::string Statement::text(int column) const {
  const unsigned char* data = sqlite3_column_text(stmt_, column);
  if (!data) return {};
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

// --- Connection ---

Connection::Connection(const std::string& path, Options options) : path_(path), options_(options) {
  if (options_.create) {
    create_parent_directories(path_);
    create_private_file(path_);
  } else if (!std::filesystem::exists(path_)) {
    throw StoreFailure(SQLITE_NOTFOUND, "the cache file " + path_ + " does not exist");
  }
  int rc = SQLITE_OK;
  if (options_.read_only) {
    // Immutable: no lock files, no WAL to create, so it works where nothing can be written.
    rc = sqlite3_open_v2(immutable_uri(path_).c_str(), &db_,
                         SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  } else {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (options_.create) flags |= SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  }
  try {
    if (rc != SQLITE_OK) throw failure(db_, rc);
    configure();
    if (options_.create) create_schema();
    check_schema_version();
  } catch (...) {
    sqlite3_close_v2(db_);
    throw;
  }
}

Connection::~Connection() { sqlite3_close_v2(db_); }

void Connection::configure() {
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(options_.busy_timeout.count()));
  if (options_.read_only) {
    // The first read of the file, where garbage is detected (SQLITE_NOTADB).
    exec("PRAGMA schema_version");
    return;
  }
  // A cache can afford to lose the last commits on power loss, not to fsync every answer.
  exec("PRAGMA synchronous=NORMAL");
  // WAL lets readers in other processes proceed while one writes; the setting is stored in
  // the file, so this only writes the first time. It is also the first read of the file,
  // which is where garbage is detected (SQLITE_NOTADB).
  exec("PRAGMA journal_mode=WAL");
}

void Connection::create_schema() {
  // IMMEDIATE takes the write lock up front, so the busy timeout applies to it (a deferred
  // transaction that upgrades to writing can fail at once instead).
  exec("BEGIN IMMEDIATE");
  try {
    exec(kCreateTable);
    Statement version(db_, "PRAGMA user_version");
    bool row = version.step(deadline());
    if (row && version.integer(0) == 0) {
      version.reset();
      exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Connection::check_schema_version() {
  Statement version(db_, "PRAGMA user_version");
  std::int64_t found = version.step(deadline()) ? version.integer(0) : 0;
  if (found > kSchemaVersion) {
    throw StoreFailure(SQLITE_FORMAT, path_ + " was written by a newer textgrad-cpp (schema " +
                                          std::to_string(found) + ", this one reads " +
                                          std::to_string(kSchemaVersion) + ")");
  }
}

void Connection::exec(std::string_view sql) {
  Statement statement(db_, sql);
  auto until = deadline();
  while (statement.step(until)) {
  }
}

void Connection::set_busy_timeout(std::chrono::milliseconds timeout) {
  options_.busy_timeout = timeout;
  sqlite3_busy_timeout(db_, static_cast<int>(timeout.count()));
}

std::int64_t Connection::changes() const { return sqlite3_changes64(db_); }

// --- Reader and Writer ---

Reader::Reader(const std::string& path, std::chrono::milliseconds open_timeout,
               std::chrono::milliseconds lookup_timeout, bool read_only)
    : connection_(path, {.busy_timeout = open_timeout, .create = false, .read_only = read_only}),
      select_(connection_.get(), kSelect) {
  connection_.set_busy_timeout(lookup_timeout);
}

std::optional<Response> Reader::find(const std::string& key) {
  struct ResetOnExit {
    Statement& statement;
    ~ResetOnExit() { statement.reset(); }
  } reset{select_};
  select_.bind(1, key);
  if (!select_.step(connection_.deadline())) return std::nullopt;
  Response response;
  response.text = select_.text(0);
  response.finish_reason = select_.text(1);
  response.model = select_.text(2);
  response.usage.input_tokens = select_.integer(3);
  response.usage.output_tokens = select_.integer(4);
  response.usage.cached_input_tokens = select_.integer(5);
  return response;
}

Writer::Writer(const std::string& path, std::chrono::milliseconds busy_timeout)
    : connection_(path, {.busy_timeout = busy_timeout, .create = true}),
      begin_(connection_.get(), "BEGIN IMMEDIATE"),
      insert_(connection_.get(), kInsert),
      commit_(connection_.get(), "COMMIT") {}

void Writer::write(const std::vector<Entry>& entries) {
  // One deadline for the whole batch: busy_timeout bounds how long an answer waits.
  auto deadline = connection_.deadline();
  begin_.step(deadline);
  begin_.reset();
  try {
    for (const Entry& entry : entries) {
      const Response& r = entry.response;
      insert_.bind(1, entry.key);
      insert_.bind(2, r.text);
      insert_.bind(3, r.finish_reason);
      insert_.bind(4, r.model);
      insert_.bind(5, r.usage.input_tokens);
      insert_.bind(6, r.usage.output_tokens);
      insert_.bind(7, r.usage.cached_input_tokens);
      insert_.bind(8, entry.created_unix_s);
      insert_.bind(9, entry.engine);
      insert_.step(deadline);
      insert_.reset();
    }
    commit_.step(deadline);
    commit_.reset();
  } catch (...) {
    insert_.reset();
    commit_.reset();
    sqlite3_exec(connection_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace tg::cache
