#include "interrupt.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <string>

#include "textgrad/errors.h"

namespace tg::cli {
namespace {

// The only state a signal handler can reach; set while a watcher lives.
volatile std::sig_atomic_t g_signal_pipe = -1;
// The first signal, set by the handler itself (a lock-free atomic is safe there), so that
// signal() is right as soon as the handler has run, before the watcher thread wakes up.
std::atomic<int> g_first_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void forward_signal(int signo) {
  const int saved = errno;
  int none = 0;
  g_first_signal.compare_exchange_strong(none, signo);
  const unsigned char byte = static_cast<unsigned char>(signo);
  if (g_signal_pipe >= 0) (void)!::write(g_signal_pipe, &byte, 1);
  errno = saved;
}

}  // namespace

InterruptWatcher::InterruptWatcher(std::function<void(int)> on_first_signal)
    : on_first_signal_(std::move(on_first_signal)) {
  if (::pipe2(pipe_, O_CLOEXEC) != 0) throw Error("cannot create a pipe for signal handling");
  g_first_signal.store(0);
  g_signal_pipe = pipe_[1];
  struct sigaction action {};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGXFSZ, SIG_IGN);
  thread_ = std::thread([this] { watch(); });
}

InterruptWatcher::~InterruptWatcher() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  const unsigned char stop = 0;
  (void)!::write(pipe_[1], &stop, 1);
  thread_.join();
  g_signal_pipe = -1;
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

int InterruptWatcher::signal() const { return g_first_signal.load(); }

void InterruptWatcher::watch() {
  while (true) {
    unsigned char byte = 0;
    const ssize_t n = ::read(pipe_[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || byte == 0) return;
    int expected = 0;
    if (signal_.compare_exchange_strong(expected, byte)) {
      on_first_signal_(byte);
    } else {
      std::_Exit(128 + byte);  // a second Ctrl-C: stop now
    }
  }
}

SelfSignalHook::SelfSignalHook() {
  const char* value = std::getenv("TEXTGRAD_TEST_SIGNAL_AFTER_CALLS");
  if (!value) return;
  const std::string text = value;
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return;
  const std::string name = text.substr(colon + 1);
  signal_ = name == "INT" ? SIGINT : name == "TERM" ? SIGTERM : name == "KILL" ? SIGKILL : 0;
  after_ = std::stol(text.substr(0, colon));
}

void SelfSignalHook::on_call() {
  if (signal_ == 0) return;
  if (++calls_ != after_) return;
  // raise() runs the handler on this thread before it returns, so the run sees the signal at
  // a precise call; SIGKILL ends the process anyway.
  if (signal_ == SIGKILL) {
    ::kill(::getpid(), SIGKILL);
  } else {
    ::raise(signal_);
  }
}

}  // namespace tg::cli
