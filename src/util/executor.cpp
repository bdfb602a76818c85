#include "util/executor.h"

#include <algorithm>

namespace tg::util {

namespace {
thread_local bool marked_must_not_block = false;
}  // namespace

void mark_must_not_block() { marked_must_not_block = true; }
bool must_not_block() { return marked_must_not_block; }

Executor::Executor(int max_threads) : max_threads_(std::max(1, max_threads)) {}

Executor::~Executor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

Executor& Executor::shared() {
  static Executor* const executor = new Executor();  // never destroyed: Note [One executor]
  return *executor;
}

void Executor::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
    // Idle workers may not have woken for earlier tasks yet, so compare against the queue.
    if (static_cast<int>(queue_.size()) > idle_ &&
        static_cast<int>(threads_.size()) < max_threads_) {
      threads_.emplace_back([this] { work(); });
    }
  }
  work_cv_.notify_one();  // unlocked: the woken worker does not block on mu_ at once
}

int Executor::threads() const {
  std::lock_guard lock(mu_);
  return static_cast<int>(threads_.size());
}

void Executor::work() {
  std::unique_lock lock(mu_);
  while (true) {
    ++idle_;
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, nothing left to run
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // release what it captured before waiting again
    lock.lock();
  }
}

}  // namespace tg::util
