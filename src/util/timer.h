// One thread that runs callbacks at given times.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace tg::detail {

class Timer {
 public:
  using Clock = std::chrono::steady_clock;
  Timer();
  ~Timer();  // runs nothing that is still scheduled
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

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
