// A bounded group of tasks on the shared executor, for blocking work (LLM calls waited on
// synchronously): backward jobs, optimizer updates, the CLI's batches.
#pragma once

#include <functional>
#include <memory>

#include "util/executor.h"

namespace tg::util {

// Runs tasks on `executor`, at most `max_parallel` at a time, counting the thread in wait(),
// which runs queued tasks of the group itself while it waits (Note [One executor]): a group
// finishes even when every worker of the executor is busy, and starting a group starts no
// thread. Tasks may add more tasks. wait() returns once every task added so far, and every
// task those added, has finished. The destructor waits the same way, so tasks may refer to
// the group's owner. Tasks must not throw (wrap them); an escaping exception terminates.
// run() is thread-safe; wait() is called by the group's owner.
class TaskGroup {
 public:
  explicit TaskGroup(int max_parallel, Executor& executor = Executor::shared());
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void run(std::function<void()> task);
  void wait();

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the group's tasks still on the executor
  Executor& executor_;
};

}  // namespace tg::util
