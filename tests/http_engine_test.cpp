// HttpEngine with a tiny Chat-Completions-like codec defined here (so these tests do not
// depend on the real codecs): retries, Retry-After, errors that must not be retried,
// timeouts, concurrency, usage accounting, image gating and key redaction.
#include "engine/http_engine.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/fake_llm_server.h"
#include "support/manual_clock.h"
#include "textgrad/errors.h"

namespace tg::engine {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using fake::Dialect;
using fake::FakeLlmServer;
using fake::FakeReply;
using fake::RecordedRequest;
using nlohmann::json;

// Just enough of OpenAI Chat Completions to drive the engine.
class TestCodec : public providers::Codec {
 public:
  http::HttpRequest encode(const Request& request, const SamplingParams& sampling,
                           const providers::ProviderConfig& config) const override {
    if (request.user_text() == "unencodable") throw InvalidArgument("cannot encode this");
    json body = {{"model", config.model},
                 {"messages", json::array({{{"role", "user"}, {"content", request.user_text()}}})}};
    if (sampling.temperature) body["temperature"] = *sampling.temperature;
    if (sampling.max_tokens) body["max_tokens"] = *sampling.max_tokens;
    http::HttpRequest http;
    http.url = config.base_url + "/chat/completions";
    http.headers = {{"Content-Type", "application/json"},
                    {"Authorization", "Bearer " + config.api_key}};
    for (const auto& header : config.extra_headers) http.headers.push_back(header);
    http.body = body.dump();
    return http;
  }

  Response decode(const http::HttpResponse& response,
                  const providers::ProviderConfig&) const override {
    const json body = json::parse(response.body, nullptr, false);
    if (body.is_discarded()) {
      throw EngineError(EngineErrorKind::kMalformed, "the body is not JSON", response.status);
    }
    if (response.status >= 300) {
      const std::string message = body.value("/error/message"_json_pointer, std::string("?"));
      throw EngineError(kind_of(response.status, body), "provider said: " + message,
                        response.status);
    }
    try {
      const json& choice = body.at("choices").at(0);
      if (choice.at("message").at("content").is_null()) {
        throw EngineError(EngineErrorKind::kEmptyAnswer, "no text in the answer", response.status);
      }
      Response out;
      out.text = choice.at("message").at("content").get<std::string>();
      out.finish_reason = choice.value("finish_reason", "");
      out.model = body.value("model", "");
      out.usage.input_tokens = body.at("usage").at("prompt_tokens").get<std::int64_t>();
      out.usage.output_tokens = body.at("usage").at("completion_tokens").get<std::int64_t>();
      out.usage.cached_input_tokens =
          body.value("/usage/prompt_tokens_details/cached_tokens"_json_pointer, std::int64_t{0});
      return out;
    } catch (const json::exception& error) {
      throw EngineError(EngineErrorKind::kMalformed, error.what(), response.status);
    }
  }

  std::optional<double> retry_after_seconds(const http::HttpResponse& response) const override {
    const std::string value = response.header("retry-after");
    if (value.empty()) return std::nullopt;
    return std::strtod(value.c_str(), nullptr);
  }

