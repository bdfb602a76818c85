// The fake LLM server of the benchmarks, in a child process: the CPU a benchmark measures with
// getrusage or wait4 is then the client's alone. The parent sets the answer delay and reads the
// request count through MAP_SHARED memory, and asks for the peak in flight over a pipe.
//
// The child's main thread sleeps in read() until the parent asks for something, so a waiting
// server spends no CPU on the two cores the client shares with it. (It used to copy the peak
// out every millisecond: a thousand wake-ups a second beside every measurement.)
#pragma once

#include <errno.h>
#include <fcntl.h>
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

#include "support/fake_llm_server.h"

namespace tg::bench {

// Answers one request; runs in the child, on the server's threads.
using Answer = std::function<fake::FakeReply(const fake::RecordedRequest&)>;

// Not thread-safe: one thread of the parent steers the child.
class ServerProcess {
 public:
  // Forks the child, which serves `answer` (delayed by set_delay()) with `threads` threads.
  // Must run before this process creates any thread: the child is a copy of it.
  ServerProcess(int threads, Answer answer) {
    void* memory =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::runtime_error("mmap failed");
    shared_ = new (memory) Shared();
    int commands[2];
    int replies[2];
    // Close-on-exec: a program the benchmark starts later must not hold the command pipe open.
    if (pipe2(commands, O_CLOEXEC) != 0 || pipe2(replies, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe failed");
    }
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      close(commands[1]);
      close(replies[0]);
      run_child(*shared_, commands[0], replies[1], threads, answer);
    }
    close(commands[0]);
    close(replies[1]);
    commands_ = commands[1];
    replies_ = replies[0];
    port_ = read_int(replies_, "the server child did not start");
  }

  ~ServerProcess() {
    close(commands_);  // the child reads end-of-file and stops
    waitpid(pid_, nullptr, 0);
    close(replies_);
    munmap(shared_, sizeof(Shared));
  }

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

  static bool write_all(int fd, const void* data, std::size_t size) {
    const char* at = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = write(fd, at, size);
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
      const ssize_t n = read(fd, at, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      at += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  static int read_int(int fd, const char* failure) {
    int value = 0;
    if (!read_all(fd, &value, sizeof value)) throw std::runtime_error(failure);
    return value;
  }

  int ask(char command) const {
    if (!write_all(commands_, &command, 1)) throw std::runtime_error("the server child is gone");
    return read_int(replies_, "the server child did not answer");
  }

  [[noreturn]] static void run_child(Shared& shared, int commands, int replies, int threads,
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
      if (!write_all(replies, &port, sizeof port)) _exit(1);
      // The script cannot see when an answer leaves (the delay runs after it), so the peak
      // comes from the server's own counter.
      char command = 0;
      while (read_all(commands, &command, 1)) {
        if (command == 'r') server.reset_peak();
        const int reply = command == 'p' ? server.peak_in_flight() : 0;
        if (!write_all(replies, &reply, sizeof reply)) break;
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
  int commands_ = -1;
  int replies_ = -1;
};

}  // namespace tg::bench
