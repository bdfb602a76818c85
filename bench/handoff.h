// The machine's price of waking another thread, measured beside the benchmarks' own figures.
//
// Two threads hand a turn back and forth through a mutex and a condition variable, the way a
// caller waiting for an answer and the transport's I/O thread do. Each round trip is two
// wake-ups. On virtual machines a wake-up on another core is an inter-processor interrupt
// that goes through the hypervisor, so the same round trip costs several times more across
// cores than on one; that price, not our code, is the floor under a chain of dependent calls.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace tg::bench {

struct HandoffCost {
  double across_cores_us = 0;  // CPU of both threads a round trip, each on its own core
  double one_core_us = 0;      // the same with both threads on one core
};

namespace detail {

inline double thread_cpu_s() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  const auto to_s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6;
  };
  return to_s(usage.ru_utime) + to_s(usage.ru_stime);
}

inline void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// CPU seconds of both threads for `rounds` round trips, the threads pinned to the two CPUs.
inline double ping_pong_cpu_s(int rounds, int cpu_a, int cpu_b) {
  std::mutex mu;
  std::condition_variable turn_changed;
  int turn = 0;  // 0: a's turn, 1: b's
  double cpu_a_s = 0;
  double cpu_b_s = 0;
  const auto player = [&](int me, int cpu, double& cpu_s) {
    pin_to(cpu);
    const double start = thread_cpu_s();
    for (int i = 0; i < rounds; ++i) {
      std::unique_lock lock(mu);
      turn_changed.wait(lock, [&] { return turn == me; });
      turn = 1 - me;
      lock.unlock();
      turn_changed.notify_one();
    }
    cpu_s = thread_cpu_s() - start;
  };
  std::thread a(player, 0, cpu_a, std::ref(cpu_a_s));
  std::thread b(player, 1, cpu_b, std::ref(cpu_b_s));
  a.join();
  b.join();
  return cpu_a_s + cpu_b_s;
}

// Two CPUs this process may run on, when it may run on two.
inline std::optional<std::pair<int, int>> two_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return std::nullopt;
  std::optional<int> first;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    if (first) return std::pair{*first, cpu};
    first = cpu;
  }
  return std::nullopt;
}

}  // namespace detail

// Zeros when the process may use only one CPU.
inline HandoffCost measure_handoffs(int rounds = 20000) {
  const auto cpus = detail::two_cpus();
  if (!cpus) return {};
  const double per_round_us = 1e6 / rounds;
  return {detail::ping_pong_cpu_s(rounds, cpus->first, cpus->second) * per_round_us,
          detail::ping_pong_cpu_s(rounds, cpus->first, cpus->first) * per_round_us};
}

// One line, after `indent`: a round trip across two cores and on one, in CPU microseconds.
inline void print_handoffs(const char* indent) {
  const HandoffCost cost = measure_handoffs();
  if (cost.across_cores_us <= 0) return;  // one CPU: nothing to compare
  std::printf(
      "%sthis machine's price of a hand-off: two threads waking each other cost %.1f us of CPU a "
      "round trip on two cores, %.1f us on one\n",
      indent, cost.across_cores_us, cost.one_core_us);
}

}  // namespace tg::bench
