// The Redis response cache against a private redis-server: SQLite-cache semantics, single
// flight across engines (each with its own lease token, as two processes would have), a
// crashed holder's lease expiring, Redis down at start or during a run, no key stored.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

#include "cache/redis_store.h"
#include "support/fake_llm_server.h"
#include "support/redis_server.h"
#include "textgrad/cache.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "textgrad/redis_cache.h"
#include "textgrad/scripted_engine.h"

namespace tg {
namespace {

using testing::RedisServer;

#define SKIP_WITHOUT_REDIS()                                                                 \
  if (RedisServer::program().empty())                                                        \
  GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it); the Redis " \
                  "cache tests need it"

// Holds requests until released, so "in flight" does not depend on timing.
class HeldEngine : public Engine {
 public:
  EngineInfo info() const override { return {"held/model", "held", "model", true, {}}; }
  void submit(Request request, std::function<void(Outcome)> done) override {
    {
      std::lock_guard lock(mu_);
      held_.emplace_back(std::move(request), std::move(done));
      ++calls_;
    }
    cv_.notify_all();
  }
  void wait_for_calls(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return calls_ >= n; });
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void release_all() {
    std::vector<std::pair<Request, std::function<void(Outcome)>>> all;
    {
      std::lock_guard lock(mu_);
      all.swap(held_);
    }
    for (auto& [request, done] : all) {
      done(Outcome{nullptr, {.text = "answer to " + request.user_text(), .usage = {7, 3, 0}}});
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Request, std::function<void(Outcome)>>> held_;
  int calls_ = 0;
};

// The answer, once it arrives.
struct Pending {
  std::shared_ptr<std::promise<Outcome>> promise = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> future = promise->get_future();
  std::function<void(Outcome)> callback() {
    return [p = promise](Outcome o) { p->set_value(std::move(o)); };
  }
};

std::string get_raw(int port, const std::vector<std::string>& command) {
  redisContext* c = redisConnect("127.0.0.1", port);
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : command) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data()));
  std::string out;
  if (reply && reply->type == REDIS_REPLY_STRING) out.assign(reply->str, reply->len);
  if (reply && reply->type == REDIS_REPLY_INTEGER) out = std::to_string(reply->integer);
  if (reply && reply->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < reply->elements; ++i) {
      out += std::string(reply->element[i]->str, reply->element[i]->len) + "\n";
    }
  }
  freeReplyObject(reply);
  redisFree(c);
  return out;
}

TEST(RedisCacheTest, HitsMissesReplayAndErrorsLikeTheSqliteCache) {
  SKIP_WITHOUT_REDIS();
  RedisServer redis;
  int failures = 0;
  auto inner = std::make_shared<ScriptedEngine>([&](const Request& r) -> std::string {
    if (r.user_text() == "fail" && failures++ == 0) {
      throw EngineError(EngineErrorKind::kServer, "500 overloaded");
    }
    return "echo " + r.user_text();
  });
  EnginePtr cached = with_cache(inner, {.path = redis.url(2)});
  EXPECT_EQ(cached->generate("a").text, "echo a");
  Response again = cached->generate("a");
  EXPECT_EQ(again.text, "echo a");
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_THROW(cached->generate("fail"), EngineError);  // errors are not stored
  EXPECT_EQ(cached->generate("fail").text, "echo fail");
  std::optional<CacheCounters> counters = cache_counters(*cached);
  ASSERT_TRUE(counters.has_value());
  EXPECT_GE(counters->hits, 1);
  EXPECT_EQ(counters->misses, 3);
  cached.reset();  // writes everything

  // Another engine (a new process) with the same name: served from Redis; replay fails a miss.
  auto offline = std::make_shared<ScriptedEngine>([](const Request&) -> std::string {
    ADD_FAILURE() << "replay must not call the engine";
    return "";
  });
  EnginePtr replay = with_cache(offline, {.path = redis.url(2), .mode = CacheMode::kReplay});
  EXPECT_EQ(replay->generate("a").text, "echo a");
  EXPECT_EQ(replay->generate("fail").text, "echo fail");
  try {
    replay->generate("never asked");
    FAIL() << "expected kOffline";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), EngineErrorKind::kOffline);
    EXPECT_NE(std::string(e.what()).find(redis.url(2)), std::string::npos) << e.what();
  }
  // Another database is another cache.
  EnginePtr other_db = with_cache(inner, {.path = redis.url(3)});
  other_db->generate("a");
  EXPECT_EQ(inner->calls(), 4);
}

