#include "stop_on_signal.h"

#include <csignal>
#include <iostream>

#include <fmt/format.h>

#include "textgrad/budget_guard.h"
#include "textgrad/errors.h"

namespace tg::cli {

StopOnSignal::StopOnSignal(const Engines& engines)
    : engines_(engines), watcher_([guard = engines.guard](int signo) {
        guard->cancel(std::make_exception_ptr(Error(
            fmt::format("interrupted by {}", signo == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM"))));
      }) {
  engines_.ledger->on_record([hook = hook_](const CallRecord&) { hook->on_call(); });
}

int StopOnSignal::finish(const EngineFlags& flags, std::string_view command) const {
  const int signo = signal();
  if (signo == 0) return 0;
  engines_.guard->wait_idle();
  const Totals totals = engines_.ledger->total();
  const long answers = totals.calls - totals.errors;
  const char* name = signo == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM";
  if (flags.no_cache) {
    std::cerr << fmt::format(
        "textgrad: {} stopped by {} after {} answers; nothing was cached (--no-cache), so "
        "running it again pays for them again.\n",
        command, name, answers);
  } else {
    std::cerr << fmt::format(
        "textgrad: {} stopped by {}; the calls in flight were let finish. The {} answers "
        "received are in the response cache: run the same command again to continue without "
        "paying for them again.\n",
        command, name, answers);
  }
  return 128 + signo;
}

void StopOnSignal::note_completed(std::string_view command) const {
  if (signal() == 0) return;
  std::cerr << fmt::format(
      "textgrad: {} received {} after every call had been sent; it waited for the answers, "
      "so the result below is complete.\n",
      command, signal() == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
}

}  // namespace tg::cli