 private:
  static EngineErrorKind kind_of(int status, const json& body) {
    if (body.value("/error/code"_json_pointer, json()) == "context_length_exceeded") {
      return EngineErrorKind::kContextLength;
    }
    if (status == 401 || status == 403) return EngineErrorKind::kAuthentication;
    if (status == 408) return EngineErrorKind::kTimeout;
    if (status == 429) return EngineErrorKind::kRateLimited;
    if (status >= 500) return EngineErrorKind::kServer;
    return EngineErrorKind::kBadRequest;  // 409 included: the engine retries it by status
  }
};

constexpr const char* kSecretKey = "fake-test-SECRET-0123456789abcdef";

struct EngineSetup {
  std::string model = "gpt-4o";
  std::string api_key = kSecretKey;
  int max_retries = 4;
  double timeout_s = 10;
  std::optional<bool> accepts_images;
  http::Headers extra_headers;
  std::shared_ptr<tg::Clock> clock;  // times the waits between attempts
  std::size_t max_answer_bytes = 2u << 20;
};

// The server is declared first in each test so that it outlives the engine's transport.
std::unique_ptr<HttpEngine> make_test_engine(const FakeLlmServer& server,
                                             const std::function<void(EngineSetup&)>& adjust = {}) {
  EngineSetup setup;
  if (adjust) adjust(setup);
  providers::ProviderConfig config;
  config.provider = "openai";
  config.model = setup.model;
  config.base_url = server.base_url() + "/v1";
  config.api_key = setup.api_key;
  config.extra_headers = setup.extra_headers;
  HttpEngineOptions options;
  options.name = "test/" + setup.model;
  options.retry.max_retries = setup.max_retries;
  options.retry.initial_delay_s = 0.01;  // keeps retry tests fast
  options.retry.max_delay_s = 0.05;
  options.timeout_s = setup.timeout_s;
  options.connect_timeout_s = 5;
  options.accepts_images = setup.accepts_images;
  options.clock = setup.clock;
  options.max_answer_bytes = setup.max_answer_bytes;
  return std::make_unique<HttpEngine>(config, std::make_unique<TestCodec>(),
                                      std::make_shared<http::Transport>(), options);
}

// Submits and waits, checking that the callback runs exactly once.
Outcome run(Engine& engine, Request request) {
  auto calls = std::make_shared<std::atomic<int>>(0);
  auto promise = std::make_shared<std::promise<Outcome>>();
  engine.submit(std::move(request), [calls, promise](Outcome outcome) {
    if (++*calls == 1) promise->set_value(std::move(outcome));
  });
  Outcome outcome = promise->get_future().get();
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(calls->load(), 1);
  return outcome;
}

Outcome run(Engine& engine, const std::string& text = "hello") {
  return run(engine, Request::Text(text));
}

// The error of a failed outcome as EngineError (fails the test otherwise).
EngineError engine_error(const Outcome& outcome) {
  EXPECT_FALSE(outcome.ok());
  try {
    std::rethrow_exception(outcome.error);
  } catch (const EngineError& error) {
    return error;
  } catch (const std::exception& error) {
    ADD_FAILURE() << "not an EngineError: " << error.what();
  }
  return EngineError(EngineErrorKind::kCancelled, "no EngineError");
}

// Replies from a list, repeating the last one.
FakeLlmServer::Script sequence(std::vector<FakeReply> replies) {
  return [replies = std::move(replies)](const RecordedRequest& request) {
    const std::size_t at = std::min<std::size_t>(request.index, replies.size() - 1);
    return replies[at];
  };
}

// The retry policy alone.

TEST(RetryPolicyTest, BackoffDoublesToTheCapWithJitterInThreeQuartersToOne) {
  const RetryOptions options;  // 0.5 s doubling to 8 s
  const AttemptFailure failure{EngineErrorKind::kServer, 503, std::nullopt, std::nullopt, true};
  const double expected[] = {0.5, 1, 2, 4, 8, 8, 8};
  RetryOptions many = options;
  many.max_retries = 10;
  for (int retries = 0; retries < 7; ++retries) {
    const RetryDecision slowest = decide_retry(many, failure, retries, 0.0);
    const RetryDecision fastest = decide_retry(many, failure, retries, 0.999999);
    ASSERT_TRUE(slowest.retry);
    EXPECT_DOUBLE_EQ(slowest.delay_s, expected[retries]);
    EXPECT_GT(fastest.delay_s, 0.75 * expected[retries]);
    EXPECT_LE(fastest.delay_s, expected[retries]);
  }
}

TEST(RetryPolicyTest, StopsWhenTheBudgetIsSpent) {
  const RetryOptions options;  // 4 retries
  const AttemptFailure failure{EngineErrorKind::kTimeout, 0, std::nullopt, std::nullopt, true};
  EXPECT_TRUE(decide_retry(options, failure, 3, 0.5).retry);
  const RetryDecision last = decide_retry(options, failure, 4, 0.5);
  EXPECT_FALSE(last.retry);
  EXPECT_NE(last.give_up_reason.find("5 attempts"), std::string::npos);
}

TEST(RetryPolicyTest, HonorsRetryAfterUpToTheCap) {
  const RetryOptions options;
  AttemptFailure failure{EngineErrorKind::kRateLimited, 429, 7.5, std::nullopt, true};
  RetryDecision decision = decide_retry(options, failure, 0, 0.5);
  EXPECT_TRUE(decision.retry);
  EXPECT_DOUBLE_EQ(decision.delay_s, 7.5);
  failure.retry_after_s = 61;
  decision = decide_retry(options, failure, 0, 0.5);
  EXPECT_FALSE(decision.retry);
  EXPECT_NE(decision.give_up_reason.find("61 s"), std::string::npos) << decision.give_up_reason;
  failure.retry_after_s = 0;  // meaningless: our own backoff applies
  EXPECT_DOUBLE_EQ(decide_retry(options, failure, 0, 0.0).delay_s, 0.5);
}

TEST(RetryPolicyTest, WhatIsRetried) {
  using K = EngineErrorKind;
  const auto retryable = [](K kind, int status, std::optional<bool> server = std::nullopt,
                            bool transport_says = true) {
    return is_retryable({kind, status, std::nullopt, server, transport_says});
  };
  EXPECT_TRUE(retryable(K::kConnection, 0));
  EXPECT_TRUE(retryable(K::kTimeout, 0));
  EXPECT_TRUE(retryable(K::kRateLimited, 429));
  EXPECT_TRUE(retryable(K::kServer, 529));
  EXPECT_TRUE(retryable(K::kBadRequest, 409));  // by status, whatever the codec called it
  EXPECT_TRUE(retryable(K::kTimeout, 408));
  EXPECT_TRUE(retryable(K::kMalformed, 502));  // a proxy's HTML error page
  EXPECT_FALSE(retryable(K::kBadRequest, 400));
  EXPECT_FALSE(retryable(K::kAuthentication, 401));
  EXPECT_FALSE(retryable(K::kContextLength, 500));  // Gemini reports some as 500
  EXPECT_FALSE(retryable(K::kRefusal, 200));
  EXPECT_FALSE(retryable(K::kTruncated, 200));
  EXPECT_FALSE(retryable(K::kMalformed, 200));
  EXPECT_FALSE(retryable(K::kCancelled, 0));
  EXPECT_FALSE(retryable(K::kConnection, 0, std::nullopt, false));  // e.g. TLS verification
  EXPECT_FALSE(retryable(K::kServer, 503, false));                  // x-should-retry: false
  EXPECT_TRUE(retryable(K::kBadRequest, 400, true));                // x-should-retry: true
  EXPECT_FALSE(retryable(K::kCancelled, 0, true));
}

// The engine.

TEST(HttpEngineTest, AnswersAndAccountsUsage) {
  FakeLlmServer server(sequence({fake::openai_reply("The answer is 4.", {12, 7, 0})}));
  auto engine = make_test_engine(server);
  const Outcome outcome = run(*engine, Request::Text("2+2?", "", Phase::kForward));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.response.text, "The answer is 4.");
  EXPECT_EQ(outcome.response.usage, (Usage{12, 7, 0}));
  EXPECT_EQ(outcome.response.model, "gpt-4o-2024-08-06");
  EXPECT_GT(outcome.response.latency_ms, 0);