TEST(RedisCacheTest, IdenticalRequestsInTwoProcessesAreSentOnce) {
  SKIP_WITHOUT_REDIS();
  RedisServer redis;
  auto first_inner = std::make_shared<HeldEngine>();
  auto second_inner = std::make_shared<HeldEngine>();
  EnginePtr first = with_redis_cache(first_inner, {.url = redis.url()});
  EnginePtr second = with_redis_cache(second_inner, {.url = redis.url()});

  Pending a, b, b_again;
  first->submit(Request::Text("q"), a.callback());  // takes the lease, call held
  first_inner->wait_for_calls(1);
  second->submit(Request::Text("q"), b.callback());  // finds the lease: waits for the answer
  second->submit(Request::Text("q"), b_again.callback());
  first_inner->release_all();

  EXPECT_EQ(a.future.get().response.text, "answer to q");
  Outcome waited = b.future.get();
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ(waited.response.text, "answer to q");
  EXPECT_TRUE(waited.response.from_cache);
  EXPECT_EQ(waited.response.usage.input_tokens, 7);
  EXPECT_EQ(b_again.future.get().response.text, "answer to q");
  EXPECT_EQ(second_inner->calls(), 0);
  EXPECT_EQ(cache_counters(*second)->coalesced, 2);
}

TEST(RedisCacheTest, ACrashedHoldersLeaseExpiresAndAWaiterTakesOver) {
  SKIP_WITHOUT_REDIS();
  RedisServer redis;
  auto inner = ScriptedEngine::echo();
  EnginePtr engine = with_redis_cache(inner, {.url = redis.url()});
  // A process took the lease for this request and died: nobody renews it.
  const std::string key = cache_key(inner->info(), Request::Text("orphan"));
  cache::RedisStore store({.url = cache::parse_redis_url(redis.url())});
  ASSERT_EQ(store.claim(key, "dead-process", std::chrono::milliseconds(300)).kind,
            cache::Claim::kLeased);

  EXPECT_EQ(engine->generate("orphan").text, "orphan");
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_EQ(cache_counters(*engine)->misses, 1);
  engine.reset();
  EXPECT_EQ(store.get(key)->text, "orphan");
  EXPECT_EQ(get_raw(redis.port(), {"EXISTS", "textgrad:lease:" + key}), "0");
}

TEST(RedisCacheTest, LeasesOfLongCallsAreRenewedNotTakenOver) {
  SKIP_WITHOUT_REDIS();
  RedisServer redis;
  auto first_inner = std::make_shared<HeldEngine>();
  // A lease shorter than the test's wait: only renewal keeps the second engine waiting.
  EnginePtr first = with_redis_cache(first_inner, {.url = redis.url() + "?lease_ms=2000"});
  auto second_inner = std::make_shared<HeldEngine>();
  EnginePtr second = with_redis_cache(second_inner, {.url = redis.url() + "?lease_ms=2000"});
  Pending a, b;
  first->submit(Request::Text("slow"), a.callback());
  first_inner->wait_for_calls(1);
  second->submit(Request::Text("slow"), b.callback());
  // Wait (without sleeping) until the lease has been renewed four times (every lease/3), so it
  // has outlived its own lifetime: PEXPIRE resets the TTL, so watch for it going up.
  const std::string lease =
      "textgrad:lease:" + cache_key(first_inner->info(), Request::Text("slow"));
  int increases = 0;
  long last = 1'000'000;
  while (increases < 4) {
    long ttl = std::stol(get_raw(redis.port(), {"PTTL", lease}));
    ASSERT_GT(ttl, 0) << "the lease expired while its holder was alive";
    if (ttl > last) ++increases;
    last = ttl;
  }
  EXPECT_EQ(second_inner->calls(), 0);
  first_inner->release_all();
  EXPECT_EQ(b.future.get().response.text, "answer to slow");
  EXPECT_EQ(second_inner->calls(), 0);
}

