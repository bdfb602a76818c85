// A Clock driven by hand, so tests of rate windows and retry backoff never sleep.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "textgrad/limits.h"

namespace tg::testing {

class ManualClock : public Clock {
 public:
  // run_at_once: every wake-up runs inline, the clock jumping to its time (retry tests);
  // otherwise wake-ups wait for advance().
  explicit ManualClock(bool run_at_once = false) : run_at_once_(run_at_once) {}

  TimePoint now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }

  void wake_at(TimePoint when, std::function<void()> wake) override {
    {
      std::lock_guard lock(mu_);
      waits_.push_back(when - now_);
      asked_.notify_all();
      if (run_at_once_) {
        now_ = std::max(now_, when);
      } else {
        pending_.emplace(when, std::move(wake));
        return;
      }
    }
    wake();
  }

  // Moves time forward and runs the wake-ups that came due, in time order.
  void advance(std::chrono::steady_clock::duration by) {
    std::vector<std::function<void()>> due;
    {
      std::lock_guard lock(mu_);
      now_ += by;
      while (!pending_.empty() && pending_.begin()->first <= now_) {
        due.push_back(std::move(pending_.begin()->second));
        pending_.erase(pending_.begin());
      }
    }
    for (auto& wake : due) wake();
  }

  // Blocks until `count` wake-ups were asked for (from other threads).
  void await_wake_requests(std::size_t count) {
    std::unique_lock lock(mu_);
    asked_.wait(lock, [&] { return waits_.size() >= count; });
  }

  // How far ahead of "now" each wake-up was asked for, in order.
  std::vector<std::chrono::steady_clock::duration> waits() const {
    std::lock_guard lock(mu_);
    return waits_;
  }

 private:
  const bool run_at_once_;
  mutable std::mutex mu_;
  std::condition_variable asked_;
  TimePoint now_{std::chrono::hours(1000)};
  std::multimap<TimePoint, std::function<void()>> pending_;
  std::vector<std::chrono::steady_clock::duration> waits_;
};

}  // namespace tg::testing
