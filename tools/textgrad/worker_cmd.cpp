#include "worker_cmd.h"

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "checks.h"
#include "commands.h"
#include "endpoint_flags.h"
#include "evaluate.h"
#include "interrupt.h"
#include "progress.h"
#include "worker_protocol.h"

namespace tg::cli {
namespace {

constexpr std::chrono::milliseconds kIdlePoll{20};
constexpr std::chrono::seconds kRedisRetry{1};

// Keeps the outcome of the one call made through it, with its latency.
class CapturingEngine : public Engine {
 public:
  CapturingEngine(EnginePtr inner, std::shared_ptr<Outcome> slot)
      : inner_(std::move(inner)), slot_(std::move(slot)) {}
  EngineInfo info() const override { return inner_->info(); }
  void submit(Request request, std::function<void(Outcome)> done) override {
    const auto start = std::chrono::steady_clock::now();
    inner_->submit(
        std::move(request), [slot = slot_, start, done = std::move(done)](Outcome outcome) {
          if (outcome.ok() && outcome.response.latency_ms == 0) {
            outcome.response.latency_ms =
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
          }
          *slot = outcome;
          done(std::move(outcome));
        });
  }

 private:
  EnginePtr inner_;
  std::shared_ptr<Outcome> slot_;
};

class Worker {
 public:
  Worker(const WorkerFlags& flags, Engines engines, std::shared_ptr<cache::RedisWorkQueue> queue)
      : flags_(flags),
        engines_(std::move(engines)),
        queue_(std::move(queue)),
        id_(unique_process_name()) {}

  void run() {
    queue_->heartbeat(id_);  // registered before the first claim
    std::thread heart([this] { beat(); });
    std::vector<std::thread> threads;
    for (int i = 0; i < flags_.jobs; ++i) threads.emplace_back([this] { work(); });
    for (std::thread& thread : threads) thread.join();
    stop();  // the heartbeat too, if the workers ended on their own
    heart.join();
    try {
      queue_->leave(id_);
    } catch (const std::exception&) {
      // Its heartbeat runs out on its own.
    }
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

  long jobs_done() const { return jobs_done_; }

 private:
  // Waits `period` or until stop(); false once stopping.
  bool pause(std::chrono::milliseconds period) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, period, [this] { return stopping_; });
  }

  bool stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void beat() {
    const auto period = std::max(queue_->lease() / 3, std::chrono::milliseconds(30));
    while (pause(period)) {
      try {
        std::vector<std::string> held;
        {
          std::lock_guard lock(mu_);
          held.assign(held_.begin(), held_.end());
        }
        queue_->heartbeat(id_);
        queue_->renew(held);
      } catch (const std::exception& e) {
        warn(e.what());
      }
    }
  }

  void work() {
    while (!stopping()) {
      std::optional<cache::WorkJob> job;
      try {
        job = queue_->claim();
      } catch (const std::exception& e) {
        warn(e.what());
        if (!pause(kRedisRetry)) break;
        continue;
      }
      if (!job) {
        if (!pause(kIdlePoll)) break;
        continue;
      }
      do_job(*job);
    }
  }

  void do_job(const cache::WorkJob& job) {
    {
      std::lock_guard lock(mu_);
      held_.insert(job.id);
    }
    try {
      const std::string result = answer_job(engines_.forward, job.payload);
      queue_->complete(job, result);
      ++jobs_done_;
    } catch (const std::exception& e) {
      warn(e.what());  // the job's lease runs out and another worker takes it
    }
    std::lock_guard lock(mu_);
    held_.erase(job.id);
  }

  void warn(const std::string& message) {
    std::lock_guard lock(mu_);
    std::cerr << "textgrad worker: warning: " << message << "\n";
  }

  const WorkerFlags& flags_;
  Engines engines_;
  std::shared_ptr<cache::RedisWorkQueue> queue_;
  const std::string id_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::set<std::string> held_;
  std::atomic<long> jobs_done_{0};
};

}  // namespace

std::string answer_job(const EnginePtr& engine, const std::string& payload) {
  const EvalJob job = decode_job(payload);
  const Variable prompt = evaluation_prompt(job.prompt);
  std::vector<std::shared_ptr<Outcome>> slots;
  std::vector<Variable> responses;
  for (const Example& item : job.items) {
    slots.push_back(std::make_shared<Outcome>());
    responses.push_back(
        ask_item(std::make_shared<CapturingEngine>(engine, slots.back()), prompt, item));
  }
  for (const Variable& response : responses) {
    try {
      response.wait();
    } catch (const std::exception&) {
      // The error is in its slot and goes back to the optimizer.
    }
  }
  std::vector<Outcome> answers;
  for (const auto& slot : slots) answers.push_back(*slot);
  return encode_answers(answers);
}

void add_worker(CLI::App& app, WorkerFlags& flags) {
  CLI::App* cmd = app.add_subcommand(
      "worker",
      "Answer the evaluation jobs of `textgrad optimize --eval-workers URL` (on this or another "
      "machine) until stopped with Ctrl-C or SIGTERM");
  cmd->add_option("--queue", flags.queue,
                  "The optimizer's --eval-workers URL: redis://[:password@]host[:port][/db]"
                  "[?lease_ms=N]")
      ->required();
  add_engine_flags(*cmd, flags.engines, /*with_backward_engine=*/false);
  cmd->add_option("--jobs", flags.jobs, "Jobs worked on at once (each sends its items at once)")
      ->check(at_least(1))
      ->capture_default_str();
  cmd->add_flag("--quiet", flags.quiet, "No start and end lines");
}

int run_worker(const WorkerFlags& flags) {
  const WorkerQueueUrl url = parse_worker_queue_url(flags.queue, "--queue");
  Engines engines = build_engines(flags.engines);
  auto queue = open_work_queue(url, engines.forward->info());
  const EngineInfo info = engines.forward->info();
  Worker worker(flags, engines, queue);
  InterruptWatcher watcher([&worker](int) { worker.stop(); });
  if (!flags.quiet) {
    std::cerr << fmt::format(
        "textgrad worker: answering evaluations of {} from {}, {} jobs at once\n", info.name,
        url.redis.display(), flags.jobs);
  }
  worker.run();
  if (!flags.quiet) {
    const Totals totals = engines.ledger->total();
    std::cerr << fmt::format("textgrad worker: {} jobs, {} calls ({} cache hits), {}\n",
                             worker.jobs_done(), totals.calls, totals.cache_hits,
                             format_cost(totals));
    if (engines.pool) print_endpoint_usage(std::cerr, *engines.pool, *engines.ledger);
  }
  return kOk;
}

}  // namespace tg::cli
