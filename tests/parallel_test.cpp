#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "support/workloads.h"
#include "textgrad/textgrad.h"

namespace tg {
namespace {

TEST(ParallelMap, KeepsInputOrderAndBoundsConcurrency) {
  std::vector<int> items(40);
  for (int i = 0; i < 40; ++i) items[i] = i;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  auto squares = parallel_map(
      items,
      [&](int x) {
        int now = ++running;
        for (int seen = peak; now > seen && !peak.compare_exchange_weak(seen, now);) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds((40 - x) % 7));
        --running;
        return x * x;
      },
      4);
  ASSERT_EQ(squares.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(squares[i], i * i);
  EXPECT_LE(peak.load(), 4);
  EXPECT_GE(peak.load(), 2);
}

TEST(ParallelMap, RethrowsTheFirstError) {
  std::vector<int> items{1, 2, 3};
  EXPECT_THROW(parallel_map(items,
                            [](int x) -> int {
                              if (x == 2) throw InvalidArgument("bad item");
                              return x;
                            }),
               InvalidArgument);
  EXPECT_TRUE(parallel_map(std::vector<int>{}, [](int x) { return x; }).empty());
}

TEST(ParallelMap, EvaluatesAModelOverADataset) {
  auto engine = testing::scripted_engine(/*delay_ms=*/10);
  BlackboxLLM model(engine, std::string("Answer briefly."));
  std::vector<std::string> questions{"q1", "q2", "q3", "q4", "q5", "q6"};
  auto answers = parallel_map(questions, [&](const std::string& q) {
    return model(Variable(q, "question", false)).value();
  });
  ASSERT_EQ(answers.size(), 6u);
  for (size_t i = 0; i < questions.size(); ++i) {
    EXPECT_EQ(answers[i], testing::scripted_answer(
                              Request::Text(questions[i], "Answer briefly.", Phase::kForward)));
  }
  EXPECT_GE(engine->peak_in_flight(), 2);
}

}  // namespace
}  // namespace tg