  const RecordedRequest sent = server.requests().at(0);
  EXPECT_EQ(sent.path, "/v1/chat/completions");
  EXPECT_EQ(sent.header("authorization"), std::string("Bearer ") + kSecretKey);
  // Default sampling is the reference's: temperature 0, 2000 tokens.
  EXPECT_EQ(sent.json().at("temperature"), 0.0);
  EXPECT_EQ(sent.json().at("max_tokens"), 2000);

  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.requests, 1);
  EXPECT_EQ(stats.succeeded, 1);
  EXPECT_EQ(stats.failed, 0);
  EXPECT_EQ(stats.http_attempts, 1);
  EXPECT_EQ(stats.retries, 0);
  EXPECT_EQ(stats.usage, (Usage{12, 7, 0}));
  EXPECT_EQ(stats.usage_by_model.at("gpt-4o-2024-08-06"), (Usage{12, 7, 0}));
  EXPECT_EQ(stats.usage_by_phase.at(Phase::kForward), (Usage{12, 7, 0}));
  EXPECT_EQ(engine_stats(*engine)->succeeded, 1);
}

TEST(HttpEngineTest, InfoNamesTheEngine) {
  FakeLlmServer server;
  auto engine = make_test_engine(server);
  const EngineInfo info = engine->info();
  EXPECT_EQ(info.name, "test/gpt-4o");
  EXPECT_EQ(info.provider, "openai");
  EXPECT_EQ(info.model, "gpt-4o");
  EXPECT_EQ(info.accepts_images, std::nullopt);
}

