// Ctrl-C and SIGTERM during a run, and a test hook that signals the process at a chosen call.
//
// Note [Interrupts]
// A signal handler may do almost nothing, so it only writes the signal number to a pipe; a
// watcher thread reads it and calls back (the run then cancels its BudgetGuard, so no new call
// is sent, lets the calls in flight finish, writes its state and report, prints the resume
// command and exits with 128 + the signal: 130 for SIGINT, 143 for SIGTERM). A second signal
// ends the process at once. While a watcher lives, SIGXFSZ is ignored, so a write past a file
// size limit fails with EFBIG (and is reported) instead of killing the process mid-line.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace tg::cli {

class InterruptWatcher {
 public:
  // At most one watcher at a time.
  explicit InterruptWatcher(std::function<void(int)> on_first_signal);
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // The first signal received, 0 if none; set as soon as the handler has run (the callback
  // may still be on its way).
  int signal() const;

 private:
  void watch();
  std::function<void(int)> on_first_signal_;
  std::atomic<int> signal_{0};
  int pipe_[2] = {-1, -1};
  std::thread thread_;
};

// For tests that must stop a run at a precise point without timing: with
// TEXTGRAD_TEST_SIGNAL_AFTER_CALLS=N:NAME (NAME one of INT, TERM, KILL) in the environment the
// process sends itself that signal once N LLM calls have finished. Thread-safe.
class SelfSignalHook {
 public:
  SelfSignalHook();  // reads the environment
  void on_call();

 private:
  long after_ = -1;
  int signal_ = 0;
  std::atomic<long> calls_{0};
};

}  // namespace tg::cli
