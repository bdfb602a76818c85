#include "util/task_group.h"

#include <algorithm>

namespace tg::util {

TaskGroup::TaskGroup(int max_threads) : max_threads_(std::max(1, max_threads)) {}

TaskGroup::~TaskGroup() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void TaskGroup::run(std::function<void()> task) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(task));
  // Idle threads may not have woken for earlier tasks yet, so compare against the queue.
  if (static_cast<int>(queue_.size()) > idle_threads_ &&
      static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { work(); });
  }
  work_cv_.notify_one();
}

void TaskGroup::wait() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

void TaskGroup::work() {
  std::unique_lock lock(mu_);
  while (true) {
    ++idle_threads_;
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_threads_;
    if (queue_.empty()) return;  // stopping
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    task();
    lock.lock();
    --running_;
    if (queue_.empty() && running_ == 0) idle_cv_.notify_all();
  }
}

}  // namespace tg::util
