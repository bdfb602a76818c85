// BudgetGuard: calls are checked before they are sent, in-flight calls reserve their estimate,
// waiting calls go out as answers come back, and the budget or a cancel refuses the rest.
#include <gtest/gtest.h>

#include <deque>
#include <mutex>

#include "textgrad/budget_guard.h"
#include "textgrad/errors.h"

namespace tg {
namespace {

// Holds every call until the test answers it, with a fixed usage.
class HeldEngine : public Engine {
 public:
  EngineInfo info() const override { return {"held/model", "held", "model", {}, {}}; }
  void submit(Request, std::function<void(Outcome)> done) override {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(done));
  }
  size_t held() {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  // Answers the oldest held call with `tokens` (input) + 10 (output) tokens.
  void answer(std::int64_t input_tokens) {
    std::function<void(Outcome)> done;
    {
      std::lock_guard lock(mu_);
      done = std::move(held_.front());
      held_.pop_front();
    }
    Outcome outcome;
    outcome.response.text = "ok";
    outcome.response.usage = {input_tokens, 10, 0};
    done(std::move(outcome));
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void(Outcome)>> held_;
};

struct Results {
  int ok = 0;
  int budget = 0;
  int other = 0;
  std::function<void(Outcome)> callback() {
    return [this](Outcome outcome) {
      if (outcome.ok()) {
        ++ok;
        return;
      }
      try {
        std::rethrow_exception(outcome.error);
      } catch (const BudgetExceeded&) {
        ++budget;
      } catch (...) {
        ++other;
      }
    };
  }
};

Request small_request() { return Request::Text("12345678", "", Phase::kEvaluation); }  // 3 tokens

TEST(BudgetGuardTest, WaitingCallsGoOutAsAnswersArriveAndTheRestAreRefused) {
  auto ledger = std::make_shared<Ledger>();
  auto held = std::make_shared<HeldEngine>();
  auto guard = std::make_shared<BudgetGuard>(ledger, Budget{100, std::nullopt});
  EnginePtr engine = with_budget(with_ledger(held, ledger), guard);
  Results results;
  // Before any answer a call is estimated at 3 + 500 tokens: only the first goes out.
  for (int i = 0; i < 10; ++i) engine->submit(small_request(), results.callback());
  EXPECT_EQ(held->held(), 1u);
  EXPECT_EQ(guard->pending(), 10);
  // Its answer (30 tokens) teaches the estimate (3 + 10): now several fit what is left.
  held->answer(20);
  EXPECT_EQ(held->held(), 5u);  // 30 spent + 5 x 13 reserved <= 100
  while (held->held() > 0) held->answer(20);
  // Spent: 30 per answer. Never more than the budget plus what was in flight.
  const std::int64_t spent =
      ledger->total().usage.input_tokens + ledger->total().usage.output_tokens;
  EXPECT_GE(spent, 100);
  EXPECT_LE(spent, 100 + 5 * 30);
  EXPECT_EQ(results.ok + results.budget, 10);
  EXPECT_GT(results.budget, 0);
  EXPECT_TRUE(guard->stopped());
  EXPECT_EQ(guard->pending(), 0);
  engine->submit(small_request(), results.callback());  // refused at once now
  EXPECT_EQ(held->held(), 0u);
}

TEST(BudgetGuardTest, CancelRefusesWaitingAndNewCallsAndLetsCallsInFlightFinish) {
  auto ledger = std::make_shared<Ledger>();
  auto held = std::make_shared<HeldEngine>();
  auto guard = std::make_shared<BudgetGuard>(ledger, Budget{});
  EnginePtr engine = with_budget(with_ledger(held, ledger), guard);
  Results results;
  for (int i = 0; i < 3; ++i) engine->submit(small_request(), results.callback());
  EXPECT_EQ(held->held(), 3u);  // no budget: nothing waits
  guard->cancel(std::make_exception_ptr(Error("interrupted")));
  engine->submit(small_request(), results.callback());
  EXPECT_EQ(results.other, 1);
  EXPECT_EQ(guard->pending(), 3);
  while (held->held() > 0) held->answer(5);
  EXPECT_EQ(results.ok, 3);
  guard->wait_idle();  // returns: nothing pending
}

TEST(BudgetGuardTest, ADollarBudgetNeedsAPrice) {
  auto ledger = std::make_shared<Ledger>();
  auto guard = std::make_shared<BudgetGuard>(ledger, Budget{std::nullopt, 1.0});
  EXPECT_THROW(with_budget(std::make_shared<HeldEngine>(), guard), InvalidArgument);
  PriceTable prices;
  prices.set("held/model", {1, 2, 1});
  auto priced =
      std::make_shared<BudgetGuard>(std::make_shared<Ledger>(prices), Budget{std::nullopt, 1.0});
  EXPECT_NO_THROW(with_budget(std::make_shared<HeldEngine>(), priced));
  EXPECT_TRUE(prices.is_priced(HeldEngine().info().provider, HeldEngine().info().model));
}

}  // namespace
}  // namespace tg
