// The fake LLM server of the benchmarks, in a child process: the CPU a benchmark measures with
// getrusage or wait4 is then the client's alone. The parent steers the child (the answer
// delay) and reads its counters (requests, peak in flight) through MAP_SHARED memory.
#pragma once

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/fake_llm_server.h"

namespace tg::bench {

// Answers one request; runs in the child, on the server's threads.
using Answer = std::function<fake::FakeReply(const fake::RecordedRequest&)>;

class ServerProcess {
 public:
  // Forks the child, which serves `answer` (delayed by set_delay()) with `threads` threads.
  // Must run before this process creates any thread: the child is a copy of it.
  ServerProcess(int threads, Answer answer) {
    void* memory =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
    shared_ = new (memory) Shared();
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      close(fds[0]);
      run_child(*shared_, fds[1], threads, answer);
    }
    close(fds[1]);
    if (read(fds[0], &port_, sizeof port_) != sizeof port_) {
      throw std::runtime_error("the server child did not start");
    }
    close(fds[0]);
  }

  ~ServerProcess() {
    shared_->stop.store(1);
    waitpid(pid_, nullptr, 0);
    munmap(shared_, sizeof(Shared));
  }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  void set_delay(int ms) { shared_->delay_ms.store(ms); }
  std::int64_t requests() const { return shared_->requests.load(); }

  void reset_peak() {
    shared_->reset_peak.store(1);
    while (shared_->reset_peak.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }

  // Waits for two fresh copies, so the value covers everything that happened before the call.
  int peak() const {
    const std::int64_t seen = shared_->copies.load();
    while (shared_->copies.load() < seen + 2) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return shared_->peak_in_flight.load();
  }

 private:
  struct Shared {
    std::atomic<int> delay_ms{0};
    std::atomic<std::int64_t> requests{0};
    std::atomic<int> peak_in_flight{0};
    std::atomic<std::int64_t> copies{0};  // bumped after every copy of peak_in_flight
    std::atomic<int> reset_peak{0};       // the parent sets it, the child clears it once done
    std::atomic<int> stop{0};
  };
  static_assert(std::atomic<std::int64_t>::is_always_lock_free, "shared across processes");

  [[noreturn]] static void run_child(Shared& shared, int port_fd, int threads,
                                     const Answer& answer) try {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed parent
    {
      fake::FakeLlmServer server(
          [&shared, &answer](const fake::RecordedRequest& request) {
            shared.requests.fetch_add(1);
            return answer(request).with_delay(std::chrono::milliseconds(shared.delay_ms.load()));
          },
          threads);
      server.set_keep_requests(false);  // a benchmark sends tens of thousands
      const int port = server.port();
      if (write(port_fd, &port, sizeof port) != sizeof port) _exit(1);
      close(port_fd);
      // The script cannot see when an answer leaves (the delay runs after it), so the
      // server's own peak counter is copied out instead.
      while (!shared.stop.load()) {
        const bool reset = shared.reset_peak.load() != 0;
        if (reset) server.reset_peak();
        shared.peak_in_flight.store(server.peak_in_flight());
        shared.copies.fetch_add(1);
        if (reset) shared.reset_peak.store(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    _exit(0);
  } catch (const std::exception& e) {
    // Never unwind into the parent's code: this is a forked copy of it.
    std::fprintf(stderr, "bench server: %s\n", e.what());
    _exit(1);
  }

  Shared* shared_ = nullptr;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace tg::bench
