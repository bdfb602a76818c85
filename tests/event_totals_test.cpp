// read_event_totals: the report's costs are summed from events.jsonl, call lines only, whatever
// else the log holds (warnings, steps, endpoint lines with nested objects, a torn line).
#include <gtest/gtest.h>

#include "events.h"

namespace tg::cli {
namespace {

constexpr const char* kLog =
    R"({"type":"session","time":"t","started":"s","wall_seconds":12.5,"outcome":"interrupted"})"
    "\n"
    R"({"cache_hit":false,"cached_tokens":4,"cost_usd":0.0015,"engine":"openai/gpt-4o-mini",)"
    R"("input_tokens":100,"latency_ms":210.5,"model":"gpt-4o-mini","ok":true,"output_tokens":20,)"
    R"("phase":"forward","priced":true,"step":1,"time":"t","type":"call"})"
    "\n"
    R"({"type":"warning","time":"t","message":"input_tokens: 999"})"
    "\n"
    R"({"cache_hit":true,"cached_tokens":0,"cost_usd":0,"engine":"openai/gpt-4o-mini",)"
    R"("input_tokens":100,"latency_ms":0,"model":"gpt-4o-mini","ok":true,"output_tokens":20,)"
    R"("phase":"forward","priced":true,"step":1,"time":"t","type":"call"})"
    "\n"
    R"({"type":"endpoints","time":"t","endpoints":[{"url":"u","requests":7,"input_tokens":5,)"
    R"("step":9,"type":"call"}]})"
    "\n"
    R"({"cache_hit":false,"cached_tokens":0,"cost_usd":0.25,"engine":"openai/gpt-4o",)"
    R"("error":"HTTP 500","input_tokens":3000,"latency_ms":1000,"model":"gpt-4o","ok":false,)"
    R"("output_tokens":0,"phase":"update","priced":true,"step":2,"time":"t","type":"call"})"
    "\n"
    R"({"type":"step","time":"t","step":2,"reverted":true,"val_accuracy":0.5,"test_accuracy":null})"
    "\n"
    R"({"type":"session","time":"t","started":"s","wall_seconds":7,"outcome":"finished"})"
    "\n"
    R"({"cache_hit":false,"cached_tokens":0,"cost_usd":9,"input_tok)";  // torn by a kill

TEST(EventTotals, SumsCallLinesByPhaseAndStepAndSkipsEverythingElse) {
  const LoggedTotals totals = read_event_totals(kLog);
  EXPECT_EQ(totals.sessions, 2);
  EXPECT_DOUBLE_EQ(totals.wall_seconds, 19.5);

  EXPECT_EQ(totals.total.calls, 3);
  EXPECT_EQ(totals.total.cache_hits, 1);
  EXPECT_EQ(totals.total.errors, 1);
  // The cache hit is not billed; the failed call was (it reported tokens).
  EXPECT_EQ(totals.total.usage.input_tokens, 3100);
  EXPECT_EQ(totals.total.usage.output_tokens, 20);
  EXPECT_EQ(totals.total.usage.cached_input_tokens, 4);
  EXPECT_DOUBLE_EQ(totals.total.cost_usd, 0.2515);
  EXPECT_DOUBLE_EQ(totals.total.latency_ms, 1210.5);

  ASSERT_EQ(totals.by_phase.size(), 2u);
  EXPECT_EQ(totals.by_phase.at("forward").calls, 2);
  EXPECT_EQ(totals.by_phase.at("update").calls, 1);
  ASSERT_EQ(totals.by_step.size(), 2u);  // the endpoint line's nested "step" is not a call
  EXPECT_EQ(totals.by_step.at(1).calls, 2);
  EXPECT_DOUBLE_EQ(totals.by_step.at(2).cost_usd, 0.25);
}

TEST(EventTotals, AnEmptyOrUnreadableLogHasNoTotals) {
  for (const char* log : {"", "\n\n", "not json\n[1,2]\n\"text\"\n"}) {
    const LoggedTotals totals = read_event_totals(log);
    EXPECT_EQ(totals.total.calls, 0) << log;
    EXPECT_EQ(totals.sessions, 0) << log;
    EXPECT_TRUE(totals.by_phase.empty()) << log;
  }
}

}  // namespace
}  // namespace tg::cli