TEST(HttpEngineTest, RequestSamplingOverridesTheDefaults) {
  FakeLlmServer server;
  auto engine = make_test_engine(server);
  Request request = Request::Text("hi");
  request.sampling = SamplingParams{};
  request.sampling->temperature = 0.7;
  request.sampling->max_tokens = std::nullopt;
  ASSERT_TRUE(run(*engine, request).ok());
  const json sent = server.requests().at(0).json();
  EXPECT_EQ(sent.at("temperature"), 0.7);
  EXPECT_FALSE(sent.contains("max_tokens"));
}

TEST(HttpEngineTest, RetriesTransientFailuresThenSucceeds) {
  FakeLlmServer server(
      sequence({fake::error_reply(Dialect::kOpenAI, 503, "busy"),
                fake::error_reply(Dialect::kOpenAI, 500, "oops"), fake::openai_reply("finally")}));
  auto engine = make_test_engine(server);
  const Outcome outcome = run(*engine);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome.response.text, "finally");
  EXPECT_EQ(server.request_count(), 3u);
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.http_attempts, 3);
  EXPECT_EQ(stats.retries, 2);
  EXPECT_EQ(stats.succeeded, 1);
}

class RetriedStatusTest : public ::testing::TestWithParam<int> {};

TEST_P(RetriedStatusTest, IsRetried) {
  const int status = GetParam();
  FakeLlmServer server(sequence(
      {fake::error_reply(Dialect::kOpenAI, status, "transient"), fake::openai_reply("ok")}));
  auto engine = make_test_engine(server);
  ASSERT_TRUE(run(*engine).ok()) << status;
  EXPECT_EQ(server.request_count(), 2u) << status;
}

INSTANTIATE_TEST_SUITE_P(HttpEngineTest, RetriedStatusTest,
                         ::testing::Values(408, 409, 429, 500, 502, 503, 504, 529));

struct PermanentCase {
  FakeReply reply;
  EngineErrorKind kind;
};

class NotRetriedTest : public ::testing::TestWithParam<int> {};

PermanentCase permanent_case(int which) {
  switch (which) {
    case 0:
      return {fake::error_reply(Dialect::kOpenAI, 400, "bad"), EngineErrorKind::kBadRequest};
    case 1:
      return {fake::wrong_key(Dialect::kOpenAI), EngineErrorKind::kAuthentication};
    case 2:
      return {fake::error_reply(Dialect::kOpenAI, 403, "no"), EngineErrorKind::kAuthentication};
    case 3:
      return {fake::error_reply(Dialect::kOpenAI, 404, "no model"), EngineErrorKind::kBadRequest};
    case 4:
      return {fake::error_reply(Dialect::kOpenAI, 422, "bad"), EngineErrorKind::kBadRequest};
    case 5:
      return {fake::context_length_error(Dialect::kOpenAI), EngineErrorKind::kContextLength};
    case 6:
      return {fake::null_content(), EngineErrorKind::kEmptyAnswer};
    case 7:
      return {fake::truncated_body(Dialect::kOpenAI), EngineErrorKind::kMalformed};
    default:
      return {fake::non_json_body(200), EngineErrorKind::kMalformed};
  }
}

