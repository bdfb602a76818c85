#include "util/timer.h"

#include "util/executor.h"

namespace tg::detail {

Timer::Timer() : thread_([this] { loop(); }) {}

Timer& Timer::shared() {
  static Timer* const timer = [] {
    auto* created = new Timer();  // never destroyed: see the header
    // Its callbacks must not block; code that might (a cache lookup) checks this mark.
    created->schedule(Clock::now(), [] { util::mark_must_not_block(); });
    return created;
  }();
  return *timer;
}

Timer::~Timer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Timer::schedule(Clock::time_point when, std::function<void()> callback) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace(when, std::move(callback));
  }
  cv_.notify_all();
}

void Timer::loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = queue_.begin();
    if (Clock::now() < first->first) {
      cv_.wait_until(lock, first->first);
      continue;
    }
    std::function<void()> callback = std::move(first->second);
    queue_.erase(first);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace tg::detail
