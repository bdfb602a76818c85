#include "cache/redis_store.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "textgrad/errors.h"

namespace tg::cache {
namespace {

using nlohmann::json;

constexpr std::string_view kClaimScript = R"lua(
local answer = redis.call('GET', KEYS[1])
if answer then return {1, answer} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {2} end
return {3})lua";

constexpr std::string_view kPutScript = R"lua(
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1)lua";

constexpr std::string_view kReleaseScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0)lua";

constexpr std::string_view kRenewScript = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0)lua";

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000),
          static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

int parse_int(std::string_view text, std::string_view what, const std::string& url) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) {
    throw InvalidArgument("the Redis URL '" + url + "' has a bad " + std::string(what) + " '" +
                          std::string(text) + "': expected redis://[:password@]host[:port][/db]");
  }
  return value;
}

void parse_query(std::string_view query, const std::string& url, RedisUrl& parsed) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (name == "lease_ms") {
      parsed.lease_ms = parse_int(value, "lease_ms", url);
    } else if (name == "ttl_s") {
      parsed.ttl_s = parse_int(value, "ttl_s", url);
    } else if (name == "prefix" && !value.empty()) {
      parsed.prefix = std::string(value);
    } else {
      throw InvalidArgument("the Redis URL '" + url + "' has an unknown parameter '" +
                            std::string(name) + "': the known ones are lease_ms, ttl_s, prefix");
    }
  }
}

std::string encode(const Response& response, const std::string& engine) {
  return json{{"text", response.text},
              {"finish_reason", response.finish_reason},
              {"model", response.model},
              {"input_tokens", response.usage.input_tokens},
              {"output_tokens", response.usage.output_tokens},
              {"cached_input_tokens", response.usage.cached_input_tokens},
              {"engine", engine},
              {"created_at", static_cast<std::int64_t>(std::time(nullptr))}}
      .dump();
}

Response decode(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("text")) {
    throw RedisFailure("a stored answer is not a textgrad cache entry");
  }
  Response response;
  response.text = doc.value("text", "");
  response.finish_reason = doc.value("finish_reason", "");
  response.model = doc.value("model", "");
  response.usage.input_tokens = doc.value("input_tokens", std::int64_t{0});
  response.usage.output_tokens = doc.value("output_tokens", std::int64_t{0});
  response.usage.cached_input_tokens = doc.value("cached_input_tokens", std::int64_t{0});
  return response;
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

std::string as_string(const redisReply* reply) {
  return reply->str ? std::string(reply->str, reply->len) : std::string();
}

}  // namespace

std::string RedisUrl::display() const {
  return "redis://" + std::string(password.empty() ? "" : ":***@") + host + ":" +
         std::to_string(port) + "/" + std::to_string(db);
}

RedisUrl parse_redis_url(const std::string& url) {
  constexpr std::string_view kScheme = "redis://";
  if (!url.starts_with(kScheme)) {
    throw InvalidArgument("'" + url + "' is not a Redis URL: expected redis://host[:port][/db]");
  }
  RedisUrl parsed;
  std::string_view rest = std::string_view(url).substr(kScheme.size());
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view credentials = rest.substr(0, at);
    size_t colon = credentials.find(':');
    parsed.password =
        std::string(colon == std::string_view::npos ? credentials : credentials.substr(colon + 1));
    rest = rest.substr(at + 1);
  }
  std::string shown = parsed.password.empty() ? url : "redis://***@" + std::string(rest);
  if (size_t question = rest.find('?'); question != std::string_view::npos) {
    parse_query(rest.substr(question + 1), shown, parsed);
    rest = rest.substr(0, question);
  }
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) parsed.db = parse_int(db, "database number", shown);
    rest = rest.substr(0, slash);
  }
  if (size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    parsed.port = parse_int(rest.substr(colon + 1), "port", shown);
    rest = rest.substr(0, colon);
  }
  if (!rest.empty()) parsed.host = std::string(rest);
  return parsed;
}

// One hiredis connection. A connection that saw an error is unusable (hiredis's rule), so
// the store drops it.
class RedisStore::Connection {
 public:
  Connection(const RedisSettings& settings, const std::string& display_url)
      : display_url_(display_url) {
    context_ = redisConnectWithTimeout(settings.url.host.c_str(), settings.url.port,
                                       to_timeval(settings.connect_timeout));
    if (!context_ || context_->err) {
      std::string reason = context_ ? context_->errstr : "out of memory";
      if (context_) redisFree(context_);
      context_ = nullptr;
      throw RedisFailure("cannot connect to " + display_url_ + ": " + reason);
    }
    redisSetTimeout(context_, to_timeval(settings.command_timeout));
    if (!settings.url.password.empty()) run({"AUTH", settings.url.password});
    if (settings.url.db != 0) run({"SELECT", std::to_string(settings.url.db)});
  }
  ~Connection() {
    if (context_) redisFree(context_);
  }

