// A bounded group of worker threads for blocking tasks (LLM calls waited on synchronously).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tg::util {

// Runs tasks on at most `max_threads` threads, started on demand. Tasks may add more tasks.
// wait() returns once every task added so far, and every task those added, has finished.
// Tasks must not throw (wrap them); an escaping exception terminates the program.
class TaskGroup {
 public:
  explicit TaskGroup(int max_threads);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void run(std::function<void()> task);
  void wait();

 private:
  void work();

  const int max_threads_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  int idle_threads_ = 0;
  int running_ = 0;
  bool stopping_ = false;
};

}  // namespace tg::util
