// The Redis side of the shared response cache: URL parsing, connections (hiredis, with
// connect and command timeouts) and the few atomic operations the cache needs, each one Lua
// script so that "look up, else take the lease" is one round trip and one atomic step.
// Every failure is a RedisFailure whose message names the URL (password hidden).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "textgrad/engine.h"

struct redisContext;

namespace tg::cache {

class RedisFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;  // empty: no AUTH
  // From the query string (?lease_ms=..&ttl_s=..&prefix=..), for the CLI's --cache.
  std::optional<long> lease_ms;
  std::optional<long> ttl_s;
  std::optional<std::string> prefix;
  // The URL as shown in messages: the password replaced by "***".
  std::string display() const;
};

// Throws InvalidArgument saying what is wrong with the URL.
RedisUrl parse_redis_url(const std::string& url);

struct RedisSettings {
  RedisUrl url;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::string key_prefix = "textgrad:";
};

// What claim() found.
struct Claim {
  enum Kind { kHit, kLeased, kTaken } kind = kTaken;  // kTaken: another holder has the lease
  Response response;                                  // kHit
};

// Thread-safe: each operation borrows a connection from a small pool (a new one is made when
// all are busy; one that failed is dropped).
class RedisStore {
 public:
  // Connects once and checks the server answers (PING); throws RedisFailure otherwise.
  explicit RedisStore(RedisSettings settings);
  ~RedisStore();

  std::optional<Response> get(const std::string& key);
  // The answer if stored; else the lease for `token` if free; else kTaken.
  Claim claim(const std::string& key, const std::string& token, std::chrono::milliseconds lease);
  // Stores the answer (ttl 0 = no expiry), then drops the lease if `token` still holds it.
  void put(const std::string& key, const Response& response, const std::string& engine,
           const std::string& token, std::chrono::milliseconds ttl);
  void release(const std::string& key, const std::string& token);
  // Extends the leases `token` still holds.
  void renew(const std::vector<std::string>& keys, const std::string& token,
             std::chrono::milliseconds lease);
  // Answers stored under the prefix (SCAN; for tests and the CLI).
  std::int64_t count_answers();
  const std::string& display_url() const { return display_url_; }
  const std::string& key_prefix() const { return settings_.key_prefix; }

  // Runs one Lua script (atomic in Redis). The reply as strings: nil gives no element, a
  // string or an integer one, an array its elements (nil elements as ""). For other
  // Redis-backed structures sharing this store's connections (redis_work_queue.h).
  std::vector<std::string> script(std::string_view body, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  class Connection;

 private:
  struct Lease;
  Lease borrow();

  const RedisSettings settings_;
  const std::string display_url_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace tg::cache
