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
  bool waiter_idle = false;  // the owner sleeps in wait() and nobody has handed it a task
};

TaskGroup::TaskGroup(int max_parallel, Executor& executor)
    : state_(std::make_shared<State>(std::max(1, max_parallel))), executor_(executor) {}

TaskGroup::~TaskGroup() { wait(); }

// Note [Hand a task to the idle waiter]
// A new task wakes one thread, not two. It goes to the owner sleeping in wait() if there is
// one (it is idle anyway), otherwise to a new drainer. Waking both, as this group once did,
// made them race for the task and the loser sleep again (4 % of the thread switches of
// training steps). Nothing waits on a task nobody will run: the waiter drains before it
// sleeps, and a drainer takes the next task when it finishes one.
void TaskGroup::run(std::function<void()> task) {
  State& s = *state_;
  bool wake_waiter = false;
  bool post = false;
  {
    std::lock_guard lock(s.mu);
    s.queue.push_back(std::move(task));
    if (s.waiter_idle && s.running < s.max_parallel) {
      s.waiter_idle = false;  // the next task goes to a drainer
      wake_waiter = true;
    } else if (s.drainers < s.max_parallel) {  // else the drainers will reach it
      ++s.drainers;
      post = true;
    }
  }
  // Unlocked, so the woken thread does not block on mu at once.
  if (wake_waiter) s.changed.notify_all();
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
    s.waiter_idle = true;
    s.changed.wait(lock);
    s.waiter_idle = false;
  }
}

}  // namespace tg::util
