// A long-lived pool of worker threads shared by the library's background work.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tg::util {

// Note [One executor]
// String functions whose inputs settle later, backward jobs and optimizer updates all run on
// one executor that lives as long as the process (Executor::shared()). Starting a thread per
// evaluation, or a pool per backward() and per step(), cost a thread creation (and a join) on
// every call of a training loop; with one executor the number of threads depends on how much
// work runs at once, never on how many calls have been made.
//
// Tasks may block (they wait for LLM answers with Engine::generate), so a fixed small pool
// could be starved: a worker is started whenever a task is posted and none is idle, up to
// kMaxThreads, and workers are kept for later tasks. Bounded work (backward, step) goes through
// TaskGroup, which keeps at most its own limit of tasks on the executor at once and whose
// wait() runs the group's remaining tasks on the waiting thread, so a group finishes even when
// every worker is busy (nested groups cannot deadlock). Only string and custom functions are
// posted directly, one per evaluation and only once their inputs have settled.
//
// It is not owned by an engine: string functions have no engine, and an executor per engine
// would bring back a pool per object. It is never destroyed, because the process must be able
// to exit while a task waits for an answer that will not come.

// Runs posted tasks on worker threads started on demand, at most `max_threads` of them, kept
// until destruction. Thread-safe. post() never blocks and may be called from any thread,
// including a transport's I/O thread and the executor's own tasks. Tasks must not throw.
// The destructor runs every task already queued, then joins the workers.
class Executor {
 public:
  static constexpr int kMaxThreads = 512;

  explicit Executor(int max_threads = kMaxThreads);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // The library's executor, created on first use and never destroyed (Note [One executor]).
  static Executor& shared();

  void post(std::function<void()> task);
  int threads() const;  // workers started so far

 private:
  void work();

  const int max_threads_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> threads_;
  int idle_ = 0;
  bool stopping_ = false;
};

// Note [Threads that must not block]
// A transport's I/O thread runs every completion callback, and every submit() those callbacks
// make (a call whose input was the answer just received). Anything slow there (a file lookup
// waiting for a lock, an SQLite read) delays every request in flight. The I/O thread marks
// itself; code that may block checks must_not_block() and posts that work to the executor
// instead (the response cache's lookups do).

// Marks the calling thread, for the rest of its life.
void mark_must_not_block();
// True on a thread marked above.
bool must_not_block();

}  // namespace tg::util
