// One thread that runs callbacks at given times.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace tg::detail {

// Runs callbacks on its own thread, in time order (callbacks due at the same time in the order
// they were scheduled), each at or after its time. Thread-safe; schedule() never blocks.
// Callbacks run one at a time, so each must be short and must not block: the others wait
// behind it.
class Timer {
 public:
  using Clock = std::chrono::steady_clock;
  Timer();
  ~Timer();  // runs nothing that is still scheduled
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // The process's timer, for wake-ups that must not cost a thread each (the system clock's
  // wake_at: textgrad/limits.h). Never destroyed, like the executor (Note [One executor] in
  // util/executor.h): a callback may hold the last reference to whatever scheduled it, and
  // the process may exit with wake-ups still scheduled. Its thread must not block
  // (Note [Threads that must not block]).
  static Timer& shared();

  void schedule(Clock::time_point when, std::function<void()> callback);

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tg::detail
