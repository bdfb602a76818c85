// The fake LLM server of the benchmarks, in a child process: the CPU a benchmark measures with
// getrusage or wait4 is then the client's alone. The parent sets the answer delay and reads the
// request count through MAP_SHARED memory, and asks for the peak in flight over a socket pair.
//
// The child's main thread sleeps in recv() until the parent asks for something, so a waiting
// server spends no CPU on the two cores the client shares with it. (It used to copy the peak
// out every millisecond: a thousand wake-ups a second beside every measurement.)
#pragma once

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

#include "support/fake_llm_server.h"

namespace tg::bench {

// Answers one request; runs in the child, on the server's threads.
using Answer = std::function<fake::FakeReply(const fake::RecordedRequest&)>;

// Not thread-safe: one thread of the parent steers the child. One at a time: a second child
// would inherit the first one's end of the channel, and the first would then never see it close.
class ServerProcess {
 public:
  // Forks the child, which serves `answer` (delayed by set_delay()) with `threads` threads.
  // Must run before this process creates any thread: the child is a copy of it.
  ServerProcess(int threads, Answer answer) {
    void* memory =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
    shared_ = new (memory) Shared();
    try {
      int ends[2];
      // Close-on-exec: a program the benchmark starts later must not hold the channel open.
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
        throw std::runtime_error("socketpair failed");
      }
      channel_ = ends[0];
      std::fflush(nullptr);
      pid_ = fork();
      if (pid_ < 0) {
        close(ends[1]);
        throw std::runtime_error("fork failed");
      }
      if (pid_ == 0) {
        close(ends[0]);
        run_child(*shared_, ends[1], threads, answer);
      }
      close(ends[1]);
      port_ = read_int("the server child did not start");
    } catch (...) {
      stop();
      throw;
    }
  }

  ~ServerProcess() { stop(); }

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  void set_delay(int ms) { shared_->delay_ms.store(ms); }
  std::int64_t requests() const { return shared_->requests.load(); }

  // Both return once the child has done it, so they cover everything that happened before.
  void reset_peak() { ask('r'); }
  int peak() const { return ask('p'); }

 private:
  struct Shared {
    std::atomic<int> delay_ms{0};
    std::atomic<std::int64_t> requests{0};
  };
  static_assert(std::atomic<std::int64_t>::is_always_lock_free, "shared across processes");

  // MSG_NOSIGNAL: a child that died is an error to report, not a SIGPIPE that kills us.
  static bool write_all(int fd, const void* data, std::size_t size) {
    const char* at = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = send(fd, at, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      at += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  // False at end-of-file or on an error.
  static bool read_all(int fd, void* data, std::size_t size) {
    char* at = static_cast<char*>(data);
    while (size > 0) {
      const ssize_t n = recv(fd, at, size, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      at += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  int read_int(const char* failure) const {
    int value = 0;
    if (!read_all(channel_, &value, sizeof value)) throw std::runtime_error(failure);
    return value;
  }

  int ask(char command) const {
    if (!write_all(channel_, &command, 1)) throw std::runtime_error("the server child is gone");
    return read_int("the server child did not answer");
  }

  // Closing the channel stops the child: it reads end-of-file.
  void stop() {
    if (channel_ >= 0) close(channel_);
    if (pid_ > 0) {
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    munmap(shared_, sizeof(Shared));
  }

  [[noreturn]] static void run_child(Shared& shared, int channel, int threads,
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
      if (!write_all(channel, &port, sizeof port)) _exit(1);
      // The script cannot see when an answer leaves (the delay runs after it), so the peak
      // comes from the server's own counter.
      char command = 0;
      while (read_all(channel, &command, 1)) {
        if (command == 'r') server.reset_peak();
        const int reply = command == 'p' ? server.peak_in_flight() : 0;
        if (!write_all(channel, &reply, sizeof reply)) break;
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
  int channel_ = -1;  // the parent's end of the socket pair
};

}  // namespace tg::bench
