// Where the cache lives, and the CLI's maintenance functions (stats, clear).
#include <pwd.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cache/store.h"
#include "textgrad/cache.h"
#include "textgrad/errors.h"

namespace tg {
namespace {

constexpr const char* kFileName = "responses.sqlite3";

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

std::string home_directory() {
  std::string home = env("HOME");
  if (!home.empty()) return home;
  // No $HOME (e.g. a service account): ask the user database.
  if (const passwd* entry = getpwuid(getuid()); entry && entry->pw_dir) return entry->pw_dir;
  return std::filesystem::temp_directory_path().string();
}

std::int64_t file_size_or_zero(const std::filesystem::path& path) {
  std::error_code error;
  auto size = std::filesystem::file_size(path, error);
  return error ? 0 : static_cast<std::int64_t>(size);
}

Error maintenance_error(const std::string& path, const cache::StoreFailure& failure) {
  return Error("response cache " + path + ": " + failure.what() + ". " + failure.advice(path));
}

// Opens an existing cache for maintenance; nullopt when there is no file.
std::optional<cache::Connection> open_existing(const std::string& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  try {
    return std::optional<cache::Connection>(std::in_place, path, cache::Connection::Options{});
  } catch (const cache::StoreFailure& failure) {
    throw maintenance_error(path, failure);
  }
}

}  // namespace

std::string default_cache_path() {
  std::filesystem::path dir;
  if (std::string custom = env("TEXTGRAD_CACHE_DIR"); !custom.empty()) {
    dir = custom;
  } else if (std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty() && xdg.front() == '/') {
    // The XDG spec says to ignore relative paths here.
    dir = std::filesystem::path(xdg) / "textgrad";
  } else {
    dir = std::filesystem::path(home_directory()) / ".cache" / "textgrad";
  }
  return (dir / kFileName).string();
}

CacheStats cache_stats(const std::string& path) {
  CacheStats stats;
  std::optional<cache::Connection> connection = open_existing(path);
  if (!connection) return stats;
  try {
    cache::Statement query(connection->get(),
                           "SELECT engine, COUNT(*) FROM responses GROUP BY engine");
    auto deadline = connection->deadline();
    while (query.step(deadline)) {
      std::int64_t count = query.integer(1);
      stats.entries_by_engine[query.text(0)] = count;
      stats.entries += count;
    }
  } catch (const cache::StoreFailure& failure) {
    throw maintenance_error(path, failure);
  }
  stats.bytes = file_size_or_zero(path) + file_size_or_zero(path + "-wal");
  return stats;
}

std::size_t cache_clear(const std::string& path) {
  std::optional<cache::Connection> connection = open_existing(path);
  if (!connection) return 0;
  std::int64_t removed = 0;
  try {
    connection->exec("DELETE FROM responses");
    removed = connection->changes();
  } catch (const cache::StoreFailure& failure) {
    throw maintenance_error(path, failure);
  }
  // Give the space back when no other process is using the file; if one is, the pages are
  // reused by later answers instead, so a failure here is not an error.
  sqlite3_exec(connection->get(), "VACUUM", nullptr, nullptr, nullptr);
  sqlite3_exec(connection->get(), "PRAGMA wal_checkpoint(TRUNCATE)", nullptr, nullptr, nullptr);
  return static_cast<std::size_t>(removed);
}

}  // namespace tg
