#include "worker_dispatch.h"

#include <chrono>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "evaluate.h"
#include "trace.h"

namespace tg::cli {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollInterval{20};

// Answers every request with one worker's answer, recording it in the ledger as the call it
// was (see Note [Evaluation workers]).
class AnsweredEngine : public Engine {
 public:
  AnsweredEngine(EngineInfo info, Outcome answer, std::shared_ptr<Ledger> ledger)
      : info_(std::move(info)), answer_(std::move(answer)), ledger_(std::move(ledger)) {}

  EngineInfo info() const override { return info_; }

  void submit(Request request, std::function<void(Outcome)> done) override {
    ledger_->record(record_of(request.phase));
    done(answer_);
  }

 private:
  CallRecord record_of(Phase phase) const {
    CallRecord record;
    record.engine = info_.name;
    record.phase = phase;
    record.model = info_.model;
    if (!answer_.ok()) {
      record.ok = false;
      try {
        std::rethrow_exception(answer_.error);
      } catch (const std::exception& e) {
        record.error = e.what();
      }
      return record;
    }
    const Response& response = answer_.response;
    if (!response.model.empty()) record.model = response.model;
    record.usage = response.usage;
    record.from_cache = response.from_cache;
    record.latency_ms = response.latency_ms;
    const std::optional<double> cost =
        ledger_->prices().cost(info_.provider, record.model, record.usage);
    record.priced = cost.has_value();
    record.cost_usd = record.from_cache ? 0 : cost.value_or(0);
    return record;
  }

  const EngineInfo info_;
  const Outcome answer_;
  std::shared_ptr<Ledger> ledger_;
};

// Forwards every call to `inner`; only evaluate_prompt looks at the workers it carries.
class EvalWorkersEngine : public Engine {
 public:
  EvalWorkersEngine(EnginePtr inner, std::shared_ptr<EvalWorkers> workers)
      : inner_(std::move(inner)), workers_(std::move(workers)) {}
  EngineInfo info() const override { return inner_->info(); }
  void submit(Request request, std::function<void(Outcome)> done) override {
    inner_->submit(std::move(request), std::move(done));
  }
  EvalWorkers* workers() const { return workers_.get(); }

 private:
  EnginePtr inner_;
  std::shared_ptr<EvalWorkers> workers_;
};

}  // namespace

EvalWorkers::EvalWorkers(WorkerQueueUrl url, std::shared_ptr<cache::RedisWorkQueue> queue,
                         EnginePtr local, std::shared_ptr<Ledger> ledger,
                         std::shared_ptr<BudgetGuard> guard)
    : url_(std::move(url)),
      queue_(std::move(queue)),
      local_(std::move(local)),
      ledger_(std::move(ledger)),
      guard_(std::move(guard)),
      batch_prefix_(unique_process_name()) {}

void EvalWorkers::warn_no_workers() {
  if (warned_.exchange(true)) return;
  std::cerr << fmt::format(
      "textgrad: warning: no evaluation worker is listening on {} for {}; evaluating here. "
      "Start workers with: textgrad worker --queue {} --engine {} (and the same --temperature, "
      "--top-p, --max-tokens)\n",
      queue_->display_url(), local_->info().name, url_.redis.display(), local_->info().name);
}

Variable EvalWorkers::replay(const Outcome& answer, const Variable& prompt, const Example& example,
                             const CallTagger* tagger) const {
  EnginePtr answered = std::make_shared<AnsweredEngine>(local_->info(), answer, ledger_);
  return ask_item(tagger ? tagger->tag(answered, {example.id, ""}) : answered, prompt, example);
}

// One evaluation cut into jobs of `per_job` consecutive items, and the answers gathered.
struct EvalWorkers::Batch {
  std::string name;
  const std::string& prompt;
  const std::vector<Example>& examples;
  size_t per_job;
  int jobs;
  std::vector<Variable> responses;
  std::vector<bool> done;
  int remaining;

  Batch(std::string batch_name, const std::string& system_prompt, const std::vector<Example>& items,
        int items_per_job)
      : name(std::move(batch_name)),
        prompt(system_prompt),
        examples(items),
        per_job(static_cast<size_t>(items_per_job)),
        jobs(static_cast<int>((items.size() + per_job - 1) / per_job)),
        responses(items.size()),
        done(static_cast<size_t>(jobs), false),
        remaining(jobs) {}

