#include "util/task_group.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace tg::util {

// Tasks wait in the group's queue. A "drainer" posted to the executor runs them one after
// another while the group is under its limit; at most max_parallel drainers exist at once.
// A drainer may start after its group is gone (the waiter ran everything): it then finds the
// queue empty and only releases the state it shares.
struct TaskGroup::State {
  explicit State(int limit) : max_parallel(limit) {}

  // Runs queued tasks while there are some and the group is under its limit.
  void drain(std::unique_lock<std::mutex>& lock) {
    while (!queue.empty() && running < max_parallel) {
      std::function<void()> task = std::move(queue.front());
      queue.pop_front();
      ++running;
      lock.unlock();
      task();
      task = nullptr;
      lock.lock();
      --running;
      // A waiter needs waking only when the group is done: while tasks are queued, this loop
      // (or another drainer) takes them, and run() wakes the waiter for new ones.
      if (queue.empty() && running == 0) changed.notify_all();
    }
  }

  const int max_parallel;
  std::mutex mu;
  std::condition_variable changed;
  std::deque<std::function<void()>> queue;
  int drainers = 0;  // posted to the executor and not yet returned
  int running = 0;
};

TaskGroup::TaskGroup(int max_parallel, Executor& executor)
    : state_(std::make_shared<State>(std::max(1, max_parallel))), executor_(executor) {}

TaskGroup::~TaskGroup() { wait(); }

void TaskGroup::run(std::function<void()> task) {
  bool post = false;
  {
    std::lock_guard lock(state_->mu);
    state_->queue.push_back(std::move(task));
    if (state_->drainers < state_->max_parallel) {  // else the drainers will reach it
      ++state_->drainers;
      post = true;
    }
  }
  // Both unlocked, so neither the waiter nor the new drainer blocks on mu at once.
  state_->changed.notify_all();  // a waiter may run it before a drainer does
  if (!post) return;
  executor_.post([state = state_] {
    std::unique_lock lock(state->mu);
    state->drain(lock);
    --state->drainers;
  });
}

void TaskGroup::wait() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  while (true) {
    s.drain(lock);
    if (s.queue.empty() && s.running == 0) return;
    s.changed.wait(lock);
  }
}

}  // namespace tg::util