TEST(RedisCacheTest, RedisDownAtStartIsAClearErrorNamingTheUrl) {
  SKIP_WITHOUT_REDIS();
  const std::string url = "redis://127.0.0.1:" + std::to_string(testing::free_port()) + "/1";
  try {
    with_cache(ScriptedEngine::echo(), {.path = url});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(url), std::string::npos) << message;
    EXPECT_NE(message.find("Start Redis"), std::string::npos) << message;
  }
  EXPECT_THROW(with_cache(ScriptedEngine::echo(), {.path = "redis://host:port/x"}),
               InvalidArgument);
}

TEST(RedisCacheTest, AServerThatNeverAnswersFailsAfterTheTimeoutInsteadOfHanging) {
  // Accepts connections (the kernel's backlog) and never says a word.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string url = "redis://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/0";
  try {
    with_redis_cache(ScriptedEngine::echo(),
                     {.url = url, .command_timeout = std::chrono::milliseconds(100)});
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(url), std::string::npos) << e.what();
  }
  close(fd);
}

TEST(RedisCacheTest, RedisLostDuringARunWarnsOnceAndCallsGoOnUncached) {
  SKIP_WITHOUT_REDIS();
  auto redis = std::make_unique<RedisServer>();
  auto inner = ScriptedEngine::echo();
  std::vector<std::string> warnings;
  std::mutex mu;
  EnginePtr cached =
      with_cache(inner, {.path = redis->url(), .on_warning = [&](const std::string& w) {
                           std::lock_guard lock(mu);
                           warnings.push_back(w);
                         }});
  EXPECT_EQ(cached->generate("before").text, "before");
  redis->kill_now();
  EXPECT_EQ(cached->generate("after").text, "after");
  EXPECT_EQ(cached->generate("after").text, "after");
  EXPECT_EQ(inner->calls(), 3);
  std::lock_guard lock(mu);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("127.0.0.1"), std::string::npos) << warnings[0];
}

TEST(RedisCacheTest, StoresNoApiKeyAndHonoursTheTtl) {
  SKIP_WITHOUT_REDIS();
  RedisServer redis;
  fake::FakeLlmServer server;
  EngineOptions options;
  options.api_key = "fake-redis-secret-0123456789abcdef";
  options.base_url = server.base_url() + "/v1";
  EnginePtr cached =
      with_cache(make_engine("openai/gpt-4o-mini", options), {.path = redis.url() + "?ttl_s=3600"});
  cached->generate("hello");
  cached.reset();
  std::string keys = get_raw(redis.port(), {"KEYS", "*"});
  ASSERT_NE(keys.find("textgrad:resp:"), std::string::npos) << keys;
  std::string key = keys.substr(0, keys.find('\n'));
  EXPECT_EQ(get_raw(redis.port(), {"GET", key}).find(options.api_key), std::string::npos);
  EXPECT_EQ(keys.find(options.api_key), std::string::npos);
  long ttl = std::stol(get_raw(redis.port(), {"TTL", key}));
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 3600);
}

TEST(RedisUrlTest, ParsesHostPortDatabasePasswordAndParameters) {
  cache::RedisUrl url = cache::parse_redis_url("redis://:s3cret@cache.local:6380/4?lease_ms=500");
  EXPECT_EQ(url.host, "cache.local");
  EXPECT_EQ(url.port, 6380);
  EXPECT_EQ(url.db, 4);
  EXPECT_EQ(url.password, "s3cret");
  EXPECT_EQ(url.lease_ms, 500);
  EXPECT_EQ(url.display(), "redis://:***@cache.local:6380/4");
  EXPECT_EQ(cache::parse_redis_url("redis://h").display(), "redis://h:6379/0");
  try {
    cache::parse_redis_url("redis://:s3cret@h:x/0");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cache::parse_redis_url("redis://h/0?bogus=1"), InvalidArgument);
}

}  // namespace
}  // namespace tg