  std::vector<Example> slice(int job) const {
    const size_t begin = static_cast<size_t>(job) * per_job;
    const size_t end = std::min(examples.size(), begin + per_job);
    return {examples.begin() + static_cast<std::ptrdiff_t>(begin),
            examples.begin() + static_cast<std::ptrdiff_t>(end)};
  }
  void settle(int job, std::vector<Variable> answers) {
    for (size_t k = 0; k < answers.size(); ++k) {
      responses[static_cast<size_t>(job) * per_job + k] = std::move(answers[k]);
    }
    done[static_cast<size_t>(job)] = true;
    --remaining;
  }
};

std::vector<Variable> EvalWorkers::ask_items(const std::string& system_prompt,
                                             const std::vector<Example>& examples,
                                             const CallTagger* tagger) {
  Batch batch(fmt::format("{}-{}", batch_prefix_, ++batches_), system_prompt, examples,
              url_.items_per_job);
  try {
    if (queue_broken_ || (workers_gone_ && queue_->live_workers() == 0)) {
      return cli::ask_items(local_, system_prompt, examples, tagger);
    }
    std::vector<std::string> payloads;
    for (int job = 0; job < batch.jobs; ++job) {
      payloads.push_back(encode_job({system_prompt, batch.slice(job)}));
    }
    queue_->push(batch.name, payloads);
    gather(batch, tagger);
  } catch (const cache::RedisFailure& e) {
    // Redis failed: the rest of this run's evaluations are made here.
    if (!queue_broken_.exchange(true)) {
      std::cerr << fmt::format(
          "textgrad: warning: the evaluation work queue failed ({}); evaluating here from now "
          "on\n",
          e.what());
    }
    for (int job = 0; job < batch.jobs; ++job) {
      if (!batch.done[static_cast<size_t>(job)]) {
        batch.settle(job, cli::ask_items(local_, system_prompt, batch.slice(job), tagger));
      }
    }
    return std::move(batch.responses);
  } catch (...) {
    drop(batch);
    throw;
  }
  drop(batch);
  return std::move(batch.responses);
}

void EvalWorkers::gather(Batch& batch, const CallTagger* tagger) {
  const Variable prompt = evaluation_prompt(batch.prompt);
  SteadyClock::time_point last_alive = SteadyClock::now();
  while (true) {
    if (std::exception_ptr reason = guard_->stop_reason()) std::rethrow_exception(reason);
    for (const auto& [job, result] : queue_->results(batch.name)) {
      if (job < 0 || job >= batch.jobs || batch.done[static_cast<size_t>(job)]) continue;
      const std::vector<Example> items = batch.slice(job);
      const std::vector<Outcome> answers = decode_answers(result, items.size());
      std::vector<Variable> replayed;
      for (size_t k = 0; k < items.size(); ++k) {
        replayed.push_back(replay(answers[k], prompt, items[k], tagger));
      }
      batch.settle(job, std::move(replayed));
    }
    if (batch.remaining == 0) return;
    queue_->requeue_expired();
    if (queue_->live_workers() > 0) {
      last_alive = SteadyClock::now();
      workers_gone_ = false;
    } else if (SteadyClock::now() - last_alive >= url_.wait) {
      workers_gone_ = true;
      warn_no_workers();
      // Jobs still leased by a dead worker come back when their lease runs out.
      for (int job = 0; job < batch.jobs; ++job) {
        if (!batch.done[static_cast<size_t>(job)] && queue_->take_back(batch.name, job)) {
          batch.settle(job, cli::ask_items(local_, batch.prompt, batch.slice(job), tagger));
        }
      }
      if (batch.remaining == 0) return;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

void EvalWorkers::drop(const Batch& batch) {
  try {
    queue_->drop(batch.name, batch.jobs);
  } catch (const cache::RedisFailure&) {
    // What is left expires in a day.
  }
}

EnginePtr with_eval_workers(const std::string& url, const Engines& engines) {
  WorkerQueueUrl parsed = parse_worker_queue_url(url, "--eval-workers");
  auto queue = open_work_queue(parsed, engines.forward->info());
  auto workers = std::make_shared<EvalWorkers>(std::move(parsed), std::move(queue), engines.forward,
                                               engines.ledger, engines.guard);
  return std::make_shared<EvalWorkersEngine>(engines.forward, std::move(workers));
}

EvalWorkers* eval_workers_of(const Engine& engine) {
  const auto* carrier = dynamic_cast<const EvalWorkersEngine*>(&engine);
  return carrier ? carrier->workers() : nullptr;
}

}  // namespace tg::cli