TEST_P(NotRetriedTest, FailsAtOnceKeepingTheKind) {
  const PermanentCase expected = permanent_case(GetParam());
  FakeLlmServer server(sequence({expected.reply}));
  auto engine = make_test_engine(server);
  const EngineError error = engine_error(run(*engine));
  EXPECT_EQ(error.kind(), expected.kind) << error.what();
  EXPECT_EQ(error.http_status(), expected.reply.status);
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_EQ(engine->stats().retries, 0);
  EXPECT_EQ(engine->stats().failed, 1);
  EXPECT_NE(std::string(error.what()).find("test/gpt-4o"), std::string::npos) << error.what();
}

INSTANTIATE_TEST_SUITE_P(HttpEngineTest, NotRetriedTest, ::testing::Range(0, 9));

TEST(HttpEngineTest, GivesUpAfterMaxRetriesSayingHowManyAttempts) {
  FakeLlmServer server(sequence({fake::error_reply(Dialect::kOpenAI, 529, "Overloaded")}));
  auto engine = make_test_engine(server, [&](EngineSetup& s) { s.max_retries = 2; });
  const EngineError error = engine_error(run(*engine));
  EXPECT_EQ(error.kind(), EngineErrorKind::kServer);
  EXPECT_EQ(error.http_status(), 529);
  EXPECT_NE(std::string(error.what()).find("3 attempts"), std::string::npos) << error.what();
  EXPECT_NE(std::string(error.what()).find("Overloaded"), std::string::npos) << error.what();
  EXPECT_EQ(server.request_count(), 3u);
  EXPECT_EQ(engine->stats().retries, 2);
}

TEST(HttpEngineTest, HonorsRetryAfter) {
  FakeLlmServer server(
      sequence({fake::rate_limited(Dialect::kOpenAI, 1), fake::openai_reply("ok")}));
  auto clock = std::make_shared<testing::ManualClock>(/*run_at_once=*/true);
  // Its own backoff is 10 ms: a 1 s wait is the header's.
  auto engine = make_test_engine(server, [&](EngineSetup& s) { s.clock = clock; });
  ASSERT_TRUE(run(*engine).ok());
  EXPECT_EQ(server.request_count(), 2u);
  ASSERT_EQ(clock->waits().size(), 1u);
  EXPECT_EQ(clock->waits()[0], 1s);
}

TEST(HttpEngineTest, RetryAfterBeyondTheCapGivesUpAtOnce) {
  FakeLlmServer server(sequence({fake::rate_limited(Dialect::kOpenAI, 120)}));
  auto clock = std::make_shared<testing::ManualClock>(/*run_at_once=*/true);
  auto engine = make_test_engine(server, [&](EngineSetup& s) { s.clock = clock; });
  const EngineError error = engine_error(run(*engine));
  EXPECT_TRUE(clock->waits().empty());
  EXPECT_EQ(error.kind(), EngineErrorKind::kRateLimited);
  EXPECT_EQ(error.http_status(), 429);
  EXPECT_NE(std::string(error.what()).find("120 s"), std::string::npos) << error.what();
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpEngineTest, ServerMayForbidARetry) {
  FakeLlmServer server(sequence(
      {fake::error_reply(Dialect::kOpenAI, 503, "busy").with_header("x-should-retry", "false")}));
  auto engine = make_test_engine(server);
  EXPECT_EQ(engine_error(run(*engine)).kind(), EngineErrorKind::kServer);
  EXPECT_EQ(server.request_count(), 1u);
}

TEST(HttpEngineTest, WaitingRetryDoesNotHoldBackOtherRequests) {
  FakeLlmServer server([](const RecordedRequest& request) {
    const bool first_slow = request.json().at("messages").at(0).at("content") == "slow";
    return first_slow && request.index == 0 ? fake::rate_limited(Dialect::kOpenAI, 1)
                                            : fake::openai_reply("ok");
  });
  auto clock = std::make_shared<testing::ManualClock>();  // time moves only when told
  auto engine = make_test_engine(server, [&](EngineSetup& s) { s.clock = clock; });
  std::promise<Outcome> slow;
  std::future<Outcome> slow_answer = slow.get_future();
  engine->submit(Request::Text("slow"),
                 [&](Outcome outcome) { slow.set_value(std::move(outcome)); });
  clock->await_wake_requests(1);           // the 429 arrived
  ASSERT_TRUE(run(*engine, "fast").ok());  // while the slow one waits for its Retry-After
  EXPECT_EQ(slow_answer.wait_for(0s), std::future_status::timeout);
  clock->advance(1s);
  EXPECT_TRUE(slow_answer.get().ok());
}

