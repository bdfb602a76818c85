// Endpoint pools: fail-over from a sick endpoint, ejection and return on a test clock, load
// balancing, and answers that do not depend on the endpoint that served them.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>

#include "support/fake_llm_server.h"
#include "support/workloads.h"
#include "textgrad/endpoint_pool.h"
#include "textgrad/engines.h"
#include "textgrad/errors.h"
#include "textgrad/scripted_engine.h"

namespace tg {
namespace {

using Clock = PoolOptions::Clock;

// Answers depend on the request only, as replicas of one model at temperature 0 would.
fake::FakeReply replica(const fake::RecordedRequest& request) {
  nlohmann::json body = request.json();
  std::string user = body["messages"].back()["content"].dump();
  return fake::reply_for(
      request, "answer " + std::to_string(testing::fnv1a(user) % 1000) + " <IMPROVED_VARIABLE>v" +
                   std::to_string(testing::fnv1a(user) % 97) + "</IMPROVED_VARIABLE> Answer: 4");
}

EnginePtr engine_at(const fake::FakeLlmServer& server) {
  EngineOptions options;
  options.api_key = "fake-pool-key-0123456789";
  options.base_url = server.base_url() + "/v1";
  options.max_retries = 0;  // the pool fails over
  return make_engine("openai/gpt-4o-mini", options);
}

// A clock that moves only when the test says so.
struct TestClock {
  std::shared_ptr<std::atomic<Clock::rep>> ticks = std::make_shared<std::atomic<Clock::rep>>(0);
  std::function<Clock::time_point()> fn() const {
    return [t = ticks] { return Clock::time_point(Clock::duration(t->load())); };
  }
  void advance(std::chrono::milliseconds by) {
    *ticks += std::chrono::duration_cast<Clock::duration>(by).count();
  }
};

std::vector<std::string> answers(const EnginePtr& engine, int n) {
  std::vector<std::future<Response>> pending;
  for (int i = 0; i < n; ++i) {
    pending.push_back(std::async(std::launch::async, [&engine, i] {
      return engine->generate(Request::Text("question " + std::to_string(i)));
    }));
  }
  std::vector<std::string> texts;
  for (auto& f : pending) texts.push_back(f.get().text);
  return texts;
}

TEST(EndpointPoolTest, ThreeServersOneDroppingGiveTheResultOfOneHealthyServer) {
  fake::FakeLlmServer reference(replica);
  fake::FakeLlmServer a(replica), b(replica);
  fake::FakeLlmServer dropping(
      [](const fake::RecordedRequest&) { return fake::dropped_connection(); });
  TestClock clock;  // never moves: once out, the dropping server stays out
  auto pool = std::make_shared<EndpointPool>(
      std::vector<PoolEndpoint>{{engine_at(a), a.base_url(), 4},
                                {engine_at(dropping), dropping.base_url(), 4},
                                {engine_at(b), b.base_url(), 4}},
      PoolOptions{.failures_to_eject = 2, .clock = clock.fn()});

  EnginePtr single = engine_at(reference);
  EXPECT_EQ(testing::run_prompt_workload(pool, {.steps = 3}),
            testing::run_prompt_workload(single, {.steps = 3}));
  EXPECT_EQ(answers(pool, 24), answers(single, 24));

  std::vector<EndpointStats> stats = pool->stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[1].url, dropping.base_url());
  EXPECT_FALSE(stats[1].healthy);
  EXPECT_GE(stats[1].ejections, 1);
  EXPECT_EQ(stats[1].succeeded, 0);
  EXPECT_EQ(stats[1].failed, stats[1].requests);
  EXPECT_TRUE(stats[0].healthy && stats[2].healthy);
  // Every answer came from a healthy server, each request answered once.
  EXPECT_EQ(stats[0].succeeded + stats[2].succeeded,
            static_cast<std::int64_t>(reference.request_count()));
  EXPECT_EQ(a.request_count() + b.request_count(), reference.request_count());
  EXPECT_GT(stats[0].usage.input_tokens, 0);
  // Taken out: after the ejection it got nothing more, so it saw few of the requests.
  EXPECT_LT(dropping.request_count(), reference.request_count() / 2);
}

// An endpoint scripted to fail with connection errors until told otherwise.
struct Switchable {
  std::shared_ptr<std::atomic<bool>> failing = std::make_shared<std::atomic<bool>>(true);
  std::shared_ptr<ScriptedEngine> engine;
  Switchable() {
    engine = std::make_shared<ScriptedEngine>([f = failing](const Request& r) -> std::string {
      if (f->load()) throw EngineError(EngineErrorKind::kConnection, "connection refused");
      return "ok " + r.user_text();
    });
  }
};

TEST(EndpointPoolTest, EjectedEndpointReturnsAfterTheBackoffOnTheTestClock) {
  auto healthy = ScriptedEngine::echo();
  Switchable sick;
  TestClock clock;
  EndpointPool pool(
      {{healthy, "http://healthy", 0}, {sick.engine, "http://sick", 0}},
      {.failures_to_eject = 2, .backoff = std::chrono::seconds(10), .clock = clock.fn()});
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(pool.generate("q" + std::to_string(i)).text, "q" + std::to_string(i));
  // Two failures took it out; every request after that went to the healthy endpoint.
  EXPECT_EQ(sick.engine->calls(), 2);
  EXPECT_EQ(pool.stats()[1].ejections, 1);
  EXPECT_FALSE(pool.stats()[1].healthy);

  clock.advance(std::chrono::seconds(9));
  pool.generate("still out");
  EXPECT_EQ(sick.engine->calls(), 2);

  clock.advance(std::chrono::seconds(1));
  sick.failing->store(false);
  EXPECT_TRUE(pool.stats()[1].healthy);
  // Back in, and the endpoint that has served the fewest requests gets the next one.
  EXPECT_EQ(pool.generate("back").text, "ok back");
  EXPECT_EQ(sick.engine->calls(), 3);
}

TEST(EndpointPoolTest, AReturningEndpointThatFailsAgainIsOutForTwiceAsLong) {
  auto healthy = ScriptedEngine::echo();
  Switchable sick;
  TestClock clock;
  EndpointPool pool(
      {{healthy, "http://healthy", 0}, {sick.engine, "http://sick", 0}},
      {.failures_to_eject = 1, .backoff = std::chrono::seconds(10), .clock = clock.fn()});
  pool.generate("a");  // first to the sick one (listed... tie on load and requests: index 0)
  pool.generate("b");
  ASSERT_EQ(pool.stats()[1].ejections, 1);
  clock.advance(std::chrono::seconds(10));
  pool.generate("c");  // returns, fails at once, out again for 20 s
  EXPECT_EQ(pool.stats()[1].ejections, 2);
  int calls = sick.engine->calls();
  clock.advance(std::chrono::seconds(19));
  pool.generate("d");
  EXPECT_EQ(sick.engine->calls(), calls);
}

TEST(EndpointPoolTest, EveryEndpointFailingGivesTheErrorAndNeverHangs) {
  Switchable one, two;
  EndpointPool pool({{one.engine, "http://one", 0}, {two.engine, "http://two", 0}});
  try {
    pool.generate("q");
    FAIL() << "expected an error";
  } catch (const EngineError& e) {
    EXPECT_EQ(e.kind(), EngineErrorKind::kConnection);
  }
  EXPECT_EQ(one.engine->calls() + two.engine->calls(), 2);
}

TEST(EndpointPoolTest, RequestErrorsAreNotSentToAnotherEndpoint) {
  auto bad = std::make_shared<ScriptedEngine>([](const Request&) -> std::string {
    throw EngineError(EngineErrorKind::kBadRequest, "400: bad request");
  });
  auto good = ScriptedEngine::echo();
  EndpointPool pool({{bad, "http://bad", 0}, {good, "http://good", 0}});
  EXPECT_THROW(pool.generate("q"), EngineError);
  EXPECT_EQ(good->calls(), 0);
  EXPECT_TRUE(pool.stats()[0].healthy);
}

// Holds every request until the test releases them, so "in flight" does not depend on timing.
class HeldEngine : public Engine {
 public:
  EngineInfo info() const override { return {"held", "scripted", "held", true, {}}; }
  void submit(Request request, std::function<void(Outcome)> done) override {
    std::lock_guard lock(mu_);
    held_.emplace_back(std::move(request), std::move(done));
  }
  int held() {
    std::lock_guard lock(mu_);
    return static_cast<int>(held_.size());
  }
  void release_all() {
    std::vector<std::pair<Request, std::function<void(Outcome)>>> all;
    {
      std::lock_guard lock(mu_);
      all.swap(held_);
    }
    for (auto& [request, done] : all) done(Outcome{nullptr, {.text = request.user_text()}});
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<Request, std::function<void(Outcome)>>> held_;
};

TEST(EndpointPoolTest, RequestsGoToTheLeastLoadedEndpointByCapacity) {
  auto small = std::make_shared<HeldEngine>();
  auto large = std::make_shared<HeldEngine>();
  EndpointPool pool({{small, "http://small", 1}, {large, "http://large", 3}});
  std::atomic<int> answered{0};
  for (int i = 0; i < 8; ++i) pool.submit(Request::Text("q"), [&](Outcome) { ++answered; });
  // Loads (in flight / capacity), ties to the fewest served: s l l l s l l l (1:3).
  EXPECT_EQ(small->held(), 2);
  EXPECT_EQ(large->held(), 6);
  small->release_all();
  large->release_all();
  EXPECT_EQ(answered.load(), 8);
  EXPECT_EQ(pool.stats()[0].in_flight, 0);
  EXPECT_EQ(pool.stats()[1].succeeded, 6);
}

TEST(EndpointPoolTest, TheIdentityNamesThePoolNotAnEndpoint) {
  auto a = ScriptedEngine::echo();
  auto b = ScriptedEngine::echo();
  EXPECT_EQ(EndpointPool({{a, "http://b", 0}, {b, "http://a", 0}}).identity(),
            "pool:http://a http://b");
  EXPECT_EQ(EndpointPool({{a, "http://b", 0}}, {.name = "gpu-farm"}).identity(), "gpu-farm");
}

TEST(EndpointPoolTest, RefusesEndpointsOfDifferentModels) {
  auto a = std::make_shared<ScriptedEngine>([](const Request&) { return std::string("x"); },
                                            ScriptedEngine::Options{.name = "a"});
  EngineOptions options;
  options.api_key = "fake-pool-key-0123456789";
  options.base_url = "http://127.0.0.1:1/v1";
  EnginePtr b = make_engine("openai/gpt-4o-mini", options);
  EXPECT_THROW(EndpointPool({{a, "http://a", 0}, {b, "http://b", 0}}), InvalidArgument);
  EXPECT_THROW(EndpointPool({}), InvalidArgument);
}

}  // namespace
}  // namespace tg
