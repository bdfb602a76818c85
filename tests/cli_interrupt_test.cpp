// Ctrl-C during `eval` and `solve`: no new call is sent, the calls in flight finish, their answers
// reach the response cache, and running the same command again pays only for the rest. The
// signal comes from TEXTGRAD_TEST_SIGNAL_AFTER_CALLS, never from a clock.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/cli_fixture.h"

namespace tg {
namespace {

using testing::ProcessResult;

class CliInterruptTest : public testing::CliFixture {
 protected:
  CliInterruptTest() : CliFixture("fake-interrupt-test-key-4242") {}
};

TEST_F(CliInterruptTest, CtrlCDuringEvalLosesNoAnswerAndARerunPaysOnlyForTheRest) {
  // The signal comes after the 5th answer. Calls not yet sent by then are not sent; those
  // already sent (queued behind --max-in-flight too) are answered and cached. Whether the main
  // thread had sent all 40 by then is up to the scheduler, so both endings are checked: a
  // complete result with a note, or exit 130 with the way to continue.
  const std::vector<std::string> eval = {
      "eval",   "--task", "object_counting", "--engine", "openai/gpt-4o-mini",
      "--size", "40",     "--max-in-flight", "2",        "--json"};
  ProcessResult first = run(eval, {{"TEXTGRAD_TEST_SIGNAL_AFTER_CALLS", "5:INT"}});
  if (first.exit_code == 0) {
    EXPECT_NE(first.err.find("the result below is complete"), std::string::npos) << first.err;
    EXPECT_EQ(nlohmann::json::parse(first.out)["items"], 40);
  } else {
    ASSERT_EQ(first.exit_code, 130) << first.err;
    EXPECT_NE(first.err.find("run the same command again"), std::string::npos) << first.err;
    EXPECT_EQ(first.out, "");  // no partial accuracy that could pass for the result
  }
  const std::size_t paid_first = server_->request_count();
  EXPECT_GE(paid_first, 5u);

  ProcessResult again = run(eval);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(server_->request_count(), 40u);  // each item paid once over both sessions
  const nlohmann::json result = nlohmann::json::parse(again.out);
  EXPECT_EQ(result["cache_hits"].get<std::size_t>(), paid_first);

  ProcessResult whole = run(eval, {{"TEXTGRAD_CACHE_DIR", dir_.file("fresh-cache")}});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  EXPECT_EQ(nlohmann::json::parse(whole.out)["scores"], result["scores"]);
}

TEST_F(CliInterruptTest, SigtermDuringSolveStopsWithItsExitCodeAndKeepsTheAnswers) {
  {
    std::ofstream questions(dir_.file("questions.jsonl"));
    for (int i = 0; i < 6; ++i) {
      questions << nlohmann::json{{"id", "q" + std::to_string(i)},
                                  {"question", "I have " + std::to_string(i) +
                                                   " apples and a pear. How many fruits?"}}
                       .dump()
                << "\n";
    }
  }
  const std::vector<std::string> solve = {
      "solve",  "--input", dir_.file("questions.jsonl"), "--engine", "openai/gpt-4o-mini",
      "--quiet"};
  ProcessResult first = run(solve, {{"TEXTGRAD_TEST_SIGNAL_AFTER_CALLS", "2:TERM"}});
  ASSERT_EQ(first.exit_code, 143) << first.err;
  EXPECT_NE(first.err.find("SIGTERM"), std::string::npos) << first.err;
  const std::size_t paid_first = server_->request_count();

  ProcessResult second = run(solve);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const std::size_t paid_second = server_->request_count() - paid_first;
  ProcessResult whole = run(solve, {{"TEXTGRAD_CACHE_DIR", dir_.file("fresh-cache")}});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const std::size_t paid_whole = server_->request_count() - paid_first - paid_second;
  EXPECT_EQ(second.out, whole.out);
  // Together the two sessions paid for each call once: what one uninterrupted run pays.
  EXPECT_GT(paid_first, 0u);
  EXPECT_EQ(paid_first + paid_second, paid_whole);
}

}  // namespace
}  // namespace tg