// Nothing here depends on how fast the machine is: the server never answers in time, and the
// attempts are counted on the client's side (a loaded server may not even have read a request
// before the client gave up on it).
TEST(HttpEngineTest, TimeoutsAreRetriedThenReported) {
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "late").with_delay(600s); });
  auto clock = std::make_shared<testing::ManualClock>(/*run_at_once=*/true);
  auto engine = make_test_engine(server, [&](EngineSetup& s) {
    s.max_retries = 1;
    s.timeout_s = 0.2;
    s.clock = clock;
  });
  const EngineError error = engine_error(run(*engine));
  EXPECT_EQ(error.kind(), EngineErrorKind::kTimeout);
  EXPECT_EQ(engine->stats().http_attempts, 2);
  EXPECT_EQ(engine->stats().retries, 1);
  EXPECT_EQ(clock->waits().size(), 1u);
  EXPECT_NE(std::string(error.what()).find("2 attempts"), std::string::npos) << error.what();
}

// An answer longer than the limit is refused with a clear error, and its tokens still count.
TEST(HttpEngineTest, AnswersOverTheSizeLimitAreRefused) {
  FakeLlmServer server([](const RecordedRequest&) {
    return fake::openai_reply(std::string(5000, 'x'), {7, 9, 0});
  });
  auto engine = make_test_engine(server, [](EngineSetup& s) { s.max_answer_bytes = 4096; });
  const EngineError error = engine_error(run(*engine));
  EXPECT_EQ(error.kind(), EngineErrorKind::kMalformed);
  EXPECT_NE(std::string(error.what()).find("4096-byte limit"), std::string::npos) << error.what();
  EXPECT_EQ(error.billed(), (Usage{7, 9, 0}));
  EXPECT_EQ(server.request_count(), 1u);  // not retried: the same answer would come again
}

TEST(HttpEngineTest, DroppedConnectionIsRetried) {
  FakeLlmServer server(sequence({fake::dropped_connection(), fake::openai_reply("ok")}));
  auto engine = make_test_engine(server);
  const Outcome outcome = run(*engine);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(engine->stats().retries, 1);
}

TEST(HttpEngineTest, RefusedConnectionEndsAsConnectionError) {
  int port = 0;
  {
    FakeLlmServer gone;
    port = gone.port();
  }
  FakeLlmServer unused;
  providers::ProviderConfig config{
      "openai", "gpt-4o", "http://127.0.0.1:" + std::to_string(port), kSecretKey, "", true, {}};
  HttpEngineOptions options;
  options.retry = {1, 0.01, 0.02, 60};
  HttpEngine engine(config, std::make_unique<TestCodec>(), std::make_shared<http::Transport>(),
                    options);
  const EngineError error = engine_error(run(engine));
  EXPECT_EQ(error.kind(), EngineErrorKind::kConnection);
  EXPECT_EQ(engine.stats().http_attempts, 2);
  EXPECT_NE(std::string(error.what()).find("openai/gpt-4o"), std::string::npos) << error.what();
}

TEST(HttpEngineTest, SixtyFourConcurrentRequestsAreInFlightAndUsageIsSummed) {
  constexpr int kRequests = 64;
  FakeLlmServer server(
      [](const RecordedRequest&) {
        return fake::openai_reply("ok", {3, 2, 1}).with_delay(300ms);
      },
      kRequests + 8);
  auto engine = make_test_engine(server);
  std::atomic<int> ok{0};
  std::atomic<int> calls{0};
  std::promise<void> all_done;
  const auto start = Clock::now();
  for (int i = 0; i < kRequests; ++i) {
    const Phase phase = i % 2 == 0 ? Phase::kForward : Phase::kBackward;
    engine->submit(Request::Text("q" + std::to_string(i), "", phase), [&](Outcome outcome) {
      if (outcome.ok()) ++ok;
      if (++calls == kRequests) all_done.set_value();
    });
  }
  EXPECT_LT(Clock::now() - start, 1s);  // submit() never waits for the network
  all_done.get_future().wait();
  EXPECT_EQ(ok.load(), kRequests);
  EXPECT_GE(server.peak_in_flight(), kRequests / 2);
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.requests, kRequests);
  EXPECT_EQ(stats.succeeded, kRequests);
  EXPECT_EQ(stats.usage, (Usage{3 * kRequests, 2 * kRequests, kRequests}));
  EXPECT_EQ(stats.usage_by_phase.at(Phase::kForward), (Usage{3 * 32, 2 * 32, 32}));
  EXPECT_EQ(stats.usage_by_phase.at(Phase::kBackward), (Usage{3 * 32, 2 * 32, 32}));
}

