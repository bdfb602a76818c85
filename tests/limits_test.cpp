#include <gtest/gtest.h>

#include <chrono>

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
  auto inner = testing::scripted_engine();
  EnginePtr limited = with_limits(inner, {.requests_per_minute = 3});
  LLMCall call(limited);
  std::vector<Variable> outputs;
  for (int i = 0; i < 5; ++i) outputs.push_back(call(Variable("q", "q", false)));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(inner->calls(), 3);  // the other two wait for the minute window
  EXPECT_TRUE(outputs[2].ready());
  EXPECT_FALSE(outputs[3].ready());
}

TEST(Limits, TokensPerMinuteCountsPromptSize) {
  auto inner = testing::scripted_engine();
  EnginePtr limited = with_limits(inner, {.tokens_per_minute = 300});
  std::string big(800, 'x');  // about 200 tokens
  LLMCall call(limited);
  Variable first = call(Variable(big, "q", false));
  Variable second = call(Variable(big, "q", false));
  first.wait();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(inner->calls(), 1);
  EXPECT_FALSE(second.ready());
}

TEST(Limits, RejectsNegativeLimits) {
  EXPECT_THROW(with_limits(testing::scripted_engine(), {.max_in_flight = -1}), InvalidArgument);
  EXPECT_THROW(with_limits(nullptr, {}), InvalidArgument);
}

}  // namespace
}  // namespace tg
