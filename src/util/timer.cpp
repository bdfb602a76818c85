#include "util/timer.h"

namespace tg::detail {

Timer::Timer() : thread_([this] { loop(); }) {}

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