TEST(HttpEngineTest, DestroyingTheEngineCancelsItsRequests) {
  FakeLlmServer server(
      [](const RecordedRequest& r) { return fake::reply_for(r, "slow").with_delay(20s); });
  auto engine = make_test_engine(server);
  std::promise<Outcome> result;
  engine->submit(Request::Text("slow"),
                 [&](Outcome outcome) { result.set_value(std::move(outcome)); });
  while (server.in_flight() < 1) std::this_thread::sleep_for(2ms);
  engine.reset();
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(engine_error(future.get()).kind(), EngineErrorKind::kCancelled);
}

TEST(HttpEngineTest, SharedTransportKeepsServingOtherEngines) {
  FakeLlmServer server;
  auto transport = std::make_shared<http::Transport>();
  providers::ProviderConfig config{"openai", "m", server.base_url(), kSecretKey, "", true, {}};
  auto first = std::make_unique<HttpEngine>(config, std::make_unique<TestCodec>(), transport,
                                            HttpEngineOptions{});
  HttpEngine second(config, std::make_unique<TestCodec>(), transport, HttpEngineOptions{});
  ASSERT_TRUE(run(*first).ok());
  first.reset();
  EXPECT_TRUE(run(second).ok());
}

TEST(HttpEngineTest, ImagesToAKnownTextOnlyModelFailBeforeSending) {
  FakeLlmServer server;
  auto engine = make_test_engine(server, [&](EngineSetup& s) { s.model = "gpt-3.5-turbo-0125"; });
  Request request = Request::Text("what is this?");
  request.content.push_back(ContentPart::Image("image/png", "\x89PNG"));
  const EngineError error = engine_error(run(*engine, request));
  EXPECT_EQ(error.kind(), EngineErrorKind::kUnsupported);
  EXPECT_EQ(server.request_count(), 0u);
  EXPECT_EQ(engine->info().accepts_images, false);
  // Text alone still works.
  EXPECT_TRUE(run(*engine).ok());
}

