// Ctrl-C and SIGTERM for the commands that have no run directory (eval, solve).
#pragma once

#include <memory>
#include <string_view>

#include "engine_setup.h"
#include "interrupt.h"

namespace tg::cli {

// While it lives, the first Ctrl-C or SIGTERM stops new calls through the engines' guard; the
// calls already sent (including those queued behind --max-in-flight) finish, so their answers reach
// the response cache and running the same command again does not pay for them (Note [Interrupts]).
// It also installs the test hook TEXTGRAD_TEST_SIGNAL_AFTER_CALLS on the engines' ledger.
class StopOnSignal {
 public:
  explicit StopOnSignal(const Engines& engines);

  // 0 until a signal arrives.
  int signal() const { return watcher_.signal(); }

  // Call once the work has ended, normally or by an exception. Without a signal: returns 0.
  // After one: waits for the calls in flight, tells the user what was kept and how to go on,
  // and returns the exit code (128 + the signal).
  int finish(const EngineFlags& flags, std::string_view command) const;
  // For work that completed although a signal came (every call had already been sent): says so.
  void note_completed(std::string_view command) const;

 private:
  Engines engines_;
  std::shared_ptr<SelfSignalHook> hook_ = std::make_shared<SelfSignalHook>();
  InterruptWatcher watcher_;
};

}  // namespace tg::cli
