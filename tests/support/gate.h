// A gate a fake server's script can hold requests at: the script calls pass(), the test waits
// until N requests have arrived, then opens it.
#pragma once

#include <condition_variable>
#include <mutex>

namespace tg::testing {

struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int arrived = 0;
  // From the script: counts this request as arrived and holds it until release().
  void pass() {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  void wait_for_arrivals(int n) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return arrived >= n; });
  }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

}  // namespace tg::testing
