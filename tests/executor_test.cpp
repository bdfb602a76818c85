// The shared executor and task groups (Note [One executor]): bounded, deadlock-free when every
// worker is busy, and no thread started per call of a training loop.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "support/workloads.h"
#include "textgrad/limits.h"
#include "textgrad/textgrad.h"
#include "util/executor.h"
#include "util/task_group.h"
#include "util/timer.h"

namespace tg {
namespace {

std::set<pid_t> live_threads() {
  std::set<pid_t> tids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    tids.insert(static_cast<pid_t>(std::stol(entry.path().filename().string())));
  }
  return tids;
}

TEST(Executor, RunsEveryPostedTaskOnAtMostItsThreads) {
  std::atomic<int> done{0};
  int threads = 0;
  {
    util::Executor executor(3);
    for (int i = 0; i < 200; ++i) executor.post([&] { ++done; });
    threads = executor.threads();
  }  // the destructor runs what is still queued
  EXPECT_EQ(done.load(), 200);
  EXPECT_LE(threads, 3);
}

// The only worker is blocked: the waiting thread runs the group's tasks itself.
TEST(TaskGroup, FinishesWhenEveryWorkerIsBusy) {
  util::Executor executor(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  executor.post([released] { released.wait(); });
  int done = 0;  // no task of the group runs on the blocked worker, so no race either
  {
    util::TaskGroup group(4, executor);
    for (int i = 0; i < 10; ++i) group.run([&] { ++done; });
    group.wait();
  }
  EXPECT_EQ(done, 10);
  release.set_value();
}

TEST(TaskGroup, NestedGroupsOnOneWorkerDoNotDeadlock) {
  util::Executor executor(1);
  std::atomic<int> done{0};
  util::TaskGroup outer(2, executor);
  for (int i = 0; i < 4; ++i) {
    outer.run([&] {
      util::TaskGroup inner(2, executor);
      for (int j = 0; j < 3; ++j) inner.run([&] { ++done; });
      inner.wait();
    });
  }
  outer.wait();
  EXPECT_EQ(done.load(), 12);
}

TEST(TaskGroup, NeverRunsMoreTasksAtOnceThanItsLimit) {
  util::Executor executor(8);
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  util::TaskGroup group(3, executor);
  for (int i = 0; i < 100; ++i) {
    group.run([&] {
      const int now = ++running;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      --running;
    });
  }
  group.wait();
  EXPECT_LE(peak.load(), 3);
  EXPECT_GE(peak.load(), 1);
}

TEST(TaskGroup, TasksMayAddTasks) {
  util::Executor executor(2);
  std::atomic<int> done{0};
  util::TaskGroup group(2, executor);
  std::function<void(int)> spawn = [&](int depth) {
    ++done;
    if (depth < 5) {
      group.run([&, depth] { spawn(depth + 1); });
      group.run([&, depth] { spawn(depth + 1); });
    }
  };
  group.run([&] { spawn(0); });
  group.wait();
  EXPECT_EQ(done.load(), 63);  // 2^6 - 1
}

// A prompt-optimization loop (forward calls answered later on the engine's timer thread, a
// string metric waiting for them, backward, TGD step). Every thread that runs a string
// function or makes an engine call is recorded. With a thread per evaluation or a pool per
// backward()/step(), those threads would be gone afterwards and their number would grow with
// the steps; with the shared executor they are the same few long-lived workers.
TEST(Threads, TrainingLoopStartsNoThreadPerCall) {
  std::mutex mu;
  std::set<pid_t> used;
  auto record = [&] {
    std::lock_guard lock(mu);
    used.insert(gettid());
  };
  ScriptedEngine::Options options;
  options.delay = std::chrono::milliseconds(1);  // only so that answers arrive asynchronously
  auto engine = std::make_shared<ScriptedEngine>(
      [&](const Request& request) {
        record();
        return testing::scripted_answer(request);
      },
      options);
  Variable prompt("Answer the question. End with 'Answer: N'.", "system prompt");
  BlackboxLLM model(engine, prompt);
  TGD optimizer({prompt}, engine);
  StringBasedFunction metric(
      [&](const Fields& inputs) {
        record();
        return std::to_string(inputs.at("prediction").value().ends_with("4") ? 1 : 0);
      },
      "checks the answer");

  int evaluations = 0;
  auto train = [&](int steps) {
    for (int step = 0; step < steps; ++step) {
      optimizer.zero_grad();
      std::vector<Variable> losses;
      for (int i = 0; i < 3; ++i) {
        Variable x("Question " + std::to_string(step * 3 + i), roles::kLlmInput, false);
        Variable y("4", "correct answer", false);
        losses.push_back(metric({{"prediction", model(x)}, {"ground_truth_answer", y}}));
        ++evaluations;
      }
      Variable total = sum(losses);
      total.backward(engine);
      optimizer.step();
    }
  };
  train(2);  // warm up: the executor starts its first workers
  const std::set<pid_t> before = live_threads();
  const int workers_before = util::Executor::shared().threads();
  {
    std::lock_guard lock(mu);
    used.clear();
  }
  train(40);
  const std::set<pid_t> after = live_threads();
  const int new_workers = util::Executor::shared().threads() - workers_before;

  EXPECT_EQ(engine->calls(), 42 * 10);
  std::lock_guard lock(mu);
  for (pid_t tid : used) {
    EXPECT_TRUE(after.count(tid)) << "thread " << tid << " did work and is gone: started per call";
  }
  // Threads may only have been added by the executor (more work at once than before), and
  // never one per evaluation.
  EXPECT_LE(static_cast<int>(after.size()) - static_cast<int>(before.size()), new_workers);
  EXPECT_LT(static_cast<int>(used.size()), evaluations / 4);
}

TEST(Timer, RunsCallbacksInTimeOrderThenInTheOrderTheyWereScheduled) {
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> last;
  const auto start = detail::Timer::Clock::now();
  {
    detail::Timer timer;
    auto note = [&](int n) {
      return [&, n] {
        std::lock_guard lock(mu);
        order.push_back(n);
        if (order.size() == 4) last.set_value();
      };
    };
    timer.schedule(start + std::chrono::milliseconds(30), note(3));
    timer.schedule(start + std::chrono::milliseconds(10), note(1));
    timer.schedule(start + std::chrono::milliseconds(20), note(2));
    timer.schedule(start + std::chrono::milliseconds(30), note(4));
    last.get_future().wait();
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_GE(detail::Timer::Clock::now() - start, std::chrono::milliseconds(30));
}

// The system clock's wake-ups (rate-limit waits) share one timer thread: a hundred pending
// wake-ups start no thread. A sleeper thread per wake-up would show a hundred more here.
TEST(Threads, RateLimitWakeUpsStartNoThreadEach) {
  const std::shared_ptr<Clock> clock = system_clock();
  std::promise<void> warm;
  clock->wake_at(clock->now(), [&] { warm.set_value(); });  // the timer's thread exists now
  warm.get_future().wait();
  const size_t before = live_threads().size();
  std::atomic<int> woken{0};
  std::promise<void> all;
  const auto when = clock->now() + std::chrono::milliseconds(200);
  for (int i = 0; i < 100; ++i) {
    clock->wake_at(when, [&] {
      if (++woken == 100) all.set_value();
    });
  }
  EXPECT_EQ(live_threads().size(), before);
  all.get_future().wait();
  EXPECT_GE(clock->now(), when);
}

}  // namespace
}  // namespace tg