  Reply run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    Reply reply(static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply) {
      broken = true;
      throw RedisFailure(display_url_ + " did not answer: " +
                         (context_->err ? std::string(context_->errstr) : "no reply"));
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      // AUTH and SELECT come first, so a wrong password names its command, not the password.
      throw RedisFailure(display_url_ + " refused " + args.front() + ": " + as_string(reply.get()));
    }
    return reply;
  }

  Reply script(std::string_view body, const std::vector<std::string>& keys,
               const std::vector<std::string>& args) {
    std::vector<std::string> argv{"EVAL", std::string(body), std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  bool broken = false;

 private:
  redisContext* context_ = nullptr;
  const std::string& display_url_;
};

// A borrowed connection, returned to the pool unless it broke.
struct RedisStore::Lease {
  RedisStore& store;
  std::unique_ptr<Connection> connection;
  Lease(RedisStore& s, std::unique_ptr<Connection> c) : store(s), connection(std::move(c)) {}
  Lease(Lease&&) = default;
  ~Lease() {
    if (!connection || connection->broken) return;
    std::lock_guard lock(store.mu_);
    store.idle_.push_back(std::move(connection));
  }
  Connection* operator->() { return connection.get(); }
};

RedisStore::RedisStore(RedisSettings settings)
    : settings_(std::move(settings)), display_url_(settings_.url.display()) {
  borrow()->run({"PING"});
}

RedisStore::~RedisStore() = default;

RedisStore::Lease RedisStore::borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  return Lease(*this, std::make_unique<Connection>(settings_, display_url_));
}

std::optional<Response> RedisStore::get(const std::string& key) {
  Reply reply = borrow()->run({"GET", settings_.key_prefix + "resp:" + key});
  if (reply->type != REDIS_REPLY_STRING) return std::nullopt;
  return decode(as_string(reply.get()));
}

Claim RedisStore::claim(const std::string& key, const std::string& token,
                        std::chrono::milliseconds lease) {
  Reply reply = borrow()->script(
      kClaimScript, {settings_.key_prefix + "resp:" + key, settings_.key_prefix + "lease:" + key},
      {token, std::to_string(lease.count())});
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER) {
    throw RedisFailure(display_url_ + " gave an unexpected answer to a lookup");
  }
  Claim claim;
  switch (reply->element[0]->integer) {
    case 1:
      claim.kind = Claim::kHit;
      claim.response = decode(as_string(reply->element[1]));
      break;
    case 2:
      claim.kind = Claim::kLeased;
      break;
    default:
      claim.kind = Claim::kTaken;
  }
  return claim;
}

void RedisStore::put(const std::string& key, const Response& response, const std::string& engine,
                     const std::string& token, std::chrono::milliseconds ttl) {
  borrow()->script(kPutScript,
                   {settings_.key_prefix + "resp:" + key, settings_.key_prefix + "lease:" + key},
                   {encode(response, engine), token, std::to_string(ttl.count())});
}

void RedisStore::release(const std::string& key, const std::string& token) {
  borrow()->script(kReleaseScript, {settings_.key_prefix + "lease:" + key}, {token});
}

void RedisStore::renew(const std::vector<std::string>& keys, const std::string& token,
                       std::chrono::milliseconds lease) {
  Lease connection = borrow();
  for (const std::string& key : keys) {
    connection->script(kRenewScript, {settings_.key_prefix + "lease:" + key},
                       {token, std::to_string(lease.count())});
  }
}

std::vector<std::string> RedisStore::script(std::string_view body,
                                            const std::vector<std::string>& keys,
                                            const std::vector<std::string>& args) {
  Reply reply = borrow()->script(body, keys, args);
  auto text = [](const redisReply* r) {
    return r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer) : as_string(r);
  };
  std::vector<std::string> out;
  if (reply->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < reply->elements; ++i) out.push_back(text(reply->element[i]));
  } else if (reply->type != REDIS_REPLY_NIL) {
    out.push_back(text(reply.get()));
  }
  return out;
}

std::int64_t RedisStore::count_answers() {
  Lease connection = borrow();
  std::int64_t count = 0;
  std::string cursor = "0";
  do {
    Reply reply = connection->run(
        {"SCAN", cursor, "MATCH", settings_.key_prefix + "resp:*", "COUNT", "1000"});
    cursor = as_string(reply->element[0]);
    count += static_cast<std::int64_t>(reply->element[1]->elements);
  } while (cursor != "0");
  return count;
}

}  // namespace tg::cache