TEST(HttpEngineTest, ImagesFollowTheExplicitOption) {
  FakeLlmServer server;
  Request request = Request::Text("what is this?");
  request.content.push_back(ContentPart::Image("image/png", "\x89PNG"));
  auto refusing = make_test_engine(server, [&](EngineSetup& s) {
    s.model = "gpt-4o";
    s.accepts_images = false;
  });
  EXPECT_EQ(engine_error(run(*refusing, request)).kind(), EngineErrorKind::kUnsupported);
  auto unknown = make_test_engine(server, [&](EngineSetup& s) { s.model = "my-local-model"; });
  EXPECT_TRUE(run(*unknown, request).ok());  // unknown: sent, the provider decides
  auto forced = make_test_engine(server, [&](EngineSetup& s) {
    s.model = "gpt-3.5-turbo";
    s.accepts_images = true;
  });
  EXPECT_TRUE(run(*forced, request).ok());
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(HttpEngineTest, KnownTextOnlyFamilies) {
  EXPECT_EQ(known_image_support("gpt-3.5-turbo-0125"), false);
  EXPECT_EQ(known_image_support("o1-mini"), false);
  EXPECT_EQ(known_image_support("deepseek-chat"), false);
  EXPECT_EQ(known_image_support("gemini-pro"), false);
  EXPECT_EQ(known_image_support("gpt-4o"), std::nullopt);
  EXPECT_EQ(known_image_support("gpt-4o-mini"), std::nullopt);  // the reference wrongly refused it
  EXPECT_EQ(known_image_support("gemini-1.5-pro"), std::nullopt);
  EXPECT_EQ(known_image_support("claude-sonnet-4-5"), std::nullopt);
}

TEST(HttpEngineTest, EncodingErrorsReachTheCallback) {
  FakeLlmServer server;
  auto engine = make_test_engine(server);
  const Outcome outcome = run(*engine, "unencodable");
  ASSERT_FALSE(outcome.ok());
  EXPECT_THROW(std::rethrow_exception(outcome.error), InvalidArgument);
  EXPECT_EQ(server.request_count(), 0u);
}

TEST(HttpEngineTest, GenerateRethrowsTheEngineError) {
  FakeLlmServer server(sequence({fake::wrong_key(Dialect::kOpenAI)}));
  auto engine = make_test_engine(server);
  EXPECT_THROW(engine->generate("hi"), EngineError);
}

// A server that echoes every request header back, as some proxies' error pages do.
FakeReply echo_headers(const RecordedRequest& request, int status) {
  std::string dump;
  for (const auto& [name, value] : request.headers) dump += name + "=" + value + "; ";
  return status == 200
             ? fake::openai_reply("headers: " + dump, {1, 1, 0}, "stop", dump)
             : fake::error_reply(Dialect::kOpenAI, status, "bad request, headers: " + dump);
}

TEST(HttpEngineTest, KeysNeverAppearInErrors) {
  for (const int status : {400, 401, 429, 500}) {
    FakeLlmServer server([status](const RecordedRequest& r) { return echo_headers(r, status); });
    auto engine = make_test_engine(server, [&](EngineSetup& s) { s.max_retries = 1; });
    const EngineError error = engine_error(run(*engine));
    const std::string message = error.what();
    EXPECT_EQ(message.find(kSecretKey), std::string::npos) << message;
    EXPECT_NE(message.find("[redacted]"), std::string::npos) << message;
  }
}

TEST(HttpEngineTest, KeysNeverAppearInAnswers) {
  FakeLlmServer server([](const RecordedRequest& r) { return echo_headers(r, 200); });
  const std::string header_secret = "org-secret-token-987654321";
  auto engine = make_test_engine(server, [&](EngineSetup& s) {
    s.extra_headers = {{"X-Custom-Token", header_secret}, {"X-Title", "visible-title"}};
  });
  const Outcome outcome = run(*engine);
  ASSERT_TRUE(outcome.ok());
  for (const std::string& field : {outcome.response.text, outcome.response.model}) {
    EXPECT_EQ(field.find(kSecretKey), std::string::npos) << field;
    EXPECT_EQ(field.find(header_secret), std::string::npos) << field;
    EXPECT_NE(field.find("visible-title"), std::string::npos) << field;
  }
}

TEST(HttpEngineTest, KeysNeverAppearInTransportErrors) {
  // A codec that (wrongly) puts the key in the URL must still not leak it.
  class KeyInUrlCodec : public TestCodec {
   public:
    http::HttpRequest encode(const Request& request, const SamplingParams& sampling,
                             const providers::ProviderConfig& config) const override {
      http::HttpRequest http = TestCodec::encode(request, sampling, config);
      http.url += "?key=" + config.api_key;
      return http;
    }
  };
  int port = 0;
  {
    FakeLlmServer gone;
    port = gone.port();
  }
  providers::ProviderConfig config{
      "openai",
      "m",
      "http://user:" + std::string(kSecretKey) + "@127.0.0.1:" + std::to_string(port),
      kSecretKey,
      "",
      true,
      {}};
  HttpEngineOptions options;
  options.retry.max_retries = 0;
  HttpEngine engine(config, std::make_unique<KeyInUrlCodec>(), std::make_shared<http::Transport>(),
                    options);
  const std::string message = engine_error(run(engine)).what();
  EXPECT_EQ(message.find(kSecretKey), std::string::npos) << message;
}

}  // namespace
}  // namespace tg::engine
