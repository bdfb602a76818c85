#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <stdexcept>

#include "support/manual_clock.h"
#include "support/workloads.h"
#include "textgrad/limits.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

TEST(Limits, MaxInFlightQueuesInsteadOfFailing) {
  auto inner = testing::scripted_engine(/*delay_ms=*/20);
  EnginePtr limited = with_limits(inner, {.max_in_flight = 4});
  LLMCall call(limited);
  std::vector<Variable> outputs;
  for (int i = 0; i < 20; ++i)
    outputs.push_back(call(Variable("q" + std::to_string(i), "q", false)));
  for (const Variable& out : outputs) EXPECT_FALSE(out.value().empty());
  EXPECT_EQ(inner->calls(), 20);
  EXPECT_EQ(inner->peak_in_flight(), 4);
}

TEST(Limits, SynchronousInnerEngineDoesNotRecurseOrDeadlock) {
  auto inner = testing::scripted_engine(/*delay_ms=*/0);
  EnginePtr limited = with_limits(inner, {.max_in_flight = 1});
  LLMCall call(limited);
  std::vector<Variable> outputs;
  for (int i = 0; i < 2000; ++i) outputs.push_back(call(Variable("q", "q", false)));
  for (const Variable& out : outputs) out.wait();
  EXPECT_EQ(inner->calls(), 2000);
}

TEST(Limits, RequestsPerMinuteHoldsTheRestBack) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto inner = testing::scripted_engine();
  EnginePtr limited = with_limits(inner, {.requests_per_minute = 3}, clock);
  LLMCall call(limited);
  std::vector<Variable> outputs;
  for (int i = 0; i < 5; ++i) outputs.push_back(call(Variable("q", "q", false)));
  EXPECT_EQ(inner->calls(), 3);  // the other two wait for the minute window
  EXPECT_TRUE(outputs[2].ready());
  EXPECT_FALSE(outputs[3].ready());
  clock->advance(std::chrono::seconds(59));
  EXPECT_EQ(inner->calls(), 3);
  clock->advance(std::chrono::seconds(1));
  EXPECT_EQ(inner->calls(), 5);
  EXPECT_TRUE(outputs[4].ready());
}

TEST(Limits, TokensPerMinuteCountsPromptSize) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto inner = testing::scripted_engine();
  EnginePtr limited = with_limits(inner, {.tokens_per_minute = 300}, clock);
  std::string big(800, 'x');  // about 200 tokens
  LLMCall call(limited);
  Variable first = call(Variable(big, "q", false));
  Variable second = call(Variable(big, "q", false));
  EXPECT_TRUE(first.ready());
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_FALSE(second.ready());
  clock->advance(std::chrono::minutes(1));
  EXPECT_EQ(inner->calls(), 2);
  EXPECT_TRUE(second.ready());
}

// Requests waiting in the queue fail with kCancelled when the engine goes away, instead of
// leaving whoever waits on them hanging.
TEST(Limits, QueuedRequestsAreCancelledOnDestruction) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto inner = testing::scripted_engine();
  std::vector<std::future<Outcome>> answers;
  {
    EnginePtr limited = with_limits(inner, {.requests_per_minute = 1}, clock);
    for (int i = 0; i < 3; ++i) {
      auto promise = std::make_shared<std::promise<Outcome>>();
      answers.push_back(promise->get_future());
      limited->submit(Request::Text("q"), [promise](Outcome o) { promise->set_value(o); });
    }
  }
  ASSERT_EQ(answers[1].wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_TRUE(answers[0].get().ok());
  for (int i = 1; i < 3; ++i) {
    Outcome outcome = answers[i].get();
    ASSERT_FALSE(outcome.ok());
    try {
      std::rethrow_exception(outcome.error);
    } catch (const EngineError& error) {
      EXPECT_EQ(error.kind(), EngineErrorKind::kCancelled);
    }
  }
  clock->advance(std::chrono::minutes(2));  // a wake-up after destruction does nothing
  EXPECT_EQ(inner->calls(), 1);
}

// An inner engine that throws from submit() fails that call only; the queue keeps moving.
TEST(Limits, InnerSubmitThatThrowsFailsOnlyThatCall) {
  class Throwing : public Engine {
   public:
    EngineInfo info() const override { return {}; }
    void submit(Request request, std::function<void(Outcome)> done) override {
      if (request.user_text() == "bad") throw std::runtime_error("inner submit failed");
      done(Outcome{nullptr, Response{.text = "ok"}});
    }
  };
  EnginePtr limited = with_limits(std::make_shared<Throwing>(), {.max_in_flight = 1});
  EXPECT_THROW(limited->generate("bad"), std::runtime_error);
  EXPECT_EQ(limited->generate("good").text, "ok");
  EXPECT_THROW(limited->generate("bad"), std::runtime_error);
  EXPECT_EQ(limited->generate("good").text, "ok");
}

TEST(ScriptedEngineTeardown, DelayedAnswersAreCancelledOnDestruction) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  std::future<Outcome> answer = promise->get_future();
  {
    ScriptedEngine engine([](const Request&) { return "late"; }, {.delay = std::chrono::hours(1)});
    engine.submit(Request::Text("q"), [promise](Outcome o) { promise->set_value(o); });
  }
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  Outcome outcome = answer.get();
  ASSERT_FALSE(outcome.ok());
  try {
    std::rethrow_exception(outcome.error);
  } catch (const EngineError& error) {
    EXPECT_EQ(error.kind(), EngineErrorKind::kCancelled);
  }
}

TEST(Limits, RejectsNegativeLimits) {
  EXPECT_THROW(with_limits(testing::scripted_engine(), {.max_in_flight = -1}), InvalidArgument);
  EXPECT_THROW(with_limits(nullptr, {}), InvalidArgument);
}

}  // namespace
}  // namespace tg
