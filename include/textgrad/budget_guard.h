// Budgets that hold: every call is checked against the budget before it is sent.
//
// Note [Budget reservations]
// The ledger learns what a call cost only when its answer arrives, so a budget checked against
// the ledger alone is overshot by everything sent before the first answers come back (an
// evaluation sends hundreds of calls at once). BudgetGuard therefore reserves each call's
// estimated cost when the call is sent and releases the reservation when the answer has been
// recorded. A call is sent at once when what was spent plus what the calls in flight reserved
// plus its own estimate fits the budget; otherwise it waits in the guard until calls in flight
// finish, and is refused with BudgetExceeded once the spending itself reaches the budget. When
// nothing is in flight a waiting call is sent as long as anything is left, so a run overshoots
// its budget by at most the calls that were in flight when it ran out.
//
// The estimate of a call: its prompt at four bytes per token (an image counts as 1,000 tokens)
// plus the mean output of the answers seen so far (before any answer: its max_tokens, at most
// 500). Dollars use the price table of the ledger; a dollar budget on a model without a price
// cannot be enforced, so with_budget refuses it.
//
// Thread safety: BudgetGuard and the engines it wraps are safe to use from many threads.
// Teardown: calls waiting in the guard are failed with the cancel reason (or a cancelled
// EngineError) when the guard is destroyed; their callbacks run on the destroying thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "textgrad/engine.h"
#include "textgrad/usage.h"

namespace tg {

class BudgetGuard : public std::enable_shared_from_this<BudgetGuard> {
 public:
  // An empty budget only counts calls in flight and honours cancel().
  BudgetGuard(std::shared_ptr<Ledger> ledger, Budget budget);
  ~BudgetGuard();
  BudgetGuard(const BudgetGuard&) = delete;
  BudgetGuard& operator=(const BudgetGuard&) = delete;

  // From now on every call that has not been sent fails with `reason` (waiting ones too);
  // calls in flight finish normally. The first reason wins. Callable from any thread, not
  // from a signal handler.
  void cancel(std::exception_ptr reason);
  // True once cancel() was called or a call was refused for the budget.
  bool stopped() const;
  // Why calls are refused (null while they are not).
  std::exception_ptr stop_reason() const;

  // Calls sent and not yet answered, plus calls waiting in the guard.
  int pending() const;
  // Blocks until pending() is 0.
  void wait_idle() const;

  const Budget& budget() const { return budget_; }
  const std::shared_ptr<Ledger>& ledger() const { return ledger_; }

 private:
  friend class BudgetEngine;
  struct Estimate {
    std::int64_t tokens = 0;
    double usd = 0;
  };
  struct Waiting {
    EnginePtr inner;
    EngineInfo info;
    Request request;
    std::function<void(Outcome)> done;
  };

  void submit(const EnginePtr& inner, const EngineInfo& info, Request request,
              std::function<void(Outcome)> done);
  Estimate estimate(const EngineInfo& info, const Request& request) const;
  bool fits(const Estimate& e) const;   // mu_ held
  bool exhausted() const;               // mu_ held
  std::exception_ptr refusal() const;   // mu_ held
  void send(Waiting call, Estimate e);  // mu_ not held
  void finished(const Estimate& e, const Outcome& outcome);
  void drain();  // sends or fails waiting calls; mu_ not held

  const std::shared_ptr<Ledger> ledger_;
  const Budget budget_;
  mutable std::mutex mu_;
  mutable std::condition_variable idle_;
  std::exception_ptr stop_reason_;
  std::deque<Waiting> waiting_;
  int in_flight_ = 0;
  Estimate reserved_;
  std::int64_t answers_ = 0;
  std::int64_t output_tokens_ = 0;
  bool draining_ = false;
  bool redrain_ = false;
};

// Wraps `inner` so every call passes `guard` first. Put it outside with_ledger, so an answer
// is recorded before its reservation is released. Throws InvalidArgument when the guard has a
// dollar budget and the price table has no price for inner's model.
EnginePtr with_budget(EnginePtr inner, std::shared_ptr<BudgetGuard> guard);

}  // namespace tg
